"""More elementwise maths: powers and logarithms, trigonometric and hyperbolic functions, erf,
rounding and modulo, NaN/∞ handling, bitwise logic and whole-tensor comparisons.

Each differentiable op is a small ``Function`` with its derivative in ``backward``; the
piecewise-constant ones (floor, round, sign, ...) have gradient 0, as in PyTorch. Integer
inputs to a float-valued function become float32 first, as PyTorch's ``log1p(int)`` does.
Functions that PyTorch gives an ``out=`` take it too (see ``write_out``).
"""
from __future__ import annotations

import math

from ember.autograd.function import Function
from ember.autograd.tensor import DEFAULT_DTYPE, Tensor, as_tensor
from ember.backend import get_array_module as xp_of
from ember.ops.activation import _erf
from ember.ops.arithmetic import div, mul, neg, promote
from ember.ops.broadcast import reduce_to, sum_to
from ember.ops.elementwise import abs, clip, constant, exp, lt, sqrt, where


# -- helpers ---------------------------------------------------------------------------------------
def floating(x):
    """x as a floating-point tensor: integer and bool tensors become float32 (PyTorch's rule for
    float-valued functions such as ``log1p`` or ``erf``)."""
    x = as_tensor(x)
    return x if x.dtype.kind in "fc" else Tensor(x.array.astype(DEFAULT_DTYPE))


def _floating_pair(x, y):
    x, y = promote(x, y)
    return floating(x), floating(y)


def write_out(result, out):
    """PyTorch's ``out=``: ``result``'s values written into the tensor ``out`` (resized when its shape
    differs), which is returned; with ``out=None`` the result itself.

    As in PyTorch, ``out=`` records no graph, so it refuses an operation whose inputs require grad.

    >>> y = em.empty(2)
    >>> em.square(em.tensor([1.0, 3.0]), out=y) is y
    True
    """
    if out is None:
        return result
    if result.requires_grad:
        raise RuntimeError("functions with out=... arguments don't support automatic differentiation, "
                           "but one of the arguments requires grad")
    array = out._inplace_target("out=")
    if array.shape != result.shape:
        out.array = array = xp_of(array).empty(result.shape, dtype=array.dtype)
    array[...] = result.array
    return out


# -- powers, exponentials and logarithms -------------------------------------------------------------
def square(input, *, out=None):
    """x², composed as x·x (gradient 2x); integer tensors stay integer.

    >>> em.square(em.tensor([-2.0, 3.0]))
    tensor([4., 9.])
    """
    return write_out(mul(input, input), out)


