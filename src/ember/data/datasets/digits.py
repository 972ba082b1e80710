"""scikit-learn's bundled handwritten digits: ember's default, download-free dataset.

1797 grey 8×8 images of the digits 0–9 (values 0–16 in the original), shipped inside
scikit-learn, so ``ember demo`` and the tests run with no network. Images come as
float32 in [0, 1] with the NCHW layout ``(N, 1, 8, 8)``, optionally upsampled (e.g. to
32×32 for LeNet-5) by bilinear interpolation.
"""
from __future__ import annotations

import functools

import numpy as np

from ember.data.dataset import TensorDataset

__all__ = ["digits", "resize_bilinear"]


# -- bilinear resizing -----------------------------------------------------------------
def _source_index(n_in: int, n_out: int):
    """For each output pixel: the two source pixels and the weight of the second.

    Half-pixel centres (PyTorch's ``align_corners=False``): output pixel ``i`` samples the
    source at ``(i + ½)·n_in/n_out − ½``, clamped to the image.
    """
    src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, src - i0


def resize_bilinear(images, size) -> np.ndarray:
    """Resize the last two axes of ``images`` (…, H, W) to ``size`` by bilinear interpolation.

    Matches ``torch.nn.functional.interpolate(x, size, mode='bilinear', align_corners=False)``.
    Bilinear interpolation is separable: interpolate along rows, then along columns, each a
    gather of two neighbours and a weighted sum — no loop over pixels.

    Args:
        images: array of shape (…, H, W).
        size: ``s`` for an s×s output, or ``(h, w)``.

    >>> resize_bilinear(np.array([[0.0, 1.0]]), (1, 4))
    array([[0.  , 0.25, 0.75, 1.  ]])
    """
    images = np.asarray(images)
    h, w = (size, size) if np.isscalar(size) else tuple(size)
    if images.ndim < 2 or h < 1 or w < 1:
        raise ValueError(f"resize_bilinear: expected images (..., H, W) and a positive size, "
                         f"got shape {images.shape} and size {size}")
    dtype = images.dtype if images.dtype.kind == "f" else np.float64
    r0, r1, wr = _source_index(images.shape[-2], h)
    c0, c1, wc = _source_index(images.shape[-1], w)
    wr, wc = wr.astype(dtype), wc.astype(dtype)
    rows = images[..., r0, :] * (1 - wr)[:, None] + images[..., r1, :] * wr[:, None]
    return rows[..., c0] * (1 - wc) + rows[..., c1] * wc


# -- the dataset -----------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _load() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:
        raise ImportError(
            "digits() needs scikit-learn, which ships the digit images: pip install 'ember[datasets]' "
            "(or pip install scikit-learn)"
        ) from err
    bunch = load_digits()
    images, labels = bunch.images, bunch.target
    images.setflags(write=False)  # cached: shared by every call
    labels.setflags(write=False)
    return images, labels


def _stratified_split(labels: np.ndarray, test_size: float, seed: int):
    """Sorted train and test indices; each class gives ``round(test_size · count)`` to test."""
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    test = np.sort(np.concatenate([rng.permutation(m)[: int(round(test_size * len(m)))] for m in members]))
    return np.setdiff1d(np.arange(len(labels)), test), test


def digits(train=None, resize=None, test_size=0.2, seed=0) -> TensorDataset:
    """The handwritten digits as a ``TensorDataset`` of ``(image, label)``.

    Images are float32 in [0, 1] (the original 0–16 divided by 16) of shape (N, 1, 8, 8),
    or (N, 1, s, s) with ``resize=s`` (bilinear, see ``resize_bilinear``); labels int64 in
    0–9. The digits have no official split: ``train=None`` gives all 1797 images, and
    ``train=True`` / ``False`` the two sides of a deterministic split, stratified by class,
    that puts ``round(test_size · n_c)`` images of each class ``c`` in the test side
    (1438 train / 359 test by default). The same ``test_size`` and ``seed`` always give
    the same split, so the two calls below never overlap.

    Args:
        train: ``None`` (everything), ``True`` (training side) or ``False`` (test side).
        resize: ``None``, an int ``s`` or ``(h, w)``.
        test_size: fraction of each class held out for the test side, in (0, 1).
        seed: seed of the split.

    Raises ImportError (telling to ``pip install 'ember[datasets]'``) without scikit-learn.

    >>> from ember.data import DataLoader
    >>> train_set, test_set = digits(train=True), digits(train=False, resize=32)
    >>> train_set.tensors[0].shape, test_set.tensors[0].shape
    ((1438, 1, 8, 8), (359, 1, 32, 32))
    >>> X, y = next(iter(DataLoader(train_set, batch_size=64, shuffle=True, seed=0)))
    """
    if train is not None and not isinstance(train, bool):
        raise ValueError(f"digits: train must be None, True or False, got {train!r}")
    if not 0 < test_size < 1:
        raise ValueError(f"digits: test_size must lie in (0, 1), got {test_size}")
    images, labels = _load()
    if train is not None:
        keep = _stratified_split(labels, test_size, seed)[0 if train else 1]
        images, labels = images[keep], labels[keep]
    images = images[:, None] / 16.0
    if resize is not None:
        images = resize_bilinear(images, resize)
    return TensorDataset(images.astype(np.float32), labels.astype(np.int64))
