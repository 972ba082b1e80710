"""Reverse-mode backward over the recorded graph.

Iterative (no recursion limit on long unrolled RNN graphs): one pass counts, for every
function node, how many consumers send it a gradient; a second pass (Kahn's algorithm)
runs a node only once all of them have, so every node sees its complete output
gradient. Gradients accumulate with ``g = g + new`` so no array is aliased, and the
graph is freed after backward unless ``retain_graph=True``.

Tensor hooks (``register_hook``) see a tensor's total gradient: a non-leaf's just before its
creator runs, a leaf's once the pass is over. A tensor without hooks costs one attribute test.
"""
from __future__ import annotations

from ember.autograd import grad_mode
from ember.autograd.function import _check_finite


def backward(tensor, grad=None, retain_graph=False):
    """Accumulate d(tensor)/d(leaf) into ``leaf.grad`` for every leaf that requires grad."""
    if not tensor.requires_grad:
        raise RuntimeError("backward: the tensor does not require grad and has no graph")
    grad, owned = _initial_grad(tensor, grad)
    if tensor.creator is None:
        if tensor._hooks:
            grad, owned = apply_hooks(tensor, grad), False
        tensor._accumulate(grad, fresh=owned)
        return
    handed = set() if owned else {id(grad)}  # arrays held elsewhere (a .grad, the caller): copy before storing
    grads, hooked_leaves = {id(tensor): grad}, {}
    order = _topological_order(tensor.creator)
    with grad_mode.no_grad():
        for fn in order:
            _run_node(fn, grads, handed, retain_graph, hooked_leaves)
        for x in hooked_leaves.values():  # a leaf's hooks see its total gradient, once
            x._accumulate(apply_hooks(x, grads.pop(id(x))))
    if not retain_graph:
        for fn in order:  # drop the references that keep intermediate activations alive
            fn.inputs = fn.outputs = None


def apply_hooks(tensor, g):
    """Run the tensor's hooks on its gradient ``g``; a hook's non-None result replaces it."""
    from ember.autograd.tensor import _wrap

    for hook in list(tensor._hooks.values()):
        result = hook(_wrap(g))
        if result is not None:
            result = result.array if hasattr(result, "array") else tensor.xp.asarray(result)
            if result.shape != g.shape:
                raise RuntimeError(f"hook: returned a gradient of shape {result.shape}, expected {g.shape}")
            g = result
    return g


def _output_grad(y, g):
    """The gradient of a non-leaf output after its hooks; kept in ``.grad`` if it retains it."""
    if y._hooks:
        g = apply_hooks(y, g)
    if y._retains_grad:
        y._accumulate(g)
    return g


def _initial_grad(tensor, grad):
    """The seed gradient (ones for a scalar) and whether it is a fresh array nobody else holds."""
    if grad is None:
        if tensor.numel() != 1:
            raise RuntimeError(
                f"backward: grad can be implicitly created only for scalar outputs; "
                f"got shape {tensor.shape}, pass grad= of that shape"
            )
        return tensor.xp.ones_like(tensor.array), True
    from ember.autograd.tensor import Tensor

    grad = grad.array if isinstance(grad, Tensor) else tensor.xp.asarray(grad)
    if grad.shape != tensor.shape:
        raise RuntimeError(f"backward: grad shape {grad.shape} does not match tensor shape {tensor.shape}")
    if grad.dtype != tensor.dtype:
        return grad.astype(tensor.dtype), True
    return grad, False


def _topological_order(root):
    """Function nodes ordered so that each runs after every node that consumes its outputs."""
    pending, stack = {id(root): 0}, [root]
    while stack:  # count the gradient-sending edges into each node
        fn = stack.pop()
        if fn.saved is None:
            raise RuntimeError(
                f"{fn.name}: trying to backward through the graph a second time (its saved arrays "
                "were freed by the first backward); pass retain_graph=True to the first backward"
            )
        for x in fn.inputs:
            parent = x.creator
            if parent is not None:
                if id(parent) not in pending:
                    pending[id(parent)] = 0
                    stack.append(parent)
                pending[id(parent)] += 1
    order, ready = [], [root]
    while ready:
        fn = ready.pop()
        order.append(fn)
        for x in fn.inputs:
            parent = x.creator
            if parent is not None:
                pending[id(parent)] -= 1
                if pending[id(parent)] == 0:
                    ready.append(parent)
    return order


def _run_node(fn, grads, handed, retain_graph, hooked_leaves):
    ys = [ref() for ref in fn.outputs]
    gys = [grads.pop(id(y), None) if y is not None else None for y in ys]
    for k, y in enumerate(ys):
        if y is not None and (y._hooks or y._retains_grad) and gys[k] is not None:
            gys[k] = _output_grad(y, gys[k])
    if len(gys) == 1:
        if gys[0] is None:
            return _skip(fn, retain_graph)
    elif all(g is None for g in gys):
        return _skip(fn, retain_graph)
    else:
        xp = fn.inputs[0].xp
        gys = [g if g is not None else xp.zeros(*meta) for g, meta in zip(gys, fn.output_meta, strict=True)]
    if fn._versions:
        fn.check_saved_unchanged()
    gxs = fn.backward(*gys)
    if not isinstance(gxs, tuple):
        gxs = (gxs,)
    if grad_mode._state.detect_anomaly:
        _check_finite(fn, gxs, "backward")
    if not retain_graph:
        fn.release()
    for x, gx, needed in zip(fn.inputs, gxs, fn.needs_input_grad, strict=False):
        if gx is None or not needed:
            continue
        data = x.array
        if gx.shape != data.shape:
            raise RuntimeError(f"{fn.name}.backward returned grad of shape {gx.shape} for input of shape {data.shape}")
        if gx.dtype is not data.dtype and gx.dtype != data.dtype:
            gx = gx.astype(data.dtype)
        if x.creator is None and not x._hooks:
            x._accumulate(gx, fresh=gx.base is None and id(gx) not in handed)
            handed.add(id(gx))
        else:  # a non-leaf, or a hooked leaf: sum the contributions first
            if x.creator is None:
                hooked_leaves[id(x)] = x
            previous = grads.get(id(x))
            grads[id(x)] = gx if previous is None else previous + gx


def _skip(fn, retain_graph):
    """A node no gradient reached (e.g. an unused output branch): free it without running it."""
    if not retain_graph:
        fn.release()
