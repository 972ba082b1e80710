"""Reverse-mode backward over the recorded graph.

Iterative (no recursion limit on long unrolled RNN graphs): one depth-first pass
orders the function nodes topologically, then gradients flow from the output back
to the leaves. Gradients accumulate with ``g = g + new`` so no array is aliased.
"""
from __future__ import annotations

from ember.autograd import grad_mode
from ember.autograd.function import _check_finite


def backward(tensor, grad=None, retain_graph=False):
    """Accumulate d(tensor)/d(leaf) into ``leaf.grad`` for every leaf that requires grad."""
    if not tensor.requires_grad:
        raise RuntimeError("backward: the tensor does not require grad and has no graph")
    xp = tensor.xp
    if grad is None:
        if tensor.numel() != 1:
            raise RuntimeError(
                f"backward: grad can be implicitly created only for scalar outputs; "
                f"got shape {tensor.shape}, pass grad= of that shape"
            )
        grad = xp.ones_like(tensor.data)
    else:
        grad = _as_array(grad, xp)
        if grad.shape != tensor.shape:
            raise RuntimeError(f"backward: grad shape {grad.shape} does not match tensor shape {tensor.shape}")
    if tensor.creator is None:
        tensor._accumulate(grad)
        return
    grads = {id(tensor): grad}
    with grad_mode.no_grad():
        for fn in _topological_order(tensor.creator):
            _run_node(fn, grads, retain_graph)


def _as_array(grad, xp):
    from ember.autograd.tensor import Tensor

    return grad.data if isinstance(grad, Tensor) else xp.asarray(grad)


def _topological_order(root):
    """Function nodes so that each comes before every node that produced its inputs."""
    order, visited, stack = [], {id(root)}, [(root, False)]
    while stack:
        fn, expanded = stack.pop()
        if expanded:
            order.append(fn)
            continue
        stack.append((fn, True))
        if fn.saved is None:
            raise RuntimeError(
                f"{fn.name}: trying to backward through the graph a second time; "
                "pass retain_graph=True to the first backward"
            )
        for x in fn.inputs:
            parent = x.creator
            if parent is not None and id(parent) not in visited:
                visited.add(id(parent))
                stack.append((parent, False))
    return order[::-1]


def _run_node(fn, grads, retain_graph):
    gys = []
    for ref in fn.outputs:
        y = ref()
        gys.append(None if y is None else grads.pop(id(y), None))
    if all(g is None for g in gys):
        return
    xp = fn.inputs[0].xp
    gys = [g if g is not None else xp.zeros(*meta) for g, meta in zip(gys, fn.output_meta)]
    fn.check_saved_unchanged()
    gxs = fn.backward(*gys)
    if not isinstance(gxs, tuple):
        gxs = (gxs,)
    if grad_mode.is_anomaly_enabled():
        _check_finite(fn, gxs, "backward")
    if not retain_graph:
        fn.release()
    for x, gx, needed in zip(fn.inputs, gxs, fn.needs_input_grad):
        if gx is None or not needed:
            continue
        if gx.shape != x.shape:
            raise RuntimeError(f"{fn.name}.backward returned grad of shape {gx.shape} for input of shape {x.shape}")
        if gx.dtype != x.dtype:
            gx = gx.astype(x.dtype)
        if x.creator is None or x._retains_grad:
            x._accumulate(gx)
        if x.creator is not None:
            previous = grads.get(id(x))
            grads[id(x)] = gx if previous is None else previous + gx
