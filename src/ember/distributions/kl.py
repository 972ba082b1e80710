"""KL(p ‖ q) = E_p[log p(x) − log q(x)], in closed form for pairs of the same family.

``kl_divergence(p, q)`` looks the pair of types up among the functions registered with
``@register_kl(TypeP, TypeQ)``, the most specific match by subclass first (PyTorch's
dispatch), and returns a tensor of shape ``batch_shape``, differentiable in both
distributions' parameters.

>>> kl_divergence(Normal(0.0, 1.0), Normal(1.0, 1.0))
tensor(0.5)
"""
from __future__ import annotations

import math
import warnings
from functools import total_ordering

from ember.distributions.continuous import Beta, Exponential, Gamma, Laplace, Normal, Uniform
from ember.distributions.discrete import Bernoulli, Categorical, OneHotCategorical, Poisson
from ember.distributions.distribution import Distribution, Independent
from ember.distributions.multivariate_normal import MultivariateNormal, batch_mahalanobis, half_log_det
from ember.distributions.utils import sum_rightmost
from ember.ops.activation import softplus
from ember.ops.broadcast import broadcast_to
from ember.ops.indexing import where
from ember.ops.layout import broadcast_shapes
from ember.ops.matrix import solve_triangular
from ember.ops.special import digamma, lgamma

__all__ = ["kl_divergence", "register_kl"]

_KL_REGISTRY: dict = {}  # (type_p, type_q) → function, as registered
_KL_MEMOIZE: dict = {}  # (type(p), type(q)) → the function dispatch chose


def register_kl(type_p, type_q):
    """Decorator registering ``fn(p, q)`` as KL(p ‖ q) for ``p`` a ``type_p`` and ``q`` a ``type_q``.

    >>> @register_kl(MyDist, MyDist)
    ... def kl_mine(p, q):
    ...     return ...
    """
    for t in (type_p, type_q):
        if not (isinstance(t, type) and issubclass(t, Distribution)):
            raise TypeError(f"Expected a Distribution subclass but got {t}")

    def decorator(fn):
        _KL_REGISTRY[type_p, type_q] = fn
        _KL_MEMOIZE.clear()  # a new entry may be a more specific match
        return fn

    return decorator


@total_ordering
class _Match:
    """A registered pair, ordered lexicographically by subclass: the smallest is the most specific."""

    __slots__ = ["types"]

    def __init__(self, *types):
        self.types = types

    def __eq__(self, other):
        return self.types == other.types

    def __le__(self, other):
        for x, y in zip(self.types, other.types, strict=True):
            if not issubclass(x, y):
                return False
            if x is not y:
                break
        return True


def _dispatch_kl(type_p, type_q):
    matches = [(p, q) for p, q in _KL_REGISTRY if issubclass(type_p, p) and issubclass(type_q, q)]
    if not matches:
        return NotImplemented
    left_p, left_q = min(_Match(*m) for m in matches).types
    right_q, right_p = min(_Match(*reversed(m)) for m in matches).types
    if _KL_REGISTRY[left_p, left_q] is not _KL_REGISTRY[right_p, right_q]:
        warnings.warn(f"Ambiguous kl_divergence({type_p.__name__}, {type_q.__name__}). "
                      f"Please register_kl({left_p.__name__}, {right_q.__name__})", RuntimeWarning, stacklevel=3)
    return _KL_REGISTRY[left_p, left_q]


def kl_divergence(p: Distribution, q: Distribution):
    """KL(p ‖ q) = ∫ p(x) log(p(x)/q(x)) dx, of shape ``batch_shape``.

    Raises ``NotImplementedError`` for a pair of types nothing is registered for.

    >>> kl_divergence(Categorical(probs=em.tensor([0.5, 0.5])), Categorical(probs=em.tensor([0.9, 0.1])))
    tensor(0.5108256)
    """
    key = type(p), type(q)
    if key not in _KL_MEMOIZE:
        _KL_MEMOIZE[key] = _dispatch_kl(*key)
    fn = _KL_MEMOIZE[key]
    if fn is NotImplemented:
        raise NotImplementedError(
            f"No KL(p || q) is implemented for p type {type(p).__name__} and q type {type(q).__name__}")
    return fn(p, q)


