"""Saving and loading: safetensors for the arrays, JSON for everything else, never pickle.

``em.save(obj, f)`` takes what ``torch.save`` takes in practice: a tensor, a NumPy array, a
``model.state_dict()``, an ``optimizer.state_dict()``, a whole checkpoint (``{"model": ...,
"optimizer": ..., "epoch": 3}``), any nesting of dicts, lists and tuples whose leaves are
tensors, arrays, numbers, strings, booleans or ``None`` — and whole ``nn.Module`` s. ``f`` is a
path (``str`` or ``pathlib.Path``) or a binary file object (``io.BytesIO``, ``open(p, "wb")``).
The tree is split in two:

- every array leaf goes into a `safetensors <https://huggingface.co/docs/safetensors>`_
  file under its dotted path (``model.fc1.weight``, ``optimizer.state.0.exp_avg``);
- the rest of the tree, with each array replaced by a reference to its key, is written as
  JSON into the safetensors header's metadata (key ``"ember"``).

So one file holds everything and loading it can never run code (no pickle anywhere).
With ``sidecar=True`` the JSON is also written next to the file (``x.safetensors`` →
``x.json``), for people and tools that want to read it; ``load`` always reads the
embedded copy, so the one file is the single source of truth.

The arrays are streamed to the file one after the other, so saving needs almost no memory
beyond the arrays themselves. Writes to a path are atomic: the bytes go to a temporary file
beside the target (``.x.safetensors.<host>-<pid>.<random>.ember-tmp``), are flushed to disk
(``fsync``), and then ``os.replace`` swaps it in; a crash or an error midway leaves the
previous file untouched, and the next save of the same target deletes the temporaries
that killed saves left behind. A file object is simply written to, from its position.

``em.load(f)`` returns the tree as saved: tensors come back as ember ``Tensor`` s (with their
``requires_grad``; a ``Parameter`` as a ``Parameter``; one tensor saved under two names as one
object), NumPy arrays and NumPy scalars as themselves, tuples as tuples, and dicts keep their
key types (``int`` keys of an optimizer state stay ``int``), so
``model.load_state_dict(em.load(path))`` works directly. ``map_location`` places the tensors
as in ``torch.load``. Metadata that ``save`` cannot have written is refused with a
``ValueError`` naming the file and the field. Tensors in dtypes NumPy lacks (bfloat16 and
float8 from PyTorch) load as float32, with a warning.

Whole modules are saved as data, the way PyTorch 2.6+ loads them with ``weights_only=True``:
each module's class (module and qualified name), its ``training`` flag, its plain attributes
(numbers, strings, booleans, ``None``, tensors, arrays, dtypes, allowed classes, and lists,
tuples and dicts of those), its parameters, buffers and submodules. ``load`` rebuilds a module
without calling its ``__init__`` and only from allowed classes: every class defined in the
``ember`` package, and those the program allows with ``add_safe_globals([MyNet])`` or, for a
block, ``with safe_globals([MyNet]):``. Any other class is refused with an
``UnsupportedGlobalError`` (a ``pickle.UnpicklingError``, as PyTorch raises) that names it.
Nothing named in a file is ever imported: ember's classes are looked up in its modules already
imported (``import ember`` brings in ``nn``, ``models``, ``vision``, ``text``, ...). Functions
(say, an activation kept as an attribute) are allowed only through ``add_safe_globals``.

A file holding only what the first format version could hold is still written as version 1,
so older ember reads it; files with modules or parameters are version 2.
"""
from __future__ import annotations

import contextlib
import hashlib
import inspect
import io
import itertools
import json
import math
import os
import pickle
import re
import socket
import struct
import sys
import tempfile
import time
import types
import warnings
import zlib
from pathlib import Path

import numpy as np
from safetensors import safe_open

from ember import backend
from ember.autograd.tensor import Parameter, Tensor
from ember.nn.module import Module

