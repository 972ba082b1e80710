"""``ember.backends``: PyTorch's backend switches (``cudnn.benchmark``, ``cuda.matmul.allow_tf32``, …).

ember's arithmetic is NumPy's (CuPy's on a GPU), so these switches are accepted and stored, and
change nothing: ``cudnn.benchmark = True`` can stay in a program. The availability queries give
ember's answers (``mps.is_available()`` is False: ember has no Metal backend).
"""
from __future__ import annotations

from ember.backends import cuda, cudnn, mkldnn, mps, openmp

_deterministic = {"mode": False, "warn_only": False}


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Ask for deterministic algorithms (PyTorch's switch). ember's ops are deterministic on the
    CPU already; the setting is stored for ``are_deterministic_algorithms_enabled``."""
    _deterministic.update(mode=bool(mode), warn_only=bool(warn_only))


def are_deterministic_algorithms_enabled() -> bool:
    return _deterministic["mode"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _deterministic["warn_only"]


__all__ = ["are_deterministic_algorithms_enabled", "cuda", "cudnn", "is_deterministic_algorithms_warn_only_enabled",
           "mkldnn", "mps", "openmp", "use_deterministic_algorithms"]
