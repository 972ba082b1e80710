"""Probability distributions with PyTorch's ``torch.distributions`` names and semantics.

    sample_shape + batch_shape + event_shape      the shape of ``sample(sample_shape)``
    log_prob(x), entropy(), kl_divergence(p, q)   differentiable in the parameters
    rsample()                                     the reparameterised draw (Normal, MVN, Uniform, ...)

Draws come from ember's global generator, so ``em.manual_seed`` makes them reproducible.

>>> import ember.distributions as D
>>> dist = D.Categorical(logits=policy(state))          # REINFORCE
>>> action = dist.sample()
>>> loss = -(dist.log_prob(action) * advantage).mean()
>>> q = D.Normal(mu, (0.5 * logvar).exp())              # VAE
>>> z = q.rsample()
>>> kl = D.kl_divergence(q, D.Normal(0.0, 1.0)).sum(-1)
"""
from ember.distributions import constraints
from ember.distributions.continuous import Beta, Exponential, Gamma, Laplace, Normal, Uniform
from ember.distributions.discrete import Bernoulli, Categorical, Multinomial, OneHotCategorical, Poisson
from ember.distributions.distribution import Distribution, Independent
from ember.distributions.kl import kl_divergence, register_kl
from ember.distributions.multivariate_normal import MultivariateNormal

__all__ = [
    "Bernoulli", "Beta", "Categorical", "Distribution", "Exponential", "Gamma", "Independent", "Laplace",
    "Multinomial", "MultivariateNormal", "Normal", "OneHotCategorical", "Poisson", "Uniform", "constraints",
    "kl_divergence", "register_kl",
]
