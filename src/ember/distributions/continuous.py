"""Continuous univariate distributions: Normal, Uniform, Exponential, Laplace, Gamma, Beta.

Their densities, entropies and reparameterised samples are compositions of ember ops, so
gradients reach the parameters: ``Normal.rsample`` is loc + scale·ε with ε ~ N(0, 1) drawn
from the global generator (the VAE's reparameterisation trick), and ``-log_prob(a)·advantage``
trains a Gaussian policy (REINFORCE).

Gamma and Beta sample without a gradient (``has_rsample`` is False: their implicit
reparameterisation is not implemented); their log_prob and entropy are differentiable.

>>> q = Normal(mu, (0.5 * logvar).exp())
>>> z = q.rsample()                          # gradients flow to mu and logvar
>>> kl = kl_divergence(q, Normal(0.0, 1.0)).sum()
"""
from __future__ import annotations

import math

import numpy as np

from ember.autograd.grad_mode import no_grad
from ember.backend import unwrap
from ember.distributions import constraints
from ember.distributions.distribution import Distribution
from ember.distributions.utils import broadcast_all, draw, host_array, standard_normal, uniform
from ember.ops.indexing import where
from ember.ops.pointwise import clamp, xlogy
from ember.ops.special import digamma, lgamma

__all__ = ["Beta", "Exponential", "Gamma", "Laplace", "Normal", "Uniform"]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class _LocScale(Distribution):
    """Base of the symmetric location–scale families on the real line, x = loc + scale·z (Normal, Laplace).

    ``loc`` and ``scale`` > 0 are broadcast together; the mean and the mode are ``loc``.
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc


class Normal(_LocScale):
    """The Gaussian N(loc, scale²): p(x) = exp(−(x − μ)²/2σ²) / (σ√2π).

    Args:
        loc: the mean μ (tensor or number).
        scale: the standard deviation σ > 0.

    >>> Normal(em.tensor([0.0]), em.tensor([1.0])).log_prob(em.tensor([0.0]))
    tensor([-0.9189385])
    """

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.scale ** 2

    def rsample(self, sample_shape=()):
        """loc + scale·ε, ε ~ N(0, 1): differentiable in loc and scale."""
        eps = standard_normal(self.loc, self._extended_shape(sample_shape))
        return self.loc + eps * self.scale

    def log_prob(self, value):
        """−(x − μ)²/(2σ²) − log σ − ½ log 2π."""
        if self._validate_args:
            self._validate_sample(value)
        return -((value - self.loc) ** 2) / (2 * self.scale ** 2) - self.scale.log() - _HALF_LOG_2PI

    def cdf(self, value):
        """½(1 + erf((x − μ)/(σ√2)))."""
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 * (1 + ((value - self.loc) / (self.scale * math.sqrt(2))).erf())

    def entropy(self):
        """½ + ½ log 2π + log σ."""
        return 0.5 + _HALF_LOG_2PI + self.scale.log()


class Uniform(Distribution):
    """The uniform distribution on [low, high): p(x) = 1/(high − low).

    >>> Uniform(0.0, 2.0).entropy()
    tensor(0.6931472)
    """

    arg_constraints = {"low": constraints.dependent(is_discrete=False, event_dim=0),
                       "high": constraints.dependent(is_discrete=False, event_dim=0)}
    has_rsample = True

    def __init__(self, low, high, validate_args=None):
        self.low, self.high = broadcast_all(low, high)
        super().__init__(self.low.shape, validate_args=validate_args)
        if self._validate_args and not (self.low.array < self.high.array).all():
            raise ValueError("Uniform is not defined when low>= high")

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.interval(self.low, self.high)

    @property
    def mean(self):
        return (self.high + self.low) / 2

    @property
    def mode(self):
        return self.high * math.nan

    @property
    def stddev(self):
        return (self.high - self.low) / 12 ** 0.5

    @property
    def variance(self):
        return (self.high - self.low) ** 2 / 12

    def rsample(self, sample_shape=()):
        """low + u·(high − low), u ~ U[0, 1)."""
        u = uniform(self.low, self._extended_shape(sample_shape))
        return self.low + u * (self.high - self.low)

    def log_prob(self, value):
        """−log(high − low) inside [low, high), −∞ outside."""
        if self._validate_args:
            self._validate_sample(value)
        inside = (self.low.array <= unwrap(value)) & (self.high.array > unwrap(value))
        return where(inside, -(self.high - self.low).log(), -math.inf)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return clamp((value - self.low) / (self.high - self.low), 0.0, 1.0)

    def icdf(self, value):
        return value * (self.high - self.low) + self.low

    def entropy(self):
        """log(high − low)."""
        return (self.high - self.low).log()


class Exponential(Distribution):
    """p(x) = λ e^{−λx} on x ≥ 0 (``rate`` λ).

    >>> Exponential(em.tensor([2.0])).mean
    tensor([0.5])
    """

    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_all(rate)
        super().__init__(self.rate.shape, validate_args=validate_args)

    @property
    def mean(self):
        return 1 / self.rate

    @property
    def mode(self):
        return self.rate * 0

    @property
    def stddev(self):
        return 1 / self.rate

    @property
    def variance(self):
        return self.rate ** -2

    def rsample(self, sample_shape=()):
        """E/λ with E ~ Exp(1)."""
        e = draw(self.rate, self._extended_shape(sample_shape), lambda rng, s: rng.standard_exponential(s))
        return e / self.rate

    def log_prob(self, value):
        """log λ − λx."""
        if self._validate_args:
            self._validate_sample(value)
        return self.rate.log() - self.rate * value

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 1 - (-self.rate * value).exp()

    def icdf(self, value):
        return -(-value).log1p() / self.rate

    def entropy(self):
        """1 − log λ."""
        return 1.0 - self.rate.log()


class Laplace(_LocScale):
    """p(x) = exp(−|x − μ|/b)/(2b) (``loc`` μ, ``scale`` b).

    >>> Laplace(0.0, 1.0).variance
    tensor(2.)
    """

    @property
    def stddev(self):
        return 2 ** 0.5 * self.scale

    @property
    def variance(self):
        return 2 * self.scale ** 2

    def rsample(self, sample_shape=()):
        """μ − b·sign(u)·log(1 − |u|), u ~ U(−1, 1): the inverse CDF."""
        u = uniform(self.loc, self._extended_shape(sample_shape), low=float(np.finfo(self.loc.dtype).eps) - 1)
        return self.loc - self.scale * u.sign() * (-u.abs()).log1p()

    def log_prob(self, value):
        """−log 2b − |x − μ|/b."""
        if self._validate_args:
            self._validate_sample(value)
        return -(2 * self.scale).log() - (value - self.loc).abs() / self.scale

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 - 0.5 * (value - self.loc).sign() * (-(value - self.loc).abs() / self.scale).expm1()

    def icdf(self, value):
        term = value - 0.5
        return self.loc - self.scale * term.sign() * (-2 * term.abs()).log1p()

    def entropy(self):
        """1 + log 2b."""
        return 1 + (2 * self.scale).log()


class Gamma(Distribution):
    """p(x) = β^α x^{α−1} e^{−βx} / Γ(α) on x > 0 (``concentration`` α, ``rate`` β).

    ``sample`` draws from NumPy's gamma sampler; there is no ``rsample``.

    >>> Gamma(em.tensor([2.0]), em.tensor([4.0])).mean
    tensor([0.5])
    """

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative

    def __init__(self, concentration, rate, validate_args=None):
        self.concentration, self.rate = broadcast_all(concentration, rate)
        super().__init__(self.concentration.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return clamp((self.concentration - 1) / self.rate, min=0)

    @property
    def variance(self):
        return self.concentration / self.rate ** 2

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        with no_grad():
            alpha = host_array(self.concentration, shape)
            g = draw(self.concentration, shape, lambda rng, s: rng.standard_gamma(alpha))
            return clamp(g / self.rate.detach(), min=float(np.finfo(self.rate.dtype).tiny))

    def log_prob(self, value):
        """α log β + (α − 1) log x − βx − log Γ(α)."""
        if self._validate_args:
            self._validate_sample(value)
        a, b = self.concentration, self.rate
        return xlogy(a, b) + xlogy(a - 1, value) - b * value - lgamma(a)

    def entropy(self):
        """α − log β + log Γ(α) + (1 − α) ψ(α)."""
        a = self.concentration
        return a - self.rate.log() + lgamma(a) + (1.0 - a) * digamma(a)


class Beta(Distribution):
    """p(x) = x^{α−1}(1 − x)^{β−1} / B(α, β) on [0, 1] (``concentration1`` α, ``concentration0`` β).

    ``sample`` draws from NumPy's beta sampler; there is no ``rsample``.

    >>> Beta(em.tensor([2.0]), em.tensor([2.0])).mean
    tensor([0.5])
    """

    arg_constraints = {"concentration1": constraints.positive, "concentration0": constraints.positive}
    support = constraints.unit_interval

    def __init__(self, concentration1, concentration0, validate_args=None):
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        super().__init__(self.concentration1.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def variance(self):
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total ** 2 * (total + 1))

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        with no_grad():
            a, b = host_array(self.concentration1, shape), host_array(self.concentration0, shape)
            x = draw(self.concentration1, shape, lambda rng, s: rng.beta(a, b))
            finfo = np.finfo(self.concentration1.dtype)
            return clamp(x, float(finfo.tiny), 1 - float(finfo.eps))

    def log_prob(self, value):
        """(α − 1) log x + (β − 1) log(1 − x) + log Γ(α + β) − log Γ(α) − log Γ(β)."""
        if self._validate_args:
            self._validate_sample(value)
        a, b = self.concentration1, self.concentration0
        return xlogy(a - 1, value) + xlogy(b - 1, 1 - value) + lgamma(a + b) - lgamma(a) - lgamma(b)

    def entropy(self):
        """log B(α, β) − (α − 1)ψ(α) − (β − 1)ψ(β) + (α + β − 2)ψ(α + β)."""
        a, b = self.concentration1, self.concentration0
        total = a + b
        log_beta = lgamma(a) + lgamma(b) - lgamma(total)
        return log_beta - (a - 1) * digamma(a) - (b - 1) * digamma(b) + (total - 2) * digamma(total)
