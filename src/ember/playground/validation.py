"""Checking what a request sends: every field's type and range, with a message a person can act on.

A handler reads its JSON object through ``Fields``; each getter returns the value or raises
``RequestError`` (HTTP status 400 by default) naming the field, what was expected and what came,
and ``done()`` rejects the fields nobody read, so a typo never passes silently.

>>> f = Fields({"lr": 0.03, "layers": [4, 2]})
>>> f.number("lr", 0.0, 10.0, low_open=True), f.int_list("layers", 0, 6, 1, 16)
(0.03, [4, 2])
>>> f.done()
"""
from __future__ import annotations

import math

__all__ = ["Fields", "RequestError"]

_REQUIRED = object()  # the default of a field that must be sent


class RequestError(Exception):
    """A request the server refuses: ``status`` (4xx) and a ``message`` for the JSON {"error": ...} body."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message, self.status = message, status


def _kind(value) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "an object", type(None): "null"}.get(type(value), type(value).__name__)


class Fields:
    """Typed, range-checked access to the fields of a JSON object (a dict), with defaults for missing ones."""

    def __init__(self, body, where: str = "request"):
        if not isinstance(body, dict):
            raise RequestError(f"{where}: expected a JSON object, got {_kind(body)}")
        self.body, self.where, self.read = body, where, set()

    def _get(self, key, default):
        self.read.add(key)
        if key not in self.body or self.body[key] is None:
            if default is _REQUIRED:
                raise RequestError(f"{self.where}: missing field {key!r}")
            return default
        return self.body[key]

    def _fail(self, key, expected, value):
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        raise RequestError(f"{self.where}: {key!r} must be {expected}, got {_kind(value)} {shown}")

    def integer(self, key, lo: int, hi: int, default=None) -> int:
        """An integer in [lo, hi] (a float with an integer value is accepted, a boolean is not)."""
        value = self._get(key, _REQUIRED if default is None else default)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            self._fail(key, f"an integer in [{lo}, {hi}]", value)
        return value

    def number(self, key, lo: float, hi: float, default=None, low_open: bool = False) -> float:
        """A finite number in [lo, hi] — or (lo, hi] with ``low_open``."""
        value = self._get(key, _REQUIRED if default is None else default)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or not (lo < value if low_open else lo <= value) or value > hi:
            self._fail(key, f"a number in {'(' if low_open else '['}{lo}, {hi}]", value)
        return float(value)

    def choice(self, key, options, default=None) -> str:
        """One of the strings ``options``."""
        value = self._get(key, _REQUIRED if default is None else default)
        if not isinstance(value, str) or value not in options:
            self._fail(key, f"one of {sorted(options)}", value)
        return value

    def text(self, key, max_length: int = 200, default=None, min_length: int = 1) -> str:
        """A string of ``min_length`` to ``max_length`` characters."""
        value = self._get(key, _REQUIRED if default is None else default)
        if not isinstance(value, str) or not min_length <= len(value) <= max_length:
            self._fail(key, f"a string of {min_length} to {max_length} characters", value)
        return value

    def int_list(self, key, min_len: int, max_len: int, lo: int, hi: int, default=None) -> list[int]:
        """A list of ``min_len`` to ``max_len`` integers, each in [lo, hi]."""
        value = self._get(key, _REQUIRED if default is None else default)
        if not isinstance(value, list) or not min_len <= len(value) <= max_len or not all(
                isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi for v in value):
            self._fail(key, f"a list of {min_len} to {max_len} integers in [{lo}, {hi}]", value)
        return list(value)

    def str_list(self, key, options, min_len: int = 1, default=None) -> list[str]:
        """A list of distinct strings from ``options`` (at least ``min_len``)."""
        value = self._get(key, _REQUIRED if default is None else default)
        if not isinstance(value, list) or len(value) < min_len or len(set(map(str, value))) != len(value) or not all(
                isinstance(v, str) and v in options for v in value):
            self._fail(key, f"a list of at least {min_len} distinct names from {list(options)}", value)
        return list(value)

    def matrix(self, key, max_side: int, lo: float = -1e6, hi: float = 1e6, square: bool = False):
        """A rectangular list of lists of finite numbers in [lo, hi], at most max_side × max_side."""
        value = self._get(key, _REQUIRED)
        rows = value if isinstance(value, list) and 1 <= len(value) <= max_side else None
        width = len(rows[0]) if rows and isinstance(rows[0], list) else 0
        ok = rows is not None and 1 <= width <= max_side and (not square or width == len(rows)) and all(
            isinstance(r, list) and len(r) == width and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and lo <= v <= hi
                for v in r) for r in rows)
        if not ok:
            shape = "square " if square else ""
            self._fail(key, f"a {shape}matrix (list of equal-length lists) of at most {max_side}×{max_side} "
                            f"numbers in [{lo:g}, {hi:g}]", value)
        return value

    def raw(self, key, default=None):
        """The field as sent (checked by the caller)."""
        return self._get(key, default)

    def done(self) -> None:
        """Reject fields that were sent but never read."""
        unknown = sorted(set(self.body) - self.read)
        if unknown:
            raise RequestError(f"{self.where}: unknown field(s) {unknown}")

