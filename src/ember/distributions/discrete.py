"""Discrete distributions: Bernoulli, Categorical, OneHotCategorical, Multinomial, Poisson.

Each takes ``probs`` or ``logits`` (not both; Poisson takes ``rate``); the other one is
computed on first read. Categorical logits are normalised, logits − logsumexp(logits), and
probabilities divided by their sum. ``log_prob`` and ``entropy`` are differentiable in the
parameters, which is what the policy-gradient loss −log π(a|s)·A needs:

>>> dist = Categorical(logits=policy(state))
>>> action = dist.sample()
>>> loss = -(dist.log_prob(action) * advantage).mean() - 0.01 * dist.entropy().mean()
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ember.autograd.grad_mode import no_grad
from ember.autograd.tensor import Tensor, _wrap
from ember.distributions import constraints
from ember.distributions.distribution import Distribution
from ember.distributions.utils import (
    broadcast_all,
    draw,
    host_array,
    lazy_property,
    logits_to_probs,
    probs_to_logits,
    uniform,
)
from ember.ops.activation import softplus
from ember.ops.broadcast import broadcast_to
from ember.ops.indexing import where
from ember.ops.layout import broadcast_shapes
from ember.ops.pointwise import clamp, xlogy
from ember.ops.shape import one_hot
from ember.ops.special import lgamma

__all__ = ["Bernoulli", "Categorical", "Multinomial", "OneHotCategorical", "Poisson"]


def _given(probs, logits) -> tuple:
    """The name and value of the one parameterisation given, ``probs`` or ``logits``."""
    if (probs is None) == (logits is None):
        raise ValueError("Either `probs` or `logits` must be specified, but not both.")
    return ("probs", probs) if probs is not None else ("logits", logits)


def _exact_softplus(x):
    """log(1 + eˣ) without PyTorch's linear cut-off above 20 (the log-likelihoods use the exact form)."""
    return softplus(x, threshold=math.inf)


class _ProbsOrLogits(Distribution):
    """Base of the distributions given by ``probs`` or by ``logits``: the one given is stored (and kept as
    ``_param``), the other is computed from it on first read — σ and log-odds for a binary event
    (``_is_binary``), else softmax and log.
    """

    _is_binary = False

    def _keep(self, name: str, value: Tensor) -> None:
        setattr(self, name, value)
        self._param = value

    @lazy_property
    def logits(self):
        """log(p/(1 − p)) for a binary event, else the normalised log-probabilities."""
        return probs_to_logits(self.probs, is_binary=self._is_binary)

    @lazy_property
    def probs(self):
        """The event probabilities."""
        return logits_to_probs(self.logits, is_binary=self._is_binary)

    @property
    def param_shape(self):
        return self._param.shape

    def _enumerate(self, n: int, dtype, expand: bool) -> Tensor:
        """The values 0 … n − 1 along a new leading dim, expanded over ``batch_shape`` when ``expand``."""
        values = _wrap(self._param.xp.arange(n, dtype=dtype)).reshape((-1,) + (1,) * len(self.batch_shape))
        return values.expand((-1,) + self.batch_shape) if expand else values


class Bernoulli(_ProbsOrLogits):
    """P(x = 1) = p, P(x = 0) = 1 − p; parameterised by ``probs`` p or ``logits`` log(p/(1 − p)).

    Samples are 0./1. in the parameters' dtype.

    >>> Bernoulli(logits=em.tensor([0.0])).log_prob(em.tensor([1.0]))
    tensor([-0.6931472])
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True
    _is_binary = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        name, param = _given(probs, logits)
        self._keep(name, broadcast_all(param)[0])
        batch_shape = () if isinstance(param, numbers.Number) else self._param.shape
        super().__init__(batch_shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        p, xp = self.probs.array, self.probs.xp
        return _wrap(xp.where(p == 0.5, math.nan, p >= 0.5).astype(p.dtype))

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        with no_grad():
            u = uniform(self._param, shape)
            return (u < broadcast_to(self.probs.detach(), shape)).to(self._param.dtype)

    def log_prob(self, value):
        """x·ℓ − log(1 + e^ℓ) for logits ℓ: −binary_cross_entropy_with_logits."""
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return value * logits - _exact_softplus(logits)

    def entropy(self):
        """−p log p − (1 − p) log(1 − p) = log(1 + e^ℓ) − p·ℓ."""
        return _exact_softplus(self.logits) - self.probs * self.logits

    def enumerate_support(self, expand=True):
        return self._enumerate(2, self._param.dtype, expand)


class Categorical(_ProbsOrLogits):
    """A draw of one of K categories, ``probs`` (…, K) or ``logits`` (…, K); samples are int64 indices.

    >>> d = Categorical(logits=em.tensor([0.0, 0.0, 0.0, 0.0]))
    >>> d.entropy()                     # log 4
    tensor(1.3862944)
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.independent(constraints.real, 1)}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        name, param = _given(probs, logits)
        if param.ndim < 1:
            raise ValueError(f"`{name}` parameter must be at least one-dimensional.")
        if name == "probs":
            self._keep(name, param / param.sum(-1, keepdim=True))
        else:
            self._keep(name, param - param.logsumexp(-1, keepdim=True))
        self._num_events = self._param.shape[-1]
        super().__init__(self._param.shape[:-1], validate_args=validate_args)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def mean(self):
        return _wrap(self._param.xp.full(self._extended_shape(), math.nan, dtype=self._param.dtype))

    @property
    def mode(self):
        return self.probs.argmax(-1)

    @property
    def variance(self):
        return self.mean

    def sample(self, sample_shape=()):
        """Indices drawn by inverting the CDF: the number of cumulative probabilities ≤ u, u ~ U[0, 1)."""
        cdf = np.cumsum(host_array(self.probs), -1)
        cdf /= cdf[..., -1:]
        last = self._num_events - 1
        return draw(self._param, self._extended_shape(sample_shape),
                    lambda rng, s: (rng.random(s)[..., None] >= cdf).sum(-1).clip(max=last), dtype=np.int64)

    def log_prob(self, value):
        """log p_value: the normalised logit at the drawn index."""
        if self._validate_args:
            self._validate_sample(value)
        index = (value.array if isinstance(value, Tensor) else np.asarray(value)).astype(np.int64)[..., None]
        shape = broadcast_shapes(index.shape, self.logits.shape)
        index = self.logits.xp.broadcast_to(self.logits.xp.asarray(index), shape[:-1] + (1,))
        return broadcast_to(self.logits, shape).gather(-1, _wrap(index)).squeeze(-1)

    def entropy(self):
        """−Σ p log p (logits of −∞ clamped, so that 0·log 0 = 0)."""
        logits = clamp(self.logits, min=float(np.finfo(self.logits.dtype).min))
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand=True):
        return self._enumerate(self._num_events, np.int64, expand)


