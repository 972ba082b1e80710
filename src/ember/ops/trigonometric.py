"""Trigonometric and hyperbolic functions: tan, the inverse circular functions, sinh, cosh and their inverses.

(sin, cos and tanh are among the primitives of ``ember.ops.elementwise`` and ``ember.ops.activation``.)
Each is a small ``Function`` with its derivative in ``backward`` and its differentiable twin in
``vjp``, in the conventions of ``ember.ops.pointwise``: integer inputs become float32 and
PyTorch's ``out=`` is accepted. NumPy's names (arcsin, arctan2, arcsinh, ...) are aliases.
"""
from __future__ import annotations

from ember.autograd.function import Function
from ember.backend import get_array_module as xp_of
from ember.ops.arithmetic import div, mul, neg
from ember.ops.broadcast import reduce_to, sum_to
from ember.ops.elementwise import sqrt
from ember.ops.pointwise import floating, floating_pair, write_out


# -- trigonometric and hyperbolic ----------------------------------------------------------------------
class Tan(Function):
    def forward(self, x):
        y = xp_of(x).tan(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved
        return gy * (1 + y * y)  # tan' = 1 + tan²

    def vjp(self, gy):
        y = self.output()
        return mul(gy, y * y + 1.0)


def tan(input, *, out=None):
    """tan x; ∂/∂x = 1 + tan² x.

    >>> em.tan(em.tensor([0.0]))
    tensor([0.])
    """
    return write_out(Tan()(floating(input)), out)


class Asin(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return xp_of(x).arcsin(x)

    def backward(self, gy):
        (x,) = self.saved
        return gy / xp_of(x).sqrt(1 - x * x)

    def vjp(self, gy):
        (x,) = self.inputs
        return div(gy, sqrt(1.0 - x * x))


def asin(input, *, out=None):
    """arcsin x on [−1, 1]; ∂/∂x = 1/√(1 − x²).

    >>> em.asin(em.tensor([1.0]))
    tensor([1.5707964])
    """
    return write_out(Asin()(floating(input)), out)


class Acos(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return xp_of(x).arccos(x)

    def backward(self, gy):
        (x,) = self.saved
        return -gy / xp_of(x).sqrt(1 - x * x)

    def vjp(self, gy):
        (x,) = self.inputs
        return neg(div(gy, sqrt(1.0 - x * x)))


def acos(input, *, out=None):
    """arccos x on [−1, 1]; ∂/∂x = −1/√(1 − x²).

    >>> em.acos(em.tensor([1.0]))
    tensor([0.])
    """
    return write_out(Acos()(floating(input)), out)


class Atan(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return xp_of(x).arctan(x)

    def backward(self, gy):
        (x,) = self.saved
        return gy / (1 + x * x)

    def vjp(self, gy):
        (x,) = self.inputs
        return div(gy, x * x + 1.0)


def atan(input, *, out=None):
    """arctan x; ∂/∂x = 1/(1 + x²).

    >>> em.atan(em.tensor([0.0]))
    tensor([0.])
    """
    return write_out(Atan()(floating(input)), out)


class Atan2(Function):
    def forward(self, y, x):
        self.save_for_backward(y, x)
        return xp_of(y).arctan2(y, x)

    def backward(self, gz):
        y, x = self.saved
        r2 = x * x + y * y
        return sum_to(gz * x / r2, y.shape), sum_to(-gz * y / r2, x.shape)

    def vjp(self, gz):
        y, x = self.inputs
        gz_r2 = div(gz, x * x + y * y)
        gy = reduce_to(mul(gz_r2, x), y.shape) if self.needs_input_grad[0] else None
        gx = reduce_to(neg(mul(gz_r2, y)), x.shape) if self.needs_input_grad[1] else None
        return gy, gx


def atan2(input, other, *, out=None):
    """The angle of the point (other, input): arctan(input/other) in the right quadrant, broadcasting.

    With y = input, x = other and r² = x² + y²: ∂/∂y = x/r², ∂/∂x = −y/r².

    >>> em.atan2(em.tensor([1.0]), em.tensor([-1.0]))
    tensor([2.3561945])
    """
    return write_out(Atan2()(*floating_pair(input, other)), out)


class Sinh(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return xp_of(x).sinh(x)

    def backward(self, gy):
        (x,) = self.saved
        return gy * xp_of(x).cosh(x)

    def vjp(self, gy):
        return mul(gy, cosh(self.inputs[0]))


def sinh(input, *, out=None):
    """sinh x; ∂/∂x = cosh x.

    >>> em.sinh(em.tensor([0.0]))
    tensor([0.])
    """
    return write_out(Sinh()(floating(input)), out)


class Cosh(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return xp_of(x).cosh(x)

    def backward(self, gy):
        (x,) = self.saved
        return gy * xp_of(x).sinh(x)

    def vjp(self, gy):
        return mul(gy, sinh(self.inputs[0]))


def cosh(input, *, out=None):
    """cosh x; ∂/∂x = sinh x.

    >>> em.cosh(em.tensor([0.0]))
    tensor([1.])
    """
    return write_out(Cosh()(floating(input)), out)


class Asinh(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return xp_of(x).arcsinh(x)

    def backward(self, gy):
        (x,) = self.saved
        return gy / xp_of(x).sqrt(x * x + 1)

    def vjp(self, gy):
        (x,) = self.inputs
        return div(gy, sqrt(x * x + 1.0))


def asinh(input, *, out=None):
    """arsinh x; ∂/∂x = 1/√(x² + 1).

    >>> em.asinh(em.tensor([0.0]))
    tensor([0.])
    """
    return write_out(Asinh()(floating(input)), out)


class Acosh(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return xp_of(x).arccosh(x)

    def backward(self, gy):
        (x,) = self.saved
        return gy / xp_of(x).sqrt((x - 1) * (x + 1))  # factored: x² − 1 cancels badly near x = 1

    def vjp(self, gy):
        (x,) = self.inputs
        return div(gy, sqrt((x - 1.0) * (x + 1.0)))


def acosh(input, *, out=None):
    """arcosh x for x ≥ 1; ∂/∂x = 1/√(x² − 1).

    >>> em.acosh(em.tensor([1.0]))
    tensor([0.])
    """
    return write_out(Acosh()(floating(input)), out)


class Atanh(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return xp_of(x).arctanh(x)

    def backward(self, gy):
        (x,) = self.saved
        return gy / (1 - x * x)

    def vjp(self, gy):
        (x,) = self.inputs
        return div(gy, 1.0 - x * x)


def atanh(input, *, out=None):
    """artanh x on (−1, 1); ∂/∂x = 1/(1 − x²).

    >>> em.atanh(em.tensor([0.0]))
    tensor([0.])
    """
    return write_out(Atanh()(floating(input)), out)


arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2  # PyTorch's NumPy-style aliases
arcsinh, arccosh, arctanh = asinh, acosh, atanh
