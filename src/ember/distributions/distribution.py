"""The ``Distribution`` base class (PyTorch's contract) and ``Independent``.

A distribution has a ``batch_shape`` (independent, differently parameterised copies) and an
``event_shape`` (the shape of one draw). ``sample(sample_shape)`` returns a tensor of shape
``sample_shape + batch_shape + event_shape`` without a gradient; ``rsample`` (where
``has_rsample``) returns one that is a differentiable function of the parameters (the
reparameterisation trick); ``log_prob(value)`` has shape ``sample_shape + batch_shape``.

Arguments are validated by default, as in PyTorch: parameters against ``arg_constraints``
at construction, values against ``support`` in ``log_prob``; both raise ``ValueError``.
``Distribution.set_default_validate_args(False)`` or ``validate_args=False`` turns it off.

>>> d = Normal(em.zeros(3), em.ones(3))
>>> d.sample((5,)).shape, d.log_prob(em.zeros(3)).shape
((5, 3), (3,))
"""
from __future__ import annotations

import numbers

from ember.autograd.grad_mode import no_grad
from ember.autograd.tensor import Tensor
from ember.distributions import constraints
from ember.distributions.utils import lazy_property, sum_rightmost
from ember.ops.broadcast import broadcast_to

__all__ = ["Distribution", "Independent"]


def _shape(shape) -> tuple:
    """A shape tuple from a tuple, a list, an int or a ``Size``."""
    if isinstance(shape, numbers.Integral):
        return (int(shape),)
    return tuple(int(n) for n in shape)


