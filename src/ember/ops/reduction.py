"""Reductions: sum, mean, max, min, amax, amin, var, std over an axis (or all), and argmax/argmin."""
from __future__ import annotations

import math
from typing import NamedTuple

from ember.autograd.function import Function
from ember.autograd.op_methods import pick
from ember.autograd.tensor import Tensor, as_tensor
from ember.backend import get_array_module as xp_of
from ember.ops.arithmetic import mul
from ember.ops.broadcast import broadcast_to, drop_reduced_axes, keep_reduced_axes, kept_shape, normalize_axis
from ember.ops.elementwise import cast, isnan, logical_not, maximum, minimum, sqrt, where
from ember.ops.indexing import scatter_add


class Sum(Function):
    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.x_shape = x.shape
        return x.sum(axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):
        gy = keep_reduced_axes(gy, self.axis, self.keepdims)
        gx = xp_of(gy).empty(self.x_shape, dtype=gy.dtype)
        gx[...] = gy  # a fresh array (cheaper than broadcast_to, and the leaf need not copy it)
        return gx

    def vjp(self, gy):
        return broadcast_to(gy.reshape(kept_shape(self.x_shape, self.axis)), self.x_shape)


def sum(x, axis=None, keepdims=False, *, dim=None, keepdim=None, dtype=None):  # noqa: A001 - NumPy's, PyTorch's
    """Σ x over ``axis`` (int or tuple; all elements when None); PyTorch's ``dim``/``keepdim`` spell
    the same, and ``dtype`` casts x first (so the sum runs in that dtype).

    >>> em.sum(em.ones(2, 3), axis=1)
    tensor([3., 3.])
    """
    x = as_tensor(x) if dtype is None else cast(x, dtype)
    axis, keepdims = pick(axis, dim), pick(keepdims, keepdim)
    return Sum(normalize_axis(axis, x.ndim), keepdims)(x)


def _count(shape, axis):
    if axis is None:
        return math.prod(shape)
    axes = (axis,) if isinstance(axis, int) else axis
    return math.prod(shape[a] for a in axes)


def mean(x, axis=None, keepdims=False, *, dim=None, keepdim=None, dtype=None):
    """The mean over ``axis``: sum / count (``dim``, ``keepdim`` and ``dtype`` as in ``sum``).

    >>> em.mean(em.tensor([[1.0, 3.0]]), axis=1)
    tensor([2.])
    """
    x = as_tensor(x) if dtype is None else cast(x, dtype)
    axis, keepdims = pick(axis, dim), pick(keepdims, keepdim)
    axis = normalize_axis(axis, x.ndim)
    n = _count(x.shape, axis)
    return mul(sum(x, axis, keepdims), 1.0 / n if n else float("nan"))


class _Extreme(Function):
    """max or min over axes; tied extremes share the gradient equally (PyTorch's amax/amin, and
    its max/min over all elements)."""

    reduce = "max"

    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        y = getattr(x, self.reduce)(axis=self.axis, keepdims=True)
        self.save_for_backward(x, y)
        return y if self.keepdims else drop_reduced_axes(y, self.axis)

    def backward(self, gy):
        x, y = self.saved
        gy = keep_reduced_axes(gy, self.axis, self.keepdims)
        hit = x == y
        return gy * hit / hit.sum(axis=self.axis, keepdims=True)

    def vjp(self, gy):
        x, y = self.saved
        hit = x == y
        share = Tensor((hit / hit.sum(axis=self.axis, keepdims=True)).astype(x.dtype))  # constant where no ties move
        return mul(broadcast_to(gy.reshape(kept_shape(x.shape, self.axis)), x.shape), share)


class _ExtremeAlongDim(Function):
    """max or min along one dim (PyTorch's ``max(x, dim)``): the gradient flows to the one index
    argmax/argmin picks, the first of tied extremes, not shared among them."""

    reduce = "max"

    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        xp = xp_of(x)
        index = xp.expand_dims(getattr(x, "arg" + self.reduce)(axis=self.axis), self.axis)
        self.save_for_backward(index)
        self.x_shape = x.shape
        self.indices = index if self.keepdims else drop_reduced_axes(index, self.axis)
        y = xp.take_along_axis(x, index, axis=self.axis)
        return y if self.keepdims else drop_reduced_axes(y, self.axis)

    def backward(self, gy):
        (index,) = self.saved
        gx = xp_of(gy).zeros(self.x_shape, dtype=gy.dtype)
        xp_of(gy).put_along_axis(gx, index, keep_reduced_axes(gy, self.axis, self.keepdims), axis=self.axis)
        return gx

    def vjp(self, gy):
        (index,) = self.saved
        zeros = Tensor(xp_of(index).zeros(self.x_shape, dtype=gy.dtype))
        return scatter_add(zeros, self.axis, Tensor(index), gy.reshape(index.shape))


class Max(_Extreme):
    reduce = "max"


class Min(_Extreme):
    reduce = "min"


class MaxAlongDim(_ExtremeAlongDim):
    reduce = "max"


class MinAlongDim(_ExtremeAlongDim):
    reduce = "min"


class ValuesIndices(NamedTuple):
    """What ``max``/``min``/``sort``-style ops return along a dim: PyTorch's ``torch.return_types``."""

    values: Tensor
    indices: Tensor


def _extreme(x, axis, keepdims, split, along_dim):
    """Over all elements or several axes: the ``split`` Function's tensor. Along one int dim:
    ``(values, indices)``, the values from ``along_dim`` (the gradient to the returned index)."""
    x = as_tensor(x)
    axis = normalize_axis(axis, x.ndim)
    if not isinstance(axis, int):
        return split(axis, keepdims)(x)
    fn = along_dim(axis, keepdims)
    values = fn(x)
    return ValuesIndices(values, Tensor(fn.indices.astype("int64", copy=False)))


