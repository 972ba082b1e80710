"""The ``Function`` base class: one differentiable operation and its node in the graph.

A subclass writes ``forward`` (backend arrays in, backend array or tuple out) and
``backward`` (output gradients in, one gradient or ``None`` per input out). Calling the
instance wraps the arrays in tensors and, when a gradient is wanted, records the node.
"""
from __future__ import annotations

import weakref

from ember.autograd import grad_mode


class Function:
    """Base of every differentiable op; see ``ember.ops`` for the subclasses."""

    def __call__(self, *inputs):
        from ember.autograd.tensor import Tensor, as_tensor

        reference = next((x for x in inputs if isinstance(x, Tensor)), None)
        tensors = tuple(as_tensor(x, like=reference) for x in inputs)
        _check_same_device(self, tensors)
        self.saved = ()
        try:
            outputs = self.forward(*(t.data for t in tensors))
        except ValueError as err:
            shapes = " and ".join(str(tuple(t.shape)) for t in tensors)
            raise ValueError(f"{self.name}: {err} (input shapes {shapes})") from err
        single = not isinstance(outputs, tuple)
        outputs = (outputs,) if single else outputs
        if grad_mode.is_anomaly_enabled():
            _check_finite(self, outputs, "forward")
        needs = tuple(t.requires_grad for t in tensors)
        record = grad_mode.is_grad_enabled() and any(needs)
        results = tuple(Tensor(y, requires_grad=record) for y in outputs)
        if record:
            self.output_meta = tuple((y.shape, y.dtype) for y in outputs)
            self.inputs = tensors
            self.needs_input_grad = needs
            self.outputs = tuple(weakref.ref(y) for y in results)
            self._versions = self._saved_versions(tensors + results)
            for y in results:
                y.creator = self
        else:
            self.saved = ()
        return results[0] if single else results

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
        saved_ids = {id(a) for a in self.saved}
        return [(weakref.ref(t), t._version) for t in tensors if id(t.data) in saved_ids]

    def check_saved_unchanged(self):
        """Raise if a tensor saved for backward was modified in place after forward."""
        for ref, version in self._versions:
            t = ref()
            if t is not None and t._version != version:
                raise RuntimeError(
                    f"{self.name}: a tensor of shape {t.shape} needed for backward was modified "
                    f"in place (version {version} -> {t._version}); clone it before changing it"
                )

    def release(self):
        """Free what backward saved (the graph is used once unless retain_graph=True)."""
        self.saved = None


def _check_same_device(fn, tensors):
    devices = {t.device for t in tensors}
    if len(devices) > 1:
        shapes = ", ".join(f"{tuple(t.shape)} on {t.device}" for t in tensors)
        raise RuntimeError(f"{fn.name}: expected all tensors on one device, got {shapes}")


def _check_finite(fn, arrays, phase):
    from ember.backend import get_array_module

    for a in arrays:
        if a is None or a.dtype.kind not in "fc":
            continue
        if not bool(get_array_module(a).isfinite(a).all()):
            raise FloatingPointError(f"{fn.name} produced NaN or Inf in its {phase} (shape {a.shape})")
