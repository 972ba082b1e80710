"""Arithmetic: + − × ÷ ** and negation, broadcasting with the gradient summed back."""
from __future__ import annotations

from ember import dtypes, ops
from ember.autograd.function import Function
from ember.autograd.tensor import Tensor, as_tensor
from ember.backend import get_array_module as xp_of
from ember.ops.broadcast import reduce_to, sum_to


def promote(x, y, true_divide=False):
    """Both operands as tensors, with PyTorch's type promotion rather than NumPy's.

    A Python number takes the tensor's dtype (float32 * 2.0 stays float32); an integer or
    bool tensor meeting a floating one takes the floating dtype (NumPy would widen int64
    with float32 to float64); ``true_divide`` turns two integer operands into float32.
    """
    if not (isinstance(x, Tensor) and isinstance(y, Tensor)):
        reference = x if isinstance(x, Tensor) else y if isinstance(y, Tensor) else None
        x, y = as_tensor(x, like=reference), as_tensor(y, like=reference)
    x_float, y_float = x.array.dtype.kind in "fc", y.array.dtype.kind in "fc"
    if x_float and not y_float:
        y = Tensor(y.array.astype(x.dtype))  # integers carry no gradient: a plain conversion
    elif y_float and not x_float:
        x = Tensor(x.array.astype(y.dtype))
    elif true_divide and not x_float:
        default = dtypes.get_default_dtype()
        x, y = Tensor(x.array.astype(default)), Tensor(y.array.astype(default))
    return x, y


class Add(Function):
    def forward(self, x, y):
        self.shapes = x.shape, y.shape
        return x + y

    def backward(self, gy):
        return sum_to(gy, self.shapes[0]), sum_to(gy, self.shapes[1])

    def vjp(self, gy):
        return reduce_to(gy, self.shapes[0]), reduce_to(gy, self.shapes[1])


def add(x, y, *, alpha=1):
    """x + alpha·y, broadcasting; the gradient is summed back to each input's shape.

    >>> em.add(em.ones(3, 4), em.arange(4.0)).shape
    (3, 4)
    >>> em.add(em.tensor([1.0, 2.0]), em.tensor([1.0, 1.0]), alpha=-2)
    tensor([-1.,  0.])
    """
    x, y = promote(x, y)
    return Add()(x, y if alpha == 1 else mul(y, alpha))


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy

    def vjp(self, gy):
        return neg(gy)


def neg(x):
    """−x (gradient −1)."""
    return Neg()(x)


negative = neg


def positive(x):
    """x itself (PyTorch's unary +)."""
    return x


def sub(x, y, *, alpha=1):
    """x − alpha·y, composed as x + (−alpha·y)."""
    x, y = promote(x, y)
    return add(x, neg(y), alpha=alpha)


class Mul(Function):
    def forward(self, x, y):
        self.save_for_backward(x, y)
        return x * y

    def backward(self, gy):
        x, y = self.saved
        gx = sum_to(gy * y, x.shape) if self.needs_input_grad[0] else None
        gw = sum_to(gy * x, y.shape) if self.needs_input_grad[1] else None
        return gx, gw

    def vjp(self, gy):
        x, y = self.inputs
        gx = reduce_to(mul(gy, y), x.shape) if self.needs_input_grad[0] else None
        gw = reduce_to(mul(gy, x), y.shape) if self.needs_input_grad[1] else None
        return gx, gw


def mul(x, y):
    """x ⊙ y (elementwise, broadcasting): ∂/∂x = y, ∂/∂y = x.

    >>> em.mul(em.tensor([1.0, 2.0]), 3.0)
    tensor([3., 6.])
    """
    return Mul()(*promote(x, y))


class Div(Function):
    # NOTE: a primitive rather than x * y**-1: one division is faster and exact.
    def forward(self, x, y):
        self.save_for_backward(x, y)
        return x / y

    def backward(self, gy):
        x, y = self.saved
        gx = sum_to(gy / y, x.shape) if self.needs_input_grad[0] else None
        gw = sum_to(-gy * x / (y * y), y.shape) if self.needs_input_grad[1] else None
        return gx, gw

    def vjp(self, gy):
        x, y = self.inputs
        gx = reduce_to(div(gy, y), x.shape) if self.needs_input_grad[0] else None
        gw = reduce_to(neg(div(mul(gy, x), mul(y, y))), y.shape) if self.needs_input_grad[1] else None
        return gx, gw


def div(x, y, *, rounding_mode=None):
    """x / y, broadcasting: true division (integers give float32), ∂/∂x = 1/y, ∂/∂y = −x/y²; or with
    ``rounding_mode`` the quotient rounded ``"floor"`` (Python's ``//``) or ``"trunc"`` (toward zero),
    which keeps integer dtypes and has gradient 0 (see ``ember.ops.rounding.rounded_div``).

    >>> em.div(em.tensor([1, 2]), 2)
    tensor([0.5, 1. ])
    >>> em.div(em.tensor([-7, 7]), 2, rounding_mode="trunc")
    tensor([-3,  3])
    """
    if rounding_mode is not None:
        return ops.rounding.rounded_div(x, y, rounding_mode)
    return Div()(*promote(x, y, true_divide=True))


divide, multiply, subtract = div, mul, sub  # PyTorch's longer names


def true_divide(dividend, divisor):
    """x / y without rounding: ``div``."""
    return div(dividend, divisor)


class Pow(Function):
    def forward(self, x, c):
        y = x**c
        self.save_for_backward(x, c, y)
        return y

    def backward(self, gy):
        x, c, y = self.saved
        gx = sum_to(gy * c * x ** (c - 1), x.shape) if self.needs_input_grad[0] else None
        gc = None
        if self.needs_input_grad[1]:
            xp = xp_of(x)
            log_x = xp.log(xp.where(x > 0, x, 1))  # d(x^c)/dc = x^c ln x, taken as 0 where x <= 0
            gc = sum_to(gy * y * log_x, c.shape)
        return gx, gc

    def vjp(self, gy):
        x, c = self.inputs
        gx = reduce_to(gy * c * x ** (c - 1), x.shape) if self.needs_input_grad[0] else None
        gc = None
        if self.needs_input_grad[1]:
            log_x = ops.where(x > 0, x, 1.0).log()  # 0 where x <= 0, as in backward
            gc = reduce_to(gy * self.output() * log_x, c.shape)
        return gx, gc


def pow(x, c):  # noqa: A001 - mirrors the operator
    """x ** c, for a scalar or tensor exponent (and scalar or tensor base).

    ∂/∂x = c·x^(c−1); ∂/∂c = x^c·ln x (taken as 0 where x ≤ 0).

    >>> em.pow(em.tensor([2.0, 3.0]), 2)
    tensor([4., 9.])
    """
    return Pow()(*promote(x, c))
