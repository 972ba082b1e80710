"""Switches for recording the graph: ``no_grad``, ``enable_grad`` and anomaly detection."""
from __future__ import annotations

import contextlib
import functools
import threading


class _State(threading.local):
    def __init__(self):
        self.grad_enabled = True
        self.detect_anomaly = False


_state = _State()


def is_grad_enabled() -> bool:
    """True when operations record the graph for backward."""
    return _state.grad_enabled


def is_anomaly_enabled() -> bool:
    return _state.detect_anomaly


class _Switch(contextlib.ContextDecorator):
    """Context manager (and decorator) that sets one flag and restores it on exit."""

    attribute = ""
    value = True

    def __enter__(self):
        self._previous = getattr(_state, self.attribute)
        setattr(_state, self.attribute, self.value)
        return self

    def __exit__(self, *exc):
        setattr(_state, self.attribute, self._previous)
        return False


class no_grad(_Switch):  # noqa: N801 - PyTorch's name
    """Run without recording the graph (evaluation, parameter updates).

    >>> with em.no_grad():
    ...     y = model(x)          # y.requires_grad is False
    """

    attribute, value = "grad_enabled", False


class enable_grad(_Switch):  # noqa: N801
    """Record the graph again inside a ``no_grad`` block."""

    attribute, value = "grad_enabled", True


class set_grad_enabled(_Switch):  # noqa: N801
    """``with set_grad_enabled(training):`` records the graph only when ``training`` is true.

    As in PyTorch, the call itself switches the mode (``em.set_grad_enabled(False)`` on its own
    line turns recording off); used with ``with``, the previous mode comes back on exit.
    """

    attribute = "grad_enabled"

    def __init__(self, mode: bool):
        self.value, self._previous = bool(mode), _state.grad_enabled
        _state.grad_enabled = self.value

    def __enter__(self):
        return self  # already switched by __init__; __exit__ restores the mode before the call


class detect_anomaly(_Switch):  # noqa: N801
    """Raise at the first op whose forward or backward produces NaN or Inf, naming the op.

    >>> with em.autograd.detect_anomaly():
    ...     loss = model(x).log().sum(); loss.backward()
    """

    attribute, value = "detect_anomaly", True


def inference_mode(fn=None):
    """Alias of ``no_grad`` usable bare as a decorator."""
    if fn is None:
        return no_grad()
    return functools.wraps(fn)(no_grad()(fn))
