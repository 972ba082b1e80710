"""``assert_close``: PyTorch's ``torch.testing.assert_close``, for tensors, numbers and their containers.

Two values are close where |actual − expected| ≤ atol + rtol·|expected|, elementwise. Unless given,
the tolerances are those of the dtype (PyTorch's table below); integers and booleans must be equal.
Before the values, the shapes must match, and (with ``check_dtype``) the dtypes and devices.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ember import backend

# (rtol, atol) by dtype, as PyTorch's: float16 1e-3/1e-5, float32 1.3e-6/1e-5, float64 1e-7/1e-7.
TOLERANCES = {np.dtype(np.float16): (1e-3, 1e-5), np.dtype(np.float32): (1.3e-6, 1e-5),
              np.dtype(np.float64): (1e-7, 1e-7), np.dtype(np.complex64): (1.3e-6, 1e-5),
              np.dtype(np.complex128): (1e-7, 1e-7)}


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None, equal_nan=False,
                 check_device=True, check_dtype=True, check_layout=True, check_stride=False, msg=None):
    """Raise AssertionError unless ``actual`` and ``expected`` are close (see the module's doc).

    Tensors, NumPy arrays and Python numbers compare as values; sequences and mappings compare item
    by item. ``rtol`` and ``atol`` come together or not at all; ``equal_nan`` counts NaN = NaN.

    >>> em.testing.assert_close(em.tensor([1.0, 2.0]), em.tensor([1.0, 2.0 + 1e-7]))
    """
    if (rtol is None) != (atol is None):
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, "
                         f"but got no {'rtol' if rtol is None else 'atol'}.")
    _compare(actual, expected, (), dict(rtol=rtol, atol=atol, equal_nan=equal_nan, check_device=check_device,
                                        check_dtype=check_dtype, msg=msg))


def _compare(actual, expected, path, options):
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        if set(actual) != set(expected):
            _fail(f"The keys of the mappings do not match: {sorted(map(str, actual))} != "
                  f"{sorted(map(str, expected))}.", path, options)
        for key in expected:
            _compare(actual[key], expected[key], (*path, key), options)
    elif _is_sequence(expected) and _is_sequence(actual):
        if len(actual) != len(expected):
            _fail(f"The length of the sequences mismatch: {len(actual)} != {len(expected)}.", path, options)
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            _compare(a, e, (*path, i), options)
    else:
        _compare_values(actual, expected, path, options)


def _is_sequence(value) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str)


def _as_array(value, path, options):
    from ember.autograd.tensor import Tensor  # noqa: PLC0415 - testing sits above autograd, loaded first by it

    if isinstance(value, Tensor):
        return value.array, value.device
    if isinstance(value, (bool, int, float, complex, np.ndarray, np.generic)):
        return np.asarray(value), "cpu"
    if backend.get_array_module(value) is not np:
        return value, "cuda"
    _fail(f"No comparison for values of type {type(value).__name__}.", path, options, error=TypeError)
    return None


def _compare_values(actual, expected, path, options):
    (a, a_device), (e, e_device) = _as_array(actual, path, options), _as_array(expected, path, options)
    if a.shape != e.shape:
        _fail(f"The values for attribute 'shape' do not match: {a.shape} != {e.shape}.", path, options)
    if options["check_device"] and a_device != e_device:
        _fail(f"The values for attribute 'device' do not match: {a_device} != {e_device}.", path, options)
    if options["check_dtype"] and a.dtype != e.dtype and not _both_python_numbers(actual, expected):
        _fail(f"The values for attribute 'dtype' do not match: {a.dtype} != {e.dtype}.", path, options)
    a, e = backend.to_numpy(a), backend.to_numpy(e)
    rtol, atol = options["rtol"], options["atol"]
    if rtol is None:
        rtol, atol = max(_tolerance(a.dtype), _tolerance(e.dtype))
    if a.dtype.kind in "biu" and e.dtype.kind in "biu":
        close = a == e
    else:
        wide = np.complex128 if "c" in a.dtype.kind + e.dtype.kind else np.float64
        close = np.isclose(a.astype(wide), e.astype(wide), rtol=rtol, atol=atol, equal_nan=options["equal_nan"])
    if close.all():
        return
    _fail(_mismatch_report(a, e, close, rtol, atol), path, options)


def _both_python_numbers(actual, expected) -> bool:
    return isinstance(actual, (int, float, complex)) and isinstance(expected, (int, float, complex))


def _tolerance(dtype):
    return TOLERANCES.get(np.dtype(dtype), (0.0, 0.0))


def _mismatch_report(a, e, close, rtol, atol) -> str:
    what = "Scalars are" if a.ndim == 0 else "Tensor-likes are"
    common = np.result_type(a.dtype, e.dtype)  # the differences in the values' own precision, as PyTorch's
    common = common if common.kind in "fc" else np.dtype(np.float64)
    a, e = a.astype(common), e.astype(common)
    with np.errstate(invalid="ignore", divide="ignore"):
        abs_diff = np.abs(a - e)
        rel_diff = abs_diff / np.abs(e)
    abs_diff, rel_diff = (np.where(close | np.isnan(d), -math.inf, d) for d in (abs_diff, rel_diff))
    lines = [f"{what} not close!", ""]
    if a.ndim:
        lines.append(f"Mismatched elements: {int((~close).sum())} / {close.size} ({100 * (~close).mean():.1f}%)")
    for name, diff, allowed in (("absolute", abs_diff, atol), ("relative", rel_diff, rtol)):
        at = np.unravel_index(int(np.argmax(diff)), diff.shape)
        worst = float(diff[at]) if np.isfinite(diff[at]) else math.nan
        where = f" at index {tuple(int(i) for i in at)}" if a.ndim else ""
        lines.append(f"Greatest {name} difference: {worst}{where} (up to {allowed} allowed)")
    return "\n".join(lines)


def _fail(message, path, options, error=AssertionError):
    if path:
        message += "\n\nThe failure occurred for item " + "".join(f"[{p!r}]" for p in path)
    custom = options["msg"]
    raise error(custom(message) if callable(custom) else custom or message)