class Distribution:
    """Base of every distribution: shapes, validation, and the methods subclasses provide.

    Args:
        batch_shape: the shape over which parameters are batched.
        event_shape: the shape of a single sample.
        validate_args: check parameters and ``log_prob`` values (default: on, as PyTorch).
    """

    has_rsample = False
    has_enumerate_support = False
    _validate_args = True
    arg_constraints: dict = {}
    support = None

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Switch argument validation on or off for every distribution created afterwards."""
        if value not in (True, False):
            raise ValueError
        Distribution._validate_args = value

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        self._batch_shape, self._event_shape = _shape(batch_shape), _shape(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            self._validate_parameters()

    def _validate_parameters(self) -> None:
        for param, constraint in self.arg_constraints.items():
            if constraints.is_dependent(constraint):
                continue
            if param not in self.__dict__ and isinstance(getattr(type(self), param, None), lazy_property):
                continue  # the parameterisation not given: computed from the other one, valid by construction
            value = getattr(self, param)
            if not constraint.check(value).array.all():
                raise ValueError(
                    f"Expected parameter {param} ({type(value).__name__} of shape {tuple(value.shape)}) "
                    f"of distribution {self!r} to satisfy the constraint {constraint!r}, "
                    f"but found invalid values:\n{value}")

    # -- shapes ------------------------------------------------------------------------------
    @property
    def batch_shape(self) -> tuple:
        """The shape over which the parameters are batched."""
        return self._batch_shape

    @property
    def event_shape(self) -> tuple:
        """The shape of one sample."""
        return self._event_shape

    def _extended_shape(self, sample_shape=()) -> tuple:
        return _shape(sample_shape) + self._batch_shape + self._event_shape

    def expand(self, batch_shape, _instance=None):
        """A new distribution with the parameters broadcast to ``batch_shape`` (no argument checks)."""
        batch_shape = _shape(batch_shape)
        new = _instance if _instance is not None else type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        expanded = {}
        for name in self.arg_constraints:
            value = self.__dict__.get(name)
            if isinstance(value, Tensor):  # given or already computed; the trailing event dims stay
                expanded[id(value)] = broadcast_to(value, batch_shape + value.shape[len(self._batch_shape):])
                setattr(new, name, expanded[id(value)])
        for key, value in self.__dict__.items():  # aliases of a parameter (``_param``) follow it
            if id(value) in expanded:
                setattr(new, key, expanded[id(value)])
        new._batch_shape = batch_shape
        return new

    # -- what subclasses provide -------------------------------------------------------------
    @property
    def mean(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement mean")

    @property
    def mode(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement mode")

    @property
    def variance(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement variance")

    @property
    def stddev(self) -> Tensor:
        """√variance."""
        return self.variance.sqrt()

    def sample(self, sample_shape=()) -> Tensor:
        """A draw of shape ``sample_shape + batch_shape + event_shape``, cut from the graph."""
        with no_grad():
            return self.rsample(sample_shape).detach()

    def rsample(self, sample_shape=()) -> Tensor:
        """A reparameterised draw: differentiable with respect to the parameters."""
        raise NotImplementedError(f"{type(self).__name__} does not implement rsample")

    def sample_n(self, n: int) -> Tensor:
        """``sample((n,))`` (deprecated in PyTorch)."""
        return self.sample((n,))

    def log_prob(self, value) -> Tensor:
        """log p(value), of shape ``sample_shape + batch_shape``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement log_prob")

    def cdf(self, value) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement cdf")

    def icdf(self, value) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement icdf")

    def entropy(self) -> Tensor:
        """H = −E[log p(x)], of shape ``batch_shape``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement entropy")

    def enumerate_support(self, expand: bool = True) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement enumerate_support")

    def perplexity(self) -> Tensor:
        """exp(entropy)."""
        return self.entropy().exp()

    # -- validation of values ----------------------------------------------------------------
    def _validate_sample(self, value) -> None:
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        shape, n_event = tuple(value.shape), len(self._event_shape)
        if shape[len(shape) - n_event:] != self._event_shape:
            raise ValueError(f"The right-most size of value must match event_shape: {shape} vs {self._event_shape}.")
        expected = self._batch_shape + self._event_shape
        for i, j in zip(reversed(shape), reversed(expected), strict=False):
            if i != 1 and j != 1 and i != j:
                raise ValueError(f"Value is not broadcastable with batch_shape+event_shape: {shape} vs {expected}.")
        support = self.support
        if support is not None and not support.check(value).array.all():
            raise ValueError(
                f"Expected value argument ({type(value).__name__} of shape {shape}) to be within the support "
                f"({support!r}) of the distribution {self!r}, but found invalid values:\n{value}")

    def __repr__(self):
        names = [k for k in self.arg_constraints if k in self.__dict__]
        parts = [f"{k}: {self.__dict__[k] if self.__dict__[k].numel() == 1 else self.__dict__[k].shape}" for k in names]
        return f"{type(self).__name__}({', '.join(parts)})"


class Independent(Distribution):
    """Reinterpret the ``reinterpreted_batch_ndims`` rightmost batch dims of ``base_distribution`` as event dims.

    log_prob and entropy sum over them: a diagonal Gaussian over vectors is
    ``Independent(Normal(loc, scale), 1)``, whose ``log_prob`` gives one number per vector.

    >>> d = Independent(Normal(em.zeros(4, 3), em.ones(4, 3)), 1)
    >>> d.batch_shape, d.event_shape
    ((4,), (3,))
    """

    arg_constraints: dict = {}

    def __init__(self, base_distribution, reinterpreted_batch_ndims: int, validate_args=None):
        n = int(reinterpreted_batch_ndims)
        if n > len(base_distribution.batch_shape):
            raise ValueError(
                "Expected reinterpreted_batch_ndims <= len(base_distribution.batch_shape), "
                f"actual {n} vs {len(base_distribution.batch_shape)}")
        shape = base_distribution.batch_shape + base_distribution.event_shape
        event_dim = n + len(base_distribution.event_shape)
        self.base_dist, self.reinterpreted_batch_ndims = base_distribution, n
        super().__init__(shape[:len(shape) - event_dim], shape[len(shape) - event_dim:], validate_args)

    def expand(self, batch_shape, _instance=None):
        batch_shape = _shape(batch_shape)
        new = type(self).__new__(type(self)) if _instance is None else _instance
        event = self.base_dist.batch_shape[len(self.base_dist.batch_shape) - self.reinterpreted_batch_ndims:]
        new.base_dist = self.base_dist.expand(batch_shape + event)
        new.reinterpreted_batch_ndims = self.reinterpreted_batch_ndims
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def has_rsample(self):
        return self.base_dist.has_rsample

    @property
    def has_enumerate_support(self):
        return self.reinterpreted_batch_ndims == 0 and self.base_dist.has_enumerate_support

    @property
    def support(self):
        s = self.base_dist.support
        return s if self.reinterpreted_batch_ndims == 0 else constraints.independent(s, self.reinterpreted_batch_ndims)

    @property
    def mean(self):
        return self.base_dist.mean

    @property
    def mode(self):
        return self.base_dist.mode

    @property
    def variance(self):
        return self.base_dist.variance

    def sample(self, sample_shape=()):
        return self.base_dist.sample(sample_shape)

    def rsample(self, sample_shape=()):
        return self.base_dist.rsample(sample_shape)

    def log_prob(self, value):
        return sum_rightmost(self.base_dist.log_prob(value), self.reinterpreted_batch_ndims)

    def entropy(self):
        return sum_rightmost(self.base_dist.entropy(), self.reinterpreted_batch_ndims)

    def enumerate_support(self, expand=True):
        if self.reinterpreted_batch_ndims > 0:
            raise NotImplementedError("Enumeration over cartesian product is not implemented")
        return self.base_dist.enumerate_support(expand=expand)

    def __repr__(self):
        return f"Independent({self.base_dist!r}, {self.reinterpreted_batch_ndims})"
