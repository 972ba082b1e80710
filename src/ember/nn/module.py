"""``Module``: the base of every layer and model.

Assigning a ``Parameter``, a ``Module`` or (through ``register_buffer``) a tensor to an
attribute registers it in an ordered dict, so ``named_parameters()`` and
``state_dict()`` walk the tree in definition order with dotted names
(``layer1.0.conv1.weight``), exactly as PyTorch names them.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterator

import numpy as np

from ember import backend
from ember.autograd.grad_mode import no_grad
from ember.autograd.tensor import Parameter, Tensor


class Module:
    """Base class for layers: subclass, assign parameters and submodules in ``__init__``,
    and write ``forward``.

    >>> class TwoLayer(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc1, self.fc2 = nn.Linear(4, 8), nn.Linear(8, 2)
    ...     def forward(self, x):
    ...         return self.fc2(F.relu(self.fc1(x)))
    """

    training: bool

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "training", True)

    # -- registration -----------------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning {name!r}")
        for store in (self._parameters, self._buffers, self._modules):
            store.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif name in self.__dict__.get("_buffer_names", ()) and (value is None or isinstance(value, Tensor)):
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        for store in ("_parameters", "_buffers", "_modules"):
            values = self.__dict__.get(store)
            if values is not None and name in values:
                return values[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or ``None``, for an absent optional weight such as a bias)."""
        if param is None:
            self._parameters[name] = None
            self.__dict__.pop(name, None)
        else:
            setattr(self, name, param if isinstance(param, Parameter) else Parameter(param))

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register state that is saved in ``state_dict`` but not trained (e.g. running means)."""
        self.__dict__.setdefault("_buffer_names", set()).add(name)
        if not persistent:
            self._non_persistent.add(name)
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor

    def add_module(self, name: str, module: Module | None) -> None:
        self._modules[name] = module

    register_module = add_module

    # -- forward -----------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # -- traversal ---------------------------------------------------------------------------
    def named_modules(self, memo=None, prefix="") -> Iterator[tuple[str, Module]]:
        """(name, module) for this module and every descendant, each shared module once."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, module in self._modules.items():
            if module is not None:
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def _named_members(self, store, recurse, remove_duplicate=True):
        seen = set()
        modules = self.named_modules() if recurse else [("", self)]
        for prefix, module in modules:
            for name, value in getattr(module, store).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{prefix}.{name}" if prefix else name), value

    def named_parameters(self, prefix="", recurse=True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs; a weight shared by two layers appears once."""
        for name, p in self._named_members("_parameters", recurse):
            yield (f"{prefix}.{name}" if prefix else name), p

    def parameters(self, recurse=True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True) -> Iterator[tuple[str, Tensor]]:
        for name, b in self._named_members("_buffers", recurse):
            yield (f"{prefix}.{name}" if prefix else name), b

    def buffers(self, recurse=True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn) -> Module:
        """Call ``fn`` on every submodule (children first) and on this module."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # -- modes and gradients -------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active, batch statistics in BatchNorm) for this module tree."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Evaluation mode: dropout off, running statistics in BatchNorm."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = Tensor(p.xp.zeros_like(p.data))

    # -- state -----------------------------------------------------------------------------------
    def state_dict(self, prefix="") -> OrderedDict:
        """Every parameter and persistent buffer by dotted name (detached tensors, shared storage)."""
        state = OrderedDict()
        for module_prefix, module in self.named_modules(prefix=prefix):
            dot = f"{module_prefix}." if module_prefix else ""
            for name, p in module._parameters.items():
                if p is not None:
                    state[dot + name] = p.detach()
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    state[dot + name] = b.detach()
        return state

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy values (tensors or NumPy arrays) into the existing parameters and buffers.

        Values are cast to each parameter's dtype and moved to its device, as PyTorch does.
        With ``strict`` every key must match; the error lists missing and unexpected keys
        and shape mismatches. Returns ``(missing_keys, unexpected_keys)``.
        """
        own = self._state_tensors()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mismatched = [
            f"{k}: checkpoint {tuple(np.shape(_host(v)))} vs model {own[k].shape}"
            for k, v in state_dict.items()
            if k in own and tuple(np.shape(_host(v))) != tuple(own[k].shape)
        ]
        if mismatched or (strict and (missing or unexpected)):
            problems = []
            if missing:
                problems.append(f"missing keys: {missing}")
            if unexpected:
                problems.append(f"unexpected keys: {unexpected}")
            if mismatched:
                problems.append(f"shape mismatches: {mismatched}")
            raise KeyError(f"{type(self).__name__}.load_state_dict: " + "; ".join(problems))
        with no_grad():
            for key, value in state_dict.items():
                if key in own:
                    target = own[key]
                    array = backend.to_device(_host(value), target.device)
                    target.data[...] = array.astype(target.dtype, copy=False)
                    target._version += 1
        return missing, unexpected

    def _state_tensors(self) -> dict:
        tensors = {}
        for module_prefix, module in self.named_modules():
            dot = f"{module_prefix}." if module_prefix else ""
            for store in (module._parameters, module._buffers):
                for name, t in store.items():
                    if t is not None and name not in module._non_persistent:
                        tensors[dot + name] = t
        return tensors

    # -- devices and dtypes ------------------------------------------------------------------------
    def _apply_to_tensors(self, convert) -> Module:
        """Replace every parameter's and buffer's array by ``convert(array)`` (same objects)."""
        for module in self.modules():
            for store in (module._parameters, module._buffers):
                for t in store.values():
                    if t is not None:
                        t.data = convert(t.data)
                        if t.grad is not None:
                            t.grad = Tensor(convert(t.grad.data))
        return self

    def to(self, *args, dtype=None, device=None) -> Module:
        """Move to a device and/or cast floating-point tensors: ``model.to('cuda')``, ``.to(em.float64)``."""
        for arg in args:
            if isinstance(arg, str):
                device = arg
            else:
                dtype = arg

        def convert(a):
            if device is not None:
                a = backend.to_device(a, backend.normalize_device(device))
            if dtype is not None and a.dtype.kind == "f":
                a = a.astype(dtype)
            return a

        return self._apply_to_tensors(convert)

    def double(self) -> Module:
        return self.to(np.float64)

    def float(self) -> Module:
        return self.to(np.float32)

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self) -> Module:
        return self.to("cuda")

    # -- printing -----------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """One line of this module's settings, shown inside its ``repr``."""
        return ""

    def __repr__(self):
        lines = []
        for name, module in self._modules.items():
            child = repr(module).replace("\n", "\n  ")
            lines.append(f"({name}): {child}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        head = f"{type(self).__name__}(" + (f"{extra}" if extra else "")
        return head + "\n  " + "\n  ".join(lines) + "\n)"

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._modules) | set(self._buffers))


def _host(value):
    """A NumPy array of a state-dict value (tensor, ndarray, or anything with ``__array__``)."""
    if isinstance(value, Tensor):
        return backend.to_numpy(value.data)
    return backend.to_numpy(value) if hasattr(value, "get") else np.asarray(value)
