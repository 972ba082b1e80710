"""The ``Function`` base class: one differentiable operation and its node in the graph.

A subclass writes ``forward`` (backend arrays in, backend array or tuple out) and
``backward`` (output gradients in, one gradient or ``None`` per input out). Calling the
instance wraps the arrays in tensors and, when a gradient is wanted, records the node.
"""
from __future__ import annotations

import weakref

from ember import backend
from ember.autograd import grad_mode


class Function:
    """Base of every differentiable op; see ``ember.ops`` for the subclasses.

    >>> class Square(Function):
    ...     def forward(self, x):
    ...         self.save_for_backward(x)
    ...         return x * x
    ...     def backward(self, gy):
    ...         (x,) = self.saved
    ...         return 2 * x * gy
    >>> Square()(em.tensor([3.0], requires_grad=True))
    tensor([9.], grad_fn=<SquareBackward0>)
    """

    _versions = ()

    def __call__(self, *inputs):
        tensors = inputs
        if not all(isinstance(x, Tensor) for x in inputs):
            reference = next((x for x in inputs if isinstance(x, Tensor)), None)
            tensors = tuple(as_tensor(x, like=reference) for x in inputs)
        if backend._cupy is not None:  # with NumPy alone every array is on the CPU
            _check_same_device(self, tensors)
        self.saved = ()
        try:
            outputs = self.forward(*[t.array for t in tensors])
        except ValueError as err:
            shapes = " and ".join(str(tuple(t.shape)) for t in tensors)
            raise ValueError(f"{self.op_name}: {err} (input shapes {shapes})") from err
        single = not isinstance(outputs, tuple)
        outputs = (outputs,) if single else outputs
        if grad_mode._state.detect_anomaly:
            _check_finite(self, outputs, "forward")
        if grad_mode._state.grad_enabled and any(t.requires_grad for t in tensors):
            results = self._record(tensors, outputs)
        else:
            self.saved = ()
            results = tuple(_wrap(y) for y in outputs)
        _share_versions_with_bases(tensors, results)
        return results[0] if single else results

    def _record(self, tensors, outputs):
        """Make this node the creator of the outputs and remember what backward needs."""
        results = tuple(_wrap(y, True, self) for y in outputs)
        self.inputs = tensors
        self.needs_input_grad = tuple(t.requires_grad for t in tensors)
        self.outputs = tuple(weakref.ref(y) for y in results)
        if len(results) > 1:
            self.output_meta = tuple((y.shape, y.dtype) for y in results)
        if self.saved:
            self._versions = self._saved_versions(tensors + results)
        return results

    # -- to override -------------------------------------------------------------------
    def forward(self, *xs):
        raise NotImplementedError

    def backward(self, *gys):
        raise NotImplementedError

    # -- helpers for subclasses ----------------------------------------------------------
    def save_for_backward(self, *arrays):
        """Keep what backward needs; an input or output saved here must not change in place."""
        self.saved = arrays

    @property
    def op_name(self) -> str:
        """The op's name in messages: its class name (``Mul``)."""
        return type(self).__name__

    def name(self) -> str:
        """PyTorch's ``grad_fn.name()``: ``MulBackward0``."""
        return f"{self.op_name}Backward0"

    @property
    def next_functions(self):
        """``((node, 0), ...)`` per input, as PyTorch's ``grad_fn.next_functions``: the input's creator,
        an ``AccumulateGrad`` for a leaf that requires grad, None for a constant."""
        return tuple((_next_node(x), 0) for x in (self.inputs or ()))

    def output(self, k=0):
        """The ``k``-th output tensor (alive while anything downstream uses it) for ``vjp`` formulas
        such as exp's ``gy · y``."""
        y = self.outputs[k]()
        if y is None:
            raise RuntimeError(f"{self.op_name}: output {k} was freed before the gradient's graph was built")
        return y

    # -- gradients of gradients ---------------------------------------------------------
    def vjp(self, *gys):
        """The backward pass written in ember ops on tensors, so that it is itself recorded.

        ``backward(create_graph=True)`` calls this instead of ``backward``: ``gys`` are tensors
        and so are the gradients returned, one per input (None where not needed). First-order
        passes never call it, so they keep the array fast path.

        The default differentiates ``composed`` (the op rebuilt from primitives, which a fused op
        such as softmax-cross-entropy defines as its reference twin) with a graph; an op with
        neither gives gradients that are correct but not differentiable again: backpropagating
        through them raises an error naming the op (PyTorch's ``once_differentiable``).
        """
        if type(self).composed is not Function.composed:
            return vjp_by_composition(self, gys)
        return once_differentiable_vjp(self, gys)

    def composed(self, *xs):
        """This op rebuilt from differentiable primitives (tensors in, tensors out); None if not given."""
        raise NotImplementedError

    def _saved_versions(self, tensors):
        """(counter, version, shape) of each tensor whose memory backward reads: saved as is, or
        through a view (a saved ``x.T`` is ``x``'s memory too)."""
        saved = {id(memory_owner(a)) for a in self.saved if hasattr(a, "shape")}
        return [(t._version_box, t._version_box[0], t.shape) for t in tensors if id(memory_owner(t.array)) in saved]

    def check_saved_unchanged(self):
        """Raise if a tensor saved for backward was modified in place after forward."""
        for box, version, shape in self._versions:
            if box[0] != version:
                raise RuntimeError(
                    f"{self.op_name}: a tensor of shape {shape} needed for backward was modified "
                    f"in place (version {version} -> {box[0]}); clone it before changing it"
                )

    def release(self):
        """Free what backward saved (the graph is used once unless retain_graph=True)."""
        self.saved = None


