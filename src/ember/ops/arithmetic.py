"""Arithmetic: + − × ÷ ** and negation, broadcasting with the gradient summed back."""
from __future__ import annotations

from ember.autograd.function import Function
from ember.backend import get_array_module as xp_of
from ember.ops.broadcast import sum_to


class Add(Function):
    def forward(self, x, y):
        self.shapes = x.shape, y.shape
        return x + y

    def backward(self, gy):
        return sum_to(gy, self.shapes[0]), sum_to(gy, self.shapes[1])


def add(x, y):
    """x + y."""
    return Add()(x, y)


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


def neg(x):
    """−x."""
    return Neg()(x)


def sub(x, y):
    """x − y, composed as x + (−y)."""
    return add(x, neg(y))


class Mul(Function):
    def forward(self, x, y):
        self.save_for_backward(x, y)
        return x * y

    def backward(self, gy):
        x, y = self.saved
        gx = sum_to(gy * y, x.shape) if self.needs_input_grad[0] else None
        gw = sum_to(gy * x, y.shape) if self.needs_input_grad[1] else None
        return gx, gw


def mul(x, y):
    """x ⊙ y (elementwise)."""
    return Mul()(x, y)


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


def div(x, y):
    """x / y (true division)."""
    return Div()(x, y)


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


def pow(x, c):  # noqa: A001 - mirrors the operator
    """x ** c, for a scalar or tensor exponent (and scalar or tensor base)."""
    return Pow()(x, c)