FORMAT = "ember"
VERSION = 2
_META_KEY = "ember"
_MAX_DEPTH = 100  # levels of nesting a tree may have; deeper ones are refused on save and on load
_KINDS = ("tensor", "parameter", "ndarray", "scalar")

# NumPy dtype name -> safetensors dtype, for every dtype both can hold.
_ST_DTYPES = {"bool": "BOOL", "uint8": "U8", "int8": "I8", "uint16": "U16", "int16": "I16", "uint32": "U32",
              "int32": "I32", "uint64": "U64", "int64": "I64", "float16": "F16", "float32": "F32", "float64": "F64",
              "complex64": "C64"}
_NP_DTYPES = {st: name for name, st in _ST_DTYPES.items()}
_DTYPE_NAMES = frozenset(_ST_DTYPES) | {"complex128"}  # dtypes a module attribute may name

# What Module.__init__ sets up (saved in their own fields), and the forward hooks (code, never saved).
_MODULE_INTERNALS = frozenset({"_parameters", "_buffers", "_modules", "_non_persistent", "training",
                               "_forward_hooks"})

# -- the allowlist of classes a file may name ----------------------------------------------------


class UnsupportedGlobalError(pickle.UnpicklingError):
    """A file names a class (or function) that is not allowed: neither ember's nor in ``add_safe_globals``.

    A subclass of ``pickle.UnpicklingError``, which ``torch.load`` raises for the same reason.
    """


_safe_globals: list = []


def add_safe_globals(safe_globals: list) -> None:
    """Allow ``load`` to rebuild these classes (or refer to these functions), as PyTorch's function does.

    Each entry is a class or function, or ``(obj, "module.QualName")`` for one saved under
    another name. Classes of the ``ember`` package are always allowed.

    >>> em.serialization.add_safe_globals([MyNet])
    >>> model = em.load("model.safetensors")
    """
    for entry in safe_globals:
        obj, name = entry if isinstance(entry, tuple) else (entry, None)
        if not callable(obj) or (name is not None and not isinstance(name, str)):
            raise TypeError(f"add_safe_globals: {entry!r} is not a class, a function or (obj, 'module.name')")
    _safe_globals.extend(safe_globals)


def get_safe_globals() -> list:
    """The entries given to ``add_safe_globals`` (ember's own classes, always allowed, are not listed)."""
    return list(_safe_globals)


def clear_safe_globals() -> None:
    """Forget every entry given to ``add_safe_globals``."""
    _safe_globals.clear()


class safe_globals:  # noqa: N801 - PyTorch's name
    """Allow these classes inside a ``with`` block only; the allowlist is restored at its end.

    >>> with em.serialization.safe_globals([MyNet]):
    ...     model = em.load("model.safetensors")
    """

    def __init__(self, safe_globals: list):
        self.entries, self.saved = list(safe_globals), None

    def __enter__(self):
        self.saved = get_safe_globals()
        add_safe_globals(self.entries)
        return self

    def __exit__(self, *exc):
        _safe_globals[:] = self.saved


def _allowed_by_name() -> dict:
    names = {}
    for entry in _safe_globals:
        obj, name = entry if isinstance(entry, tuple) else (entry, f"{entry.__module__}.{entry.__qualname__}")
        names[name] = obj
    return names


_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", re.ASCII)


def _ember_class(module: str, qualname: str):
    """The class ``module.qualname`` when it is defined in an already imported module of ember, else None.

    Nothing is imported: a module a file names could run code on import (``ember.__main__``
    runs the command line), and the walk along ``qualname`` passes through classes only, never
    into a module that an ember module imported (``ember.serialization.os.system``).
    """
    obj = sys.modules.get(module) if module == "ember" or module.startswith("ember.") else None
    if obj is None or not _NAME.fullmatch(qualname):
        return None
    for i, part in enumerate(qualname.split(".")):
        if i > 0 and not inspect.isclass(obj):
            return None
        obj = getattr(obj, part, None)
    ok = inspect.isclass(obj) and obj.__module__ == module and obj.__qualname__ == qualname
    return obj if ok else None


