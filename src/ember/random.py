"""Random-number generators: one global, seeded generator makes a run reproducible.

Initialisation, dropout, data shuffling and augmentation draw from the default generator
(NumPy's PCG64 ``Generator`` inside an ``em.Generator``), so ``em.manual_seed(0)`` fixes all
of them, and the state can be saved in a checkpoint and restored to resume bit for bit.
Draws happen on the host and then move to the device, so a seed gives the same numbers on
the CPU and on a GPU.

A private ``em.Generator`` goes wherever PyTorch takes ``generator=``: the samplers
(``randn``, ``randint``, ``multinomial``, ...), ``nn.init``, ``DataLoader``, ``random_split``.
"""
from __future__ import annotations

import contextlib
import copy
import os

import numpy as np

from ember import backend

_DEFAULT_SEED = 67280421310721  # PyTorch's seed of a fresh torch.Generator()
_SEED_MASK = (1 << 64) - 1  # seeds are unsigned 64-bit: manual_seed(-1) is 2**64 - 1, as in PyTorch


class Generator:
    """A random-number generator object (PyTorch's ``torch.Generator``) over NumPy's PCG64.

    ``manual_seed(s)`` reseeds it (and returns it), ``seed()`` reseeds it from the OS,
    ``initial_seed()`` is the last seed, ``get_state()``/``set_state()`` snapshot and restore it
    (the snapshot is NumPy's state dict, not PyTorch's byte tensor). ``rng`` is the NumPy
    ``Generator`` ember draws from; NumPy's drawing methods (``permutation``, ``integers``,
    ``normal``, ...) are also reachable on the object itself, so it serves code written for a
    NumPy generator.

    >>> g = em.Generator().manual_seed(0)
    >>> em.randn(2, generator=g).shape
    (2,)
    """

    def __init__(self, device="cpu"):
        self.device = backend.device(device)
        self.manual_seed(_DEFAULT_SEED)

    def manual_seed(self, seed) -> Generator:
        """Reseed with the integer ``seed``; returns the generator."""
        self._initial_seed = int(seed) & _SEED_MASK
        self.rng = np.random.default_rng(self._initial_seed)
        return self

    def seed(self) -> int:
        """Reseed from the operating system's entropy; returns the new seed."""
        seed = int.from_bytes(os.urandom(8), "little") >> 1
        self.manual_seed(seed)
        return seed

    def initial_seed(self) -> int:
        """The seed the generator was last seeded with."""
        return self._initial_seed

    def get_state(self) -> dict:
        """A snapshot of the generator (a JSON-serialisable dict) for ``set_state``."""
        return copy.deepcopy(self.rng.bit_generator.state)

    def set_state(self, new_state: dict) -> Generator:
        """Restore a snapshot taken by ``get_state``; returns the generator."""
        self.rng.bit_generator.state = new_state
        return self

    def __getattr__(self, name):
        if name.startswith("_") or name == "rng":  # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.rng, name)

    def __repr__(self) -> str:
        return f"<ember.Generator device='{self.device}' initial_seed={self._initial_seed}>"


default_generator = Generator().manual_seed(0)


def numpy_generator(generator=None) -> np.random.Generator:
    """The NumPy generator to draw from: ``generator``'s (an ``em.Generator`` or a NumPy one), else the global one."""
    if generator is None:
        return default_generator.rng
    if isinstance(generator, Generator):
        return generator.rng
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"generator must be an ember.Generator, got {type(generator).__name__}")


def generator() -> np.random.Generator:
    """The global NumPy generator (draws happen on the host, then move to the device)."""
    return default_generator.rng


# -- seeding and state of the global generator ------------------------------------------------------
def _seed_cupy(seed: int) -> None:
    if backend._cupy is not None:  # CuPy's own generator, for code that draws on the GPU directly
        backend._cupy.random.seed(seed)


def manual_seed(seed) -> Generator:
    """Seed the global generator (and CuPy's, when a GPU is in use); returns the global ``Generator``.

    >>> em.manual_seed(0).initial_seed()
    0
    """
    default_generator.manual_seed(seed)
    _seed_cupy(default_generator.initial_seed())
    return default_generator


def seed() -> int:
    """Seed the global generator from the operating system's entropy; returns the seed."""
    s = default_generator.seed()
    _seed_cupy(s)
    return s


def initial_seed() -> int:
    """The seed the global generator was last seeded with (0 until ``manual_seed``/``seed``)."""
    return default_generator.initial_seed()


def get_rng_state() -> dict:
    """A JSON-serialisable snapshot of the global generator."""
    return default_generator.get_state()


def set_rng_state(state: dict) -> None:
    """Restore a snapshot taken by ``get_rng_state``."""
    default_generator.set_state(state)


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, device_type="cuda"):
    """Run a block whose draws leave the global generator as it was (PyTorch's ``torch.random.fork_rng``).

    One generator serves every device, so ``devices`` and ``device_type`` change nothing.

    >>> with em.random.fork_rng():
    ...     _ = em.randn(3)  # the next draw outside the block is the one it would have been
    """
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)


def seed_from(seed=None) -> np.random.Generator:
    """A private generator: seeded by ``seed``, or drawn from the global one when ``None``."""
    if seed is None:
        return np.random.default_rng(default_generator.rng.integers(2**63))
    return np.random.default_rng(seed)
