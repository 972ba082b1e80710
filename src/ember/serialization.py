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

Writes are atomic: the bytes go to a temporary file in the same directory, are flushed to
disk (``fsync``), and then ``os.replace`` swaps it in; a crash or an error midway leaves the
previous file untouched.

``em.load(path)`` returns the tree as saved: tensors come back as ember ``Tensor`` s (on
the CPU, or on ``device``), NumPy arrays and NumPy scalars as themselves, tuples as
tuples, and dicts keep their key types (``int`` keys of an optimizer state stay ``int``),
so ``model.load_state_dict(em.load(path))`` works directly.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import safetensors.numpy
from safetensors import safe_open

from ember import backend
from ember.autograd.tensor import Tensor

FORMAT = "ember"
VERSION = 1
_META_KEY = "ember"

# -- flatten: tree -> (JSON skeleton, {key: array}) -----------------------------------------


class _Flattener:
    """Walks a tree, moving array leaves into ``self.arrays`` under unique dotted keys."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}

    def __call__(self, obj, path: str):
        if isinstance(obj, Tensor):
            return self._array(backend.to_numpy(obj.data), path, "tensor")
        if isinstance(obj, np.ndarray) or _is_cupy_array(obj):
            return self._array(backend.to_numpy(obj), path, "ndarray")
        if isinstance(obj, np.generic):
            return self._array(np.asarray(obj), path, "scalar")
        if isinstance(obj, dict):
            return self._dict(obj, path)
        if isinstance(obj, (list, tuple)):
            items = [self(v, _join(path, str(i))) for i, v in enumerate(obj)]
            return {"__tuple__": items} if isinstance(obj, tuple) else items
        if obj is None or isinstance(obj, (bool, int, str)):
            return obj
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"__float__": repr(obj)}
        raise TypeError(f"save: cannot serialise a {type(obj).__name__} at {path or '<root>'!r}; "
                        "leaves must be tensors, arrays, numbers, strings, booleans or None")

    def _dict(self, obj: dict, path: str):
        plain = all(isinstance(k, str) and not k.startswith("__") for k in obj)
        if plain:
            return {k: self(v, _join(path, k)) for k, v in obj.items()}
        for k in obj:
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                raise TypeError(f"save: dict key {k!r} at {path or '<root>'!r} is a {type(k).__name__}; "
                                "keys must be strings, numbers, booleans or None")
        # NOTE: JSON objects only have string keys; pairs keep int keys (optimizer state) as int.
        return {"__dict__": [[k, self(v, _join(path, str(k)))] for k, v in obj.items()]}

    def _array(self, array: np.ndarray, path: str, kind: str):
        if array.dtype == object or array.dtype.kind in "USV":
            raise TypeError(f"save: array at {path!r} has dtype {array.dtype}, which safetensors cannot store")
        key, n = path or "_", 1
        while key in self.arrays:  # e.g. a dict holding both "a.b" and {"a": {"b": ...}}
            key, n = f"{path}#{n}", n + 1
        # NOTE: not np.ascontiguousarray, which turns a 0-d array into shape (1,).
        self.arrays[key] = array if array.flags.c_contiguous else array.copy(order="C")
        return {"__array__": key, "kind": kind, "dtype": str(array.dtype), "shape": list(array.shape)}


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _is_cupy_array(obj) -> bool:
    return type(obj).__module__.startswith("cupy") and hasattr(obj, "get")


def flatten(obj) -> tuple[object, dict[str, np.ndarray]]:
    """Split a tree into a JSON-able skeleton and a dict of NumPy arrays keyed by dotted path.

    >>> skeleton, arrays = flatten({"w": np.ones(2), "step": 3})
    >>> skeleton, list(arrays)
    ({'w': {'__array__': 'w', 'kind': 'ndarray', 'dtype': 'float64', 'shape': [2]}, 'step': 3}, ['w'])
    """
    flattener = _Flattener()
    skeleton = flattener(obj, "")
    return skeleton, flattener.arrays


# -- unflatten: (skeleton, arrays) -> tree --------------------------------------------------


def unflatten(skeleton, arrays: dict, device=None):
    """Rebuild the tree written by ``flatten`` (tensor leaves become ``Tensor`` s on ``device``)."""
    if isinstance(skeleton, list):
        return [unflatten(v, arrays, device) for v in skeleton]
    if not isinstance(skeleton, dict):
        return skeleton
    if "__array__" in skeleton:
        return _leaf(arrays[skeleton["__array__"]], skeleton["kind"], device)
    if "__tuple__" in skeleton:
        return tuple(unflatten(v, arrays, device) for v in skeleton["__tuple__"])
    if "__dict__" in skeleton:
        return {k: unflatten(v, arrays, device) for k, v in skeleton["__dict__"]}
    if "__float__" in skeleton:
        return float(skeleton["__float__"])
    return {k: unflatten(v, arrays, device) for k, v in skeleton.items()}


def _leaf(array: np.ndarray, kind: str, device):
    if kind == "tensor":
        return Tensor(array, device=device)
    if kind == "scalar":
        return array[()]
    return array


# -- files ------------------------------------------------------------------------------------


def atomic_write(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temp file in the same directory, fsync, rename.

    Readers see either the old file or the complete new one, never a torn write.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_directory(directory)


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


def save(obj, path, sidecar: bool = False) -> None:
    """Save a tree of tensors, arrays and plain values to a safetensors file, atomically.

    ``obj`` may be a ``state_dict``, an optimizer state, or any nesting of dicts, lists
    and tuples with tensor, array, number, string, bool or ``None`` leaves. With
    ``sidecar=True`` a readable JSON copy of the non-array part (plus the file's SHA-256)
    is written next to it.

    >>> em.save(model.state_dict(), "model.safetensors")
    >>> model.load_state_dict(em.load("model.safetensors"))
    """
    skeleton, arrays = flatten(obj)
    document = {"format": FORMAT, "version": VERSION, "tree": skeleton}
    text = json.dumps(document, separators=(",", ":"))
    data = safetensors.numpy.save(arrays, metadata={_META_KEY: text})
    atomic_write(path, data)
    if sidecar:
        readable = dict(document, tensors=Path(path).name, sha256=hashlib.sha256(data).hexdigest())
        atomic_write(sidecar_path(path), (json.dumps(readable, indent=1) + "\n").encode())


def load(path, device=None):
    """Load what ``save`` wrote: the same tree, tensors as ``Tensor`` s (on ``device``, default CPU).

    Only safetensors and JSON are parsed, so loading an untrusted file cannot run code.
    A plain safetensors file written by another tool loads as a flat dict of NumPy arrays.

    >>> state = em.load("model.safetensors")
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"load: no such file {str(path)!r}")
    try:
        with safe_open(str(path), framework="np") as f:
            metadata = f.metadata() or {}
            arrays = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 - safe_open has no __iter__
    except Exception as err:  # safetensors raises its own error types for malformed headers
        raise ValueError(f"load: {str(path)!r} is not a valid safetensors file ({err})") from err
    if _META_KEY not in metadata:
        return arrays
    document = json.loads(metadata[_META_KEY])
    if document.get("format") != FORMAT or document.get("version", 0) > VERSION:
        raise ValueError(f"load: {str(path)!r} has unsupported format {document.get('format')!r} "
                         f"version {document.get('version')!r}")
    return unflatten(document["tree"], arrays, device)
