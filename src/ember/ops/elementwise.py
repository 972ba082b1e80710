"""Elementwise maths (exp, log, sqrt, abs, clip, max/min of two tensors, where), casts,
device moves and comparisons (which carry no gradient)."""
from __future__ import annotations

import numpy as np

from ember import backend
from ember.autograd import grad_mode
from ember.autograd.function import Function
from ember.autograd.tensor import Tensor, as_tensor
from ember.backend import get_array_module as xp_of
from ember.ops.arithmetic import div, mul, neg, promote
from ember.ops.broadcast import reduce_to, sum_to


def constant(array, like, source=None):
    """A piecewise-constant factor of a ``vjp`` (a mask, a sign, a slope) as a tensor of ``like``'s
    dtype: its own derivative is 0 wherever it is defined.

    Given the ``source`` tensor it was read from, the factor stays in the graph with that zero
    derivative, as PyTorch's ``threshold_backward(gy, x)`` does: ``grad(relu(x).sum(), x,
    create_graph=True)`` then requires grad and differentiates to zeros instead of refusing.
    """
    array = array.astype(like.dtype, copy=False)
    if source is not None and source.requires_grad and grad_mode.is_grad_enabled():
        return PiecewiseConstant(array)(source)
    return Tensor(array)


class PiecewiseConstant(Function):
    """A factor read from ``x`` that does not change as ``x`` moves (d/dx = 0, to every order)."""

    def __init__(self, array):
        self.array = array

    def forward(self, x):
        return self.array

    def backward(self, gy):
        return xp_of(gy).zeros(self.inputs[0].shape, dtype=self.inputs[0].dtype)

    def vjp(self, gy):
        x = self.inputs[0]
        return constant(xp_of(x.array).zeros(x.shape), x, x)


