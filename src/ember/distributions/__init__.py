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


def _one_class_modules():
    """PyTorch's import paths of one distribution each (``from torch.distributions.normal import Normal``):
    small modules registered under ``ember.distributions.<name>``, each holding its class."""
    import sys  # noqa: PLC0415
    import types  # noqa: PLC0415

    for name, cls in (("bernoulli", Bernoulli), ("beta", Beta), ("categorical", Categorical),
                      ("exponential", Exponential), ("gamma", Gamma), ("independent", Independent),
                      ("laplace", Laplace), ("multinomial", Multinomial), ("normal", Normal),
                      ("one_hot_categorical", OneHotCategorical), ("poisson", Poisson), ("uniform", Uniform)):
        module = types.ModuleType(f"{__name__}.{name}", f"PyTorch's path of ``{cls.__name__}``.")
        setattr(module, cls.__name__, cls)
        module.__all__ = [cls.__name__]
        sys.modules[module.__name__] = module
        globals()[name] = module


_one_class_modules()