# -- the closed forms ------------------------------------------------------------------------------


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    """p log(p/q) + (1 − p) log((1 − p)/(1 − q)), with the limits at p, q ∈ {0, 1}."""
    pp, qp = p.probs.array, q.probs.array
    t1 = p.probs * (softplus(-q.logits) - softplus(-p.logits))
    t1 = where(pp == 0, 0.0, where(qp == 0, math.inf, t1))
    t2 = (1 - p.probs) * (softplus(q.logits) - softplus(p.logits))
    t2 = where(pp == 1, 0.0, where(qp == 1, math.inf, t2))
    return t1 + t2


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    """Σ_k p_k (log p_k − log q_k): 0 where p_k = 0, ∞ where only q_k = 0."""
    t = p.probs * (p.logits - q.logits)
    xp = t.xp
    t = where(xp.broadcast_to(q.probs.array == 0, t.shape), math.inf, t)
    t = where(xp.broadcast_to(p.probs.array == 0, t.shape), 0.0, t)
    return t.sum(-1)


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehotcategorical_onehotcategorical(p, q):
    return _kl_categorical_categorical(p._categorical, q._categorical)


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    """½ (σ_p²/σ_q² + (μ_p − μ_q)²/σ_q² − 1 − log(σ_p²/σ_q²))."""
    var_ratio = (p.scale / q.scale) ** 2
    t1 = ((p.loc - q.loc) / q.scale) ** 2
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_multivariatenormal_multivariatenormal(p, q):
    """log(|L_q|/|L_p|) + ½ (‖L_q⁻¹ L_p‖²_F + ‖L_q⁻¹(μ_q − μ_p)‖² − k)."""
    if p.event_shape != q.event_shape:
        raise ValueError("KL-divergence between two Multivariate Normals with different event shapes cannot be "
                         "computed")
    Lp, Lq = p._unbroadcasted_scale_tril, q._unbroadcasted_scale_tril
    half_term1 = half_log_det(Lq) - half_log_det(Lp)
    n = p.event_shape[0]
    batch = broadcast_shapes(Lq.shape[:-2], Lp.shape[:-2])
    ratio = solve_triangular(broadcast_to(Lq, batch + (n, n)), broadcast_to(Lp, batch + (n, n)), upper=False)
    term2 = (ratio ** 2).sum((-2, -1))
    term3 = batch_mahalanobis(Lq, q.loc - p.loc)
    return half_term1 + 0.5 * (term2 + term3 - n)


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    """log((b_q − a_q)/(b_p − a_p)), ∞ unless [a_p, b_p] ⊆ [a_q, b_q]."""
    result = ((q.high - q.low) / (p.high - p.low)).log()
    outside = (q.low.array > p.low.array) | (q.high.array < p.high.array)
    return where(outside, math.inf, result)


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p, q):
    rate_ratio = q.rate / p.rate
    return rate_ratio - rate_ratio.log() - 1


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p, q):
    scale_ratio = p.scale / q.scale
    loc_abs_diff = (p.loc - q.loc).abs()
    return -scale_ratio.log() + loc_abs_diff / q.scale + scale_ratio * (-loc_abs_diff / p.scale).exp() - 1


@register_kl(Poisson, Poisson)
def _kl_poisson_poisson(p, q):
    return p.rate * (p.rate.log() - q.rate.log()) - (p.rate - q.rate)


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p, q):
    t1 = q.concentration * (p.rate / q.rate).log()
    t2 = lgamma(q.concentration) - lgamma(p.concentration)
    t3 = (p.concentration - q.concentration) * digamma(p.concentration)
    t4 = (q.rate - p.rate) * (p.concentration / p.rate)
    return t1 + t2 + t3 + t4


@register_kl(Beta, Beta)
def _kl_beta_beta(p, q):
    sum_p = p.concentration1 + p.concentration0
    sum_q = q.concentration1 + q.concentration0
    t1 = lgamma(q.concentration1) + lgamma(q.concentration0) + lgamma(sum_p)
    t2 = lgamma(p.concentration1) + lgamma(p.concentration0) + lgamma(sum_q)
    t3 = (p.concentration1 - q.concentration1) * digamma(p.concentration1)
    t4 = (p.concentration0 - q.concentration0) * digamma(p.concentration0)
    t5 = (sum_q - sum_p) * digamma(sum_p)
    return t1 - t2 + t3 + t4 + t5


@register_kl(Independent, Independent)
def _kl_independent_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError
    return sum_rightmost(kl_divergence(p.base_dist, q.base_dist), p.reinterpreted_batch_ndims)