def max(x, axis=None, keepdims=False, *, dim=None, keepdim=None):  # noqa: A001
    """The largest element over ``axis``, as PyTorch's ``max``: over all elements (or a tuple of
    axes) a tensor, tied maxima sharing the gradient; along one dim ``(values, indices)``, the
    gradient going to the index returned (the first maximum). ``max(x, other)`` is ``maximum``.

    >>> em.max(em.tensor([[1.0, 5.0], [7.0, 2.0]]), 1)
    ValuesIndices(values=tensor([5., 7.]), indices=tensor([1, 0]))
    """
    if isinstance(axis, Tensor):
        return maximum(x, axis)
    axis, keepdims = pick(axis, dim), pick(keepdims, keepdim)
    return _extreme(x, axis, keepdims, Max, MaxAlongDim)


def min(x, axis=None, keepdims=False, *, dim=None, keepdim=None):  # noqa: A001
    """The smallest element over ``axis``: a tensor, or ``(values, indices)`` along one dim (see ``max``)."""
    if isinstance(axis, Tensor):
        return minimum(x, axis)
    axis, keepdims = pick(axis, dim), pick(keepdims, keepdim)
    return _extreme(x, axis, keepdims, Min, MinAlongDim)


def amax(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """The largest element over ``axis`` (int or tuple; ``dim``/``keepdim`` as in ``sum``), tied maxima
    sharing the gradient equally."""
    x = as_tensor(x)
    axis, keepdims = pick(axis, dim), pick(keepdims, keepdim)
    return Max(normalize_axis(axis, x.ndim), keepdims)(x)


def amin(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """The smallest element over ``axis`` (``dim``/``keepdim`` as in ``sum``), tied minima sharing the
    gradient equally."""
    x = as_tensor(x)
    axis, keepdims = pick(axis, dim), pick(keepdims, keepdim)
    return Min(normalize_axis(axis, x.ndim), keepdims)(x)


def var(x, axis=None, keepdims=False, unbiased=True, correction=None, *, dim=None, keepdim=None):
    """Σ(x − x̄)² / (n − correction) over ``axis`` (``dim``/``keepdim`` as in ``sum``); PyTorch's default
    is the unbiased estimate (correction 1)."""
    x = as_tensor(x)
    axis, keepdims = pick(axis, dim), pick(keepdims, keepdim)
    axis = normalize_axis(axis, x.ndim)
    correction = (1 if unbiased else 0) if correction is None else correction
    n = _count(x.shape, axis)
    centred = x - mean(x, axis, keepdims=True)
    dof = n - correction
    return mul(sum(centred * centred, axis, keepdims), 1.0 / dof if dof > 0 else float("nan"))


def std(x, axis=None, keepdims=False, unbiased=True, correction=None, *, dim=None, keepdim=None):
    """√var (the same arguments)."""
    return sqrt(var(x, axis, keepdims, unbiased, correction, dim=dim, keepdim=keepdim))


def argmax(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Index of the largest element (no gradient); over the flattened tensor when axis is None
    (``dim``/``keepdim`` as in ``sum``)."""
    axis, keepdims = pick(axis, dim), pick(keepdims, keepdim)
    return Tensor(_arg(as_tensor(x).array, "argmax", axis, keepdims))


def argmin(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Index of the smallest element (no gradient; ``dim``/``keepdim`` as in ``sum``)."""
    axis, keepdims = pick(axis, dim), pick(keepdims, keepdim)
    return Tensor(_arg(as_tensor(x).array, "argmin", axis, keepdims))


def _arg(a, name, axis, keepdims):
    out = getattr(a, name)(axis=axis)
    if keepdims:
        out = xp_of(out).expand_dims(out, axis) if axis is not None else out.reshape([1] * a.ndim)
    return out.astype("int64")


def std_mean(x, dim=None, *, correction=None, unbiased=True, keepdim=False):
    """(std, mean) over ``dim``, as PyTorch's ``std_mean``."""
    return std(x, dim, keepdim, unbiased, correction), mean(x, dim, keepdim)


def var_mean(x, dim=None, *, correction=None, unbiased=True, keepdim=False):
    """(var, mean) over ``dim``, as PyTorch's ``var_mean``."""
    return var(x, dim, keepdim, unbiased, correction), mean(x, dim, keepdim)


class MinMax(NamedTuple):
    """What ``aminmax`` returns: PyTorch's ``torch.return_types.aminmax``."""

    min: Tensor
    max: Tensor


def aminmax(x, *, dim=None, keepdim=False):
    """(min, max) over ``dim`` (all elements when None), as ``amin`` and ``amax``."""
    return MinMax(amin(x, dim, keepdim), amax(x, dim, keepdim))


def nansum(x, dim=None, keepdim=False, *, dtype=None):
    """Σ x over ``dim``, NaNs counted as 0 (their gradient is 0)."""
    x = as_tensor(x)
    return sum(where(isnan(x), 0.0, x), dim, keepdim, dtype=dtype)


def nanmean(x, dim=None, keepdim=False, *, dtype=None):
    """The mean over ``dim`` of the elements that are not NaN (NaN where all are)."""
    x = as_tensor(x)
    present = logical_not(isnan(x))
    return nansum(x, dim, keepdim, dtype=dtype) / sum(present, dim, keepdim).to(dtype or x.dtype)


def count_nonzero(x, dim=None):
    """How many elements are not 0 over ``dim`` (all when None); int64, no gradient."""
    x = as_tensor(x)
    return sum(Tensor(x.array != 0), dim)
