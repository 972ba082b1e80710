"""Checking what a request sends: every field's type and range, with a message a person can act on.

A handler reads its JSON object through ``Fields``; each getter returns the value or raises
``RequestError`` (HTTP status 400 by default) naming the field, what was expected and what came,
and ``done()`` rejects the fields nobody read, so a typo never passes silently. ``parse_json`` and
``parse_query`` turn a body and a query string into those objects, refusing integers of more than
``MAX_DIGITS`` digits and more than ``MAX_QUERY_FIELDS`` parameters before any work is done on them.

>>> f = Fields({"lr": 0.03, "layers": [4, 2]})
>>> f.number("lr", 0.0, 10.0, low_open=True), f.int_list("layers", 0, 6, 1, 16)
(0.03, [4, 2])
>>> f.done()
"""
from __future__ import annotations

import json
import math
import re
from urllib.parse import parse_qsl

__all__ = ["MAX_DIGITS", "MAX_QUERY_FIELDS", "Fields", "RequestError", "parse_json", "parse_query"]

_REQUIRED = object()  # the default of a field that must be sent
# Python's int() refuses strings of over 4,300 digits with a ValueError, and converting long ones is
# quadratic; no field here needs more than 18 digits, so longer ones are refused before int() sees them.
MAX_DIGITS, MAX_QUERY_FIELDS = 18, 20


class RequestError(Exception):
    """A request the server refuses: ``status`` (4xx), a ``message`` for the JSON {"error": ...} body and
    extra response ``headers`` (such as Allow or Retry-After)."""

    def __init__(self, message: str, status: int = 400, headers: dict | None = None):
        super().__init__(message)
        self.message, self.status, self.headers = message, status, dict(headers or {})


def _integer(text: str, where: str) -> int:
    digits = len(text.lstrip("+-"))
    if digits > MAX_DIGITS:
        raise RequestError(f"{where}: an integer of {digits} digits is too long; at most {MAX_DIGITS} digits")
    return int(text)


def parse_json(raw: bytes):
    """A request body (UTF-8 JSON; empty means {}) as Python objects; ``RequestError`` if it is not valid
    JSON or holds an integer of more than ``MAX_DIGITS`` digits.

    >>> parse_json(b'{"topn": 5}')
    {'topn': 5}
    """
    try:
        return json.loads(raw.decode("utf-8"), parse_int=lambda text: _integer(text, "body")) if raw else {}
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise RequestError(f"the body is not valid JSON: {error}") from None


def parse_query(raw: str) -> dict:
    """Query parameters as a dict, integer-looking values as ints (``Fields`` checks their ranges);
    ``RequestError`` beyond ``MAX_QUERY_FIELDS`` parameters or ``MAX_DIGITS`` digits.

    >>> parse_query("count=300&dims=2")
    {'count': 300, 'dims': 2}
    """
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS)
    except ValueError:  # parse_qsl's way of saying there are too many
        raise RequestError(f"{raw.count('&') + 1} query parameters; at most {MAX_QUERY_FIELDS} query parameters "
                           "are accepted") from None
    return {k: _integer(v, f"query parameter {k[:40]!r}") if re.fullmatch(r"-?[0-9]+", v) else v for k, v in pairs}


def _finite_number(value) -> bool:
    """A JSON number that is not a boolean, NaN or ±inf (an int too large for a float is still finite)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) or math.isfinite(value)


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
        try:
            shown = repr(value)
        except ValueError:  # an int of over 4,300 digits, from a caller that skipped parse_json
            shown = "too long to show"
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
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
        if not _finite_number(value) or not (lo < value if low_open else lo <= value) or value > hi:
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
                _finite_number(v) and lo <= v <= hi for v in r) for r in rows)
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

