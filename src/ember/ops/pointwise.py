"""More elementwise maths: the conventions every pointwise function follows, powers, exponentials
and logarithms, the error function, and clamping.

Each differentiable op is a small ``Function`` with its derivative in ``backward`` (and ``vjp``,
its differentiable twin, for higher orders). Integer inputs to a float-valued function become
float32 first, as PyTorch's ``log1p(int)`` does (``floating``). Functions that PyTorch gives an
``out=`` take it too (``write_out``). The rest of the family uses both: the trigonometric and
hyperbolic functions in ``ember.ops.trigonometric``; rounding, modulo, NaN/∞ handling, bit logic
and whole-tensor comparisons in ``ember.ops.rounding``. ``ember.ops`` re-exports them all.
"""
from __future__ import annotations

import math

import numpy as np

from ember.autograd.function import Function
from ember.autograd.tensor import DEFAULT_DTYPE, Tensor, as_tensor
from ember.backend import get_array_module as xp_of
from ember.ops.activation import _erf
from ember.ops.arithmetic import add, div, mul, neg, promote, sub
from ember.ops.broadcast import reduce_to, sum_to
from ember.ops.elementwise import abs, clip, exp, log, lt, sqrt, where


# -- helpers ---------------------------------------------------------------------------------------
def floating(x):
    """x as a floating-point tensor: integer and bool tensors become float32 (PyTorch's rule for
    float-valued functions such as ``log1p`` or ``erf``)."""
    x = as_tensor(x)
    return x if x.dtype.kind in "fc" else Tensor(x.array.astype(DEFAULT_DTYPE))


def floating_pair(x, y):
    """x and y promoted to one dtype (PyTorch's rule), then made floating as ``floating``."""
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
    return write_out(LogAddExp("e")(*floating_pair(input, other)), out)


def logaddexp2(input, other, *, out=None):
    """log₂(2^x + 2^y) (broadcasting), stable; ∂/∂x = 2^(x − z), ∂/∂y = 2^(y − z).

    >>> em.logaddexp2(em.tensor([3.0]), em.tensor([3.0]))
    tensor([4.])
    """
    return write_out(LogAddExp(2)(*floating_pair(input, other)), out)


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


# -- combinations of the basic ops (their gradients follow from the parts) ----------------------------
def reciprocal(input, *, out=None):
    """1 / x (integers give float32); ∂/∂x = −1/x².

    >>> em.reciprocal(em.tensor([2.0, -4.0]))
    tensor([ 0.5 , -0.25])
    """
    return write_out(div(1.0, floating(input)), out)


def addcmul(input, tensor1, tensor2, *, value=1, out=None):
    """x + value·t1·t2, broadcasting (the optimisers' moment updates).

    >>> em.addcmul(em.ones(2), em.tensor([1.0, 2.0]), em.tensor([3.0, 4.0]), value=0.5)
    tensor([2.5, 5. ])
    """
    return write_out(add(input, mul(tensor1, tensor2), alpha=value), out)


def addcdiv(input, tensor1, tensor2, *, value=1, out=None):
    """x + value·t1/t2, broadcasting (Adam's step: p + (−lr)·m/(√v + ε)).

    >>> em.addcdiv(em.ones(2), em.tensor([1.0, 2.0]), em.tensor([4.0, 4.0]), value=-2)
    tensor([0.5, 0. ])
    """
    return write_out(add(input, div(tensor1, tensor2), alpha=value), out)


def lerp(input, end, weight, *, out=None):
    """x + weight·(end − x): the linear interpolation from x to ``end`` (weight a number or a tensor).

    >>> em.lerp(em.zeros(2), em.tensor([10.0, 20.0]), 0.25)
    tensor([2.5, 5. ])
    """
    return write_out(add(input, mul(weight, sub(end, input))), out)


def hypot(input, other, *, out=None):
    """√(x² + y²), broadcasting; ∂/∂x = x/hypot, ∂/∂y = y/hypot.

    >>> em.hypot(em.tensor([3.0]), em.tensor([4.0]))
    tensor([5.])
    """
    x, y = floating_pair(input, other)
    return write_out(sqrt(add(mul(x, x), mul(y, y))), out)


def xlogy(input, other, *, out=None):
    """x·ln y, and 0 where x = 0 (whatever y, unless NaN), as entropies want; ∂/∂x = ln y (0 where x = y = 0),
    ∂/∂y = x/y.

    >>> em.xlogy(em.tensor([0.0, 2.0]), em.tensor([0.0, 1.0]))
    tensor([0., 0.])
    """
    x, y = floating_pair(input, other)
    # where x = 0, y = 0 or ∞ would give 0·(±∞) = NaN: ln 1 = 0 stands in for ln y there
    xp = xp_of(y.array)
    safe_y = where(Tensor((x.array == 0) & ((y.array == 0) | xp.isinf(y.array))), 1.0, y)
    return write_out(mul(x, log(safe_y)), out)


def logit(input, eps=None, *, out=None):
    """ln(p / (1 − p)), the inverse of the sigmoid; with ``eps``, p is first clamped into [eps, 1 − eps]
    (gradient 0 outside). ∂/∂p = 1/(p(1 − p)).

    >>> em.logit(em.tensor([0.5, 0.75]))
    tensor([0.       , 1.0986123])
    """
    p = floating(input)
    if eps is not None:
        p = clip(p, eps, 1 - eps)
    return write_out(sub(log(p), log1p(neg(p))), out)


def deg2rad(input, *, out=None):
    """Degrees to radians: x·π/180.

    >>> em.deg2rad(em.tensor([180.0]))
    tensor([3.1415927])
    """
    return write_out(mul(floating(input), math.pi / 180), out)


def rad2deg(input, *, out=None):
    """Radians to degrees: x·180/π."""
    return write_out(mul(floating(input), 180 / math.pi), out)


def float_power(input, exponent, *, out=None):
    """x^y computed in float64 (complex128 for complex operands), as PyTorch's ``float_power``."""
    x = as_tensor(input)
    wide = np.complex128 if x.dtype.kind == "c" else np.float64
    base = x.to(wide)
    power = exponent.to(wide) if isinstance(exponent, Tensor) else float(exponent)
    return write_out(base ** power, out)


def copysign(input, other, *, out=None):
    """|x| with the sign of y (−0.0 counts as negative); ∂/∂x = sign(x)·sign(y).

    >>> em.copysign(em.tensor([1.0, -2.0]), -1.0)
    tensor([-1., -2.])
    """
    x, y = floating_pair(input, other)
    negative = Tensor(xp_of(y.array).signbit(y.array))
    magnitude = abs(x)
    return write_out(where(negative, neg(magnitude), magnitude), out)
