"""Reverse-mode backward over the recorded graph.

Iterative (no recursion limit on long unrolled RNN graphs): one pass counts, for every
function node, how many consumers send it a gradient; a second pass (Kahn's algorithm)
runs a node only once all of them have, so every node sees its complete output
gradient. Gradients accumulate with ``g = g + new`` so no array is aliased, and the
graph is freed after backward unless ``retain_graph=True``.

Tensor hooks (``register_hook``) see a tensor's total gradient: a non-leaf's just before its
creator runs, a leaf's once the pass is over. A tensor without hooks costs one attribute test.

Two passes share this order. ``backward`` is the first-order fast path: every node's
``backward`` works on raw arrays, with no tensor built per gradient. ``run_backward`` serves the
rest (several roots, ``inputs=``, ``autograd.grad``, ``create_graph``); with ``create_graph`` it
calls each node's ``vjp`` instead, the same formula written in ember ops on tensors, so the
backward pass is itself recorded and the gradients can be differentiated again (PyTorch writes
its backward formulas in differentiable ops too; keeping the array path beside it, as Chainer
did, costs the first-order path nothing).
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
    ownership = GradOwnership(grad, owned)
    grads, hooked_leaves = {id(tensor): grad}, {}
    order = _topological_order([tensor.creator])
    with grad_mode.no_grad():
        for fn in order:
            _run_node(fn, grads, ownership, retain_graph, hooked_leaves)
        for x in hooked_leaves.values():  # a leaf's hooks see its total gradient, once
            x._accumulate(apply_hooks(x, grads.pop(id(x))))
    if not retain_graph:
        for fn in order:  # drop the references that keep intermediate activations alive
            fn.inputs = fn.outputs = None


class GradOwnership:
    """Which gradient arrays a leaf may keep as its ``.grad`` without a copy.

    A backward often returns an array it was given: Add hands its ``gy`` to both inputs, a
    reshape returns a view, and the seed gradient may be the caller's own array. Storing such an
    array in two leaves' ``.grad`` (or in one while the caller still holds it) would alias them, so
    a later in-place change of one gradient (``p.grad.mul_(...)``, an optimiser's update) would
    change the other. Copying every gradient would be safe but slow; instead the first leaf to
    receive an array that is not a view and that nobody else holds stores it as is, and every
    array already handed out is copied.
    """

    def __init__(self, seed, owned: bool):
        self.handed = set() if owned else {id(seed)}  # the caller keeps a seed it passed in

    def store(self, leaf, g):
        """Add ``g`` into ``leaf.grad``, keeping the array itself when no one else holds it."""
        leaf._accumulate(g, fresh=g.base is None and id(g) not in self.handed)
        self.handed.add(id(g))


def apply_hooks(tensor, g):
    """Run the tensor's hooks on its gradient ``g``; a hook's non-None result replaces it."""
    from ember.autograd.tensor import Tensor, _wrap

    as_tensor = isinstance(g, Tensor)  # under create_graph the gradient is a tensor with a graph
    for hook in list(tensor._hooks.values()):
        result = hook(g if as_tensor else _wrap(g))
        if result is not None:
            if not as_tensor:
                result = result.array if hasattr(result, "array") else tensor.xp.asarray(result)
            if result.shape != g.shape:
                raise RuntimeError(f"hook: returned a gradient of shape {tuple(result.shape)}, expected "
                                   f"{tuple(g.shape)}")
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


def _topological_order(roots, needed=None):
    """Function nodes ordered so that each runs after every node that consumes its outputs.

    ``needed`` (a predicate on nodes) prunes the branches that lead to no wanted input.
    """
    pending, stack = {}, []
    for root in roots:
        if id(root) not in pending:
            pending[id(root)] = 0
            stack.append(root)
    while stack:  # count the gradient-sending edges into each node
        fn = stack.pop()
        if fn.saved is None:
            raise RuntimeError(
                f"{fn.op_name}: trying to backward through the graph a second time (its saved arrays "
                "were freed by the first backward); pass retain_graph=True to the first backward"
            )
        for x in fn.inputs:
            parent = x.creator
            if parent is not None and (needed is None or needed(parent)):
                if id(parent) not in pending:
                    pending[id(parent)] = 0
                    stack.append(parent)
                pending[id(parent)] += 1
    order, ready = [], [fn for fn in {id(r): r for r in roots}.values() if pending[id(fn)] == 0]
    while ready:
        fn = ready.pop()
        order.append(fn)
        for x in fn.inputs:
            parent = x.creator
            if parent is not None and id(parent) in pending:
                pending[id(parent)] -= 1
                if pending[id(parent)] == 0:
                    ready.append(parent)
    return order


def _run_node(fn, grads, ownership, retain_graph, hooked_leaves):
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
        gys = _fill_missing(fn, gys, False)
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
            raise RuntimeError(f"{fn.op_name}.backward returned grad of shape {gx.shape} for input of shape "
                               f"{data.shape}")
        if gx.dtype is not data.dtype and gx.dtype != data.dtype:
            gx = gx.astype(data.dtype)
        if x.creator is None and not x._hooks:
            ownership.store(x, gx)
        else:  # a non-leaf, or a hooked leaf: sum the contributions first
            if x.creator is None:
                hooked_leaves[id(x)] = x
            previous = grads.get(id(x))
            grads[id(x)] = gx if previous is None else previous + gx


def _fill_missing(fn, gys, as_tensors):
    """Zeros for the outputs of a multi-output node that no gradient reached (None where the node
    asks for it: a custom Function with ``ctx.set_materialize_grads(False)``, a non-tensor output)."""
    from ember.autograd.tensor import _wrap

    if not getattr(fn, "materialize_grads", True):
        return gys
    xp = fn.inputs[0].xp
    filled = []
    for g, meta in zip(gys, fn.output_meta, strict=True):
        if g is None and meta is not None:
            g = _wrap(xp.zeros(*meta)) if as_tensors else xp.zeros(*meta)
        filled.append(g)
    return filled


def _skip(fn, retain_graph):
    """A node no gradient reached (e.g. an unused output branch): free it without running it."""
    if not retain_graph:
        fn.release()


# -- the general pass: several roots, chosen inputs, gradients with a graph -----------------------------
def run_backward(roots, seeds, retain_graph=False, create_graph=False, inputs=None, accumulate=True):
    """Backward from several ``roots`` at once; what ``autograd.grad`` and ``backward(inputs=...)`` run.

    ``seeds`` are the roots' output gradients (None for a one-element root). With ``create_graph``
    the pass runs every node's ``vjp`` (its backward written in ember ops) with recording on, so
    the gradients it returns are tensors with a graph of their own and can be differentiated
    again. ``inputs`` restricts the pass to the branches that reach them; ``accumulate`` adds the
    gradients into ``.grad`` (``backward``), otherwise they are returned in ``inputs``' order
    (``autograd.grad``), None where no gradient reached an input.
    """
    from ember.autograd.tensor import Tensor, _wrap

    grads, tensors = {}, {}  # id -> summed gradient (arrays, or tensors with create_graph); id -> tensor
    for t, g in zip(roots, seeds, strict=True):
        if not t.requires_grad:
            raise RuntimeError("backward: an output does not require grad and has no graph")
        if create_graph and isinstance(g, Tensor):  # a seed with a graph of its own (jvp's double-vjp) stays one
            if tuple(g.shape) != tuple(t.shape):
                raise RuntimeError(f"backward: grad shape {tuple(g.shape)} does not match tensor shape {t.shape}")
            g = g if g.dtype == t.dtype else g.to(t.dtype)
        else:
            g, _ = _initial_grad(t, g)
            g = _wrap(g) if create_graph else g
        tensors[id(t)] = t
        grads[id(t)] = g if id(t) not in grads else grads[id(t)] + g
    wanted = None if inputs is None else {id(x): x for x in inputs}
    needed = None if wanted is None else _reaches(wanted)
    creators = [t.creator for t in roots if t.creator is not None and (needed is None or needed(t.creator))]
    order, captured = _topological_order(creators, needed), {}
    with grad_mode.enable_grad() if create_graph else grad_mode.no_grad():
        for fn in order:
            _run_node_general(fn, grads, tensors, captured, wanted, retain_graph, create_graph, accumulate)
        for key, g in grads.items():  # leaves (and wanted tensors whose creator was pruned)
            x = tensors[key]
            if x._hooks:
                g = apply_hooks(x, g)
            if wanted is not None and key in wanted:
                captured[key] = g
            if accumulate and (wanted is None or key in wanted):
                _store_grad(x, g)
    if not retain_graph:
        for fn in order:
            fn.inputs = fn.outputs = None
    if inputs is None:
        return None
    return [g if g is None or isinstance(g, Tensor) else _wrap(g) for g in (captured.get(id(x)) for x in inputs)]


def _run_node_general(fn, grads, tensors, captured, wanted, retain_graph, create_graph, accumulate):
    """One node of ``run_backward``: its outputs' gradients in, its inputs' gradients summed out."""
    ys = [ref() for ref in fn.outputs]
    gys = [grads.pop(id(y), None) if y is not None else None for y in ys]
    for k, y in enumerate(ys):
        if y is None or gys[k] is None:
            continue
        if y._hooks:
            gys[k] = apply_hooks(y, gys[k])
        if wanted is not None and id(y) in wanted:
            captured[id(y)] = gys[k]
        if accumulate and (y._retains_grad if wanted is None else id(y) in wanted):
            _store_grad(y, gys[k])
    if all(g is None for g in gys):
        return _skip(fn, retain_graph)
    if len(gys) > 1:
        gys = _fill_missing(fn, gys, create_graph)
    if fn._versions:
        fn.check_saved_unchanged()
    gxs = fn.vjp(*gys) if create_graph else fn.backward(*gys)
    if not isinstance(gxs, tuple):
        gxs = (gxs,)
    if grad_mode._state.detect_anomaly:
        _check_finite(fn, [getattr(g, "array", g) for g in gxs], "backward")
    if not retain_graph:
        fn.release()
    for x, gx, needed in zip(fn.inputs, gxs, fn.needs_input_grad, strict=False):
        if gx is None or not needed:
            continue
        if gx.shape != x.shape:
            raise RuntimeError(f"{fn.op_name}.backward returned grad of shape {gx.shape} for input of shape {x.shape}")
        if gx.dtype != x.dtype:
            gx = gx.to(x.dtype) if create_graph else gx.astype(x.dtype)
        tensors[id(x)] = x
        previous = grads.get(id(x))
        grads[id(x)] = gx if previous is None else previous + gx


def _store_grad(x, g):
    """Add ``g`` (an array, or a tensor with a graph under create_graph) into ``x.grad``."""
    from ember.autograd.tensor import Tensor

    if not isinstance(g, Tensor):
        return x._accumulate(g)
    x.grad = g if x.grad is None else x.grad + g


def _reaches(wanted):
    """A memoised predicate: does the node lead (through its inputs) to one of the ``wanted`` tensors?"""
    memo = {}

    def needed(root):
        stack = [root]
        while stack:
            fn = stack[-1]
            if id(fn) in memo:
                stack.pop()
                continue
            if fn.inputs is None:  # freed by an earlier backward: keep it, so the order reports it
                memo[id(stack.pop())] = True
                continue
            parents = [x.creator for x in fn.inputs if x.creator is not None and id(x.creator) not in memo]
            if parents:
                stack.extend(parents)
                continue
            stack.pop()
            memo[id(fn)] = any(id(x) in wanted or (x.creator is not None and memo[id(x.creator)]) for x in fn.inputs)
        return memo[id(root)]

    return needed
