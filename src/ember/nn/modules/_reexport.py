"""The one helper of the ``ember.nn.modules`` re-export modules."""
from __future__ import annotations

from ember.nn.module import Module


def layers(source, keep=None) -> dict:
    """The public ``Module`` classes defined in the module ``source`` (not those it imports), by name.

    ``keep(name)`` narrows the choice, for a PyTorch module that holds part of an ember one.
    """
    return {name: value for name, value in vars(source).items()
            if isinstance(value, type) and issubclass(value, Module) and not name.startswith("_")
            and value.__module__ == source.__name__ and (keep is None or keep(name))}
