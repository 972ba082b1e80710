"""Tensor constructors: ``tensor``, ``zeros``, ``ones``, ``full``, ``arange``, ``eye``,
``rand``/``randn``/``randint`` (from the global seeded generator) and the ``*_like`` forms."""
from __future__ import annotations

import numpy as np

from ember import backend, random
from ember.autograd.tensor import DEFAULT_DTYPE, Tensor


def _shape(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return tuple(size[0])
    return tuple(size)


def _make(array, dtype, device, requires_grad):
    if dtype is not None:
        array = array.astype(dtype, copy=False)
    return Tensor(backend.to_device(array, backend.normalize_device(device)), requires_grad=requires_grad)


def tensor(data, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A new tensor from data (a copy). ndarrays keep their dtype; Python floats become float32.

    >>> em.tensor([[1, 2], [3, 4]]).dtype
    dtype('int64')
    """
    if isinstance(data, Tensor):
        data = data.array
    t = Tensor(data, dtype=dtype, device=device)
    if t.array is data:
        t.array = t.array.copy()
    return t.requires_grad_(requires_grad) if requires_grad else t


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with an ndarray where it can."""
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    return Tensor(data, dtype=dtype, device=device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing ``array``'s memory and dtype."""
    return Tensor(array)


def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _make(np.zeros(_shape(size), dtype=dtype or DEFAULT_DTYPE), None, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _make(np.ones(_shape(size), dtype=dtype or DEFAULT_DTYPE), None, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    if dtype is None:
        dtype = DEFAULT_DTYPE if isinstance(fill_value, float) else np.asarray(fill_value).dtype
    return _make(np.full(_shape((size,)), fill_value, dtype=dtype), None, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Values start, start + step, … below end; integer unless an argument is a float."""
    if end is None:
        start, end = 0, start
    if dtype is None and any(isinstance(v, float) for v in (start, end, step)):
        dtype = DEFAULT_DTYPE
    return _make(np.arange(start, end, step, dtype=dtype or np.int64), None, device, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _make(np.linspace(start, end, steps, dtype=dtype or DEFAULT_DTYPE), None, device, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _make(np.eye(n, m, dtype=dtype or DEFAULT_DTYPE), None, device, requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform samples in [0, 1) from the global generator."""
    return _make(random.generator().random(_shape(size)), dtype or DEFAULT_DTYPE, device, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal samples from the global generator."""
    return _make(random.generator().standard_normal(_shape(size)), dtype or DEFAULT_DTYPE, device, requires_grad)


def randint(low, high=None, size=(), dtype=None, device=None) -> Tensor:
    """Integers in [low, high) (or [0, low) when high is omitted)."""
    if high is None:
        low, high = 0, low
    return _make(random.generator().integers(low, high, size), dtype or np.int64, device, False)


def randperm(n, dtype=None, device=None) -> Tensor:
    return _make(random.generator().permutation(n), dtype or np.int64, device, False)


def _like(fn):
    def like(x, dtype=None, device=None, requires_grad=False, **kwargs):
        return fn(*x.shape, **kwargs, dtype=dtype or x.dtype, device=device or x.device, requires_grad=requires_grad)

    like.__name__ = fn.__name__ + "_like"
    like.__doc__ = f"``{fn.__name__}`` with the shape, dtype and device of ``x``."
    return like


zeros_like = _like(zeros)
ones_like = _like(ones)
rand_like = _like(rand)
randn_like = _like(randn)
empty_like = _like(empty)


def full_like(x, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    return full(x.shape, fill_value, dtype=dtype or x.dtype, device=device or x.device, requires_grad=requires_grad)
