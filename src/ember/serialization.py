"""Saving and loading state: safetensors for the arrays, JSON for everything else.

``em.save(obj, path)`` takes any nesting of dicts, lists and tuples whose leaves are
tensors, NumPy arrays, numbers, strings, booleans or ``None`` — a ``model.state_dict()``,
an ``optimizer.state_dict()``, a whole checkpoint with the RNG state and its 128-bit
integers. The tree is split in two:

- every array leaf goes into a `safetensors <https://huggingface.co/docs/safetensors>`_
  file under its dotted path (``model.fc1.weight``, ``optimizer.state.0.exp_avg``);
- the rest of the tree, with each array replaced by a reference to its key, is written as
  JSON into the safetensors header's metadata (key ``"ember"``).

So one file holds everything and loading it can never run code (no pickle anywhere).
With ``sidecar=True`` the JSON is also written next to the file (``x.safetensors`` →
``x.json``), for people and tools that want to read it; ``load`` always reads the
embedded copy, so the one file is the single source of truth.

The arrays are streamed to the file one after the other, so saving needs almost no memory
beyond the arrays themselves. Writes are atomic: the bytes go to a temporary file beside
the target (``.x.safetensors.<host>-<pid>.<random>.ember-tmp``), are flushed to disk
(``fsync``), and then ``os.replace`` swaps it in; a crash or an error midway leaves the
previous file untouched, and the next save of the same target deletes the temporaries
that killed saves left behind.

``em.load(path)`` returns the tree as saved: tensors come back as ember ``Tensor`` s (on
the CPU, or on ``device``), NumPy arrays and NumPy scalars as themselves, tuples as
tuples, and dicts keep their key types (``int`` keys of an optimizer state stay ``int``),
so ``model.load_state_dict(em.load(path))`` works directly. Metadata that ``save`` cannot
have written is refused with a ``ValueError`` naming the file and the field. Tensors in
dtypes NumPy lacks (bfloat16 and float8 from PyTorch) load as float32, with a warning.
"""
from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import os
import re
import socket
import struct
import tempfile
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
from safetensors import safe_open

from ember import backend
from ember.autograd.tensor import Tensor

FORMAT = "ember"
VERSION = 1
_META_KEY = "ember"
_MAX_DEPTH = 100  # levels of nesting a tree may have; deeper ones are refused on save and on load
_KINDS = ("tensor", "ndarray", "scalar")

# NumPy dtype name -> safetensors dtype, for every dtype both can hold.
_ST_DTYPES = {"bool": "BOOL", "uint8": "U8", "int8": "I8", "uint16": "U16", "int16": "I16", "uint32": "U32",
              "int32": "I32", "uint64": "U64", "int64": "I64", "float16": "F16", "float32": "F32", "float64": "F64",
              "complex64": "C64"}

# -- flatten: tree -> (JSON skeleton, {key: array}) -----------------------------------------


