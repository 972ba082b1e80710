"""Switches for recording the graph: ``no_grad``, ``enable_grad`` and anomaly detection."""
from __future__ import annotations

import contextlib
import functools
import threading


class _State(threading.local):
    def __init__(self):
        self.grad_enabled = True
        self.anomaly_mode = False
        self.detect_anomaly = False  # anomaly mode with its NaN/Inf checks (what the ops test)


_state = _State()


def is_grad_enabled() -> bool:
    """True when operations record the graph for backward."""
    return _state.grad_enabled


def is_anomaly_enabled() -> bool:
    """True inside ``detect_anomaly`` / after ``set_detect_anomaly(True)``."""
    return _state.anomaly_mode


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


class set_detect_anomaly:  # noqa: N801 - PyTorch's name
    """Anomaly detection on or off: with ``check_nan`` every op's forward and backward results are
    checked, and the first NaN or Inf raises ``FloatingPointError`` naming the op.

    Like ``set_grad_enabled``, the call switches the mode; used with ``with``, it comes back on exit.
    """

    def __init__(self, mode: bool, check_nan: bool = True):
        self._previous = (_state.anomaly_mode, _state.detect_anomaly)
        _state.anomaly_mode, _state.detect_anomaly = bool(mode), bool(mode) and bool(check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _state.anomaly_mode, _state.detect_anomaly = self._previous
        return False


class detect_anomaly(contextlib.ContextDecorator):  # noqa: N801
    """Raise at the first op whose forward or backward produces NaN or Inf, naming the op.

    >>> with em.autograd.detect_anomaly():
    ...     loss = model(x).log().sum(); loss.backward()
    """

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        self._switch = set_detect_anomaly(True, self.check_nan)
        return self

    def __exit__(self, *exc):
        return self._switch.__exit__(*exc)


def is_anomaly_check_nan_enabled() -> bool:
    """True when anomaly mode checks every result for NaN and Inf."""
    return _state.detect_anomaly


def inference_mode(fn=None):
    """Alias of ``no_grad`` usable bare as a decorator."""
    if fn is None:
        return no_grad()
    return functools.wraps(fn)(no_grad()(fn))
