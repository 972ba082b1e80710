"""Constraints: the sets a distribution's parameters and samples live in (PyTorch's ``constraints``).

``constraint.check(value)`` returns a boolean tensor of the value's shape minus the constraint's
``event_dim`` rightmost dimensions: True where the value is inside the set. ``Distribution``
uses them to validate its parameters (``arg_constraints``) and the values given to
``log_prob`` (``support``), raising ``ValueError`` outside them, as PyTorch does.

>>> positive.check(em.tensor([1.0, -1.0]))
tensor([ True, False])
"""
from __future__ import annotations

from ember.autograd.tensor import Tensor, _wrap
from ember.backend import get_array_module, unwrap

__all__ = [
    "Constraint", "boolean", "dependent", "dependent_property", "greater_than", "greater_than_eq", "half_open_interval",
    "independent", "integer_interval", "interval", "is_dependent", "less_than", "lower_cholesky", "lower_triangular",
    "multinomial", "nonnegative", "nonnegative_integer", "one_hot", "positive", "positive_definite",
    "positive_integer", "real", "real_vector", "simplex", "unit_interval",
]


class Constraint:
    """A region of values; ``event_dim`` rightmost dimensions are checked together, ``is_discrete`` for integers."""

    is_discrete = False
    event_dim = 0

    def check(self, value) -> Tensor:
        """A boolean tensor: True where ``value`` satisfies the constraint."""
        return _wrap(self._check(unwrap(value)))

    def _check(self, x):
        raise NotImplementedError

    def __repr__(self):
        return type(self).__name__[1:] + "()"


class _Dependent(Constraint):
    """A constraint that depends on other parameters: never checked (``is_dependent`` is True)."""

    def __init__(self, *, is_discrete=False, event_dim=0):
        self.is_discrete, self.event_dim = is_discrete, event_dim

    def __call__(self, *, is_discrete=False, event_dim=0):
        return _Dependent(is_discrete=is_discrete, event_dim=event_dim)

    def check(self, value):
        raise ValueError("Cannot determine validity of dependent constraint")


def is_dependent(constraint) -> bool:
    """True for ``dependent`` constraints, which validation skips."""
    return isinstance(constraint, _Dependent)


class dependent_property(property, _Dependent):  # noqa: N801 - PyTorch's name
    """A property whose value is a constraint built from the instance (``Uniform.support``), and a
    ``dependent`` constraint when read on the class."""

    def __init__(self, fn=None, *, is_discrete=False, event_dim=0):
        property.__init__(self, fn)
        self.is_discrete, self.event_dim = is_discrete, event_dim

    def __call__(self, fn):
        return dependent_property(fn, is_discrete=self.is_discrete, event_dim=self.event_dim)


class _IndependentConstraint(Constraint):
    """``base_constraint`` with ``reinterpreted_batch_ndims`` more rightmost dims checked together (all must hold)."""

    def __init__(self, base_constraint, reinterpreted_batch_ndims: int):
        self.base_constraint, self.reinterpreted_batch_ndims = base_constraint, int(reinterpreted_batch_ndims)

    @property
    def is_discrete(self):
        return self.base_constraint.is_discrete

    @property
    def event_dim(self):
        return self.base_constraint.event_dim + self.reinterpreted_batch_ndims

    def _check(self, x):
        if x.ndim < self.event_dim:
            raise ValueError(f"Expected value.dim() >= {self.event_dim} but got {x.ndim}")
        result = self.base_constraint._check(x)
        return result.reshape(result.shape[:result.ndim - self.reinterpreted_batch_ndims] + (-1,)).all(-1)

    def __repr__(self):
        return f"IndependentConstraint({self.base_constraint!r}, {self.reinterpreted_batch_ndims})"


class _Boolean(Constraint):
    is_discrete = True

    def _check(self, x):
        return (x == 0) | (x == 1)


class _OneHot(Constraint):
    is_discrete, event_dim = True, 1

    def _check(self, x):
        return ((x == 0) | (x == 1)).all(-1) & (x.sum(-1) == 1)


class _IntegerInterval(Constraint):
    """Integers in [lower_bound, upper_bound]."""

    is_discrete = True

    def __init__(self, lower_bound, upper_bound):
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def _check(self, x):
        return (x % 1 == 0) & (unwrap(self.lower_bound) <= x) & (x <= unwrap(self.upper_bound))

    def __repr__(self):
        return f"IntegerInterval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _IntegerGreaterThan(Constraint):
    """Integers ≥ lower_bound."""

    is_discrete = True

    def __init__(self, lower_bound):
        self.lower_bound = lower_bound

    def _check(self, x):
        return (x % 1 == 0) & (x >= unwrap(self.lower_bound))

    def __repr__(self):
        return f"IntegerGreaterThan(lower_bound={self.lower_bound})"


