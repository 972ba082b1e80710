"""Products and scans along a dim: prod, cumsum, cumprod, and the logical reductions all/any.

The gradients of the products never divide by an input that may be zero: ``prod`` uses the
product of the other elements (exclusive prefix × suffix products), ``cumprod`` divides only
before the first zero of each slice and treats that zero separately, so both are exact with
zeros (as PyTorch's are). Their recorded gradients (``vjp``, for higher orders) divide only
where no input is zero and otherwise build the products of the others from cumulative
products, so every order stays exact at zeros too.
"""
from __future__ import annotations

import numpy as np

from ember.autograd.function import Function
from ember.autograd.tensor import Tensor, as_tensor
from ember.backend import get_array_module as xp_of
from ember.ops.broadcast import broadcast_to, keep_reduced_axes, kept_shape, normalize_axis
from ember.ops.elementwise import cast
from ember.ops.layout import flip, movedim
from ember.ops.pointwise import write_out
from ember.ops.reduction import ValuesIndices
from ember.ops.shape import concat, reshape, unsqueeze


def _with_dtype(input, dtype):
    """The input cast to ``dtype`` first (as PyTorch, so the sum or product runs in it); without one,
    integer and bool tensors accumulate in int64 as in PyTorch."""
    x = as_tensor(input)
    if dtype is None and x.dtype.kind in "iub" and x.dtype != np.int64:
        dtype = np.int64
    return x if dtype is None or np.dtype(dtype) == x.dtype else cast(x, dtype)


def _reverse_cumsum(a, axis):
    """Σ_{j ≥ i} a_j along ``axis``: the adjoint of a cumulative sum."""
    xp = xp_of(a)
    return xp.flip(xp.cumsum(xp.flip(a, axis), axis), axis)