class _Flattener:
    """Walks a tree, moving array leaves into ``self.arrays`` under unique dotted keys."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}

    def __call__(self, obj, path: str, depth: int = 0):
        if depth > _MAX_DEPTH:
            raise ValueError(f"save: {path!r} is nested more than {_MAX_DEPTH} levels deep")
        if isinstance(obj, Tensor):
            return self._array(backend.to_numpy(obj.array), path, "tensor")
        if isinstance(obj, np.ndarray) or _is_cupy_array(obj):
            return self._array(backend.to_numpy(obj), path, "ndarray")
        if isinstance(obj, np.generic):
            return self._array(np.asarray(obj), path, "scalar")
        if isinstance(obj, dict):
            return self._dict(obj, path, depth)
        if isinstance(obj, (list, tuple)):
            items = [self(v, _join(path, str(i)), depth + 1) for i, v in enumerate(obj)]
            return {"__tuple__": items} if isinstance(obj, tuple) else items
        if obj is None or isinstance(obj, (bool, int, str)):
            return obj
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"__float__": repr(obj)}
        raise TypeError(f"save: cannot serialise a {type(obj).__name__} at {path or '<root>'!r}; "
                        "leaves must be tensors, arrays, numbers, strings, booleans or None")

    def _dict(self, obj: dict, path: str, depth: int):
        plain = all(isinstance(k, str) and not k.startswith("__") for k in obj)
        if plain:
            return {k: self(v, _join(path, k), depth + 1) for k, v in obj.items()}
        for k in obj:
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                raise TypeError(f"save: dict key {k!r} at {path or '<root>'!r} is a {type(k).__name__}; "
                                "keys must be strings, numbers, booleans or None")
        # NOTE: JSON objects only have string keys; pairs keep int keys (optimizer state) as int.
        return {"__dict__": [[k, self(v, _join(path, str(k)), depth + 1)] for k, v in obj.items()]}

    def _array(self, array: np.ndarray, path: str, kind: str):
        if array.dtype.name not in _ST_DTYPES:
            raise TypeError(f"save: array at {path!r} has dtype {array.dtype}, which safetensors cannot store")
        key, n = path or "_", 1
        while key in self.arrays or key == "__metadata__":  # e.g. a dict holding both "a.b" and {"a": {"b": ...}}
            key, n = f"{path}#{n}", n + 1
        if array.dtype.str.startswith(">"):  # safetensors stores little-endian bytes
            array = array.astype(array.dtype.newbyteorder("<"))
        # NOTE: not np.ascontiguousarray, which turns a 0-d array into shape (1,).
        self.arrays[key] = array if array.flags.c_contiguous else array.copy(order="C")
        return {"__array__": key, "kind": kind, "dtype": str(array.dtype), "shape": list(array.shape)}


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _is_cupy_array(obj) -> bool:
    return type(obj).__module__.startswith("cupy") and hasattr(obj, "get")


def flatten(obj) -> tuple[object, dict[str, np.ndarray]]:
    """Split a tree into a JSON-able skeleton and a dict of NumPy arrays keyed by dotted path.

    Arrays come out C-contiguous and little-endian (copied only where they were not).

    >>> skeleton, arrays = flatten({"w": np.ones(2), "step": 3})
    >>> skeleton, list(arrays)
    ({'w': {'__array__': 'w', 'kind': 'ndarray', 'dtype': 'float64', 'shape': [2]}, 'step': 3}, ['w'])
    """
    flattener = _Flattener()
    skeleton = flattener(obj, "")
    return skeleton, flattener.arrays


# -- unflatten: (skeleton, arrays) -> tree --------------------------------------------------


class _BadFieldError(ValueError):
    """A part of the metadata that ``save`` cannot have written (``load`` adds the file's name)."""

    def __init__(self, path: str, problem: str):
        super().__init__(f"metadata field {path or '<root>'!r} {problem}")


class _Unflattener:
    """Rebuilds a tree from its skeleton, refusing anything that does not describe one."""

    def __init__(self, arrays: dict, device):
        self.arrays, self.device = arrays, device

    def __call__(self, node, path: str, depth: int = 0):
        if depth > _MAX_DEPTH:
            raise _BadFieldError(path, f"is nested more than {_MAX_DEPTH} levels deep")
        if isinstance(node, list):
            return [self(v, _join(path, str(i)), depth + 1) for i, v in enumerate(node)]
        if not isinstance(node, dict):
            return node
        if "__array__" in node:
            return self._array(node, path)
        if "__tuple__" in node:
            if not isinstance(node["__tuple__"], list):
                raise _BadFieldError(path, "holds a __tuple__ that is not a list")
            return tuple(self(v, _join(path, str(i)), depth + 1) for i, v in enumerate(node["__tuple__"]))
        if "__dict__" in node:
            return self._pairs(node["__dict__"], path, depth)
        if "__float__" in node:
            return _parse_float(node["__float__"], path)
        return {k: self(v, _join(path, k), depth + 1) for k, v in node.items()}

    def _array(self, node: dict, path: str):
        key, kind = node["__array__"], node.get("kind")
        if not isinstance(key, str) or key not in self.arrays:
            raise _BadFieldError(path, f"refers to a missing tensor {key!r}")
        if kind not in _KINDS:
            raise _BadFieldError(path, f"has an unknown kind {kind!r} (expected one of {', '.join(_KINDS)})")
        array = self.arrays[key]
        if kind == "tensor":
            return Tensor(array, device=self.device)
        return array[()] if kind == "scalar" else array

    def _pairs(self, pairs, path: str, depth: int) -> dict:
        if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 for p in pairs):
            raise _BadFieldError(path, "holds a __dict__ that is not a list of [key, value] pairs")
        out = {}
        for k, v in pairs:
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                raise _BadFieldError(path, f"has a key of type {type(k).__name__}")
            out[k] = self(v, _join(path, str(k)), depth + 1)
        return out


