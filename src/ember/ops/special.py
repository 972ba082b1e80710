"""Special functions: log Γ and its derivatives ψ (digamma) and ψ' (trigamma), elementwise and
differentiable, for the densities of ``ember.distributions`` and as PyTorch's ``lgamma`` /
``digamma``. ``ember.special`` gathers them with the other special functions.

Vectorised series, accurate to ~1e-14 in float64:

    log Γ(x)  Lanczos (g = 7, 9 terms) for x ≥ ½, reflection log Γ(x) = log(π/|sin πx|) − log Γ(1−x) below
    ψ(x)      recurrence ψ(x) = ψ(x+1) − 1/x up to x ≥ 10, then the asymptotic series
    ψ'(x)     recurrence ψ'(x) = ψ'(x+1) + 1/x², then its asymptotic series (the gradient of ψ)

Both give first derivatives (ψ and ψ'); a second derivative raises, naming the op.
"""
from __future__ import annotations

import math

import numpy as np

from ember.autograd.function import Function
from ember.backend import get_array_module as xp_of
from ember.ops.pointwise import floating

_LANCZOS_G = 7.0
_LANCZOS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
            1.5056327351493116e-7)
_SHIFT = 10.0  # the series below are used from here on, where their first omitted term is < 1e-13


def _pole(z):
    """Where Γ has a pole: 0, −1, −2, ..."""
    return (z <= 0) & (z == xp_of(z).floor(z))


def _reflected(x):
    """The array module, z = x in float64, the mask z < ½ (where the reflection formula serves), and the
    argument the series see: w = 1 − z there, z elsewhere."""
    xp = xp_of(x)
    z = x.astype(xp.float64)
    reflect = z < 0.5
    return xp, z, reflect, xp.where(reflect, 1.0 - z, z)


def _shift_up(w, term):
    """Step w up by 1 until w ≥ 10, summing ``term(w)`` over the steps taken.

    These are the recurrences that carry ψ and ψ' to where their asymptotic series are accurate.
    """
    xp = xp_of(w)
    acc = xp.zeros_like(w)
    for _ in range(int(_SHIFT)):
        small = w < _SHIFT
        acc += xp.where(small, term(w), 0.0)
        w = xp.where(small, w + 1.0, w)
    return w, acc


def _lgamma(x):
    xp, z, reflect, w = _reflected(x)
    w = w - 1.0
    a = _LANCZOS[0] + sum(c / (w + k) for k, c in enumerate(_LANCZOS[1:], start=1))
    t = w + _LANCZOS_G + 0.5
    y = 0.5 * math.log(2 * math.pi) + (w + 0.5) * xp.log(t) - t + xp.log(a)
    with np.errstate(divide="ignore"):
        y = xp.where(reflect, xp.log(math.pi / xp.abs(xp.sin(math.pi * z))) - y, y)
    y = xp.where(_pole(z), xp.inf, y)
    return y.astype(x.dtype, copy=False)


def _digamma(x):
    xp, z, reflect, w = _reflected(x)
    w, acc = _shift_up(w, lambda w: -1.0 / w)  # ψ(x) = ψ(x + 1) − 1/x
    r = 1.0 / (w * w)
    series = r * (1 / 12 - r * (1 / 120 - r * (1 / 252 - r * (1 / 240 - r / 132))))
    y = acc + xp.log(w) - 0.5 / w - series
    with np.errstate(divide="ignore", invalid="ignore"):
        y = xp.where(reflect, y - math.pi / xp.tan(math.pi * z), y)
    y = xp.where(_pole(z), xp.where(z == 0, -xp.inf, xp.nan), y)
    return y.astype(x.dtype, copy=False)


def _trigamma(x):
    xp, z, reflect, w = _reflected(x)
    w, acc = _shift_up(w, lambda w: 1.0 / (w * w))  # ψ'(x) = ψ'(x + 1) + 1/x²
    r = 1.0 / (w * w)
    series = 1 / w + r / 2 + r / w * (1 / 6 - r * (1 / 30 - r * (1 / 42 - r * (1 / 30 - r * 5 / 66))))
    y = acc + series
    with np.errstate(divide="ignore"):
        y = xp.where(reflect, (math.pi / xp.sin(math.pi * z)) ** 2 - y, y)
    return y.astype(x.dtype, copy=False)


class LGamma(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return _lgamma(x)

    def backward(self, gy):
        (x,) = self.saved
        return gy * _digamma(x)  # d log Γ(x) = ψ(x)


def lgamma(input):
    """log |Γ(x)|, elementwise (integers give float32); ∂/∂x = ψ(x).

    >>> em.lgamma(em.tensor([1.0, 5.0]))      # log 0! and log 4!
    tensor([0.       , 3.1780539])
    """
    return LGamma()(floating(input))


class Digamma(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return _digamma(x)

    def backward(self, gy):
        (x,) = self.saved
        return gy * _trigamma(x)  # dψ = ψ'


def digamma(input):
    """ψ(x) = d log Γ(x)/dx, elementwise (integers give float32); its gradient is the trigamma ψ'.

    >>> em.digamma(em.tensor([1.0]))      # −γ, the Euler–Mascheroni constant
    tensor([-0.5772157])
    """
    return Digamma()(floating(input))
