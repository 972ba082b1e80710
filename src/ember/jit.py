"""``ember.jit``: PyTorch's TorchScript entry points, which in ember return what they are given.

ember runs Python directly; there is no graph compiler, so ``script`` and ``trace`` hand back
the module or function unchanged (it runs eagerly, with the same results) and the decorators
are the identity. ``is_scripting()``/``is_tracing()`` are always False.

>>> model = em.jit.script(model)   # the same object, still an nn.Module
"""
from __future__ import annotations


def script(obj, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    """Returns ``obj`` (a module or function) unchanged: ember has no TorchScript compiler."""
    return obj


def trace(func, example_inputs=None, *args, **kwargs):
    """Returns ``func`` (a module or function) unchanged, without running it: ember has no tracer."""
    return func


def ignore(drop=False, **kwargs):
    """``@jit.ignore`` and ``@jit.ignore(drop=True)``: the function unchanged."""
    return drop if callable(drop) else (lambda fn: fn)


def unused(fn):
    """``@jit.unused``: the function unchanged."""
    return fn


def export(fn):
    """``@jit.export``: the function unchanged."""
    return fn


def is_scripting() -> bool:
    """False: ember code always runs as Python."""
    return False


def is_tracing() -> bool:
    """False: ember never traces."""
    return False
