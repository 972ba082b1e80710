"""The file format: the safetensors layout, its streaming writer and readers, and the ember document.

A file is a safetensors file: the header's length (8 bytes, little-endian), a JSON header naming
each array's dtype, shape and byte range, then the arrays' bytes back to back. The rest of the
saved tree is a JSON document (``{"format": "ember", "version": ..., "tree": ...}``) kept in the
header's metadata under the key ``"ember"``.
"""
from __future__ import annotations

import itertools
import json
import math
import struct
import warnings
from pathlib import Path

import numpy as np
from safetensors import safe_open

FORMAT = "ember"
VERSION = 2
_META_KEY = "ember"

# NumPy dtype name -> safetensors dtype, for every dtype both can hold.
_ST_DTYPES = {"bool": "BOOL", "uint8": "U8", "int8": "I8", "uint16": "U16", "int16": "I16", "uint32": "U32",
              "int32": "I32", "uint64": "U64", "int64": "I64", "float16": "F16", "float32": "F32", "float64": "F64",
              "complex64": "C64"}
_NP_DTYPES = {st: name for name, st in _ST_DTYPES.items()}
_DTYPE_NAMES = frozenset(_ST_DTYPES) | {"complex128"}  # dtypes a module attribute may name


# -- the safetensors layout --------------------------------------------------------------------


