"""Containers: ``Sequential``, ``ModuleList``, ``ModuleDict``, and the trivial ``Identity``/``Flatten``."""
from __future__ import annotations

from collections import OrderedDict

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
