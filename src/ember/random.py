"""The global random-number generator: one seed makes a run reproducible.

Initialisation, dropout, data shuffling and augmentation draw from here (NumPy's
PCG64 ``Generator``), so ``em.manual_seed(0)`` fixes all of them, and the state can be
saved in a checkpoint and restored to resume bit for bit.
"""
from __future__ import annotations

import numpy as np

_generator = np.random.default_rng(0)


def manual_seed(seed: int) -> np.random.Generator:
    """Seed the global generator (and CuPy's, when a GPU is in use)."""
    global _generator
    _generator = np.random.default_rng(int(seed))
    from ember import backend

    if backend._cupy is not None:
        backend._cupy.random.seed(int(seed))
    return _generator


def generator() -> np.random.Generator:
    """The global NumPy generator (draws happen on the host, then move to the device)."""
    return _generator


def get_rng_state() -> dict:
    """A JSON-serialisable snapshot of the global generator."""
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore a snapshot taken by ``get_rng_state``."""
    _generator.bit_generator.state = state


def seed_from(seed=None) -> np.random.Generator:
    """A private generator: seeded by ``seed``, or drawn from the global one when ``None``."""
    if seed is None:
        return np.random.default_rng(_generator.integers(2**63))
    return np.random.default_rng(seed)
