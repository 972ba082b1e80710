"""Broadcasting: ``sum_to``, the one helper every broadcasting op's backward calls."""
from __future__ import annotations

from ember.autograd.function import Function
from ember.backend import get_array_module as xp_of


def sum_to(g, shape):
    """Sum ``g`` over the axes that broadcasting added or stretched, giving ``shape``.

    The gradient of ``y = broadcast(x)`` is ``dx = sum_to(dy, x.shape)``.
    """
    if g.shape == tuple(shape):
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and g.shape[i + lead] != 1)
    g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape) if lead else g


def normalize_axis(axis, ndim):
    """Wrap negative axes; ``None`` stays ``None``; lists become tuples."""
    if axis is None:
        return None
    if isinstance(axis, (tuple, list)):
        return tuple(normalize_axis(a, ndim) for a in axis)
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise IndexError(f"dimension {axis} is out of range for a tensor of {ndim} dimensions")
    return axis % max(ndim, 1)


def keep_reduced_axes(g, axis, keepdims):
    """Re-insert the reduced axes of ``g`` as size 1 so it broadcasts against x
    (a full reduction's 0-d ``g`` broadcasts already)."""
    if keepdims or axis is None:
        return g
    return xp_of(g).expand_dims(g, axis)


def kept_shape(shape, axis):
    """``shape`` with the reduced ``axis`` (int, tuple or None for all) kept as size 1."""
    axes = range(len(shape)) if axis is None else (axis,) if isinstance(axis, int) else axis
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def drop_reduced_axes(y, axis):
    """A reduction computed with keepdims=True, with the reduced axes removed."""
    return y.reshape(()) if axis is None else y.squeeze(axis=axis)


class BroadcastTo(Function):
    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        self.x_shape = x.shape
        return xp_of(x).broadcast_to(x, self.shape)

    def backward(self, gy):
        return sum_to(gy, self.x_shape)

    def vjp(self, gy):
        return reduce_to(gy, self.x_shape)


class SumTo(Function):
    """``sum_to`` as a recorded op on tensors (what the broadcasting ops' ``vjp`` call); its
    gradient broadcasts back, so the pair are each other's adjoint to any order."""

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, g):
        self.g_shape = g.shape
        return sum_to(g, self.shape)

    def backward(self, gy):
        return xp_of(gy).broadcast_to(gy.reshape(self.shape), self.g_shape)

    def vjp(self, gy):
        return BroadcastTo(self.g_shape)(gy.reshape(self.shape))


def reduce_to(g, shape):
    """``sum_to`` for a gradient that is a tensor with a graph (the higher-order path)."""
    return g if tuple(g.shape) == tuple(shape) else SumTo(shape)(g)

def broadcast_to(x, shape):
    """Broadcast ``x`` to ``shape`` (NumPy's rules); the gradient is summed back."""
    if tuple(x.shape) == tuple(shape):
        return x
    return BroadcastTo(shape)(x)


def expand(x, shape):
    """PyTorch's ``expand``: like ``broadcast_to`` where ``-1`` keeps a dimension's size."""
    lead = len(shape) - x.ndim
    shape = tuple(x.shape[i - lead] if n == -1 else n for i, n in enumerate(shape))
    return broadcast_to(x, shape)
