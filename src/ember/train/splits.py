"""Preparing data: train/dev/test splits and input normalisation.

The course's recipe: hold out a dev set (to choose models and hyperparameters) and a test
set (for an unbiased final estimate), both from the same distribution — 70/30 or 60/20/20
for small data, tiny dev/test fractions (98/1/1) for big data. Then normalise inputs with
a mean μ and a standard deviation σ fitted on the training set only and applied, unchanged,
to every split.
"""
from __future__ import annotations

import numpy as np

from ember import backend
from ember import random as _random
from ember.autograd.tensor import Tensor
from ember.data.dataset import Subset, random_split

__all__ = ["Normalizer", "train_dev_test_split"]


# -- splits ---------------------------------------------------------------------------------


def _is_array(x) -> bool:
    return isinstance(x, Tensor) or (hasattr(x, "shape") and hasattr(x, "dtype") and len(x.shape) > 0)


def _part_indices(n: int, fractions, rng, shuffle: bool) -> list[np.ndarray]:
    """Index arrays of the parts; sizes follow ``random_split``'s rule (floor, remainder from the first)."""
    parts = random_split(range(n), fractions, generator=rng)
    if shuffle:
        return [p.indices for p in parts]
    ends = np.cumsum([len(p) for p in parts])
    return [np.arange(end - len(p), end) for p, end in zip(parts, ends, strict=True)]


def _split_indices(n: int, fractions, rng, shuffle: bool, stratify) -> list[np.ndarray]:
    if stratify is None:
        return _part_indices(n, fractions, rng, shuffle)
    labels = backend.to_numpy(stratify).reshape(-1)
    if labels.shape[0] != n:
        raise ValueError(f"train_dev_test_split: stratify has {labels.shape[0]} labels for {n} samples")
    if not np.isclose(sum(fractions), 1.0):
        raise ValueError("train_dev_test_split: stratify needs fractions that sum to 1, not absolute sizes")
    merged = [[] for _ in fractions]
    for c in np.unique(labels):  # each class is split in the same proportions
        members = np.flatnonzero(labels == c)
        for out, idx in zip(merged, _part_indices(len(members), fractions, rng, shuffle), strict=True):
            out.append(members[idx])
    parts = [np.concatenate(m) for m in merged]
    return [rng.permutation(p) if shuffle else np.sort(p) for p in parts]


def _take(x, idx):
    if isinstance(x, Tensor):
        return Tensor(x.array[backend.to_device(idx, x.device)])
    return x[idx]


def train_dev_test_split(*data, fractions=(0.6, 0.2, 0.2), seed=None, shuffle=True, stratify=None):
    """Split arrays (sharing their first dimension) or a dataset into train/dev/test parts.

    Args:
        *data: one or more arrays/tensors with the same number of samples, or one
            ``Dataset`` (its parts are ``Subset`` s).
        fractions: the parts' fractions summing to 1 — ``(0.7, 0.3)``, ``(0.6, 0.2, 0.2)``,
            ``(0.98, 0.01, 0.01)`` — or absolute sizes summing to the number of samples.
        seed: seeds the permutation; ``None`` draws from ember's global generator.
        shuffle: ``False`` keeps the order and cuts contiguous blocks (time series).
        stratify: class labels (N,); every class is then split in the same proportions, so
            dev and test follow the training distribution even for small data.

    Returns one entry per part: the array itself for a single array, a tuple of arrays for
    several, a ``Subset`` for a dataset. Part sizes are ``floor(n·f)`` with the remainder
    handed out from the first part (``random_split``'s rule).

    >>> (X_tr, y_tr), (X_dev, y_dev), (X_te, y_te) = train_dev_test_split(X, y, fractions=(0.6, 0.2, 0.2), seed=0)
    >>> train, test = train_dev_test_split(dataset, fractions=(0.7, 0.3), seed=0)
    """
    if not data:
        raise ValueError("train_dev_test_split: nothing to split")
    if len(fractions) < 1:
        raise ValueError(f"train_dev_test_split: fractions must name at least one part, got {fractions}")
    n = _num_samples(data)
    rng = np.random.default_rng(seed) if seed is not None else _random.seed_from(None)
    parts = _split_indices(n, fractions, rng, shuffle, stratify)
    if len(data) == 1 and not _is_array(data[0]):
        return [Subset(data[0], idx) for idx in parts]
    if len(data) == 1:
        return [_take(data[0], idx) for idx in parts]
    return [tuple(_take(x, idx) for x in data) for idx in parts]


