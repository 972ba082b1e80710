"""Containers: ``Sequential``, ``ModuleList``, ``ModuleDict``, ``ParameterList``, ``ParameterDict``,
and the trivial ``Identity``/``Flatten``/``Unflatten``."""
from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Iterable, Mapping

from ember.autograd.tensor import Parameter, Tensor
from ember.nn.module import Module
from ember.ops import flatten


class _ModuleSequence(Module):
    """What ``Sequential`` and ``ModuleList`` share: children named '0', '1', … and reached by
    position like a list (negative indices count from the end, as in PyTorch)."""

    def _name_at(self, index: int) -> str:
        names = list(self._modules)
        if not -len(names) <= index < len(names):
            raise IndexError(f"{type(self).__name__}: index {index} is out of range for {len(names)} modules")
        return names[index]

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self._slice(index)
        return self._modules[self._name_at(index)]

    def __setitem__(self, index: int, module: Module) -> None:
        """Replace the module at ``index`` in place, e.g. a pretrained model's head for transfer learning.

        >>> model[-1] = nn.Linear(32, 5)
        """
        self.add_module(self._name_at(index), module)

    def __delitem__(self, index) -> None:
        names = list(self._modules)[index] if isinstance(index, slice) else [self._name_at(index)]
        for name in names:
            del self._modules[name]
        self._renumber(list(self._modules.values()))

    def _renumber(self, modules) -> None:
        """Register ``modules`` as '0', '1', …: PyTorch renumbers after a deletion or insertion."""
        self._modules.clear()
        for index, module in enumerate(modules):
            self._modules[str(index)] = module

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module: Module):
        """Add ``module`` at the end, named by its position."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        """Append every module of ``modules``."""
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index``; the modules after it are renumbered."""
        self.append(module)  # checks and registers it
        modules = list(self._modules.values())
        modules.insert(index, modules.pop())
        self._renumber(modules)


class Sequential(_ModuleSequence):
    """Modules applied in order; children are named '0', '1', … (or by an OrderedDict).

    >>> model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    >>> model[-1] = nn.Linear(32, 3)   # a new head
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            self.extend(modules)

    def forward(self, x):
        """Apply each module in turn: x → m_1(x) → m_2(·) → …."""
        for module in self._modules.values():
            x = module(x)
        return x

    def _slice(self, index: slice) -> Sequential:
        return Sequential(OrderedDict(list(self._modules.items())[index]))  # the names are kept


class ModuleList(_ModuleSequence):
    """A list of modules whose parameters are registered (named '0', '1', …).

    >>> blocks = nn.ModuleList(nn.Linear(8, 8) for _ in range(3))
    """

    def __init__(self, modules=()):
        super().__init__()
        self.extend(modules)

    def _slice(self, index: slice) -> ModuleList:
        return ModuleList(list(self._modules.values())[index])  # renumbered from '0'


class ModuleDict(Module):
    """A dict of modules whose parameters are registered under their keys, in insertion order.

    >>> heads = nn.ModuleDict({"digit": nn.Linear(32, 10), "parity": nn.Linear(32, 2)})
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def update(self, modules) -> None:
        """Add or replace modules from a mapping or an iterable of (name, module) pairs."""
        for name, module in modules.items() if hasattr(modules, "items") else modules:
            self.add_module(name, module)

    def pop(self, key: str) -> Module:
        """Remove the module under ``key`` and return it."""
        return self._modules.pop(key)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __contains__(self, key):
        return key in self._modules

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        """The child names."""
        return self._modules.keys()

    def values(self):
        """The child modules."""
        return self._modules.values()

    def items(self):
        """(name, module) pairs."""
        return self._modules.items()


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. for a removed head)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        """Return ``x`` unchanged."""
        return x


class Flatten(Module):
    """Flattens dimensions ``start_dim``..``end_dim`` (default: all but the batch)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        """Flatten ``x`` from ``start_dim`` to ``end_dim``."""
        return flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self):
        """The flattened dimension range."""
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expands dimension ``dim`` into ``unflattened_size`` (the inverse of ``Flatten``).

    >>> nn.Unflatten(1, (2, 5, 5))(em.randn(2, 50)).shape
    (2, 2, 5, 5)
    """

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(f"unflattened_size must be a tuple of ints, but found type "
                            f"{type(unflattened_size).__name__}")
        for index, size in enumerate(unflattened_size):
            if not isinstance(size, int):
                raise TypeError(f"unflattened_size must be tuple of ints, but found element of type "
                                f"{type(size).__name__} at pos {index}")
        self.dim, self.unflattened_size = dim, unflattened_size

    def forward(self, x):
        """``x`` with dimension ``dim`` reshaped to ``unflattened_size`` (one entry may be −1)."""
        dim = self.dim % x.ndim
        return x.reshape(*x.shape[:dim], *self.unflattened_size, *x.shape[dim + 1:])

    def extra_repr(self):
        """The expanded dimension and its new sizes."""
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


# -- parameter containers --------------------------------------------------------------------------
def _as_parameter(value):
    """A tensor that is not yet a Parameter becomes one (PyTorch's rule for these containers)."""
    return Parameter(value) if isinstance(value, Tensor) and not isinstance(value, Parameter) else value