class _OverCategorical(Distribution):
    """Base of the distributions over K-vectors built on a ``Categorical`` of the same ``probs`` / ``logits``
    (kept as ``_categorical``): batch_shape is its batch_shape, event_shape is (K,).
    """

    arg_constraints = Categorical.arg_constraints

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs=probs, logits=logits)
        param = self._categorical.param_shape
        super().__init__(param[:-1], param[-1:], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = super().expand(batch_shape, _instance)
        new._categorical = self._categorical.expand(batch_shape)
        return new

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def logits(self):
        return self._categorical.logits


class OneHotCategorical(_OverCategorical):
    """Categorical with one-hot vectors (…, K) for samples and values, in the parameters' dtype."""

    support = constraints.one_hot
    has_enumerate_support = True

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        return one_hot(self._categorical.mode, self.event_shape[0]).to(self.probs.dtype)

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        index = self._categorical.sample(sample_shape)
        return one_hot(index, self.event_shape[0]).to(self._categorical._param.dtype)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self._categorical.log_prob(value.argmax(-1))

    def entropy(self):
        return self._categorical.entropy()


class Multinomial(_OverCategorical):
    """Counts of ``total_count`` categorical draws: P(x) = n!/Π xᵢ! · Π pᵢ^{xᵢ}. Samples are (…, K) floats.

    >>> Multinomial(10, probs=em.tensor([0.5, 0.5])).sample().sum()
    tensor(10.)
    """

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if not isinstance(total_count, numbers.Integral):
            raise NotImplementedError("inhomogeneous total_count is not supported")
        self.total_count = int(total_count)
        super().__init__(probs, logits, validate_args)

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self):
        return constraints.multinomial(self.total_count)

    @property
    def param_shape(self):
        return self._categorical.param_shape

    @property
    def mean(self):
        return self.probs * self.total_count

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        """NumPy's multinomial sampler, batched over the parameters' batch dims."""
        probs = host_array(self.probs)
        probs /= probs.sum(-1, keepdims=True)
        shape = self._extended_shape(sample_shape)[:-1]
        return draw(self._categorical._param, shape, lambda rng, s: rng.multinomial(self.total_count, probs, size=s))

    def log_prob(self, value):
        """log n! − Σ log xᵢ! + Σ xᵢ log pᵢ (a count of 0 contributes 0 even where pᵢ = 0)."""
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        log_factorial_n = lgamma(value.sum(-1) + 1)
        log_factorial_xs = lgamma(value + 1).sum(-1)
        logits = where((value.array == 0) & (logits.array == -math.inf), 0.0, logits)
        return log_factorial_n - log_factorial_xs + (logits * value).sum(-1)

    def entropy(self):
        """n·H(p) − log n! + Σᵢ Σ_{k=1..n} Binomial(k; n, pᵢ) log k! (PyTorch's formula)."""
        n = self.total_count
        p = self.probs
        binary_logits = probs_to_logits(p, is_binary=True)
        k = _wrap(p.xp.arange(1, n + 1, dtype=p.dtype).reshape((-1,) + (1,) * p.ndim))
        log_choose = lgamma(_wrap(p.xp.asarray(n + 1.0, dtype=p.dtype))) - lgamma(k + 1) - lgamma(n - k + 1)
        normalizer = n * _exact_softplus(binary_logits)  # −n log(1 − p)
        binomial = (log_choose + k * binary_logits - normalizer).exp()
        term1 = n * self._categorical.entropy() - math.lgamma(n + 1)
        return term1 + (binomial * lgamma(k + 1)).sum(0).sum(-1)


class Poisson(Distribution):
    """P(x = k) = λᵏ e^{−λ} / k! (``rate`` λ ≥ 0); samples are floats.

    >>> Poisson(em.tensor([2.0])).log_prob(em.tensor([0.0]))
    tensor([-2.])
    """

    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_all(rate)
        batch_shape = () if isinstance(rate, numbers.Number) else self.rate.shape
        super().__init__(batch_shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.rate

    @property
    def mode(self):
        return self.rate.floor()

    @property
    def variance(self):
        return self.rate

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        rate = host_array(self.rate, shape)
        return draw(self.rate, shape, lambda rng, s: rng.poisson(rate))

    def log_prob(self, value):
        """k log λ − λ − log k!."""
        if self._validate_args:
            self._validate_sample(value)
        rate, value = broadcast_all(self.rate, value)
        return xlogy(value, rate) - rate - lgamma(value + 1)