class Exp(Function):
    def forward(self, x):
        y = xp_of(x).exp(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved
        return gy * y  # d e^x = e^x

    def vjp(self, gy):
        return mul(gy, self.output())


def exp(x):
    """e^x."""
    return Exp()(x)


class Log(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return xp_of(x).log(x)

    def backward(self, gy):
        (x,) = self.saved
        return gy / x

    def vjp(self, gy):
        return div(gy, self.inputs[0])


def log(x):
    """Natural logarithm."""
    return Log()(x)


class Sqrt(Function):
    def forward(self, x):
        y = xp_of(x).sqrt(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved
        return gy / (2 * y)

    def vjp(self, gy):
        return div(gy, mul(self.output(), 2.0))


def sqrt(x):
    """√x."""
    return Sqrt()(x)


class Abs(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return xp_of(x).abs(x)

    def backward(self, gy):
        (x,) = self.saved
        return gy * xp_of(x).sign(x)  # 0 at x = 0, as PyTorch

    def vjp(self, gy):
        (x,) = self.saved
        return mul(gy, constant(xp_of(x).sign(x), gy, self.inputs[0]))  # sign is piecewise constant


def abs(x):  # noqa: A001 - mirrors the builtin
    """|x| (gradient sign(x), 0 at 0)."""
    return Abs()(x)


class Sin(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return xp_of(x).sin(x)

    def backward(self, gy):
        (x,) = self.saved
        return gy * xp_of(x).cos(x)

    def vjp(self, gy):
        return mul(gy, cos(self.inputs[0]))


def sin(x):
    """sin(x) (gradient cos x)."""
    return Sin()(x)


class Cos(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return xp_of(x).cos(x)

    def backward(self, gy):
        (x,) = self.saved
        return -gy * xp_of(x).sin(x)

    def vjp(self, gy):
        return neg(mul(gy, sin(self.inputs[0])))


def cos(x):
    """cos(x) (gradient −sin x)."""
    return Cos()(x)


class Clip(Function):
    def __init__(self, low, high):
        self.low, self.high = low, high

    def forward(self, x):
        self.save_for_backward(x)
        return xp_of(x).clip(x, self.low, self.high)

    def backward(self, gy):
        return gy * self._inside()  # gradient passes only where x was not clipped

    def vjp(self, gy):
        return mul(gy, constant(self._inside(), gy))

    def _inside(self):
        (x,) = self.saved
        inside = xp_of(x).ones(x.shape, dtype=bool)
        if self.low is not None:
            inside &= x >= self.low
        if self.high is not None:
            inside &= x <= self.high
        return inside


def clip(x, min=None, max=None):  # noqa: A002 - PyTorch's names
    """Clamp x into [min, max] (either bound may be None)."""
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    return Clip(min, max)(x)


clamp = clip


class Maximum(Function):
    def forward(self, x, y):
        self.save_for_backward(x, y)
        return xp_of(x).maximum(x, y)

    def backward(self, gy):
        x, y = self.saved
        return _split_ties(gy, x > y, x == y, x.shape, y.shape)

    def vjp(self, gy):
        x, y = self.saved
        return _split_ties_vjp(self, gy, x > y, x == y)


class Minimum(Function):
    def forward(self, x, y):
        self.save_for_backward(x, y)
        return xp_of(x).minimum(x, y)

    def backward(self, gy):
        x, y = self.saved
        return _split_ties(gy, x < y, x == y, x.shape, y.shape)

    def vjp(self, gy):
        x, y = self.saved
        return _split_ties_vjp(self, gy, x < y, x == y)


def _split_ties(gy, x_wins, tie, x_shape, y_shape):
    """Route the gradient to the winning input; ties share it equally, as PyTorch."""
    wx = x_wins + 0.5 * tie
    return sum_to(gy * wx, x_shape), sum_to(gy * (1 - wx), y_shape)


def _split_ties_vjp(fn, gy, x_wins, tie):
    """``_split_ties`` on tensors: the weights are piecewise constant, so constants times gy."""
    wx = x_wins + 0.5 * tie
    x, y = fn.inputs
    gx = reduce_to(mul(gy, constant(wx, gy)), x.shape) if fn.needs_input_grad[0] else None
    gw = reduce_to(mul(gy, constant(1 - wx, gy)), y.shape) if fn.needs_input_grad[1] else None
    return gx, gw


def maximum(x, y):
    """Elementwise max(x, y), broadcasting; the gradient goes to the larger input (halved on ties)."""
    return Maximum()(*promote(x, y))


def minimum(x, y):
    """Elementwise min(x, y), broadcasting; the gradient goes to the smaller input (halved on ties)."""
    return Minimum()(*promote(x, y))


class Where(Function):
    def forward(self, condition, x, y):
        self.condition = condition.astype(bool)
        self.shapes = x.shape, y.shape
        return xp_of(x).where(self.condition, x, y)

    def backward(self, gy):
        zero = gy.dtype.type(0)
        xp = xp_of(gy)
        return None, sum_to(xp.where(self.condition, gy, zero), self.shapes[0]), sum_to(
            xp.where(self.condition, zero, gy), self.shapes[1]
        )

    def vjp(self, gy):
        # where is its own adjoint in each branch: gy routed by the same (constant) condition
        gx = reduce_to(where(self.condition, gy, 0.0), self.shapes[0]) if self.needs_input_grad[1] else None
        gw = reduce_to(where(self.condition, 0.0, gy), self.shapes[1]) if self.needs_input_grad[2] else None
        return None, gx, gw


def where(condition, x, y):
    """x where condition is true, else y (broadcast); gradients flow to the chosen side."""
    return Where()(as_tensor(condition), *promote(x, y))


def masked_fill(x, mask, value):
    """x with ``value`` where ``mask`` is true (e.g. −inf on padded attention positions)."""
    return where(mask, value, x)


class Cast(Function):
    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)

    def forward(self, x):
        self.x_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy):
        return gy.astype(self.x_dtype)

    def vjp(self, gy):
        return cast(gy, self.x_dtype)


def cast(x, dtype):
    """x converted to ``dtype``; the gradient is converted back."""
    return Cast(dtype)(x)


class ToDevice(Function):
    def __init__(self, device):
        self.device = device

    def forward(self, x):
        self.x_device = backend.device_of(x)
        return backend.to_device(x, self.device)

    def backward(self, gy):
        return backend.to_device(gy, self.x_device)

    def vjp(self, gy):
        return to_device(gy, self.x_device)


def to_device(x, device):
    """x copied to ``device`` ('cpu' or 'cuda'); the gradient is copied back."""
    return ToDevice(device)(x)


class Clone(Function):
    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy

    def vjp(self, gy):
        return gy


def clone(x):
    """A copy of x that stays in the graph."""
    return Clone()(x)


# -- comparisons and logic: results are bool tensors without gradient ---------------------
def _no_grad_op(name, fn):
    def op(x, y=None):
        if y is None:
            return Tensor(fn(as_tensor(x).array))
        x, y = promote(x, y)
        return Tensor(fn(x.array, y.array))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise ``{name}`` (no gradient)."
    return op


eq = _no_grad_op("eq", lambda x, y: x == y)
ne = _no_grad_op("ne", lambda x, y: x != y)
lt = _no_grad_op("lt", lambda x, y: x < y)
le = _no_grad_op("le", lambda x, y: x <= y)
gt = _no_grad_op("gt", lambda x, y: x > y)
ge = _no_grad_op("ge", lambda x, y: x >= y)
logical_not = _no_grad_op("logical_not", lambda x: ~x.astype(bool))
logical_and = _no_grad_op("logical_and", lambda x, y: x.astype(bool) & y.astype(bool))
logical_or = _no_grad_op("logical_or", lambda x, y: x.astype(bool) | y.astype(bool))
isnan = _no_grad_op("isnan", lambda x: xp_of(x).isnan(x))
isfinite = _no_grad_op("isfinite", lambda x: xp_of(x).isfinite(x))
sign = _no_grad_op("sign", lambda x: xp_of(x).sign(x))