class _Real(Constraint):
    def _check(self, x):
        return x == x  # False only for NaN


class _GreaterThan(Constraint):
    def __init__(self, lower_bound):
        self.lower_bound = lower_bound

    def _check(self, x):
        return unwrap(self.lower_bound) < x

    def __repr__(self):
        return f"GreaterThan(lower_bound={self.lower_bound})"


class _GreaterThanEq(_GreaterThan):
    def _check(self, x):
        return unwrap(self.lower_bound) <= x

    def __repr__(self):
        return f"GreaterThanEq(lower_bound={self.lower_bound})"


class _LessThan(Constraint):
    def __init__(self, upper_bound):
        self.upper_bound = upper_bound

    def _check(self, x):
        return x < unwrap(self.upper_bound)

    def __repr__(self):
        return f"LessThan(upper_bound={self.upper_bound})"


class _Interval(Constraint):
    """The closed interval [lower_bound, upper_bound]."""

    def __init__(self, lower_bound, upper_bound):
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def _check(self, x):
        return (unwrap(self.lower_bound) <= x) & (x <= unwrap(self.upper_bound))

    def __repr__(self):
        return f"{type(self).__name__[1:]}(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _HalfOpenInterval(_Interval):
    """[lower_bound, upper_bound)."""

    def _check(self, x):
        return (unwrap(self.lower_bound) <= x) & (x < unwrap(self.upper_bound))


class _Simplex(Constraint):
    """Non-negative vectors summing to 1 (within 1e-6) along the last dim."""

    event_dim = 1

    def _check(self, x):
        xp = get_array_module(x)
        return (x >= 0).all(-1) & (xp.abs(x.sum(-1) - 1) < 1e-6)


class _Multinomial(Constraint):
    """Non-negative count vectors whose total is at most ``upper_bound``."""

    is_discrete, event_dim = True, 1

    def __init__(self, upper_bound):
        self.upper_bound = upper_bound

    def _check(self, x):
        return (x >= 0).all(-1) & (x.sum(-1) <= unwrap(self.upper_bound))


class _LowerTriangular(Constraint):
    event_dim = 2

    def _check(self, x):
        xp = get_array_module(x)
        return (xp.tril(x) == x).reshape(x.shape[:-2] + (-1,)).all(-1)


class _LowerCholesky(_LowerTriangular):
    """Lower-triangular with a positive diagonal: a Cholesky factor."""

    def _check(self, x):
        xp = get_array_module(x)
        return super()._check(x) & (xp.diagonal(x, axis1=-2, axis2=-1) > 0).all(-1)


class _PositiveDefinite(Constraint):
    """Symmetric matrices (within 1e-6) whose Cholesky factorisation exists."""

    event_dim = 2

    def _check(self, x):
        xp = get_array_module(x)
        if x.shape[-1] != x.shape[-2]:
            return xp.zeros(x.shape[:-2], dtype=bool)
        symmetric = xp.isclose(x, xp.swapaxes(x, -1, -2), atol=1e-6).all((-2, -1))
        # NOTE: the smallest eigenvalue decides (NumPy's batched Cholesky raises for the whole batch).
        eigenvalues = xp.linalg.eigvalsh(xp.where(symmetric[..., None, None], x, xp.eye(x.shape[-1])))
        return symmetric & (eigenvalues > 0).all(-1)


# -- the public instances and factories (PyTorch's names) -----------------------------------------
dependent = _Dependent()
independent = _IndependentConstraint
boolean = _Boolean()
one_hot = _OneHot()
nonnegative_integer = _IntegerGreaterThan(0)
positive_integer = _IntegerGreaterThan(1)
integer_interval = _IntegerInterval
real = _Real()
real_vector = independent(real, 1)
positive = _GreaterThan(0.0)
nonnegative = _GreaterThanEq(0.0)
greater_than = _GreaterThan
greater_than_eq = _GreaterThanEq
less_than = _LessThan
multinomial = _Multinomial
unit_interval = _Interval(0.0, 1.0)
interval = _Interval
half_open_interval = _HalfOpenInterval
simplex = _Simplex()
lower_triangular = _LowerTriangular()
lower_cholesky = _LowerCholesky()
positive_definite = _PositiveDefinite()
