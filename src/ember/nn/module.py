"""``Module``: the base of every layer and model.

Assigning a ``Parameter``, a ``Module`` or (through ``register_buffer``) a tensor to an
attribute registers it in an ordered dict, so ``named_parameters()`` and
``state_dict()`` walk the tree in definition order with dotted names
(``layer1.0.conv1.weight``), exactly as PyTorch names them.
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Iterator
from itertools import chain

import numpy as np

from ember import backend, dtypes
from ember.autograd.grad_mode import no_grad
from ember.autograd.tensor import Parameter, Tensor
from ember.nn.backward_hooks import call_with_backward_hooks
from ember.nn.parameter import Buffer

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


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
        if isinstance(value, Buffer):
            self.register_buffer(name, value, persistent=value.persistent)
            return
        registry = self._registry_for(name, value)
        if registry is None:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)
        for store in (self._parameters, self._buffers, self._modules):
            if store is not registry:
                store.pop(name, None)
        if registry is not self._buffers:
            self._non_persistent.discard(name)
        registry[name] = value  # in place: a replaced weight or child keeps its position, as in PyTorch

    def _registry_for(self, name, value):
        """The ordered dict that ``value`` goes into under ``name``, or None for a plain attribute.

        PyTorch's rules: a Parameter or a Module registers itself; a name already registered
        takes only its own kind or None (which keeps the slot, e.g. a switched-off bias).
        """
        if isinstance(value, Parameter):
            return self._parameters
        if isinstance(value, Module) and name not in self._parameters:
            return self._modules
        for registry, kind, what, expected in ((self._parameters, Parameter, "parameter", "ember.nn.Parameter"),
                                               (self._modules, Module, "child module", "ember.nn.Module"),
                                               (self._buffers, Tensor, "buffer", "ember.Tensor")):
            if name in registry:
                if value is not None and not isinstance(value, kind):
                    raise TypeError(f"{type(self).__name__}: cannot assign {type(value).__name__} as {what} "
                                    f"{name!r} ({expected} or None expected)")
                return registry
        return None

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
        """Register state that is saved in ``state_dict`` but not trained (e.g. running means).

        A buffer with ``persistent=False`` follows ``.to(...)`` but stays out of ``state_dict``.
        """
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"{type(self).__name__}.register_buffer: {name!r} must be a Tensor or None, "
                            f"got {type(tensor).__name__}")
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as a child named ``name`` (``None`` keeps an empty slot)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}.add_module: {type(module).__name__} is not a Module")
        if not isinstance(name, str) or "." in name or not name:
            raise KeyError(f"{type(self).__name__}.add_module: invalid child name {name!r} (non-empty, no '.')")
        self._modules[name] = module

    register_module = add_module

    # -- forward -----------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        """The computation of this module; subclasses override it and are called as ``module(x)``."""
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        hooks = self.__dict__.get("_forward_hooks")
        if not hooks:  # the common case: no hooks, no overhead
            return self.forward(*args, **kwargs)
        for hook, with_kwargs in list(hooks["pre"].values()):
            result = hook(self, args, kwargs) if with_kwargs else hook(self, args)
            if result is not None and with_kwargs:
                args, kwargs = result
            elif result is not None:
                args = result if isinstance(result, tuple) else (result,)
        if hooks["backward"] or hooks["backward_pre"]:
            output = call_with_backward_hooks(self, args, kwargs, hooks)
        else:
            output = self.forward(*args, **kwargs)
        for hook, with_kwargs in list(hooks["post"].values()):
            result = hook(self, args, kwargs, output) if with_kwargs else hook(self, args, output)
            if result is not None:
                output = result
        return output

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False) -> RemovableHandle:
        """Call ``hook(module, args)`` before each forward; a non-None result replaces the inputs.

        With ``with_kwargs=True`` it is ``hook(module, args, kwargs)`` returning ``(args, kwargs)``.
        """
        return self._add_hook("pre", (hook, with_kwargs), prepend)

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after each forward; a non-None result replaces the output.

        Handy to capture feature maps of any layer:

        >>> maps = {}
        >>> handle = model.conv1.register_forward_hook(lambda m, args, out: maps.update(conv1=out))
        >>> model(x); handle.remove()
        """
        return self._add_hook("post", (hook, with_kwargs), prepend)

    def register_full_backward_hook(self, hook, prepend=False) -> RemovableHandle:
        """Call ``hook(module, grad_input, grad_output)`` when the gradients w.r.t. the module's
        positional inputs are known; a non-None result replaces grad_input (tuples, None where an
        input needs no gradient).

        >>> net.fc.register_full_backward_hook(lambda m, gin, gout: print(gout[0].norm()))
        """
        return self._add_hook("backward", hook, prepend)

    register_backward_hook = register_full_backward_hook

    def register_full_backward_pre_hook(self, hook, prepend=False) -> RemovableHandle:
        """Call ``hook(module, grad_output)`` when the gradients w.r.t. the module's outputs are known;
        a non-None result replaces grad_output."""
        return self._add_hook("backward_pre", hook, prepend)

    def _add_hook(self, kind, hook, prepend=False):
        hooks = self.__dict__.setdefault("_forward_hooks", {k: OrderedDict() for k in HOOK_KINDS})
        handle = RemovableHandle(hooks[kind], hook)
        if prepend:
            hooks[kind].move_to_end(handle.id, last=False)
        return handle

    # -- traversal ---------------------------------------------------------------------------
    def named_modules(self, memo=None, prefix="", remove_duplicate=True) -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module and every descendant, depth first in definition order.

        A module shared under two names appears once, unless ``remove_duplicate=False``. This is
        the one walk of the tree: parameters, buffers and ``state_dict`` are all read along it.
        """
        if remove_duplicate:
            memo = set() if memo is None else memo
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, _join(prefix, name), remove_duplicate)

    def modules(self) -> Iterator[Module]:
        """This module and every descendant, each once."""
        for _, module in self.named_modules():
            yield module

    def get_submodule(self, target: str) -> Module:
        """The submodule at a dotted path such as ``'layer1.0.conv1'`` (``''`` is this module)."""
        module = self
        for part in filter(None, target.split(".")):
            child = module._modules.get(part)
            if child is None:
                raise AttributeError(f"{type(module).__name__} has no submodule {part!r} (looking up {target!r})")
            module = child
        return module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, module) for the direct children."""
        for name, module in self._modules.items():
            if module is not None:
                yield name, module

    def children(self) -> Iterator[Module]:
        """The direct child modules."""
        for _, module in self.named_children():
            yield module

    def _named_members(self, store, prefix, recurse, remove_duplicate):
        """(dotted name, tensor) for one registry (``'_parameters'`` or ``'_buffers'``) of the tree."""
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, store).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield _join(module_prefix, name), value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs; a weight shared by two layers appears once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True) -> Iterator[Parameter]:
        """Every learnable parameter (each shared one once), e.g. for an optimiser."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, buffer) pairs: non-learnable state such as running means."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True) -> Iterator[Tensor]:
        """Every buffer of this module tree."""
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
        """Training mode (dropout active, batch statistics in BatchNorm) for this module tree.

        Each child's own ``train`` is called, so a subclass that overrides it (say, to keep a
        frozen BatchNorm in evaluation mode) is honoured inside any model, as in PyTorch.
        """
        self.training = bool(mode)
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: dropout off, running statistics in BatchNorm."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Switch gradient tracking of every parameter on or off (e.g. to freeze a pretrained body)."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient: to ``None`` (default) or to zeros."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = Tensor(p.xp.zeros_like(p.array))

    # -- state -----------------------------------------------------------------------------------
    def state_dict(self, *, prefix="", keep_vars=False) -> OrderedDict:
        """Every parameter and persistent buffer by dotted name, as PyTorch keys them.

        Values are detached tensors sharing storage (the parameters themselves with
        ``keep_vars=True``). A module reachable under two names appears under both, as in
        PyTorch, so a state dict exported from the PyTorch twin has the same keys.
        """
        return OrderedDict((k, t if keep_vars else t.detach()) for k, t in self._state_items(prefix))

    def _state_items(self, prefix=""):
        """(key, tensor) of ``state_dict``: per module its parameters, then its persistent buffers."""
        for module_prefix, module in self.named_modules(prefix=prefix, remove_duplicate=False):
            for name, t in module._parameters.items():
                if t is not None:
                    yield _join(module_prefix, name), t
            for name, t in module._buffers.items():
                if t is not None and name not in module._non_persistent:
                    yield _join(module_prefix, name), t

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Copy values (tensors, NumPy arrays, or anything array-like) into the existing parameters and buffers.

        Values are cast to each parameter's dtype and moved to its device, as PyTorch does; with
        ``assign`` each parameter and buffer takes the given array itself instead (its dtype too, no copy).
        A shape mismatch is always an error; with ``strict`` (default) missing and unexpected
        keys are too, and the ``RuntimeError`` lists them all. Nothing is copied unless every
        check passes. Returns ``IncompatibleKeys(missing_keys, unexpected_keys)``.

        >>> model.load_state_dict({k: v.detach().numpy() for k, v in torch_model.state_dict().items()})
        """
        for prefix, module in self.named_modules(remove_duplicate=False):
            materialize = getattr(module, "_materialize_from_state_dict", None)
            if materialize is not None:  # a lazy layer that has not run yet takes its shapes from the state dict
                materialize(state_dict, f"{prefix}." if prefix else "")
        own = dict(self._state_items())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        arrays = {k: backend.as_array(v) for k, v in state_dict.items() if k in own}
        mismatched = [f"{k}: copying a param with shape {tuple(a.shape)}, the shape in the current model is "
                      f"{own[k].shape}" for k, a in arrays.items() if tuple(a.shape) != own[k].shape]
        problems = [f"missing keys: {missing}"] if strict and missing else []
        problems += [f"unexpected keys: {unexpected}"] if strict and unexpected else []
        problems += ["size mismatch for " + "; ".join(mismatched)] if mismatched else []
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}: " + "; ".join(problems))
        with no_grad():
            for key, array in arrays.items():
                target = own[key]
                if assign:
                    target.array = backend.to_device(array, target.device)
                else:
                    target.array[...] = backend.to_device(array, target.device)  # the assignment casts to its dtype
                target._version += 1
        return IncompatibleKeys(missing, unexpected)

    # -- devices and dtypes ------------------------------------------------------------------------
    def _apply_to_tensors(self, convert) -> Module:
        """Replace every parameter's and buffer's array by ``convert(array)`` (same objects, each once)."""
        for t in chain(self.parameters(), self.buffers()):
            t.array = convert(t.array)
            if t.grad is not None:
                t.grad = Tensor(convert(t.grad.array))
        return self

    def to(self, *args, dtype=None, device=None, non_blocking=False, memory_format=None) -> Module:
        """Move to a device and/or cast floating-point tensors: ``model.to('cuda')``, ``.to(em.float64)``,
        ``.to(tensor)`` (its device and dtype). ``non_blocking`` and ``memory_format`` are accepted."""
        for arg in args:
            if isinstance(arg, str):
                device = arg
            elif isinstance(arg, Tensor):
                device, dtype = arg.device, arg.dtype
            elif not isinstance(arg, bool):  # a bool is the old positional non_blocking
                dtype = arg

        def convert(a):
            if device is not None:
                a = backend.to_device(a, backend.normalize_device(device))
            if dtype is not None and dtypes.is_floating_dtype(a.dtype):
                a = a.astype(dtype)
            return a

        return self._apply_to_tensors(convert)

    def double(self) -> Module:
        """Cast floating-point parameters and buffers to float64 (in place; returns self)."""
        return self.to(np.float64)

    def float(self) -> Module:
        """Cast floating-point parameters and buffers to float32 (in place; returns self)."""
        return self.to(np.float32)

    def half(self) -> Module:
        """Cast floating-point parameters and buffers to float16 (in place; returns self)."""
        return self.to(np.float16)

    def cpu(self) -> Module:
        """Move parameters and buffers to host memory (NumPy)."""
        return self.to("cpu")

    def cuda(self, device=None) -> Module:
        """Move parameters and buffers to the GPU (CuPy)."""
        return self.to("cuda" if device is None else device)

    def share_memory(self) -> Module:
        """Put every parameter and buffer in memory shared with processes forked later (Hogwild training:
        workers started with ``multiprocessing`` update one model); returns self."""
        for t in [*self.parameters(), *self.buffers()]:
            t.share_memory_()
        return self

    # -- printing -----------------------------------------------------------------------------------
    def summary(self, input_shape, dtype=None, device=None, batch_size=None, print_fn=print):
        """Print a per-layer table (output shapes, parameters, receptive fields) from one forward pass.

        ``input_shape`` includes the batch dimension (or pass ``batch_size``); see
        ``ember.nn.summary.summary``. Returns its ``ModelSummary``.

        >>> nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU()).summary((1, 1, 28, 28))
        """
        from ember.nn.summary import summary  # the summary module imports this one

        return summary(self, input_shape, dtype=dtype, device=device, batch_size=batch_size, print_fn=print_fn)

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
        return f"{type(self).__name__}({extra}\n  " + "\n  ".join(lines) + "\n)"

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._modules) | set(self._buffers))


HOOK_KINDS = ("pre", "post", "backward", "backward_pre")


class RemovableHandle:
    """Returned by ``register_forward_hook``: ``handle.remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, store, hook):
        self.store, self.id = store, RemovableHandle._next_id
        RemovableHandle._next_id += 1
        store[self.id] = hook

    def remove(self) -> None:
        """Unregister the hook (calling it twice is harmless)."""
        self.store.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _join(prefix: str, name: str) -> str:
    """The dotted name of ``name`` inside the module called ``prefix`` ('' is the root)."""
    return f"{prefix}.{name}" if prefix else name