def _resolve_global(module, qualname, path: str):
    """The allowed class or function a file names, or ``UnsupportedGlobalError`` telling how to allow it."""
    if not isinstance(module, str) or not isinstance(qualname, str):
        raise _BadFieldError(path, "names a class whose module or qualname is not a string")
    name = f"{module}.{qualname}"
    obj = _allowed_by_name().get(name) or _ember_class(module, qualname)
    if obj is None:
        short = qualname.split(".")[-1]
        hint = (f"; if it is ember's, import {module} before loading" if module.startswith("ember.")
                and module not in sys.modules else "")
        raise UnsupportedGlobalError(
            f"Unsupported global: GLOBAL {name} (at {path or '<root>'!r}) was not an allowed global by default. "
            f"ember rebuilds only the classes of the ember package and those the program allows; if you trust "
            f"this class, call ember.serialization.add_safe_globals([{short}]) or load inside "
            f"`with ember.serialization.safe_globals([{short}]):`{hint}")
    return obj


def _shadows_method(cls, name: str) -> bool:
    """Whether an instance attribute ``name`` would hide a method or property of ``cls`` (e.g. ``forward``)."""
    member = inspect.getattr_static(cls, name, None)
    return isinstance(member, (types.FunctionType, property, staticmethod, classmethod))


# -- flatten: tree -> (JSON skeleton, {key: array}) -----------------------------------------


class _UnsupportedLeafError(TypeError):
    """A value ``save`` cannot write."""


class _Flattener:
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

    def _module(self, module: Module, path: str, depth: int):
        self.version = 2
        if id(module) in self._modules:  # shared, or a cycle: refer to the first occurrence
            return {"__module_ref__": self._modules[id(module)]}
        self._modules[id(module)] = number = len(self._modules)
        cls, where = type(module), f"{path or '<root>'!r}"
        if any(module.__dict__.get("_forward_hooks", {}).values()):
            raise TypeError(f"save: the {cls.__qualname__} at {where} has forward hooks, which are code and cannot "
                            "be saved; remove them (handle.remove()) first, or save its state_dict()")
        attributes = {}
        for name, value in module.__dict__.items():
            if name in _MODULE_INTERNALS:
                continue
            if _shadows_method(cls, name):
                raise TypeError(f"save: attribute {name!r} of the {cls.__qualname__} at {where} hides its method "
                                f"{name}(), so load would refuse it; give the attribute another name")
            try:
                attributes[name] = self(value, _join(path, name), depth + 1)
            except _UnsupportedLeafError as err:
                raise TypeError(f"save: attribute {name!r} of the {cls.__module__}.{cls.__qualname__} at {where} "
                                f"cannot be saved with the module ({err}); module attributes may be numbers, "
                                "strings, booleans, None, tensors, arrays, dtypes, classes, and lists, tuples "
                                "and dicts of those") from None

        def members(store):
            return {k: self(v, _join(path, k), depth + 1) for k, v in store.items()}

        return {"__module__": {
            "module": cls.__module__, "qualname": cls.__qualname__, "id": number,
            "training": bool(module.training), "attributes": attributes,
            "parameters": members(module._parameters), "buffers": members(module._buffers),
            "non_persistent": sorted(module._non_persistent), "modules": members(module._modules)}}

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
    """Rebuilds a tree from its skeleton, refusing anything that does not describe one.

    ``place(array, saved_device)`` puts each tensor's array on its device (see ``_placer``).
    """

    def __init__(self, arrays: dict, place):
        self.arrays, self.place = arrays, place
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
            return _resolve_global(spec.get("module"), spec.get("qualname"), path)
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

    @staticmethod
    def _tensor_class(spec, base, path: str):
        """The allowed subclass of ``base`` that a tensor node names (its ``__init__`` is not called)."""
        cls = _resolve_global(spec.get("module"), spec.get("qualname"), path) if isinstance(spec, dict) else None
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

    def _module(self, spec, path: str, depth: int) -> Module:
        """Rebuild a module without calling its ``__init__``: Module's own setup, then the saved state."""
        fields = ("module", "qualname", "id", "training", "attributes", "parameters", "buffers", "non_persistent",
                  "modules")
        if not isinstance(spec, dict) or any(f not in spec for f in fields):
            raise _BadFieldError(path, f"holds a __module__ without the fields {', '.join(fields)}")
        cls = _resolve_global(spec["module"], spec["qualname"], path)
        if not (inspect.isclass(cls) and issubclass(cls, Module)):
            raise _BadFieldError(path, f"names {spec['module']}.{spec['qualname']}, which is not an nn.Module")
        if type(spec["id"]) is not int or spec["id"] in self.modules or type(spec["training"]) is not bool:
            raise _BadFieldError(path, "holds a __module__ with a bad id or training flag")
        module = object.__new__(cls)
        Module.__init__(module)
        self.modules[spec["id"]] = module  # before the children, which may refer back to it
        module.__dict__["training"] = spec["training"]
        for name, node in _named_fields(spec["attributes"], path, "attributes").items():
            if name in _MODULE_INTERNALS or name.startswith("__") or _shadows_method(cls, name):
                raise _BadFieldError(_join(path, name), f"would replace {cls.__qualname__}.{name}")
            module.__dict__[name] = self(node, _join(path, name), depth + 1)
        for store, kind in (("parameters", Parameter), ("buffers", Tensor), ("modules", Module)):
            registry = getattr(module, f"_{store}")
            for name, node in _named_fields(spec[store], path, store).items():
                value = self(node, _join(path, name), depth + 1)
                if value is not None and not isinstance(value, kind):
                    raise _BadFieldError(_join(path, name), f"is listed in {store} but holds a {type(value).__name__}")
                registry[name] = value
        persistent = spec["non_persistent"]
        if not isinstance(persistent, list) or not all(isinstance(n, str) for n in persistent):
            raise _BadFieldError(path, "holds a non_persistent that is not a list of names")
        module._non_persistent.update(persistent)
        return module

    def _module_ref(self, number, path: str) -> Module:
        if type(number) is not int or number not in self.modules:
            raise _BadFieldError(path, f"refers to a module {number!r} that comes later or not at all")
        return self.modules[number]


