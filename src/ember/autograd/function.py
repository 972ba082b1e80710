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
    tensor([9.], grad_fn=<Square>)
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
            raise ValueError(f"{self.name}: {err} (input shapes {shapes})") from err
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
    def name(self) -> str:
        return type(self).__name__

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
                    f"{self.name}: a tensor of shape {shape} needed for backward was modified "
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


def _check_same_device(fn, tensors):
    devices = {t.device for t in tensors}
    if len(devices) > 1:
        shapes = ", ".join(f"{tuple(t.shape)} on {t.device}" for t in tensors)
        raise RuntimeError(f"{fn.name}: expected all tensors on one device, got {shapes}")


def _check_finite(fn, arrays, phase):
    for a in arrays:
        if a is None or a.dtype.kind not in "fc":
            continue
        if not bool(backend.get_array_module(a).isfinite(a).all()):
            raise FloatingPointError(f"{fn.name} produced NaN or Inf in its {phase} (shape {a.shape})")


# Tensor wraps the arrays a Function returns; imported last because tensor.py needs this module.
from ember.autograd.tensor import Tensor, _wrap, as_tensor  # noqa: E402
