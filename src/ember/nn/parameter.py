"""PyTorch's ``torch.nn.parameter``: ``Parameter``, where older programs import it from, and ``Buffer``,
PyTorch's marker for state assigned to a module attribute (``self.mask = nn.Buffer(mask)`` registers
it as ``register_buffer`` would)."""
from __future__ import annotations

import numpy as np

from ember.autograd.tensor import Parameter, Tensor

__all__ = ["Buffer", "Parameter"]


class Buffer(Tensor):
    """A tensor that becomes a buffer of the module it is assigned to (saved in ``state_dict`` unless
    ``persistent=False``, moved by ``.to()``, never trained).

    >>> class Masked(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.mask = nn.Buffer(em.ones(3))
    """

    def __init__(self, data=None, *, persistent=True):
        values = data.detach().array if isinstance(data, Tensor) else np.empty(0, np.float32) if data is None else data
        super().__init__(values)
        self.persistent = persistent