def _named_fields(fields, path: str, what: str) -> dict:
    """A module's ``attributes``/``parameters``/... object, checked to be keyed by names (non-empty, no dot)."""
    if not isinstance(fields, dict) or not all(k and "." not in k for k in fields):
        raise _BadFieldError(path, f"holds {what} that are not an object keyed by names")
    return fields


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


def _as_path(f, what: str) -> Path:
    if isinstance(f, io.TextIOBase):
        raise TypeError(f"{what}: the file is open in text mode; open it in binary mode ('wb' or 'rb')")
    if isinstance(f, (str, os.PathLike)):
        return Path(f)
    raise TypeError(f"{what}: f must be a path (str or os.PathLike) or a binary file object, got {type(f).__name__}")


def save(obj, f, pickle_module=None, pickle_protocol=2, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False, *, sidecar: bool = False) -> None:
    """Save a tree of tensors, arrays, plain values and modules to ``f`` in safetensors format.

    ``obj`` may be a tensor, an array, a ``state_dict``, an optimizer state, a whole module, or
    any nesting (up to 100 levels) of dicts, lists and tuples of those and of numbers, strings,
    booleans and ``None``. ``f`` is a path — written atomically, see the module docs — or a
    binary file object, written from its position. The arrays are streamed to the file one by
    one, without a copy of the payload in memory. With ``sidecar=True`` (paths only) a readable
    JSON copy of the non-array part (plus the file's SHA-256) is written next to it.
    ``pickle_module``, ``pickle_protocol`` and the underscored arguments of ``torch.save`` are
    accepted and ignored: nothing is pickled.

    A module is saved with its class, attributes, parameters, buffers and submodules; an
    attribute that is none of numbers, strings, booleans, ``None``, tensors, arrays, dtypes,
    classes and containers of those (a lambda, an open file) is refused with a ``TypeError``
    naming it, and so are forward hooks.

    >>> em.save(model.state_dict(), "model.safetensors")
    >>> model.load_state_dict(em.load("model.safetensors"))
    >>> em.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}, "ckpt.safetensors")
    """
    flattener = _Flattener()
    skeleton = flattener(obj, "")
    document = {"format": FORMAT, "version": flattener.version, "tree": skeleton}
    metadata = {_META_KEY: json.dumps(document, separators=(",", ":"))}
    if hasattr(f, "write") and not isinstance(f, io.TextIOBase):
        if sidecar:
            raise ValueError("save: sidecar=True needs a path to write the .json beside, not a file object")
        _write_safetensors(f, flattener.arrays, metadata)
        return
    path = _as_path(f, "save")
    digest = hashlib.sha256() if sidecar else None
    with _replacing(path) as out:
        _write_safetensors(out, flattener.arrays, metadata, digest)
    if sidecar:
        readable = dict(document, tensors=path.name, sha256=digest.hexdigest())
        atomic_write(sidecar_path(path), (json.dumps(readable, indent=1) + "\n").encode())


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, device=None,
         **pickle_load_args):
    """Load what ``save`` wrote from a path or a binary file object: the same tree, modules rebuilt.

    Tensors come back as ``Tensor`` s placed by ``map_location``, as in ``torch.load``: ``None``
    keeps the device each was saved from (a CUDA tensor needs CUDA, else ``RuntimeError``);
    ``'cpu'``, ``'cuda'``, ``'cuda:0'`` or a device object (anything whose ``str`` is one)
    puts all there; a dict maps saved locations (``{'cuda:0': 'cpu'}``); a callable is called
    as ``map_location(tensor_on_cpu, location)`` and its tensor used (``None``: the saved
    device). Device types ember has no backend for (``'mps'``, ``'xpu'``, ``'meta'``, ...) map
    to the CPU. ``device`` is ember's older spelling of a device ``map_location``.

    ``weights_only`` is accepted and changes nothing: ember never unpickles, so loading is
    always as safe as PyTorch's ``weights_only=True``. ``pickle_module``, ``mmap`` and extra
    keyword arguments (``encoding=...``) are accepted and ignored.

    Only safetensors and JSON are parsed, so loading an untrusted file cannot run code. A whole
    module is rebuilt without its ``__init__`` and only from an allowed class (ember's own, or
    those in ``add_safe_globals``); any other raises ``UnsupportedGlobalError`` naming it.
    Metadata ``save`` cannot have written raises ``ValueError`` naming the file and the field.
    A plain safetensors file written by another tool loads as a flat dict of NumPy arrays;
    bfloat16 and float8 tensors (which NumPy lacks) load as float32, with a warning.

    >>> state = em.load("model.safetensors", map_location="cpu")
    >>> model = em.load(io.BytesIO(data))
    """
    if device is not None:
        if map_location is not None:
            raise ValueError("load: give map_location or device, not both")
        map_location = device
    place = _placer(map_location)
    if hasattr(f, "read") and not isinstance(f, io.TextIOBase):
        name = getattr(f, "name", None)
        where = f"load: {name!r}" if isinstance(name, str) else f"load: <{type(f).__name__}>"
        metadata, arrays, widened = _read_stream(f, where)
    else:
        path = _as_path(f, "load")
        if not path.exists():
            raise FileNotFoundError(f"load: no such file {str(path)!r}")
        where = f"load: {str(path)!r}"
        metadata, arrays, widened = _read_arrays(path, where)
    _warn_widened(widened, where)
    if _META_KEY not in metadata:
        return arrays
    document = _document(metadata[_META_KEY], where)
    try:
        return _Unflattener(arrays, place)(document["tree"], "")
    except _BadFieldError as err:
        raise ValueError(f"{where}: {err}") from None
    except UnsupportedGlobalError as err:
        raise UnsupportedGlobalError(f"{where}: {err}") from None