def memory_owner(a):
    """The array that owns ``a``'s memory: ``a`` itself, or the end of its chain of ``.base`` views."""
    while isinstance(getattr(a, "base", None), type(a)):
        a = a.base
    return a


def _share_versions_with_bases(inputs, outputs):
    """An output that views an input's memory shares that input's version counter.

    As PyTorch's views do: an in-place write through any alias (a slice, a reshape, a
    transpose, their ``detach()``, a view of a view) then bumps the one counter that backward
    checks for every tensor saved from that memory.
    """
    for y in outputs:
        a = y.array
        owner = a if a.base is None else a.base  # NumPy and CuPy point a view of a view at the owner
        for x in inputs:
            if x.array is owner or x.array.base is owner:
                y._version_box = x._version_box
                break


def vjp_by_composition(fn, gys):
    """``fn``'s gradients, recorded: run its composed twin on its inputs and backpropagate ``gys``
    through that with a graph. Costs one extra forward, only on the higher-order path."""
    from ember.autograd.engine import run_backward

    wanted = [x for x, needed in zip(fn.inputs, fn.needs_input_grad, strict=True) if needed]
    with grad_mode.enable_grad():
        outputs = fn.composed(*fn.inputs)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    pairs = [(y, g) for y, g in zip(outputs, gys, strict=True) if g is not None and y.requires_grad]
    found = iter(run_backward([y for y, _ in pairs], [g for _, g in pairs], retain_graph=True, create_graph=True,
                              inputs=wanted, accumulate=False))
    return tuple(next(found) if needed else None for needed in fn.needs_input_grad)


class OnceDifferentiable(Function):
    """Holds gradients computed by an op without a ``vjp``; differentiating them again raises."""

    def __init__(self, op_name, arrays):
        self.source, self.arrays = op_name, arrays

    def forward(self, *xs):
        self.save_for_backward()
        return self.arrays

    def backward(self, *gys):
        raise RuntimeError(
            f"{self.source}: its gradient is not differentiable in ember, so create_graph=True cannot carry a "
            f"second derivative through it (a higher-order gradient reached {self.source}'s backward)"
        )

    def name(self):
        return f"{self.source}BackwardBackward0"


def once_differentiable_vjp(fn, gys):
    """``fn``'s array backward, its results wrapped so that a later backward through them raises."""
    with grad_mode.no_grad():
        gxs = fn.backward(*[g if g is None else g.array for g in gys])
    gxs = gxs if isinstance(gxs, tuple) else (gxs,)
    sources = [t for t in (*gys, *fn.inputs) if t is not None and t.requires_grad]
    present = [g for g in gxs if g is not None]
    if not present:
        return gxs
    if sources and grad_mode._state.grad_enabled:
        wrapped = iter(OnceDifferentiable(fn.op_name, tuple(present))(*sources) if len(present) > 1
                       else [OnceDifferentiable(fn.op_name, present[0])(*sources)])
    else:
        wrapped = iter(_wrap(g) for g in present)
    return tuple(None if g is None else next(wrapped) for g in gxs)


class AccumulateGrad:
    """The node PyTorch shows for a leaf in ``next_functions``: ``variable`` is the leaf."""

    def __init__(self, variable):
        self.variable = variable
        self.next_functions = ()

    def name(self):
        return "torch::autograd::AccumulateGrad"


def _next_node(x):
    if x.creator is not None:
        return x.creator
    return AccumulateGrad(x) if x.requires_grad else None


def _check_same_device(fn, tensors):
    devices = {t.device for t in tensors}
    if len(devices) > 1:
        shapes = ", ".join(f"{tuple(t.shape)} on {t.device}" for t in tensors)
        raise RuntimeError(f"{fn.op_name}: expected all tensors on one device, got {shapes}")


def _check_finite(fn, arrays, phase):
    for a in arrays:
        if a is None or a.dtype.kind not in "fc":
            continue
        if not bool(backend.get_array_module(a).isfinite(a).all()):
            raise FloatingPointError(f"{fn.op_name} produced NaN or Inf in its {phase} (shape {a.shape})")


# Tensor wraps the arrays a Function returns; imported last because tensor.py needs this module.
from ember.autograd.tensor import Tensor, _wrap, as_tensor  # noqa: E402
