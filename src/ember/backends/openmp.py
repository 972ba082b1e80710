"""``ember.backends.openmp``: whether ember's kernels use OpenMP (they are NumPy's)."""
from __future__ import annotations


def is_available() -> bool:
    return False