def _parse_float(text, path: str) -> float:
    if isinstance(text, str):
        with contextlib.suppress(ValueError):
            return float(text)
    raise _BadFieldError(path, f"holds a bad __float__ {text!r} (expected 'inf', '-inf' or 'nan')")


def unflatten(skeleton, arrays: dict, device=None):
    """Rebuild the tree written by ``flatten`` (tensor leaves become ``Tensor`` s on ``device``).

    A skeleton that ``flatten`` cannot have produced — a reference to a missing array, an
    unknown marker value, nesting deeper than ``flatten`` allows — raises ``ValueError``
    naming the field.
    """
    return _Unflattener(arrays, device)(skeleton, "")


# -- temporaries and atomic writes -------------------------------------------------------------

_TMP_SUFFIX = ".ember-tmp"
_STALE_AFTER_S = 3600.0


def _host_tag() -> str:
    """Eight hex digits naming this machine, short whatever its host name."""
    return f"{zlib.crc32(socket.gethostname().encode()):08x}"


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows; the age rule applies there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: the process exists but belongs to another user
        return True
    return True


def _remove_stale_temporaries(path: Path) -> None:
    """Delete the temporaries that killed saves of ``path`` left beside it."""
    # NOTE: a temporary is named .<target>.<host>-<pid>.<random>.ember-tmp. One whose process has died
    # on this host can never be finished, so it goes at once. One whose process lives may be a concurrent
    # save of the same target, and one from another host (a shared filesystem) has a pid that means
    # nothing here: those go only once untouched for an hour, far longer than writing any file takes.
    pattern = re.compile(re.escape(f".{path.name}.") + r"([0-9a-f]{8})-(\d+)\.[a-z0-9_]+" + re.escape(_TMP_SUFFIX))
    here, now = _host_tag(), time.time()
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None:
            continue
        try:
            if (match[1] == here and not _pid_alive(int(match[2]))) or now - entry.stat().st_mtime > _STALE_AFTER_S:
                os.unlink(entry.path)
        except OSError:  # removed meanwhile by another save, or not ours to remove: never fail a save over it
            pass


@contextlib.contextmanager
def _replacing(path):
    """A binary file to write that atomically replaces ``path`` when the block ends without error.

    The bytes go to a temporary file beside ``path``, are flushed to disk and renamed over it;
    on any error the temporary is deleted and ``path`` keeps its old contents.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    prefix = f".{path.name}.{_host_tag()}-{os.getpid()}."
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=_TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def atomic_write(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temp file in the same directory, fsync, rename.

    Readers see either the old file or the complete new one, never a torn write.
    """
    with _replacing(path) as f:
        f.write(data)


def _fsync_directory(directory: Path) -> None:
    # The rename itself is durable only once the directory entry reaches the disk (POSIX).
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sidecar_path(path) -> Path:
    """The JSON sidecar's path: ``x.safetensors`` → ``x.json``, any other name gains ``.json``."""
    path = Path(path)
    return path.with_suffix(".json") if path.suffix == ".safetensors" else path.with_name(path.name + ".json")


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


