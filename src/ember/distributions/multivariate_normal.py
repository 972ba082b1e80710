"""The multivariate normal N(μ, Σ), parameterised by Σ, its inverse, or its Cholesky factor L (Σ = L Lᵀ).

Everything is computed from L, as in PyTorch:

    log p(x) = −½ (k log 2π + ‖L⁻¹(x − μ)‖²) − Σᵢ log Lᵢᵢ
    H        = ½ k (1 + log 2π) + Σᵢ log Lᵢᵢ
    rsample  = μ + L ε,  ε ~ N(0, I)

Every parameter is differentiable — ``loc``, ``scale_tril``, ``covariance_matrix`` (through a
Cholesky factorisation with Murray's backward) and ``precision_matrix`` (through the
Cholesky factor of the flipped matrix and a triangular solve) — for log_prob, entropy,
rsample and the KL divergence.

>>> d = MultivariateNormal(em.zeros(2), covariance_matrix=em.eye(2))
>>> d.log_prob(em.zeros(2))           # −log 2π
tensor(-1.837877)
"""
from __future__ import annotations

import math

from ember.autograd.tensor import _wrap
from ember.distributions import constraints
from ember.distributions.distribution import Distribution
from ember.distributions.utils import lazy_property, standard_normal
from ember.ops.broadcast import broadcast_to
from ember.ops.layout import broadcast_shapes
from ember.ops.matrix import cholesky, solve_triangular

__all__ = ["MultivariateNormal"]


def _batch_mv(L, x):
    """L x over broadcast batch dims: (…, n, n) · (…, n) → (…, n)."""
    return (L @ x.unsqueeze(-1)).squeeze(-1)


def batch_mahalanobis(L, x):
    """‖L⁻¹ x‖² over the last dim, for L (…, n, n) and x (…, n) whose batch dims broadcast."""
    batch = broadcast_shapes(L.shape[:-2], x.shape[:-1])
    n = x.shape[-1]
    y = solve_triangular(broadcast_to(L, batch + (n, n)), broadcast_to(x, batch + (n,)).unsqueeze(-1), upper=False)
    return (y.squeeze(-1) ** 2).sum(-1)


def half_log_det(L):
    """½ log det(L Lᵀ) = Σᵢ log Lᵢᵢ."""
    return L.diagonal(dim1=-2, dim2=-1).log().sum(-1)


def _precision_to_scale_tril(P):
    """L with L Lᵀ = P⁻¹: the Cholesky factor of the flipped P, flipped and transposed, inverted."""
    Lf = cholesky(P.flip((-2, -1)))
    L_inv = Lf.flip((-2, -1)).transpose(-2, -1)
    eye = _wrap(P.xp.broadcast_to(P.xp.eye(P.shape[-1], dtype=P.dtype), P.shape))
    return solve_triangular(L_inv, eye, upper=False)


class MultivariateNormal(Distribution):
    """N(loc, Σ) over vectors of size k, with exactly one of ``covariance_matrix``, ``precision_matrix``
    or ``scale_tril`` (lower-triangular, positive diagonal).

    Shapes: loc (…, k); the matrix (…, k, k); their batch dims broadcast to ``batch_shape``;
    ``event_shape`` is (k,).

    >>> d = MultivariateNormal(em.zeros(3), scale_tril=em.eye(3))
    >>> d.rsample((5,)).shape
    (5, 3)
    """

    arg_constraints = {"loc": constraints.real_vector, "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite, "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None, validate_args=None):
        if loc.ndim < 1:
            raise ValueError("loc must be at least one-dimensional.")
        if sum(m is not None for m in (covariance_matrix, precision_matrix, scale_tril)) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or scale_tril may be specified.")
        name, matrix = next((n, m) for n, m in (("scale_tril", scale_tril), ("covariance_matrix", covariance_matrix),
                                                ("precision_matrix", precision_matrix)) if m is not None)
        if matrix.ndim < 2:
            raise ValueError(f"{name} matrix must be at least two-dimensional, with optional leading batch dimensions")
        batch_shape = broadcast_shapes(matrix.shape[:-2], loc.shape[:-1])
        k = loc.shape[-1]
        setattr(self, name, broadcast_to(matrix, batch_shape + (k, k)))
        self.loc = broadcast_to(loc, batch_shape + (k,))
        super().__init__(batch_shape, (k,), validate_args=validate_args)
        if scale_tril is not None:
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self._unbroadcasted_scale_tril = cholesky(covariance_matrix)
        else:
            self._unbroadcasted_scale_tril = _precision_to_scale_tril(precision_matrix)

    @lazy_property
    def scale_tril(self):
        return broadcast_to(self._unbroadcasted_scale_tril, self._batch_shape + self._event_shape * 2)

    @lazy_property
    def covariance_matrix(self):
        L = self._unbroadcasted_scale_tril
        return broadcast_to(L @ L.mT, self._batch_shape + self._event_shape * 2)

    @lazy_property
    def precision_matrix(self):
        L = self._unbroadcasted_scale_tril
        eye = _wrap(L.xp.broadcast_to(L.xp.eye(L.shape[-1], dtype=L.dtype), L.shape))
        L_inv = solve_triangular(L, eye, upper=False)
        return broadcast_to(L_inv.mT @ L_inv, self._batch_shape + self._event_shape * 2)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return broadcast_to((self._unbroadcasted_scale_tril ** 2).sum(-1), self._batch_shape + self._event_shape)

    def rsample(self, sample_shape=()):
        """μ + L ε, ε ~ N(0, I)."""
        eps = standard_normal(self.loc, self._extended_shape(sample_shape))
        return self.loc + _batch_mv(self._unbroadcasted_scale_tril, eps)

    def log_prob(self, value):
        """−½(k log 2π + ‖L⁻¹(x − μ)‖²) − Σ log Lᵢᵢ."""
        if self._validate_args:
            self._validate_sample(value)
        diff = value - self.loc
        M = batch_mahalanobis(self._unbroadcasted_scale_tril, diff)
        k = self._event_shape[0]
        return -0.5 * (k * math.log(2 * math.pi) + M) - half_log_det(self._unbroadcasted_scale_tril)

    def entropy(self):
        """½ k (1 + log 2π) + Σ log Lᵢᵢ."""
        k = self._event_shape[0]
        H = 0.5 * k * (1.0 + math.log(2 * math.pi)) + half_log_det(self._unbroadcasted_scale_tril)
        return broadcast_to(H, self._batch_shape)
