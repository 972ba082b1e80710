"""``DataParallel``: PyTorch's single-process multi-GPU wrapper, as a transparent wrapper.

PyTorch's ``DataParallel`` splits each batch across the listed GPUs, runs a replica on each and
gathers the outputs on ``output_device``; with no GPU it simply calls the module. Ember runs
the whole batch on the module's own device, which gives the same outputs and gradients (the
replicas' gradients are summed back into one module in PyTorch too). What a program sees is
kept: the wrapped module is ``.module`` and state-dict keys carry the ``module.`` prefix. For
training over several processes, see ``ember.distributed``.
"""
from __future__ import annotations

from ember.nn.module import Module


class DataParallel(Module):
    """Wraps ``module``: ``forward(*inputs, **kwargs)`` returns ``module(*inputs, **kwargs)``.

    Args:
        module: the module to run.
        device_ids, output_device, dim: PyTorch's arguments, kept as attributes; the batch is
            not split (see the module docstring).

    >>> model = nn.DataParallel(nn.Linear(4, 2))
    >>> list(model.state_dict())
    ['module.weight', 'module.bias']
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel: expected a Module, got {type(module).__name__}")
        self.module = module
        self.device_ids = [] if device_ids is None else list(device_ids)
        self.output_device = output_device if output_device is not None or not self.device_ids else self.device_ids[0]
        self.dim = dim

    def forward(self, *inputs, **kwargs):
        """The wrapped module's output on the whole batch."""
        return self.module(*inputs, **kwargs)


def __getattr__(name):
    # DistributedDataParallel lives with the process groups in ember.distributed, a layer above nn;
    # it is imported on first use, so that importing ember.nn never imports ember.distributed.
    if name == "DistributedDataParallel":
        from ember.distributed.ddp import DistributedDataParallel

        return DistributedDataParallel
    raise AttributeError(f"module 'ember.nn.parallel' has no attribute {name!r}")