# -- prod ------------------------------------------------------------------------------------------------
def _others_product(x, axis):
    """Π_{j≠i} x_j along ``axis`` for every i (``axis=None``: over all elements), without division."""
    xp = xp_of(x)
    if axis is None:
        return _others_product(x.reshape(-1), 0).reshape(x.shape)
    x = xp.moveaxis(x, axis, -1)
    if x.shape[-1] == 0:
        return xp.moveaxis(x, -1, axis)
    ones = xp.ones_like(x[..., :1])
    before = xp.cumprod(xp.concatenate([ones, x[..., :-1]], axis=-1), axis=-1)  # Π_{j<i} x_j
    after = xp.cumprod(xp.concatenate([ones, x[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]  # Π_{j>i} x_j
    return xp.moveaxis(before * after, -1, axis)


def _others_product_recorded(x):
    """Π_{j≠i} x_j along the last dim, in recorded ops: the cumulative products of x shifted right
    by one (Π_{j<i}) and of x reversed and shifted (Π_{j>i})."""
    ones = Tensor(xp_of(x.array).ones(x.shape[:-1] + (1,), x.dtype))
    before = Cumprod(x.ndim - 1)(concat([ones, x[..., :-1]], -1))
    after = flip(Cumprod(x.ndim - 1)(concat([ones, flip(x, -1)[..., :-1]], -1)), -1)
    return before * after


class Prod(Function):
    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.save_for_backward(x)
        return x.prod(axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):
        (x,) = self.saved
        return keep_reduced_axes(gy, self.axis, self.keepdims) * _others_product(x, self.axis)

    def vjp(self, gy):
        """gy · y / x where no element is zero; with zeros, the exclusive products Π_{j<i} x_j · Π_{j>i} x_j
        as cumulative products of the shifted inputs, whose own gradients are exact with zeros."""
        x = self.inputs[0]
        gy = broadcast_to(gy.reshape(kept_shape(x.shape, self.axis)), x.shape)
        if not (x.array == 0).any():
            return gy * self.output().reshape(kept_shape(x.shape, self.axis)) / x
        if self.axis is None:
            return gy * reshape(_others_product_recorded(reshape(x, (-1,))), x.shape)
        return gy * movedim(_others_product_recorded(movedim(x, self.axis, -1)), -1, self.axis)


def prod(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Π x over ``dim`` (an int; all elements when None); ∂/∂xᵢ = Π_{j≠i} x_j, exact with zeros.

    >>> em.prod(em.tensor([[1.0, 2.0], [3.0, 4.0]]), dim=1)
    tensor([ 2., 12.])
    """
    x = _with_dtype(input, dtype)
    if dim is not None and not isinstance(dim, int):
        raise TypeError(f"prod: dim must be an int or None, got {dim!r}")
    axis = normalize_axis(dim, x.ndim) if x.ndim else None  # a 0-d tensor: its one element
    return write_out(Prod(axis, keepdim)(x), out)


# -- cumulative sum and product -------------------------------------------------------------------------------
def _scan(scan, x, dim):
    """Run the ``scan`` Function along ``dim``; a 0-d tensor scans as a vector of one element."""
    axis = normalize_axis(dim, x.ndim)
    return scan(axis)(x) if x.ndim else reshape(scan(0)(reshape(x, (1,))), ())


class Cumsum(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        return xp_of(x).cumsum(x, axis=self.axis)

    def backward(self, gy):
        return _reverse_cumsum(gy, self.axis)  # ∂yⱼ/∂xᵢ = 1 for j ≥ i

    def vjp(self, gy):
        return ReverseCumsum(self.axis)(gy)


class ReverseCumsum(Function):
    """yᵢ = Σ_{j≥i} x_j, the adjoint of ``Cumsum`` (its gradient as an op on tensors), and back."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, g):
        return _reverse_cumsum(g, self.axis)

    def backward(self, gg):
        return xp_of(gg).cumsum(gg, axis=self.axis)

    def vjp(self, gg):
        return Cumsum(self.axis)(gg)


def cumsum(input, dim, *, dtype=None, out=None):
    """The running sum yᵢ = Σ_{j≤i} x_j along ``dim``; the gradient is the reversed running sum.

    >>> em.cumsum(em.tensor([1.0, 2.0, 3.0]), dim=0)
    tensor([1., 3., 6.])
    """
    return write_out(_scan(Cumsum, _with_dtype(input, dtype), dim), out)


class Cumprod(Function):
    """yᵢ = Π_{j≤i} x_j; ∂L/∂x_k = Σ_{j≥k} gy_j Π_{i≤j, i≠k} x_i, evaluated per slice as:

    - before the first zero z: (Σ_{j≥k} gy_j y_j) / x_k (no x_k there is 0);
    - at z: Σ_{j≥z} gy_j Π_{i≤j, i≠z} x_i, the running product with x_z replaced by 1;
    - after z: 0 (every product contains x_z).
    """

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        y = xp_of(x).cumprod(x, axis=self.axis)
        self.save_for_backward(x, y)
        return y

    def backward(self, gy):
        x, y = self.saved
        xp, axis = xp_of(x), self.axis
        x, y, gy = (xp.moveaxis(a, axis, -1) for a in (x, y, gy))
        n, zero = x.shape[-1], x == 0
        if n == 0:
            return xp.moveaxis(gy, -1, axis)
        first = xp.where(zero.any(axis=-1, keepdims=True), zero.argmax(axis=-1)[..., None], n)
        k = xp.arange(n)
        before, at = k < first, k == first
        g = xp.where(before, _reverse_cumsum(gy * y, -1) / xp.where(before, x, 1), 0)
        skipped = xp.cumprod(xp.where(at, 1, x), axis=-1)  # Π_{i≤j, i≠z} x_i for j ≥ z
        g_at = (gy * skipped * (k >= first)).sum(axis=-1, keepdims=True)
        return xp.moveaxis(xp.where(at, g_at, g), -1, axis)

    def vjp(self, gy):
        """(Σ_{j≥k} gy_j y_j) / x_k where no element is zero; with zeros, the O(n²) sum over j of
        gy_j · Π_{i≤j, i≠k} x_i: row k of a matrix holds x with x_k replaced by 1, and its
        cumulative product read for j ≥ k (PyTorch's second-order path too)."""
        x = self.inputs[0]
        if not (x.array == 0).any():
            return ReverseCumsum(self.axis)(gy * self.output()) / x
        xp, n = xp_of(x.array), x.shape[self.axis]
        eye = xp.eye(n, dtype=x.dtype)
        rows = unsqueeze(movedim(x, self.axis, -1), -2) * Tensor(1 - eye) + Tensor(eye)  # (..., k, i)
        skipped = Cumprod(x.ndim)(rows) * Tensor(xp.triu(xp.ones((n, n), x.dtype)))  # (..., k, j): 0 for j < k
        gx = (skipped * unsqueeze(movedim(gy, self.axis, -1), -2)).sum(axis=-1)
        return movedim(gx, -1, self.axis)


def cumprod(input, dim, *, dtype=None, out=None):
    """The running product yᵢ = Π_{j≤i} x_j along ``dim``; the gradient is exact with zeros.

    >>> em.cumprod(em.tensor([1.0, 2.0, 3.0]), dim=0)
    tensor([1., 2., 6.])
    """
    return write_out(_scan(Cumprod, _with_dtype(input, dtype), dim), out)


# -- logical reductions (no gradient) ---------------------------------------------------------------------------
def _logical_reduce(name, input, dim, keepdim, out):
    x = as_tensor(input)
    axis = normalize_axis(dim, x.ndim) if x.ndim else None
    result = getattr(x.array, name)(axis=axis, keepdims=keepdim)
    if x.dtype == np.uint8:  # PyTorch keeps uint8 for uint8 input
        result = result.astype(np.uint8)
    return write_out(Tensor(result), out)


def all(input, dim=None, keepdim=False, *, out=None):  # noqa: A001 - PyTorch's name
    """True where every element over ``dim`` (an int, a tuple, or all when None) is non-zero.

    >>> em.all(em.tensor([[True, False], [True, True]]), dim=1)
    tensor([False,  True])
    """
    return _logical_reduce("all", input, dim, keepdim, out)


def any(input, dim=None, keepdim=False, *, out=None):  # noqa: A001 - PyTorch's name
    """True where some element over ``dim`` (an int, a tuple, or all when None) is non-zero.

    >>> em.any(em.tensor([[True, False], [False, False]]), dim=1)
    tensor([ True, False])
    """
    return _logical_reduce("any", input, dim, keepdim, out)


def diff(input, n=1, dim=-1, prepend=None, append=None):  # noqa: A002
    """The n-th forward difference along ``dim``: x[i+1] − x[i], n times, after ``prepend`` and
    ``append`` are joined on (booleans give their XOR, as PyTorch).

    >>> em.diff(em.tensor([1.0, 4.0, 9.0, 16.0]))
    tensor([3., 5., 7.])
    """
    x = as_tensor(input)
    dim = normalize_axis(dim, x.ndim)
    parts = [as_tensor(p, like=x) for p in (prepend, x, append) if p is not None]
    x = concat(parts, dim=dim) if len(parts) > 1 else x
    for _ in range(n):
        if x.shape[dim] == 0:
            break
        head = x.narrow(dim, 1, x.shape[dim] - 1)
        tail = x.narrow(dim, 0, x.shape[dim] - 1)
        x = head ^ tail if x.dtype == np.bool_ else head - tail
    return x


def _cumulative_extreme(input, dim, ufunc):
    """(values, indices) of the running max or min along ``dim``; the index is the latest position that
    reached the running value (PyTorch's rule for ties), and the values are gathered from there so that
    the gradient goes to that element."""
    x = as_tensor(input)
    if x.ndim == 0:
        return ValuesIndices(x * 1, Tensor(np.zeros((), np.int64)))
    dim = normalize_axis(dim, x.ndim)
    xp = xp_of(x.array)
    running = getattr(xp, ufunc).accumulate(x.array, axis=dim)
    positions = xp.arange(x.shape[dim]).reshape([-1 if d == dim else 1 for d in range(x.ndim)])
    reached = xp.where(x.array == running, positions, 0)
    if x.dtype.kind == "f":  # NaN: the running value stays NaN from the first one, as PyTorch's
        reached = xp.where(xp.isnan(x.array), positions, reached)
    index = xp.maximum.accumulate(reached, axis=dim)
    return ValuesIndices(x.gather(dim, Tensor(index)), Tensor(index.astype(np.int64)))


def cummax(input, dim):  # noqa: A002
    """(values, indices): the running maximum along ``dim`` and where it was reached.

    >>> em.cummax(em.tensor([1.0, 3.0, 2.0, 5.0]), 0).values
    tensor([1., 3., 3., 5.])
    """
    return _cumulative_extreme(input, dim, "maximum")


def cummin(input, dim):  # noqa: A002
    """(values, indices): the running minimum along ``dim`` and where it was reached."""
    return _cumulative_extreme(input, dim, "minimum")
