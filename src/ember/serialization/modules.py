"""Whole modules in a file: the allowlist of classes a file may name, and saving and rebuilding modules.

A module is saved as data, the way PyTorch 2.6+ loads it with ``weights_only=True``: its class
(module and qualified name), its ``training`` flag, its plain attributes, parameters, buffers and
submodules. It is rebuilt without calling its ``__init__`` and only from an allowed class: every
class defined in the ``ember`` package, and those the program allows with ``add_safe_globals``
or ``safe_globals`` (with ``load(..., weights_only=False)``, also the classes of modules the program
has already imported). Nothing named in a file is ever imported.
"""
from __future__ import annotations

import inspect
import pickle
import re
import sys
import types

from ember.autograd.tensor import Parameter, Tensor
from ember.nn.module import Module
from ember.serialization.format import _BadFieldError, _join, _UnsupportedLeafError

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


def _attribute_path(root, qualname: str):
    """``root.qualname``, or None. Past its first name the walk passes through classes only, never into a
    module that ``root`` imported (``ember.serialization.atomic.os.system``)."""
    if root is None or not _NAME.fullmatch(qualname):
        return None
    obj = root
    for i, part in enumerate(qualname.split(".")):
        if i > 0 and not inspect.isclass(obj):
            return None
        obj = getattr(obj, part, None)
    return obj


def _ember_class(module: str, qualname: str):
    """The class ``module.qualname`` when it is defined in an already imported module of ember, else None.

    Nothing is imported: a module a file names could run code on import (``ember.__main__``
    runs the command line).
    """
    root = sys.modules.get(module) if module == "ember" or module.startswith("ember.") else None
    obj = _attribute_path(root, qualname)
    ok = inspect.isclass(obj) and obj.__module__ == module and obj.__qualname__ == qualname
    return obj if ok else None


def _loaded_global(module: str, qualname: str):
    """The class or function ``module.qualname`` of a module the program has already imported, else None:
    what ``load(..., weights_only=False)`` may rebuild besides the allowlist. Nothing is imported."""
    obj = _attribute_path(sys.modules.get(module), qualname)
    ok = ((inspect.isclass(obj) or inspect.isfunction(obj)) and getattr(obj, "__module__", None) == module
          and obj.__qualname__ == qualname)
    return obj if ok else None


def _resolve_global(module, qualname, path: str, trust_loaded: bool = False):
    """The allowed class or function a file names, or ``UnsupportedGlobalError`` telling how to allow it.
    ``trust_loaded`` (``load(..., weights_only=False)``) also allows those of modules already imported."""
    if not isinstance(module, str) or not isinstance(qualname, str):
        raise _BadFieldError(path, "names a class whose module or qualname is not a string")
    name = f"{module}.{qualname}"
    obj = _allowed_by_name().get(name) or _ember_class(module, qualname)
    if obj is None and trust_loaded:
        obj = _loaded_global(module, qualname)
    if obj is None:
        short = qualname.split(".")[-1]
        hint = (f"; if it is ember's, import {module} before loading" if module.startswith("ember.")
                and module not in sys.modules else "")
        raise UnsupportedGlobalError(
            f"Unsupported global: GLOBAL {name} (at {path or '<root>'!r}) was not an allowed global by default. "
            f"ember rebuilds only the classes of the ember package and those the program allows; if you trust "
            f"this class, call ember.serialization.add_safe_globals([{short}]) or load inside "
            f"`with ember.serialization.safe_globals([{short}]):`, or load with weights_only=False once "
            f"the module defining it is imported{hint}")
    return obj


# -- modules in the tree: saving and rebuilding ------------------------------------------------

# What Module.__init__ sets up (saved in their own fields), and the forward hooks (code, never saved).
_MODULE_INTERNALS = frozenset({"_parameters", "_buffers", "_modules", "_non_persistent", "training",
                               "_forward_hooks"})


def _shadows_method(cls, name: str) -> bool:
    """Whether an instance attribute ``name`` would hide a method or property of ``cls`` (e.g. ``forward``)."""
    member = inspect.getattr_static(cls, name, None)
    return isinstance(member, (types.FunctionType, property, staticmethod, classmethod))


class _ModuleFlattening:
    """The part of ``tree._Flattener`` that writes a module as a ``__module__`` node.

    It uses the flattener's ``self(value, path, depth)`` for the module's contents, its
    ``version`` and its ``_modules`` (``id(module)`` -> number, for a module reachable twice).
    """

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


class _ModuleUnflattening:
    """The part of ``tree._Unflattener`` that rebuilds a module from its ``__module__`` node.

    It uses the unflattener's ``self(node, path, depth)`` for the module's contents and its
    ``modules`` (number -> module rebuilt, for the ``__module_ref__`` nodes that refer back).
    """

    def _module(self, spec, path: str, depth: int) -> Module:
        """Rebuild a module without calling its ``__init__``: Module's own setup, then the saved state."""
        fields = ("module", "qualname", "id", "training", "attributes", "parameters", "buffers", "non_persistent",
                  "modules")
        if not isinstance(spec, dict) or any(f not in spec for f in fields):
            raise _BadFieldError(path, f"holds a __module__ without the fields {', '.join(fields)}")
        cls = _resolve_global(spec["module"], spec["qualname"], path, self.trust_loaded)
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
