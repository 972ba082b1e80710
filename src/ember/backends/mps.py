"""``ember.backends.mps``: Apple's Metal backend, which ember does not have."""
from __future__ import annotations


def is_available() -> bool:
    """False: ember runs on NumPy (CPU) or CuPy (NVIDIA GPUs) only."""
    return False


def is_built() -> bool:
    return False
