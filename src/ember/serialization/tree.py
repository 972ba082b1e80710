"""Flatten and unflatten: a tree of tensors, arrays and plain values to a JSON skeleton and arrays, and back.

``flatten`` moves each array leaf into a dict under its dotted path and leaves a reference in
its place; ``unflatten`` rebuilds the tree, refusing any skeleton ``flatten`` cannot have
written. Modules inside the tree are handled by the walkers of ``ember.serialization.modules``;
``map_location`` (where loaded tensors go) is at the end.
"""
from __future__ import annotations

import contextlib
import inspect
import math

import numpy as np

from ember import backend
from ember.autograd.tensor import Parameter, Tensor
from ember.nn.module import Module
from ember.serialization.format import (
    _DTYPE_NAMES,
    _MAX_DEPTH,
    _ST_DTYPES,
    _BadFieldError,
    _join,
    _UnsupportedLeafError,
)
from ember.serialization.modules import _ModuleFlattening, _ModuleUnflattening, _resolve_global

_KINDS = ("tensor", "parameter", "ndarray", "scalar")

# -- flatten: tree -> (JSON skeleton, {key: array}) -----------------------------------------


class _Flattener(_ModuleFlattening):
    """Walks a tree, moving array leaves into ``self.arrays`` under unique dotted keys.

    ``self.version`` ends as the lowest format version that holds the tree.
    """

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}
        self.version = 1
        self._tensors: dict[int, dict] = {}  # id(tensor) -> its node: one tensor saved twice is stored once
        self._modules: dict[int, int] = {}  # id(module) -> its number, for a module reachable twice

    def __call__(self, obj, path: str, depth: int = 0):
        if depth > _MAX_DEPTH:
            raise ValueError(f"save: {path!r} is nested more than {_MAX_DEPTH} levels deep")
        if isinstance(obj, Tensor):
            return self._tensor(obj, path)
        if isinstance(obj, Module):
            return self._module(obj, path, depth)
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
        return self._named(obj, path)

    def _named(self, obj, path: str):
        """A dtype, or a class or function saved by its name."""
        if (isinstance(obj, np.dtype) or (inspect.isclass(obj) and issubclass(obj, np.generic))) and \
                np.dtype(obj).name in _DTYPE_NAMES:
            self.version = 2
            return {"__dtype__": np.dtype(obj).name, "type": not isinstance(obj, np.dtype)}
        if (inspect.isclass(obj) or inspect.isfunction(obj)) and "<lambda>" not in obj.__qualname__:
            self.version = 2
            return {"__global__": {"module": obj.__module__, "qualname": obj.__qualname__}}
        raise _UnsupportedLeafError(f"save: cannot serialise a {type(obj).__name__} at {path or '<root>'!r}; "
                                    "leaves must be tensors, arrays, numbers, strings, booleans, None, modules, "
                                    "dtypes or classes")

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

    def _tensor(self, t: Tensor, path: str):
        if id(t) in self._tensors:  # the same object again (tied weights): a second reference to its bytes
            return dict(self._tensors[id(t)])
        kind = "parameter" if isinstance(t, Parameter) else "tensor"
        node = self._array(backend.to_numpy(t.array), path, kind)
        if t.requires_grad:
            node["requires_grad"] = True
        if backend.device_of(t.array) != "cpu":
            node["device"] = backend.device_of(t.array)
        if type(t) not in (Tensor, Parameter):  # e.g. a lazy layer's UninitializedParameter
            node["class"] = {"module": type(t).__module__, "qualname": type(t).__qualname__}
        self.version = max(self.version, 2 if kind == "parameter" or "class" in node else 1)
        self._tensors[id(t)] = node
        return dict(node)

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


