"""The differentiable special functions and factorisations the distributions need.

log Γ and ψ (digamma) for the Gamma, Beta, Poisson and Multinomial densities; the Cholesky
factor and the triangular solve for the multivariate normal. They follow the op anatomy of
``ember.ops`` (a ``Function`` with forward/backward side by side, a lowercase wrapper).

The special functions are vectorised series, accurate to ~1e-14 in float64:

    log Γ(x)  Lanczos (g = 7, 9 terms) for x ≥ ½, reflection log Γ(x) = log(π/|sin πx|) − log Γ(1−x) below
    ψ(x)      recurrence ψ(x) = ψ(x+1) − 1/x up to x ≥ 10, then the asymptotic series
    ψ'(x)     recurrence ψ'(x) = ψ'(x+1) + 1/x², then its asymptotic series (the gradient of ψ)
"""
from __future__ import annotations

import math

import numpy as np

from ember.autograd.function import Function
from ember.backend import get_array_module as xp_of
from ember.ops.broadcast import sum_to

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


def lgamma(x):
    """log |Γ(x)|, elementwise (PyTorch's ``torch.lgamma``).

    >>> lgamma(em.tensor([1.0, 5.0]))      # log 0! and log 4!
    tensor([0.       , 3.1780539])
    """
    return LGamma()(x)


class Digamma(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return _digamma(x)

    def backward(self, gy):
        (x,) = self.saved
        return gy * _trigamma(x)  # dψ = ψ'


def digamma(x):
    """ψ(x) = d log Γ(x)/dx, elementwise (PyTorch's ``torch.digamma``); its gradient is the trigamma ψ'."""
    return Digamma()(x)


# -- the multivariate normal's linear algebra --------------------------------------------------------------


def _transpose(a):
    return a.swapaxes(-1, -2)


class Cholesky(Function):
    def forward(self, A):
        L = xp_of(A).linalg.cholesky(A)
        self.save_for_backward(L)
        return L

    def backward(self, gL):
        # Murray (2016), as PyTorch: gA = L⁻ᵀ Φ L⁻¹ with Φ = ½(P + strict_tril(P)ᵀ), P = tril(Lᵀ gL)
        (L,) = self.saved
        xp = xp_of(L)
        P = xp.tril(_transpose(L) @ gL)
        P = 0.5 * (P + _transpose(xp.tril(P, -1)))
        left = xp.linalg.solve(_transpose(L), P)  # L⁻ᵀ Φ
        return _transpose(xp.linalg.solve(_transpose(L), _transpose(left)))  # (L⁻ᵀ Φ) L⁻¹, symmetric


def cholesky(A):
    """The lower Cholesky factor L of a symmetric positive-definite A = L Lᵀ (batched over leading dims).

    Only A's lower triangle is read; the gradient returned is symmetric (PyTorch's convention).

    >>> cholesky(em.tensor([[4.0, 2.0], [2.0, 2.0]]))
    tensor([[2., 0.],
            [1., 1.]])
    """
    return Cholesky()(A)


class SolveTriangular(Function):
    def forward(self, L, B):
        xp = xp_of(L)
        self.shapes = L.shape, B.shape
        batch = np.broadcast_shapes(L.shape[:-2], B.shape[:-2])  # batched solvers want equal batch dims
        L = xp.broadcast_to(xp.tril(L), batch + L.shape[-2:])
        X = xp.linalg.solve(L, xp.broadcast_to(B, batch + B.shape[-2:]))
        self.save_for_backward(L, X)
        return X

    def backward(self, gX):
        L, X = self.saved
        xp = xp_of(L)
        gB = xp.linalg.solve(_transpose(L), gX)  # X = L⁻¹B ⇒ gB = L⁻ᵀ gX, gL = −tril(gB Xᵀ)
        gL = -xp.tril(gB @ _transpose(X))
        L_shape, B_shape = self.shapes
        return sum_to(gL, L_shape), sum_to(gB, B_shape)


def solve_triangular(L, B):
    """X = L⁻¹ B for a lower-triangular L (its upper triangle is ignored); batch dims broadcast.

    L: (*, n, n); B: (*, n, k) → X: (*, n, k).

    >>> solve_triangular(em.tensor([[2.0, 0.0], [1.0, 1.0]]), em.tensor([[2.0], [3.0]]))
    tensor([[1.],
            [2.]])
    """
    return SolveTriangular()(L, B)
