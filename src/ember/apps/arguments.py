"""Argument types of the ``ember`` command: argparse ``type=`` callables that check a value as it is parsed.

A bad value ends the command before any work starts, with argparse's one-line message naming
the option and exit status 2, never a traceback from deep inside a run::

    $ ember translate-dates --epochs 0
    ember translate-dates: error: argument --epochs: expected a positive integer, got '0'

>>> parser.add_argument("--epochs", type=positive_int, default=5)        # doctest: +SKIP
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

__all__ = ["existing_dir", "existing_file", "non_empty_text", "non_negative_float", "non_negative_int", "port_number",
           "positive_float", "positive_int", "probability"]


def _checked(text: str, kind, expected: str, accept) -> int | float:
    """``kind(text)`` (int or a finite float) when ``accept`` takes it, else argparse's error saying what was
    ``expected`` (argparse prefixes it with the option's name)."""
    try:
        value = kind(text)
    except (TypeError, ValueError):
        value = None
    if value is None or (kind is float and not math.isfinite(value)) or not accept(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer ≥ 1: counts of epochs, samples, units, rounds, workers."""
    return _checked(text, int, "a positive integer", lambda v: v >= 1)


def non_negative_int(text: str) -> int:
    """An integer ≥ 0: seeds, and counts where 0 switches a feature off."""
    return _checked(text, int, "a non-negative integer", lambda v: v >= 0)


def port_number(text: str) -> int:
    """A TCP port, 0–65535 (0: any free port)."""
    return _checked(text, int, "a port number in 0..65535", lambda v: 0 <= v <= 65535)


def positive_float(text: str) -> float:
    """A finite number > 0: learning rates."""
    return _checked(text, float, "a positive number", lambda v: v > 0)


def non_negative_float(text: str) -> float:
    """A finite number ≥ 0: thresholds where 0 switches a feature off."""
    return _checked(text, float, "a non-negative number", lambda v: v >= 0)


def probability(text: str) -> float:
    """A number in [0, 1]: dropout, label smoothing, confidence thresholds."""
    return _checked(text, float, "a probability in [0, 1]", lambda v: 0 <= v <= 1)


def existing_file(text: str) -> str:
    """The path of an existing file (an input to read), as given: a str, so that it stays JSON-serialisable."""
    if not Path(text).expanduser().is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text!r}")
    return text


def existing_dir(text: str) -> str:
    """The path of an existing directory (e.g. a saved model), as given."""
    if not Path(text).expanduser().is_dir():
        raise argparse.ArgumentTypeError(f"no such directory: {text!r}")
    return text


def non_empty_text(text: str) -> str:
    """The text without surrounding whitespace; it must not be empty."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a non-empty text, got {text!r}")
    return text.strip()
