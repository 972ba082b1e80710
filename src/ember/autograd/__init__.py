"""Reverse-mode automatic differentiation: ``Tensor``, ``Function``, the engine and grad modes."""
from ember.autograd.function import Function
from ember.autograd.grad_mode import (
    detect_anomaly,
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from ember.autograd.tensor import Parameter, Tensor, as_tensor


def gradcheck(fn, inputs, **kwargs):
    """Compare ``fn``'s analytic gradients with central finite differences (float64).

    See ``ember.testing.gradcheck`` for the options; raises ``AssertionError`` on mismatch.
    """
    from ember.testing.gradcheck import gradcheck as check

    return check(fn, inputs, **kwargs)


def backward(tensors, grad_tensors=None, retain_graph=False):
    """Run backward from several outputs at once (their gradients add up in the leaves)."""
    tensors = tensors if isinstance(tensors, (list, tuple)) else [tensors]
    grads = grad_tensors if isinstance(grad_tensors, (list, tuple)) else [grad_tensors] * len(tensors)
    for t, g in zip(tensors, grads, strict=True):
        t.backward(g, retain_graph=True if retain_graph else t is not tensors[-1])


__all__ = [
    "Function", "Parameter", "Tensor", "as_tensor", "backward", "detect_anomaly", "enable_grad", "gradcheck",
    "inference_mode", "is_grad_enabled", "no_grad", "set_grad_enabled",
]
