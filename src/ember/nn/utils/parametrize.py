"""Parametrizations (PyTorch's ``torch.nn.utils.parametrize``): a tensor of a module computed, on every
access, by a small module from the parameters that are actually trained.

``register_parametrization(module, "weight", P())`` moves ``module.weight`` into
``module.parametrizations.weight.original`` (or ``original0``, ``original1``, ... when ``P`` has a
``right_inverse`` returning several tensors) and makes ``module.weight`` a property that returns
``P()(original)``. As in PyTorch, the module's class becomes a subclass named ``Parametrized<Class>``
holding that property, and the state dict keys are ``parametrizations.weight.original*``.
"""
from __future__ import annotations

from ember.autograd.grad_mode import no_grad
from ember.autograd.tensor import Parameter, Tensor
from ember.nn.containers import ModuleDict, ModuleList

__all__ = ["ParametrizationList", "cached", "is_parametrized", "register_parametrization", "remove_parametrizations"]


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order to its ``original`` tensor(s)."""

    def __init__(self, modules, original, unsafe=False):
        super().__init__(modules)
        self.unsafe = unsafe
        with no_grad():
            new = modules[0].right_inverse(original) if hasattr(modules[0], "right_inverse") else original
        self.is_tensor = isinstance(new, Tensor)
        for i, value in enumerate([new] if self.is_tensor else list(new)):
            name = "original" if self.is_tensor else f"original{i}"
            array = value.detach().array if isinstance(value, Tensor) else value
            self.register_parameter(name, Parameter(Tensor(array), requires_grad=original.requires_grad))
        self.ntensors = 1 if self.is_tensor else len(new)

    def forward(self):
        if self.is_tensor:
            x = self[0](self.original)
        else:
            x = self[0](*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        for module in list(self)[1:]:
            x = module(x)
        return x


def _parametrized_property(name):
    return property(lambda module: module.parametrizations[name](),
                    doc=f"``{name}``, computed by its parametrizations.")


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    """Compute ``module.<tensor_name>`` as ``parametrization(original)`` from now on (a second registration
    on the same tensor chains after the first). Returns the module.

    >>> class Symmetric(nn.Module):
    ...     def forward(self, X):
    ...         return X.triu() + X.triu(1).mT
    >>> layer = register_parametrization(nn.Linear(3, 3), "weight", Symmetric())
    """
    if is_parametrized(module, tensor_name):
        module.parametrizations[tensor_name].append(parametrization)
        return module
    original = getattr(module, tensor_name)
    if not isinstance(original, Tensor):
        raise ValueError(f"register_parametrization: module has no tensor {tensor_name!r} to parametrize")
    if not is_parametrized(module):
        cls = type(module)
        module.__class__ = type(f"Parametrized{cls.__name__}", (cls,), {"_parametrized_base": cls})
        module.parametrizations = ModuleDict()
    delattr(module, tensor_name)
    module.parametrizations[tensor_name] = ParametrizationList([parametrization], original, unsafe=unsafe)
    setattr(type(module), tensor_name, _parametrized_property(tensor_name))
    return module


def is_parametrized(module, tensor_name=None) -> bool:
    """Whether the module (or its tensor ``tensor_name``) has parametrizations."""
    parametrizations = module.__dict__.get("_modules", {}).get("parametrizations")
    if parametrizations is None:
        return False
    return tensor_name is None or tensor_name in parametrizations


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    """Undo ``register_parametrization``: ``<tensor_name>`` becomes a plain parameter again, holding its
    current parametrized value (``leave_parametrized``) or its original. Returns the module."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {type(module).__name__} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    with no_grad():
        if leave_parametrized:
            value = getattr(module, tensor_name)
        elif plist.is_tensor:
            value = plist.original
        else:
            raise ValueError("remove_parametrizations: cannot leave unparametrized a tensor parametrized by several")
    trained = (plist.original if plist.is_tensor else plist.original0).requires_grad
    delattr(type(module), tensor_name)
    del module.parametrizations[tensor_name]
    module.register_parameter(tensor_name, Parameter(Tensor(value.detach().array), requires_grad=trained))
    if len(module.parametrizations) == 0:
        delattr(module, "parametrizations")
        module.__class__ = module._parametrized_base
    return module


class cached:  # noqa: N801 - PyTorch's name
    """PyTorch's context that caches parametrized tensors within it; ember recomputes them (same values)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
