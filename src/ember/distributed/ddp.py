"""``DistributedDataParallel``: PyTorch's multi-process wrapper, with gradients averaged during backward.

    mpiexec -n 2 python train.py

>>> dist.init_process_group("gloo")
>>> model = DistributedDataParallel(net)                 # rank 0's weights on every rank
>>> loss_fn(model(x_shard), y_shard).backward()          # every grad is now the mean over ranks
>>> opt.step()

The wrapper is a ``Module`` holding the model as ``.module`` (state-dict keys start with
``module.``, as PyTorch's). Construction broadcasts rank 0's parameters and buffers. Each
forward (with gradients on, outside ``no_sync()``) notes which parameters its outputs depend
on, by walking the recorded graph; a hook on each parameter (``Tensor.register_hook``) counts
the gradients backward delivers, and the last of them starts one bucketed all-reduce of every
gradient (``DataParallel.average_gradients``): when ``loss.backward()`` returns, each ``.grad``
holds (1/P) Σ_r g_r. Every rank makes the same single call per backward, whichever
parameters it used, so a parameter some rank did not use cannot make the ranks wait for one
another. With one process the wrapper only calls the module.

``no_sync()`` turns the averaging off for the forwards inside it: their gradients accumulate
locally, and the next synchronised backward averages the accumulated sum (gradient
accumulation over micro-batches). ``broadcast_buffers=True`` copies rank 0's buffers (BatchNorm
statistics) to every rank before each forward, as PyTorch does.

Not supported: a second backward through the same forward averages nothing (retain_graph);
PyTorch's communication hooks, ``join()`` and ``static_graph`` optimisations are absent.
"""
from __future__ import annotations

import contextlib

from ember.autograd import grad_mode
from ember.autograd.tensor import Tensor
from ember.distributed.comm import init_process_group
from ember.distributed.data_parallel import DataParallel, _buckets
from ember.nn.module import Module

__all__ = ["DistributedDataParallel"]


class DistributedDataParallel(Module):
    """Keep ``module`` identical on every rank and average its gradients over the ranks during backward.

    Args:
        module: the model (a ``Module`` with at least one parameter that requires grad).
        device_ids, output_device, dim: PyTorch's device placement, kept as attributes; inputs
            are not moved (the module runs where its parameters are).
        broadcast_buffers: copy rank 0's buffers to every rank at the start of each forward.
        process_group: a ``ProcessGroup`` (default: ``init_process_group()``'s).
        bucket_cap_mb: the largest gradient bucket in MiB (default 25, PyTorch's).
        find_unused_parameters, check_reduction, gradient_as_bucket_view, static_graph,
        init_sync: accepted for compatibility; unused parameters are always handled.

    >>> ddp = DistributedDataParallel(nn.Linear(4, 2))
    >>> list(ddp.state_dict())
    ['module.weight', 'module.bias']
    """

    def __init__(self, module, device_ids=None, output_device=None, dim: int = 0, broadcast_buffers: bool = True,
                 init_sync: bool = True, process_group=None, bucket_cap_mb=None, find_unused_parameters=False,
                 check_reduction=False, gradient_as_bucket_view=False, static_graph=False, **kwargs):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected a Module, got {type(module).__name__}")
        if not any(p.requires_grad for p in module.parameters()):
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter "
                               "that requires a gradient.")
        self.module = module
        self.device_ids = None if device_ids is None else list(device_ids)
        self.output_device, self.dim = output_device, dim
        self.broadcast_buffers, self.find_unused_parameters = broadcast_buffers, find_unused_parameters
        self.static_graph, self.gradient_as_bucket_view = static_graph, gradient_as_bucket_view
        self.process_group = init_process_group() if process_group is None else process_group
        cap = 25.0 if bucket_cap_mb is None else bucket_cap_mb
        self.reducer = DataParallel(module, bucket_cap_mb=cap, group=self.process_group)
        self.require_backward_grad_sync = True
        self._expected, self._ready = None, set()  # parameter ids the armed backward will deliver, and those seen
        self._grad_hook_handles = []
        if self.process_group.world_size > 1:
            self._grad_hook_handles = [p.register_hook(self._make_hook(p)) for p in module.parameters()
                                       if p.requires_grad]

    # -- forward: run the module, then arm the reduction ---------------------------------------
    def forward(self, *inputs, **kwargs):
        """The module's output; when gradients are on (outside ``no_sync``), its backward averages them."""
        if self.process_group.world_size == 1:
            return self.module(*inputs, **kwargs)
        if self.broadcast_buffers:
            self._broadcast_buffers()
        output = self.module(*inputs, **kwargs)
        if grad_mode.is_grad_enabled() and self.require_backward_grad_sync:
            self._arm(output)
        return output

    def _arm(self, output) -> None:
        if self._expected is not None and self._ready:
            missing = len(self._expected) - len(self._ready)
            raise RuntimeError(
                f"DistributedDataParallel: the previous backward delivered gradients to only part of the parameters "
                f"its forward used ({missing} missing), so they were never averaged; call backward on a loss that "
                "depends on every output, or run the extra forwards inside no_sync()")
        wanted = {id(p): p for p in self.module.parameters() if p.requires_grad}
        reached = _parameters_reached(output, wanted)
        if reached:
            self._expected = reached if self._expected is None else self._expected | reached
            self._ready = set()

    def _make_hook(self, p):
        def hook(grad):
            if self._expected is None or id(p) not in self._expected:
                return None  # not armed (no_sync, or a forward without a graph): accumulate locally
            self._ready.add(id(p))
            if len(self._ready) < len(self._expected):
                return None  # accumulated as usual; averaged with the others when the last one arrives
            # The last gradient of this backward: fold it in, then average every .grad in one bucketed all-reduce.
            self._expected, self._ready = None, set()
            p.grad = grad if p.grad is None else Tensor(p.grad.array + grad.array)
            self.reducer.average_gradients()
            averaged, p.grad = p.grad, None  # handed back to backward, which stores it as the .grad
            return averaged

        return hook

    def _broadcast_buffers(self) -> None:
        buffers = [b for b in self.module.buffers() if b is not None]
        group = self.process_group
        for bucket in _buckets(buffers, float("inf")):
            if group.rank == 0:
                bucket.pack()
            group.broadcast(bucket.buffer, 0)
            if group.rank != 0:
                bucket.unpack()

    @contextlib.contextmanager
    def no_sync(self):
        """Within this block, forwards do not arm the gradient averaging: gradients accumulate locally.

        >>> with ddp.no_sync():
        ...     loss_fn(ddp(x1), y1).backward()     # local
        >>> loss_fn(ddp(x2), y2).backward()         # averages the accumulated sum
        """
        previous, self.require_backward_grad_sync = self.require_backward_grad_sync, False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def extra_repr(self) -> str:
        return f"world_size={self.process_group.world_size}"


def _parameters_reached(output, wanted: dict) -> set:
    """Ids of the ``wanted`` parameters that the tensors in ``output`` (nested tuples, lists, dicts) depend on."""
    stack, seen, found = [], set(), set()
    for t in _tensors_in(output):
        if t.creator is None:
            if id(t) in wanted:
                found.add(id(t))
        else:
            stack.append(t.creator)
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        for x in fn.inputs:
            if x.creator is not None:
                stack.append(x.creator)
            elif id(x) in wanted:
                found.add(id(x))
    return found


def _tensors_in(output):
    if isinstance(output, Tensor):
        yield output
    elif isinstance(output, (tuple, list)):
        for item in output:
            yield from _tensors_in(item)
    elif isinstance(output, dict):
        for item in output.values():
            yield from _tensors_in(item)
