"""Pointwise functions with whole-number, special or boolean values: rounding and modulo, NaN and
infinity, bit logic, and comparisons of whole tensors.

The piecewise-constant ones (floor, ceil, trunc, round, sign) have gradient 0 everywhere, at the
jumps too, as PyTorch; fmod and remainder pass gradient 1 to x and −q to y; ``nan_to_num`` passes
it where x is finite. Predicates, bit operations and comparisons return tensors without gradient.
``out=`` as in ``ember.ops.pointwise``.
"""
from __future__ import annotations

import math

from ember.autograd.function import Function
from ember.autograd.tensor import Tensor, as_tensor
from ember.backend import get_array_module as xp_of
from ember.ops.arithmetic import mul, neg, promote
from ember.ops.broadcast import reduce_to, sum_to
from ember.ops.elementwise import constant
from ember.ops.pointwise import write_out


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


class RoundedQuotient(Function):
    """x / y rounded down (``"floor"``) or toward zero (``"trunc"``). Piecewise constant: both
    gradients are 0, as PyTorch's ``div(..., rounding_mode=...)``."""

    def __init__(self, rounding_mode):
        self.rounding_mode = rounding_mode

    def forward(self, x, y):
        self.shapes = x.shape, y.shape
        xp = xp_of(x)
        if self.rounding_mode == "floor":
            return xp.floor_divide(x, y)  # Python's //: exact for integers, floor(x/y) for floats
        if x.dtype.kind in "iu":  # toward zero: one above the floor where the division is inexact and the signs differ
            q = xp.floor_divide(x, y)
            return q + ((q * y != x) & ((x < 0) != (y < 0)))
        return xp.trunc(x / y)

    def backward(self, gz):
        xp = xp_of(gz)
        return xp.zeros(self.shapes[0], gz.dtype), xp.zeros(self.shapes[1], gz.dtype)

    def vjp(self, gz):
        return tuple(constant(xp_of(gz.array).zeros(shape, gz.dtype), gz) for shape in self.shapes)


def rounded_div(input, other, rounding_mode):
    """x / y rounded by ``rounding_mode`` (``"floor"`` or ``"trunc"``), in the promoted dtype (integers
    stay integers); an integer division by zero raises ZeroDivisionError, as in PyTorch."""
    if rounding_mode not in ("floor", "trunc"):
        raise ValueError("div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                         f"but found {rounding_mode!r}")
    x, y = promote(input, other)
    if y.dtype.kind in "iub" and bool((y.array == 0).any()):
        raise ZeroDivisionError(f"div(rounding_mode={rounding_mode!r}): integer division by zero")
    if x.dtype.kind == "b":  # PyTorch divides booleans as integers
        x, y = Tensor(x.array.astype("int64")), Tensor(y.array.astype("int64"))
    return RoundedQuotient(rounding_mode)(x, y)


def floor_divide(input, other, *, out=None):
    """⌊x / y⌋, Python's ``//`` (broadcasting; integers stay integers; gradient 0).

    >>> em.floor_divide(em.tensor([-7, 7]), 2)
    tensor([-4,  3])
    """
    return write_out(rounded_div(input, other, "floor"), out)


def heaviside(input, values, *, out=None):
    """The step function: 0 below 0 (and at NaN), 1 above, ``values`` at 0 (no gradient, as PyTorch).

    >>> em.heaviside(em.tensor([-1.5, 0.0, 2.0]), em.tensor(0.5))
    tensor([0. , 0.5, 1. ])
    """
    x, v = promote(input, values)
    xp = xp_of(x.array)
    step = xp.where(x.array == 0, v.array, x.array > 0)  # NaN counts as not above 0, as PyTorch's
    return write_out(Tensor(step.astype(xp.result_type(x.array, v.array))), out)


def signbit(input, *, out=None):
    """True where the sign bit is set (negative numbers and −0.0; no gradient)."""
    x = as_tensor(input)
    return write_out(Tensor(xp_of(x.array).signbit(x.array)), out)


sgn = sign  # the sign of a real tensor (PyTorch's sgn extends it to complex numbers)


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