class _Unflattener(_ModuleUnflattening):
    """Rebuilds a tree from its skeleton, refusing anything that does not describe one.

    ``place(array, saved_device)`` puts each tensor's array on its device (see ``_placer``).
    """

    def __init__(self, arrays: dict, place, trust_loaded: bool = False):
        self.arrays, self.place, self.trust_loaded = arrays, place, trust_loaded
        self.tensors: dict[tuple, Tensor] = {}  # (key, kind, requires_grad) -> tensor: tied weights stay tied
        self.modules: dict[int, Module] = {}

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
        if "__module__" in node:
            return self._module(node["__module__"], path, depth)
        if "__module_ref__" in node:
            return self._module_ref(node["__module_ref__"], path)
        if "__global__" in node:
            spec = node["__global__"]
            if not isinstance(spec, dict):
                raise _BadFieldError(path, "holds a __global__ that is not an object")
            return _resolve_global(spec.get("module"), spec.get("qualname"), path, self.trust_loaded)
        if "__dtype__" in node:
            return _parse_dtype(node, path)
        return {k: self(v, _join(path, k), depth + 1) for k, v in node.items()}

    def _array(self, node: dict, path: str):
        key, kind = node["__array__"], node.get("kind")
        if not isinstance(key, str) or key not in self.arrays:
            raise _BadFieldError(path, f"refers to a missing tensor {key!r}")
        if kind not in _KINDS:
            raise _BadFieldError(path, f"has an unknown kind {kind!r} (expected one of {', '.join(_KINDS)})")
        array = self.arrays[key]
        if kind in ("ndarray", "scalar"):
            return array[()] if kind == "scalar" else array
        requires_grad, device = node.get("requires_grad", False), node.get("device", "cpu")
        if not isinstance(requires_grad, bool) or device not in ("cpu", "cuda"):
            raise _BadFieldError(path, f"has a bad requires_grad {requires_grad!r} or device {device!r}")
        if requires_grad and array.dtype.kind not in "fc":
            raise _BadFieldError(path, f"asks an array of dtype {array.dtype} to require grad")
        cached = self.tensors.get((key, kind, requires_grad))
        if cached is None:
            base = Parameter if kind == "parameter" else Tensor
            cached = base(self.place(array, device), requires_grad=requires_grad)
            if "class" in node:
                cached.__class__ = self._tensor_class(node["class"], base, path)
            self.tensors[key, kind, requires_grad] = cached
        return cached

    def _tensor_class(self, spec, base, path: str):
        """The allowed subclass of ``base`` that a tensor node names (its ``__init__`` is not called)."""
        cls = (_resolve_global(spec.get("module"), spec.get("qualname"), path, self.trust_loaded)
               if isinstance(spec, dict) else None)
        if not (inspect.isclass(cls) and issubclass(cls, base)):
            raise _BadFieldError(path, f"names a class {spec!r:.100} that is not a {base.__name__}")
        return cls

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


def _parse_dtype(node: dict, path: str):
    name, as_type = node["__dtype__"], node.get("type", False)
    if not isinstance(name, str) or name not in _DTYPE_NAMES or not isinstance(as_type, bool):
        raise _BadFieldError(path, f"holds a bad __dtype__ {name!r}")
    return np.dtype(name).type if as_type else np.dtype(name)


def unflatten(skeleton, arrays: dict, device=None):
    """Rebuild the tree written by ``flatten`` (tensor leaves become ``Tensor`` s on ``device``).

    A skeleton that ``flatten`` cannot have produced — a reference to a missing array, an
    unknown marker value, nesting deeper than ``flatten`` allows — raises ``ValueError``
    naming the field.
    """
    return _Unflattener(arrays, _placer(device))(skeleton, "")


# -- map_location: where loaded tensors go ------------------------------------------------------

# Device types of PyTorch that ember has no backend for: their tensors load on the CPU.
_CPU_STANDINS = ("mps", "xpu", "meta", "hpu", "xla", "ipu", "mtia", "privateuseone", "hip", "ve", "lazy", "maia")


def _device(spec) -> str:
    """'cpu' or 'cuda' for a device string (``'cuda:1'``) or device object (anything whose str names one)."""
    kind = str(spec).split(":")[0]
    if kind in ("cpu", "cuda"):
        return kind
    if kind in _CPU_STANDINS:
        return "cpu"
    raise ValueError(f"load: map_location {spec!r} names no device ember has (expected 'cpu' or 'cuda')")


def _to_device(array, device: str, restoring: bool):
    if device == "cuda" and restoring and not backend.cuda_available():
        raise RuntimeError("load: the file holds tensors saved on a CUDA device, but CUDA is not available "
                           "(CuPy and a GPU); on a CPU-only machine, load with map_location='cpu'")
    return backend.to_device(array, device)


def _placer(map_location):
    """``place(array, saved_device)`` following ``torch.load``'s ``map_location``.

    ``None``: the device the tensor was saved from; a string or device object: that device; a
    dict: the saved device looked up (``'cuda'`` also as ``'cuda:0'``), else the saved one; a
    callable: ``map_location(tensor_on_cpu, saved_device)``, whose result (a tensor) is used, or
    the saved device when it returns ``None``.
    """
    if map_location is None:
        return lambda array, saved: _to_device(array, saved, restoring=True)
    if isinstance(map_location, dict):
        table = {str(k): v for k, v in map_location.items()}

        def look_up(array, saved):
            target = table.get(saved, table.get("cuda:0") if saved == "cuda" else None)
            return _to_device(array, saved, True) if target is None else _to_device(array, _device(target), False)

        return look_up
    if callable(map_location) and not isinstance(map_location, str):

        def call(array, saved):
            moved = map_location(Tensor(array), "cuda:0" if saved == "cuda" else saved)  # torch's location names
            if moved is None:
                return _to_device(array, saved, restoring=True)
            if not isinstance(moved, Tensor):
                raise TypeError(f"load: map_location returned a {type(moved).__name__}, not a Tensor or None")
            return moved.array

        return call
    device = _device(map_location)
    return lambda array, saved: _to_device(array, device, restoring=False)