def _write_safetensors(f, arrays: dict[str, np.ndarray], metadata: dict[str, str], digest=None) -> None:
    """Write ``arrays`` to the open file ``f`` as safetensors, streaming each array's own bytes.

    The layout: the header's length (8 bytes, little-endian), the JSON header
    ``{key: {dtype, shape, data_offsets}, "__metadata__": {str: str}}`` padded with spaces to a
    multiple of 8, then the arrays' bytes back to back. No copy of the payload is made: each
    (C-contiguous, little-endian) array is handed to the file as a byte view. ``digest``, a
    ``hashlib`` object, sees every byte written.
    """
    header, offset = {"__metadata__": metadata}, 0
    for key, a in arrays.items():
        header[key] = {"dtype": _ST_DTYPES[a.dtype.name], "shape": list(a.shape),
                       "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    views = (a.reshape(-1).view(np.uint8) for a in arrays.values())
    for chunk in itertools.chain([struct.pack("<Q", len(text)), text], views):
        f.write(chunk)
        if digest is not None:
            digest.update(chunk)


# -- reading, with the dtypes NumPy lacks widened -----------------------------------------------


def _e4m3fn_values() -> np.ndarray:
    """The 256 values of float8_e4m3fn: sign, 4 exponent bits (bias 7), 3 mantissa bits; NaN at x.1111.111."""
    b = np.arange(256)
    e, m = (b >> 3) & 15, (b & 7) / 8
    value = np.where(e == 0, m * 2.0**-6, (1 + m) * 2.0 ** (e - 7))
    value[(b & 127) == 127] = np.nan
    return np.where(b >= 128, -value, value).astype(np.float32)


# NOTE: NumPy has no bfloat16 or float8. Their bits are read raw and widened to float32, which holds
# every one of their values exactly: bfloat16 is float32's upper half, float8_e5m2 float16's.
_E4M3FN = _e4m3fn_values()
_WIDENED = {
    "BF16": ("bfloat16", "<u2", lambda raw: (raw.astype(np.uint32) << 16).view(np.float32)),
    "F8_E5M2": ("float8_e5m2", "u1", lambda raw: (raw.astype(np.uint16) << 8).view(np.float16).astype(np.float32)),
    "F8_E4M3": ("float8_e4m3fn", "u1", lambda raw: _E4M3FN[raw]),
}


def _read_arrays(path: Path, where: str) -> tuple[dict, dict, dict]:
    """The metadata, the arrays and the widened dtypes (key -> safetensors dtype) of a safetensors file.

    Arrays in dtypes NumPy lacks come back as float32.
    """
    try:
        with safe_open(str(path), framework="np") as f:
            metadata = f.metadata() or {}
            dtypes = {key: f.get_slice(key).get_dtype() for key in f.keys()}  # noqa: SIM118 - no __iter__
            arrays = {key: f.get_tensor(key) for key, dtype in dtypes.items() if dtype in _NP_DTYPES}
    except Exception as err:  # safetensors raises its own error types for malformed headers
        raise ValueError(f"{where} is not a valid safetensors file ({err})") from err
    for key, dtype in dtypes.items():
        if key not in arrays and dtype not in _WIDENED:
            raise ValueError(f"{where}: tensor {key!r} has dtype {dtype}, which ember cannot load")
    widened = {key: dtype for key, dtype in dtypes.items() if key not in arrays}
    if widened:
        arrays.update(_read_widened(path, widened))
    return metadata, {key: arrays[key] for key in dtypes}, widened


def _read_widened(path: Path, dtypes: dict[str, str]) -> dict[str, np.ndarray]:
    """Read the tensors in ``dtypes`` (key -> safetensors dtype in ``_WIDENED``) as float32."""
    out = {}
    with open(path, "rb") as f:  # safe_open has already checked the header and the offsets
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        for key, dtype in dtypes.items():
            _, raw_dtype, widen = _WIDENED[dtype]
            begin, end = header[key]["data_offsets"]
            f.seek(8 + n + begin)
            out[key] = widen(np.frombuffer(f.read(end - begin), dtype=raw_dtype)).reshape(header[key]["shape"])
    return out


def _warn_widened(dtypes: dict[str, str], where: str) -> None:
    for dtype in dict.fromkeys(dtypes.values()):
        keys = [key for key, d in dtypes.items() if d == dtype]
        name, listing = _WIDENED[dtype][0], ", ".join(keys[:3]) + (", ..." if len(keys) > 3 else "")
        warnings.warn(f"{where}: {len(keys)} tensor(s) in {name} ({listing}) loaded as float32, which holds "
                      f"every {name} value exactly; NumPy has no {name}", stacklevel=3)


_MAX_HEADER = 100_000_000  # bytes; safetensors refuses larger headers too


def _read_stream(f, where: str) -> tuple[dict, dict, dict]:
    """``_read_arrays`` for a binary file object, read from its position; each array is read into its own buffer.

    The header is checked as ``safe_open`` checks it: valid JSON, known dtypes, sizes that match
    the shapes, and data offsets that tile the payload without gaps or overlaps.
    """
    def bad(problem):
        return ValueError(f"{where} is not a valid safetensors file ({problem})")

    (n,) = struct.unpack("<Q", _read_exact(f, 8, where))
    if n > _MAX_HEADER:
        raise bad(f"a header of {n} bytes")
    try:
        header = json.loads(_read_exact(f, n, where))
    except (ValueError, RecursionError) as err:
        raise bad(f"the header is not JSON: {err}") from None
    if not isinstance(header, dict):
        raise bad("the header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise bad("__metadata__ is not an object of strings")
    entries, end = [], 0
    for key, info in header.items():
        entries.append((_check_entry(key, info, bad), key, info))
    arrays, widened = {}, {}
    for (begin, stop), key, info in sorted(entries, key=lambda e: e[0]):
        if begin != end:
            raise bad(f"tensor {key!r} starts at byte {begin}, not at {end}")
        end = stop
        dtype = info["dtype"]
        if dtype not in _NP_DTYPES and dtype not in _WIDENED:
            raise ValueError(f"{where}: tensor {key!r} has dtype {dtype}, which ember cannot load")
        buffer = bytearray(stop - begin)  # writable, so the tensors built on it are too
        _read_into(f, buffer, where)
        if dtype in _WIDENED:
            raw = np.frombuffer(buffer, dtype=_WIDENED[dtype][1])
            arrays[key], widened[key] = _WIDENED[dtype][2](raw).reshape(info["shape"]), dtype
        else:
            arrays[key] = np.frombuffer(buffer, dtype=np.dtype(_NP_DTYPES[dtype]).newbyteorder("<"))
            arrays[key] = arrays[key].reshape(info["shape"])
    return metadata, {key: arrays[key] for key in header}, widened


_ITEMSIZE = {"BF16": 2, "F8_E5M2": 1, "F8_E4M3": 1} | {st: np.dtype(name).itemsize for name, st in _ST_DTYPES.items()}


def _check_entry(key, info, bad) -> tuple[int, int]:
    """The data offsets of one header entry, after checking that its dtype, shape and size agree."""
    ok = isinstance(info, dict) and isinstance(info.get("shape"), list) and isinstance(info.get("data_offsets"), list)
    ok = ok and all(type(d) is int and d >= 0 for d in info["shape"] + info["data_offsets"])
    if not ok or len(info["data_offsets"]) != 2 or not isinstance(info.get("dtype"), str):
        raise bad(f"tensor {key!r} has a malformed entry {info!r:.200}")
    begin, stop = info["data_offsets"]
    size = math.prod(info["shape"]) * _ITEMSIZE.get(info["dtype"], 1)
    if info["dtype"] in _ITEMSIZE and stop - begin != size:
        raise bad(f"tensor {key!r} takes {stop - begin} bytes, its shape and dtype need {size}")
    return begin, stop


def _read_exact(f, n: int, where: str) -> bytes:
    buffer = bytearray(n)
    _read_into(f, buffer, where)
    return bytes(buffer)


def _read_into(f, buffer: bytearray, where: str) -> None:
    view, filled = memoryview(buffer), 0
    while filled < len(buffer):
        if hasattr(f, "readinto"):
            got = f.readinto(view[filled:])
        else:
            chunk = f.read(len(buffer) - filled)
            view[filled:filled + len(chunk)], got = chunk, len(chunk)
        if not got:
            raise ValueError(f"{where} is not a valid safetensors file (it ends after {filled} of "
                             f"{len(buffer)} bytes it announces)")
        filled += got


# -- the ember document in the metadata ---------------------------------------------------------

_MAX_DEPTH = 100  # levels of nesting a tree may have; deeper ones are refused on save and on load


def _join(path: str, key: str) -> str:
    """The dotted path of a child in the tree: its array's key in the file, and its name in errors."""
    return f"{path}.{key}" if path else key


class _UnsupportedLeafError(TypeError):
    """A value ``save`` cannot write."""


class _BadFieldError(ValueError):
    """A part of the metadata that ``save`` cannot have written (``load`` adds the file's name)."""

    def __init__(self, path: str, problem: str):
        super().__init__(f"metadata field {path or '<root>'!r} {problem}")


def _document(text: str, where: str) -> dict:
    """The ember document in a file's metadata, with its format, version and tree checked."""
    try:
        document = json.loads(text)
    except RecursionError:
        raise ValueError(f"{where}: metadata field {_META_KEY!r} is nested too deeply") from None
    except ValueError as err:
        raise ValueError(f"{where}: metadata field {_META_KEY!r} is not valid JSON ({err})") from None
    if not isinstance(document, dict):
        raise ValueError(f"{where}: metadata field {_META_KEY!r} is not a JSON object")
    fmt, version = document.get("format"), document.get("version")
    if fmt != FORMAT or type(version) is not int or not 1 <= version <= VERSION:
        raise ValueError(f"{where}: unsupported format {fmt!r} version {version!r} "
                         f"(this ember reads format {FORMAT!r} up to version {VERSION})")
    if "tree" not in document:
        raise ValueError(f"{where}: metadata field 'tree' is missing")
    return document