def _entry_repr(key, value) -> str:
    """One line of a parameter container's repr, as PyTorch writes it."""
    if not isinstance(value, Tensor):
        return f"  ({key}): Object of type: {type(value).__name__}"
    kind = "Parameter" if isinstance(value, Parameter) else "Tensor"
    device = f" ({value.device})" if value.device != "cpu" else ""
    return f"  ({key}): {kind} containing: [ember.{value.dtype} of size {'x'.join(map(str, value.shape))}{device}]"


class _ParameterContainer(Module):
    """The repr shared by ``ParameterList`` and ``ParameterDict``: one indented line per entry."""

    def __call__(self, *args, **kwargs):
        raise RuntimeError(f"{type(self).__name__} should not be called.")

    def __repr__(self):
        lines = self.extra_repr().split("\n") if len(self) else []
        return f"{type(self).__name__}(" + "".join(f"\n  {line}" for line in lines) + ("\n)" if lines else ")")


class ParameterList(_ParameterContainer):
    """A list of parameters registered under '0', '1', … (tensors are turned into Parameters).

    >>> params = nn.ParameterList([nn.Parameter(em.randn(3, 3)) for _ in range(2)])
    >>> [name for name, _ in params.named_parameters()]
    ['0', '1']
    """

    def __init__(self, values: Iterable | None = None):
        super().__init__()
        self._size = 0
        if values is not None:
            self.extend(values)

    def _name_at(self, index) -> str:
        index = operator.index(index)
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range")
        return str(index % len(self))

    def __getitem__(self, index):
        if isinstance(index, slice):
            return type(self)(self[i] for i in range(*index.indices(len(self))))
        return getattr(self, self._name_at(index))

    def __setitem__(self, index, value) -> None:
        setattr(self, self._name_at(index), _as_parameter(value))

    def __len__(self):
        return self._size

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __iadd__(self, values):
        return self.extend(values)

    def append(self, value) -> ParameterList:
        """Add ``value`` at the end (a tensor becomes a Parameter)."""
        self._size += 1
        self[self._size - 1] = value
        return self

    def extend(self, values) -> ParameterList:
        """Append every entry of the iterable ``values``."""
        if not isinstance(values, Iterable) or isinstance(values, Tensor):
            raise TypeError(f"ParameterList.extend should be called with an iterable, but got {type(values).__name__}")
        for value in values:
            self.append(value)
        return self

    def extra_repr(self) -> str:
        """One line per entry: its kind, dtype and size."""
        return "\n".join(_entry_repr(k, p) for k, p in enumerate(self))


class ParameterDict(_ParameterContainer):
    """A dict of parameters registered under their (string) keys (tensors are turned into Parameters).

    As in PyTorch, a plain dict is added in sorted key order; an OrderedDict, a ParameterDict or
    a sequence of pairs keeps its order.

    >>> heads = nn.ParameterDict({"scale": nn.Parameter(em.ones(3)), "shift": nn.Parameter(em.zeros(3))})
    >>> list(heads.state_dict())
    ['scale', 'shift']
    """

    def __init__(self, parameters=None):
        super().__init__()
        self._keys = {}
        if parameters is not None:
            self.update(parameters)

    @staticmethod
    def _check_key(key) -> str:
        if not isinstance(key, str):
            raise TypeError(f"Index given to ParameterDict cannot be used as a key as it is not a string "
                            f"(type is '{type(key).__name__}').")
        return key

    def __getitem__(self, key):
        return getattr(self, self._check_key(key))

    def __setitem__(self, key, value) -> None:
        self._keys[self._check_key(key)] = None
        setattr(self, key, _as_parameter(value))

    def __delitem__(self, key) -> None:
        del self._keys[key]
        delattr(self, key)

    def __len__(self):
        return len(self._keys)

    def __iter__(self):
        return iter(self._keys)

    def __contains__(self, key):
        return key in self._keys

    def keys(self):
        """The keys, in order."""
        return self._keys.keys()

    def values(self):
        """The entries, in key order."""
        return [self[k] for k in self._keys]

    def items(self):
        """(key, entry) pairs, in order."""
        return [(k, self[k]) for k in self._keys]

    def get(self, key, default=None):
        """The entry under ``key``, or ``default``."""
        return self[key] if key in self else default

    def pop(self, key):
        """Remove the entry under ``key`` and return it."""
        value = self[key]
        del self[key]
        return value

    def setdefault(self, key, default=None):
        """The entry under ``key``, first set to ``default`` when absent."""
        if key not in self:
            self[key] = default
        return self[key]

    def clear(self) -> None:
        """Remove every entry."""
        for key in list(self._keys):
            del self[key]

    def update(self, parameters) -> None:
        """Add or replace entries from a mapping (a plain dict in sorted key order) or (key, value) pairs."""
        if not isinstance(parameters, Iterable):
            raise TypeError(f"ParametersDict.update should be called with an iterable of key/value pairs, but got "
                            f"{type(parameters).__name__}")
        if isinstance(parameters, (OrderedDict, ParameterDict)):
            pairs = parameters.items()
        elif isinstance(parameters, Mapping):
            pairs = sorted(parameters.items())
        else:
            pairs = parameters
        for key, value in pairs:
            self[key] = value

    def extra_repr(self) -> str:
        """One line per entry: its kind, dtype and size."""
        return "\n".join(_entry_repr(k, p) for k, p in self.items())