def _read_arrays(path: Path, where: str) -> tuple[dict, dict]:
    """The metadata and arrays of a safetensors file; arrays in dtypes NumPy lacks come back as float32."""
    try:
        with safe_open(str(path), framework="np") as f:
            metadata = f.metadata() or {}
            dtypes = {key: f.get_slice(key).get_dtype() for key in f.keys()}  # noqa: SIM118 - no __iter__
            arrays = {key: f.get_tensor(key) for key, dtype in dtypes.items() if dtype in _ST_DTYPES.values()}
    except Exception as err:  # safetensors raises its own error types for malformed headers
        raise ValueError(f"{where} is not a valid safetensors file ({err})") from err
    for key, dtype in dtypes.items():
        if key not in arrays and dtype not in _WIDENED:
            raise ValueError(f"{where}: tensor {key!r} has dtype {dtype}, which ember cannot load")
    widened = {key: dtype for key, dtype in dtypes.items() if key not in arrays}
    if widened:
        arrays.update(_read_widened(path, widened, where))
    return metadata, {key: arrays[key] for key in dtypes}


def _read_widened(path: Path, dtypes: dict[str, str], where: str) -> dict[str, np.ndarray]:
    """Read the tensors in ``dtypes`` (key -> safetensors dtype in ``_WIDENED``) as float32, with a warning."""
    out = {}
    with open(path, "rb") as f:  # safe_open has already checked the header and the offsets
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        for key, dtype in dtypes.items():
            _, raw_dtype, widen = _WIDENED[dtype]
            begin, end = header[key]["data_offsets"]
            f.seek(8 + n + begin)
            out[key] = widen(np.frombuffer(f.read(end - begin), dtype=raw_dtype)).reshape(header[key]["shape"])
    for dtype in dict.fromkeys(dtypes.values()):
        keys = [key for key, d in dtypes.items() if d == dtype]
        name, listing = _WIDENED[dtype][0], ", ".join(keys[:3]) + (", ..." if len(keys) > 3 else "")
        warnings.warn(f"{where}: {len(keys)} tensor(s) in {name} ({listing}) loaded as float32, which holds "
                      f"every {name} value exactly; NumPy has no {name}", stacklevel=4)
    return out


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


# -- save and load -----------------------------------------------------------------------------


def save(obj, path, sidecar: bool = False) -> None:
    """Save a tree of tensors, arrays and plain values to a safetensors file, atomically.

    ``obj`` may be a ``state_dict``, an optimizer state, or any nesting (up to 100 levels) of
    dicts, lists and tuples with tensor, array, number, string, bool or ``None`` leaves. The
    arrays are streamed to the file one by one, without a copy of the payload in memory. With
    ``sidecar=True`` a readable JSON copy of the non-array part (plus the file's SHA-256) is
    written next to it.

    >>> em.save(model.state_dict(), "model.safetensors")
    >>> model.load_state_dict(em.load("model.safetensors"))
    """
    skeleton, arrays = flatten(obj)
    document = {"format": FORMAT, "version": VERSION, "tree": skeleton}
    digest = hashlib.sha256() if sidecar else None
    with _replacing(path) as f:
        _write_safetensors(f, arrays, {_META_KEY: json.dumps(document, separators=(",", ":"))}, digest)
    if sidecar:
        readable = dict(document, tensors=Path(path).name, sha256=digest.hexdigest())
        atomic_write(sidecar_path(path), (json.dumps(readable, indent=1) + "\n").encode())


def load(path, device=None):
    """Load what ``save`` wrote: the same tree, tensors as ``Tensor`` s (on ``device``, default CPU).

    Only safetensors and JSON are parsed, so loading an untrusted file cannot run code, and
    metadata ``save`` cannot have written raises ``ValueError`` naming the file and the field.
    A plain safetensors file written by another tool loads as a flat dict of NumPy arrays;
    bfloat16 and float8 tensors (which NumPy lacks) load as float32, with a warning.

    >>> state = em.load("model.safetensors")
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"load: no such file {str(path)!r}")
    where = f"load: {str(path)!r}"
    metadata, arrays = _read_arrays(path, where)
    if _META_KEY not in metadata:
        return arrays
    document = _document(metadata[_META_KEY], where)
    try:
        return unflatten(document["tree"], arrays, device)
    except _BadFieldError as err:
        raise ValueError(f"{where}: {err}") from None