def _num_samples(data) -> int:
    if len(data) == 1 and not _is_array(data[0]):
        return len(data[0])
    if not all(_is_array(x) for x in data):
        raise TypeError("train_dev_test_split: pass arrays/tensors (any number) or exactly one dataset")
    sizes = [x.shape[0] for x in data]
    if len(set(sizes)) != 1:
        raise ValueError(f"train_dev_test_split: arrays have different numbers of samples {sizes}")
    return sizes[0]


# -- normalisation ------------------------------------------------------------------------------


class Normalizer:
    """Standardise inputs: x̂ = (x − μ) / σ, with μ and σ² fitted on the training set only.

    ``axis`` lists the dimensions averaged over and must include the sample axis 0:
    ``0`` gives one μ, σ per feature of (N, D) data; ``(0, 2, 3)`` one per channel of
    (N, C, H, W) images. μ and σ keep the other dimensions (shape (D,) or (C, 1, 1)), so
    they broadcast over a batch and over a single sample alike. Features with σ < ``eps``
    (constant in the training set, such as blank border pixels) are only centred.

    >>> norm = Normalizer().fit(X_train)
    >>> X_train, X_test = norm.transform(X_train), norm.transform(X_test)
    """

    def __init__(self, axis=0, eps: float = 1e-8):
        self.axis = (axis,) if isinstance(axis, int) else tuple(axis)
        if 0 not in self.axis:
            raise ValueError(f"Normalizer: axis must include the sample axis 0, got {axis}")
        self.eps = eps
        self.mean = self.std = None

    def fit(self, x) -> Normalizer:
        """Compute μ and σ (population, ddof 0) of ``x`` over ``axis``; returns ``self``."""
        a = backend.to_numpy(x).astype(np.float64)
        if a.ndim <= max(self.axis):
            raise ValueError(f"Normalizer.fit: axis {self.axis} out of range for input of shape {a.shape}")
        mean, std = a.mean(axis=self.axis, keepdims=True), a.std(axis=self.axis, keepdims=True)
        self.mean, self.std = mean[0], np.where(std < self.eps, 1.0, std)[0]
        return self

    def transform(self, x):
        """(x − μ) / σ, returned as the same kind (tensor or array) and dtype as ``x``."""
        mean, std = self._fitted(x)
        if isinstance(x, Tensor):
            xp = x.xp
            out = (x.array - xp.asarray(mean, dtype=x.dtype)) / xp.asarray(std, dtype=x.dtype)
            return Tensor(out)
        x = np.asarray(x)
        dtype = x.dtype if x.dtype.kind == "f" else np.float32
        return ((x - mean) / std).astype(dtype)

    __call__ = transform

    def fit_transform(self, x):
        """``fit(x)`` then ``transform(x)``."""
        return self.fit(x).transform(x)

    def inverse_transform(self, x):
        """x = x̂ · σ + μ."""
        mean, std = self._fitted(x)
        if isinstance(x, Tensor):
            return Tensor(x.array * x.xp.asarray(std, dtype=x.dtype) + x.xp.asarray(mean, dtype=x.dtype))
        x = np.asarray(x)
        return (x * std + mean).astype(x.dtype)

    def _fitted(self, x):
        if self.mean is None:
            raise RuntimeError("Normalizer: call fit(train_data) before transform")
        shape = tuple(x.shape)
        try:
            fits = np.broadcast_shapes(shape, self.mean.shape) == shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"Normalizer: fitted for samples of shape {self.mean.shape}, got input of shape {shape}")
        return self.mean, self.std

    def state_dict(self) -> dict:
        """μ, σ and the settings, for ``em.save``."""
        return {"mean": self.mean, "std": self.std, "axis": list(self.axis), "eps": self.eps}

    def load_state_dict(self, state: dict) -> None:
        self.mean, self.std = np.asarray(state["mean"]), np.asarray(state["std"])
        self.axis, self.eps = tuple(state["axis"]), float(state["eps"])

    def __repr__(self):
        shape = None if self.mean is None else self.mean.shape
        return f"Normalizer(axis={self.axis}, fitted_shape={shape})"