class Rsqrt(Function):
    def forward(self, x):
        y = 1 / xp_of(x).sqrt(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved
        return -0.5 * gy * y * y * y  # d x^(−1/2) = −½ x^(−3/2)

    def vjp(self, gy):
        y = self.output()
        return gy * (y * y * y * -0.5)


def rsqrt(input, *, out=None):
    """1/√x; ∂/∂x = −½ x^(−3/2).

    >>> em.rsqrt(em.tensor([4.0]))
    tensor([0.5])
    """
    return write_out(Rsqrt()(floating(input)), out)


class Log1p(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return xp_of(x).log1p(x)

    def backward(self, gy):
        (x,) = self.saved
        return gy / (1 + x)

    def vjp(self, gy):
        return div(gy, self.inputs[0] + 1.0)


def log1p(input, *, out=None):
    """log(1 + x), accurate for small |x|; ∂/∂x = 1/(1 + x).

    >>> em.log1p(em.tensor([0.0]))
    tensor([0.])
    """
    return write_out(Log1p()(floating(input)), out)


class Expm1(Function):
    def forward(self, x):
        y = xp_of(x).expm1(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved
        return gy * (y + 1)  # d(e^x − 1) = e^x

    def vjp(self, gy):
        return mul(gy, self.output() + 1.0)


def expm1(input, *, out=None):
    """e^x − 1, accurate for small |x|; ∂/∂x = e^x.

    >>> em.expm1(em.tensor([0.0]))
    tensor([0.])
    """
    return write_out(Expm1()(floating(input)), out)


class Exp2(Function):
    def forward(self, x):
        y = xp_of(x).exp2(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved
        return gy * y * math.log(2)  # d 2^x = 2^x ln 2

    def vjp(self, gy):
        return mul(gy, self.output() * math.log(2))


def exp2(input, *, out=None):
    """2^x; ∂/∂x = 2^x ln 2.

    >>> em.exp2(em.tensor([3.0]))
    tensor([8.])
    """
    return write_out(Exp2()(floating(input)), out)


class LogBase(Function):
    """log_b x = ln x / ln b for b = 2 or 10."""

    def __init__(self, base):
        self.base = base

    def forward(self, x):
        self.save_for_backward(x)
        return xp_of(x).log2(x) if self.base == 2 else xp_of(x).log10(x)

    def backward(self, gy):
        (x,) = self.saved
        return gy / (x * math.log(self.base))  # d log_b x = 1 / (x ln b)

    def vjp(self, gy):
        return div(gy, self.inputs[0] * math.log(self.base))


def log2(input, *, out=None):
    """log₂ x; ∂/∂x = 1/(x ln 2).

    >>> em.log2(em.tensor([8.0]))
    tensor([3.])
    """
    return write_out(LogBase(2)(floating(input)), out)


def log10(input, *, out=None):
    """log₁₀ x; ∂/∂x = 1/(x ln 10).

    >>> em.log10(em.tensor([1.0, 10.0]))
    tensor([0., 1.])
    """
    return write_out(LogBase(10)(floating(input)), out)


class LogAddExp(Function):
    """log(b^x + b^y) for b = e or 2, computed without overflow (NumPy's ``logaddexp``)."""

    def __init__(self, base):
        self.base = base

    def forward(self, x, y):
        xp = xp_of(x)
        z = xp.logaddexp(x, y) if self.base == "e" else xp.logaddexp2(x, y)
        self.save_for_backward(x, y, z)
        return z

    def backward(self, gz):
        x, y, z = self.saved
        power = xp_of(x).exp if self.base == "e" else xp_of(x).exp2
        return sum_to(gz * power(x - z), x.shape), sum_to(gz * power(y - z), y.shape)  # the softmax weights

    def vjp(self, gz):
        x, y = self.inputs
        z, power = self.output(), exp if self.base == "e" else exp2
        gx = reduce_to(mul(gz, power(x - z)), x.shape) if self.needs_input_grad[0] else None
        gw = reduce_to(mul(gz, power(y - z)), y.shape) if self.needs_input_grad[1] else None
        return gx, gw


def logaddexp(input, other, *, out=None):
    """log(e^x + e^y) (broadcasting), stable at any scale; ∂/∂x = e^(x − z), ∂/∂y = e^(y − z).

    >>> em.logaddexp(em.tensor([1000.0]), em.tensor([1000.0]))
    tensor([1000.6932])
    """
    return write_out(LogAddExp("e")(*_floating_pair(input, other)), out)


def logaddexp2(input, other, *, out=None):
    """log₂(2^x + 2^y) (broadcasting), stable; ∂/∂x = 2^(x − z), ∂/∂y = 2^(y − z).

    >>> em.logaddexp2(em.tensor([3.0]), em.tensor([3.0]))
    tensor([4.])
    """
    return write_out(LogAddExp(2)(*_floating_pair(input, other)), out)


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
    return write_out(Atan2()(*_floating_pair(input, other)), out)


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


# -- the error function --------------------------------------------------------------------------------
class Erf(Function):
    """erf x, or erfc x = 1 − erf x (computed directly: no cancellation for large x)."""

    def __init__(self, complement):
        self.complement = complement

    def forward(self, x):
        self.save_for_backward(x)
        return (_erfc(x) if self.complement else _erf(x)).astype(x.dtype, copy=False)

    def backward(self, gy):
        (x,) = self.saved
        slope = gy * (2 / math.sqrt(math.pi)) * xp_of(x).exp(-x * x)  # erf' = 2/√π e^(−x²)
        return -slope if self.complement else slope

    def vjp(self, gy):
        (x,) = self.inputs
        slope = mul(gy, exp(neg(x * x)) * (2 / math.sqrt(math.pi)))
        return neg(slope) if self.complement else slope


def _erfc(x):
    """The complementary error function from SciPy (or CuPy); 1 − erf where neither is installed."""
    if xp_of(x).__name__ == "cupy":
        import cupyx.scipy.special as special  # noqa: PLC0415 - ships with CuPy

        return special.erfc(x)
    try:
        from scipy.special import erfc as scipy_erfc  # noqa: PLC0415 - optional, exact in the tail
    except ImportError:
        return xp_of(x).vectorize(math.erfc, otypes=[x.dtype])(x)
    return scipy_erfc(x)


def erf(input, *, out=None):
    """erf x = 2/√π ∫₀ˣ e^(−t²) dt; ∂/∂x = 2/√π e^(−x²).

    >>> em.erf(em.tensor([0.0]))
    tensor([0.])
    """
    return write_out(Erf(False)(floating(input)), out)


def erfc(input, *, out=None):
    """erfc x = 1 − erf x, accurate where erf x ≈ 1; ∂/∂x = −2/√π e^(−x²).

    >>> em.erfc(em.tensor([0.0]))
    tensor([1.])
    """
    return write_out(Erf(True)(floating(input)), out)


# -- rounding and modulo ------------------------------------------------------------------------------
class Step(Function):
    """A piecewise-constant function (floor, ceil, round, trunc, sign): the gradient is 0 everywhere,
    at the jumps too (PyTorch's convention)."""

    def __init__(self, fn, label):
        self.fn, self.label = fn, label

    @property
    def op_name(self) -> str:
        return self.label

    def forward(self, x):
        return self.fn(x)

    def backward(self, gy):
        return xp_of(gy).zeros_like(gy)

    def vjp(self, gy):
        return constant(xp_of(gy.array).zeros_like(gy.array), gy)  # no derivative of any order


def _step(input, name, fn, out):
    """Apply a step function; integer and bool tensors are already whole and come back as they are."""
    x = as_tensor(input)
    if x.dtype.kind in "iub":
        return write_out(Tensor(x.array.copy()), out)
    return write_out(Step(fn, name.capitalize())(x), out)


def floor(input, *, out=None):
    """⌊x⌋, the largest integer ≤ x (gradient 0).

    >>> em.floor(em.tensor([-1.5, 1.5]))
    tensor([-2.,  1.])
    """
    return _step(input, "floor", lambda x: xp_of(x).floor(x), out)


def ceil(input, *, out=None):
    """⌈x⌉, the smallest integer ≥ x (gradient 0).

    >>> em.ceil(em.tensor([-1.5, 1.5]))
    tensor([-1.,  2.])
    """
    return _step(input, "ceil", lambda x: xp_of(x).ceil(x), out)


def trunc(input, *, out=None):
    """x rounded toward 0 (gradient 0).

    >>> em.trunc(em.tensor([-1.5, 1.5]))
    tensor([-1.,  1.])
    """
    return _step(input, "trunc", lambda x: xp_of(x).trunc(x), out)


fix = trunc


def round(input, *, decimals=0, out=None):  # noqa: A001 - PyTorch's name
    """x rounded to ``decimals`` decimal places, halves to even as PyTorch (gradient 0).

    >>> em.round(em.tensor([0.5, 1.5, 1.2345]), decimals=0)
    tensor([0., 2., 1.])
    """
    return _step(input, "round", lambda x: xp_of(x).round(x, decimals), out)


def sign(input, *, out=None):
    """−1, 0 or 1 by the sign of x (0 for NaN, as PyTorch; gradient 0).

    >>> em.sign(em.tensor([-2.0, 0.0, 3.0]))
    tensor([-1.,  0.,  1.])
    """
    def fn(x):
        xp = xp_of(x)
        return xp.where(xp.isnan(x), 0, xp.sign(x)).astype(x.dtype, copy=False)

    x = as_tensor(input)
    if x.dtype.kind in "iu":
        return write_out(Tensor(xp_of(x.array).sign(x.array)), out)
    return _step(x, "sign", fn, out)


def frac(input, *, out=None):
    """The fractional part x − trunc(x), with the sign of x (gradient 1).

    >>> em.frac(em.tensor([-1.25, 2.5]))
    tensor([-0.25,  0.5 ])
    """
    x = as_tensor(input)
    return write_out(x - trunc(x), out)


class Mod(Function):
    """x − q·y with the quotient q = trunc(x/y) (``fmod``: the sign of x) or floor(x/y) (``remainder``:
    the sign of y). q is piecewise constant, so ∂/∂x = 1 and ∂/∂y = −q."""

    def __init__(self, rounding):
        self.rounding = rounding

    def forward(self, x, y):
        self.save_for_backward(x, y)
        xp = xp_of(x)
        return xp.fmod(x, y) if self.rounding == "trunc" else xp.remainder(x, y)

    def backward(self, gz):
        x, y = self.saved
        q = getattr(xp_of(x), self.rounding)(x / y)
        return sum_to(gz, x.shape), sum_to(-gz * q, y.shape)

    def vjp(self, gz):
        x, y = self.saved
        q = getattr(xp_of(x), self.rounding)(x / y)  # piecewise constant
        gx = reduce_to(gz, x.shape) if self.needs_input_grad[0] else None
        gw = reduce_to(neg(mul(gz, constant(q, gz))), y.shape) if self.needs_input_grad[1] else None
        return gx, gw


def fmod(input, other, *, out=None):
    """C's remainder x − trunc(x/y)·y, with the sign of x (broadcasting); ∂/∂x = 1, ∂/∂y = −trunc(x/y).

    >>> em.fmod(em.tensor([-3.0, 3.0]), 2)
    tensor([-1.,  1.])
    """
    return write_out(Mod("trunc")(*promote(input, other)), out)


def remainder(input, other, *, out=None):
    """Python's modulo x − floor(x/y)·y, with the sign of y (broadcasting; the ``%`` operator);
    ∂/∂x = 1, ∂/∂y = −floor(x/y).

    >>> em.remainder(em.tensor([-3.0, 3.0]), 2)
    tensor([1., 1.])
    """
    return write_out(Mod("floor")(*promote(input, other)), out)


# -- clamping and absolute value: PyTorch's other names ------------------------------------------------
def clamp_min(input, min, *, out=None):  # noqa: A002 - PyTorch's name
    """max(x, min) for a number or a tensor ``min``; the gradient goes to x where x ≥ min, else to min.

    >>> em.clamp_min(em.tensor([-1.0, 2.0]), 0.0)
    tensor([0., 2.])
    """
    if isinstance(min, Tensor):
        return write_out(where(lt(input, min), min, input), out)
    return write_out(clip(input, min=min), out)


def clamp_max(input, max, *, out=None):  # noqa: A002 - PyTorch's name
    """min(x, max) for a number or a tensor ``max``; the gradient goes to x where x ≤ max, else to max.

    >>> em.clamp_max(em.tensor([-1.0, 2.0]), 0.0)
    tensor([-1.,  0.])
    """
    if isinstance(max, Tensor):
        return write_out(where(lt(max, input), max, input), out)
    return write_out(clip(input, max=max), out)


def clamp(input, min=None, max=None, *, out=None):  # noqa: A002 - PyTorch's names
    """x clamped into [min, max]; either bound may be None, a number or a tensor (broadcasting).

    >>> em.clamp(em.tensor([-2.0, 0.5, 2.0]), -1.0, 1.0)
    tensor([-1. ,  0.5,  1. ])
    """
    if not isinstance(min, Tensor) and not isinstance(max, Tensor):
        return write_out(clip(input, min, max), out)
    y = input if min is None else clamp_min(input, min)
    return write_out(y if max is None else clamp_max(y, max), out)


def absolute(input, *, out=None):
    """|x| (PyTorch's alias of ``abs``).

    >>> em.absolute(em.tensor([-2.0]))
    tensor([2.])
    """
    return write_out(abs(input), out)


# -- NaN and infinity ---------------------------------------------------------------------------------
def _predicate(input, fn, out):
    return write_out(Tensor(fn(as_tensor(input).array)), out)


def isinf(input):
    """True where x is ±∞ (no gradient).

    >>> em.isinf(em.tensor([1.0, float("-inf")]))
    tensor([False,  True])
    """
    return _predicate(input, lambda x: xp_of(x).isinf(x), None)


def isposinf(input, *, out=None):
    """True where x is +∞ (no gradient).

    >>> em.isposinf(em.tensor([float("inf"), float("-inf")]))
    tensor([ True, False])
    """
    return _predicate(input, lambda x: x == math.inf, out)


def isneginf(input, *, out=None):
    """True where x is −∞ (no gradient).

    >>> em.isneginf(em.tensor([float("inf"), float("-inf")]))
    tensor([False,  True])
    """
    return _predicate(input, lambda x: x == -math.inf, out)


class NanToNum(Function):
    def __init__(self, nan, posinf, neginf):
        self.values = {"nan": nan, "posinf": posinf, "neginf": neginf}

    def forward(self, x):
        self.save_for_backward(x)
        return xp_of(x).nan_to_num(x, copy=True, **self.values)

    def backward(self, gy):
        (x,) = self.saved
        return gy * xp_of(x).isfinite(x)  # the replaced values are constants

    def vjp(self, gy):
        (x,) = self.saved
        return mul(gy, constant(xp_of(x).isfinite(x), gy))


def nan_to_num(input, nan=0.0, posinf=None, neginf=None, *, out=None):
    """x with NaN, +∞ and −∞ replaced by ``nan``, ``posinf`` and ``neginf`` (by default 0 and the
    dtype's largest and smallest finite values); the gradient is 1 at finite x, 0 elsewhere.

    >>> em.nan_to_num(em.tensor([float("nan"), 1.0, float("inf")]), posinf=9.0)
    tensor([0., 1., 9.])
    """
    x = as_tensor(input)
    if x.dtype.kind not in "fc":
        return write_out(Tensor(x.array.copy()), out)
    return write_out(NanToNum(nan, posinf, neginf)(x), out)


# -- logic and bits (no gradient) -------------------------------------------------------------------------
def logical_xor(input, other, *, out=None):
    """True where exactly one of x and y is non-zero (broadcasting).

    >>> em.logical_xor(em.tensor([True, False]), em.tensor([True, True]))
    tensor([False,  True])
    """
    x, y = promote(input, other)
    return write_out(Tensor(x.array.astype(bool) ^ y.array.astype(bool)), out)


def _bitwise(name, fn, *operands):
    """Apply ``fn`` to the arrays of integer or bool tensors (PyTorch refuses floating ones)."""
    tensors = promote(*operands) if len(operands) == 2 else (as_tensor(operands[0]),)
    for t in tensors:
        if t.dtype.kind not in "iub":
            raise RuntimeError(f"{name}: only integer and bool tensors are supported, got dtype {t.dtype}")
    return Tensor(fn(*(t.array for t in tensors)))


def bitwise_and(input, other, *, out=None):
    """x & y bit by bit (logical AND on bool tensors), broadcasting.

    >>> em.bitwise_and(em.tensor([12]), em.tensor([10]))
    tensor([8])
    """
    return write_out(_bitwise("bitwise_and", lambda x, y: x & y, input, other), out)


def bitwise_or(input, other, *, out=None):
    """x | y bit by bit (logical OR on bool tensors), broadcasting.

    >>> em.bitwise_or(em.tensor([12]), em.tensor([10]))
    tensor([14])
    """
    return write_out(_bitwise("bitwise_or", lambda x, y: x | y, input, other), out)


def bitwise_xor(input, other, *, out=None):
    """x ^ y bit by bit (logical XOR on bool tensors), broadcasting.

    >>> em.bitwise_xor(em.tensor([12]), em.tensor([10]))
    tensor([6])
    """
    return write_out(_bitwise("bitwise_xor", lambda x, y: x ^ y, input, other), out)


def bitwise_not(input, *, out=None):
    """~x bit by bit (two's complement: −x − 1 on integers; logical NOT on bool tensors).

    >>> em.bitwise_not(em.tensor([0, 5]))
    tensor([-1, -6])
    """
    return write_out(_bitwise("bitwise_not", lambda x: ~x, input), out)


# -- comparing whole tensors (no gradient) ------------------------------------------------------------------
def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True where |x − y| ≤ atol + rtol·|y| (broadcasting); NaNs equal each other only with ``equal_nan``.

    >>> em.isclose(em.tensor([1.0, 1.1]), em.tensor([1.0, 1.0]))
    tensor([ True, False])
    """
    x, y = promote(input, other)
    return Tensor(xp_of(x.array).isclose(x.array, y.array, rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    """Whether every element of ``isclose(input, other, ...)`` is True (a Python bool).

    >>> em.allclose(em.tensor([1.0, 2.0]), em.tensor([1.0, 2.0 + 1e-7]))
    True
    """
    return bool(isclose(input, other, rtol, atol, equal_nan).array.all())


def equal(input, other) -> bool:
    """Whether the two tensors have the same shape and the same elements (a Python bool).

    >>> em.equal(em.tensor([1, 2]), em.tensor([1, 2]))
    True
    """
    x, y = as_tensor(input), as_tensor(other)
    return x.shape == y.shape and bool((x.array == y.array).all())
