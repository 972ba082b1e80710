"""MNIST-1D: a small 1-D analogue of MNIST, generated locally by the ``mnist1d`` package.

Each sample is a length-40 signal made from one of ten digit templates by padding,
shearing, translating and adding noise; it separates linear, MLP, CNN and RNN models far
better than MNIST at a tiny fraction of the cost. Nothing is downloaded: the data is
generated from a seed (about a second for the default 5000 samples) and cached in memory.
"""
from __future__ import annotations

import functools
import random

import numpy as np

from ember.data.dataset import TensorDataset

__all__ = ["mnist1d"]


def _package():
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as err:
        raise ImportError(
            f"mnist1d() needs the mnist1d package, which generates the data: pip install 'ember[datasets]' "
            f"(or pip install mnist1d); importing it failed with: {err}"
        ) from err
    return get_dataset_args, make_dataset


@functools.lru_cache(maxsize=4)
def _generate(num_samples: int, seed: int, overrides: tuple) -> tuple[np.ndarray, ...]:
    get_dataset_args, make_dataset = _package()
    args = get_dataset_args()
    for key, value in (("num_samples", num_samples), ("seed", seed), *overrides):
        if not hasattr(args, key):
            raise ValueError(f"mnist1d: unknown dataset argument {key!r}")
        setattr(args, key, list(value) if isinstance(value, tuple) else value)
    # The package seeds NumPy's and Python's global generators: keep the caller's streams intact.
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    arrays = (data["x"].astype(np.float32), data["y"].astype(np.int64),
              data["x_test"].astype(np.float32), data["y_test"].astype(np.int64))
    for a in arrays:
        a.setflags(write=False)  # cached: shared by every call
    return arrays


def mnist1d(train=True, num_samples=5000, seed=42, **dataset_args) -> TensorDataset:
    """MNIST-1D as a ``TensorDataset`` of signals float32 (N, 40) and labels int64 in 0–9.

    With the package's defaults (5000 samples, seed 42, ``train_split=0.8``) this is the
    standard dataset: 4000 training and 1000 test signals, standardised to mean 0 and
    standard deviation 1 over the whole set. ``train=None`` returns both sides, training
    first. Further keyword arguments override the package's generation settings
    (``train_split``, ``iid_noise_scale``, ``shuffle_seq``, ...). For ``Conv1d`` models add
    the channel axis: ``x.unsqueeze(1)`` gives (N, 1, 40).

    Raises ImportError (telling to ``pip install 'ember[datasets]'``) without ``mnist1d``.

    >>> train_set, test_set = mnist1d(train=True), mnist1d(train=False)
    >>> train_set.tensors[0].shape, test_set.tensors[0].shape
    ((4000, 40), (1000, 40))
    """
    if train is not None and not isinstance(train, bool):
        raise ValueError(f"mnist1d: train must be None, True or False, got {train!r}")
    overrides = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in dataset_args.items()))
    x, y, x_test, y_test = _generate(int(num_samples), int(seed), overrides)
    if train is None:
        return TensorDataset(np.concatenate([x, x_test]), np.concatenate([y, y_test]))
    return TensorDataset(x.copy(), y.copy()) if train else TensorDataset(x_test.copy(), y_test.copy())
