"""Tensor methods for the mathematical functions (``x.mm(y)``, ``x.log1p()``, ``x.cumsum(0)``, ...).

A mixin of ``Tensor``: each method delegates to the functional op of the same name in
``ember.ops``, so that ``x.f(...)`` and ``em.f(x, ...)`` are one implementation.
"""
from __future__ import annotations

# ember.ops imports Tensor, which imports this module: the methods look ``ember.ops`` up when
# called, by which time the package is complete.
import ember
from ember.autograd.op_methods import pick


class MathMethods:
    """The math methods of ``Tensor`` (see ``ember.ops`` for the functions they call)."""

    # -- products and norms ---------------------------------------------------------------------
    def mm(self, mat2):
        return ember.ops.mm(self, mat2)

    def bmm(self, mat2):
        return ember.ops.bmm(self, mat2)

    def mv(self, vec):
        return ember.ops.mv(self, vec)

    def dot(self, other):
        return ember.ops.dot(self, other)

    def outer(self, vec2):
        return ember.ops.outer(self, vec2)

    ger = outer

    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        return ember.ops.addmm(self, mat1, mat2, beta=beta, alpha=alpha)

    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
        return ember.ops.baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        return ember.ops.norm(self, p, dim, keepdim, dtype=dtype)

    # -- powers, exponentials, logarithms -----------------------------------------------------------
    def square(self):
        return ember.ops.square(self)

    def rsqrt(self):
        return ember.ops.rsqrt(self)

    def reciprocal(self):
        return ember.ops.reciprocal(self)

    def addcmul(self, tensor1, tensor2, *, value=1):
        return ember.ops.addcmul(self, tensor1, tensor2, value=value)

    def addcdiv(self, tensor1, tensor2, *, value=1):
        return ember.ops.addcdiv(self, tensor1, tensor2, value=value)

    def lerp(self, end, weight):
        return ember.ops.lerp(self, end, weight)

    def hypot(self, other):
        return ember.ops.hypot(self, other)

    def xlogy(self, other):
        return ember.ops.xlogy(self, other)

    def logit(self, eps=None):
        return ember.ops.logit(self, eps)

    def lgamma(self):
        return ember.ops.lgamma(self)

    def digamma(self):
        return ember.ops.digamma(self)

    def log1p(self):
        return ember.ops.log1p(self)

    def expm1(self):
        return ember.ops.expm1(self)

    def exp2(self):
        return ember.ops.exp2(self)

    def log2(self):
        return ember.ops.log2(self)

    def log10(self):
        return ember.ops.log10(self)

    def logaddexp(self, other):
        return ember.ops.logaddexp(self, other)

    def logaddexp2(self, other):
        return ember.ops.logaddexp2(self, other)

    # -- trigonometric and hyperbolic, erf ------------------------------------------------------------
    def tan(self):
        return ember.ops.tan(self)

    def asin(self):
        return ember.ops.asin(self)

    def acos(self):
        return ember.ops.acos(self)

    def atan(self):
        return ember.ops.atan(self)

    def atan2(self, other):
        return ember.ops.atan2(self, other)

    def sinh(self):
        return ember.ops.sinh(self)

    def cosh(self):
        return ember.ops.cosh(self)

    def asinh(self):
        return ember.ops.asinh(self)

    def acosh(self):
        return ember.ops.acosh(self)

    def atanh(self):
        return ember.ops.atanh(self)

    arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2
    arcsinh, arccosh, arctanh = asinh, acosh, atanh

    def erf(self):
        return ember.ops.erf(self)

    def erfc(self):
        return ember.ops.erfc(self)

    # -- rounding, modulo, clamping -------------------------------------------------------------------
    def floor(self):
        return ember.ops.floor(self)

    def ceil(self):
        return ember.ops.ceil(self)

    def round(self, *, decimals=0):
        return ember.ops.round(self, decimals=decimals)

    def trunc(self):
        return ember.ops.trunc(self)

    fix = trunc

    def frac(self):
        return ember.ops.frac(self)

    def fmod(self, other):
        return ember.ops.fmod(self, other)

    def remainder(self, other):
        return ember.ops.remainder(self, other)

    def __mod__(self, other):
        return ember.ops.remainder(self, other)

    def __rmod__(self, other):
        return ember.ops.remainder(other, self)

    def absolute(self):
        return ember.ops.abs(self)

    def clamp_min(self, min):  # noqa: A002 - PyTorch's name
        return ember.ops.clamp_min(self, min)

    def clamp_max(self, max):  # noqa: A002 - PyTorch's name
        return ember.ops.clamp_max(self, max)

    # -- NaN and infinity -----------------------------------------------------------------------------
    def isnan(self):
        return ember.ops.isnan(self)

    def isinf(self):
        return ember.ops.isinf(self)

    def isfinite(self):
        return ember.ops.isfinite(self)

    def isposinf(self):
        return ember.ops.isposinf(self)

    def isneginf(self):
        return ember.ops.isneginf(self)

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        return ember.ops.nan_to_num(self, nan, posinf, neginf)

    # -- logic and bits ---------------------------------------------------------------------------------
    def logical_and(self, other):
        return ember.ops.logical_and(self, other)

    def logical_or(self, other):
        return ember.ops.logical_or(self, other)

    def logical_xor(self, other):
        return ember.ops.logical_xor(self, other)

    def logical_not(self):
        return ember.ops.logical_not(self)

    def bitwise_and(self, other):
        return ember.ops.bitwise_and(self, other)

    def bitwise_or(self, other):
        return ember.ops.bitwise_or(self, other)

    def bitwise_xor(self, other):
        return ember.ops.bitwise_xor(self, other)

    def bitwise_not(self):
        return ember.ops.bitwise_not(self)

    # & | ^ ~ are bitwise, as in PyTorch (logical on bool tensors)
    def __and__(self, other):
        return ember.ops.bitwise_and(self, other)

    def __rand__(self, other):
        return ember.ops.bitwise_and(other, self)

    def __or__(self, other):
        return ember.ops.bitwise_or(self, other)

    def __ror__(self, other):
        return ember.ops.bitwise_or(other, self)

    def __xor__(self, other):
        return ember.ops.bitwise_xor(self, other)

    def __rxor__(self, other):
        return ember.ops.bitwise_xor(other, self)

    def __invert__(self):
        return ember.ops.bitwise_not(self)

    # -- reductions and scans --------------------------------------------------------------------------
    # keepdim defaults to False, not None: the NumPy spelling (axis=, keepdims=) wins when it is given
    def sum(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
        return ember.ops.sum(self, pick(dim, axis), pick(keepdim, keepdims), dtype=dtype)

    def mean(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
        return ember.ops.mean(self, pick(dim, axis), pick(keepdim, keepdims), dtype=dtype)

    def prod(self, dim=None, keepdim=False, *, dtype=None):
        return ember.ops.prod(self, dim, keepdim, dtype=dtype)

    def cumsum(self, dim, *, dtype=None):
        return ember.ops.cumsum(self, dim, dtype=dtype)

    def cumprod(self, dim, *, dtype=None):
        return ember.ops.cumprod(self, dim, dtype=dtype)

    def cummax(self, dim):
        return ember.ops.cummax(self, dim)

    def cummin(self, dim):
        return ember.ops.cummin(self, dim)

    def diff(self, n=1, dim=-1, prepend=None, append=None):
        return ember.ops.diff(self, n, dim, prepend, append)

    def nansum(self, dim=None, keepdim=False, *, dtype=None):
        return ember.ops.nansum(self, dim, keepdim, dtype=dtype)

    def nanmean(self, dim=None, keepdim=False, *, dtype=None):
        return ember.ops.nanmean(self, dim, keepdim, dtype=dtype)

    def count_nonzero(self, dim=None):
        return ember.ops.count_nonzero(self, dim)

    def aminmax(self, *, dim=None, keepdim=False):
        return ember.ops.aminmax(self, dim=dim, keepdim=keepdim)

    def quantile(self, q, dim=None, keepdim=False, *, interpolation="linear"):
        return ember.ops.quantile(self, q, dim, keepdim, interpolation=interpolation)

    def msort(self):
        return ember.ops.msort(self)

    def kron(self, other):
        return ember.ops.kron(self, other)

    def all(self, dim=None, keepdim=False):
        return ember.ops.all(self, dim, keepdim)

    def any(self, dim=None, keepdim=False):
        return ember.ops.any(self, dim, keepdim)

    # -- comparing whole tensors ------------------------------------------------------------------------
    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return ember.ops.isclose(self, other, rtol, atol, equal_nan)

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return ember.ops.allclose(self, other, rtol, atol, equal_nan)

    def equal(self, other):
        return ember.ops.equal(self, other)
