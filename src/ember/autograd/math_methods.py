"""Tensor methods for the mathematical functions (``x.mm(y)``, ``x.log1p()``, ``x.cumsum(0)``, ...).

A mixin of ``Tensor``: each method delegates to the functional op of the same name in
``ember.ops``, so that ``x.f(...)`` and ``em.f(x, ...)`` are one implementation.
"""
from __future__ import annotations


class MathMethods:
    """The math methods of ``Tensor`` (see ``ember.ops`` for the functions they call)."""
