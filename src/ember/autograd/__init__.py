"""Reverse-mode automatic differentiation: ``Tensor``, ``Function``, the engine and grad modes."""
from ember.autograd import engine, functional
from ember.autograd.custom import Function, FunctionCtx, once_differentiable
from ember.autograd.grad_mode import (
    detect_anomaly,
    enable_grad,
    inference_mode,
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    is_grad_enabled,
    no_grad,
    set_detect_anomaly,
    set_grad_enabled,
)
from ember.autograd.gradcheck import gradcheck, gradgradcheck
from ember.autograd.tensor import Parameter, Tensor, Variable, as_tensor


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Run backward from several outputs at once, in one pass (their gradients add up in the leaves).

    >>> em.autograd.backward([y1, y2], [g1, g2])     # same as (y1 * g1 + y2 * g2).sum().backward()
    """
    tensors = _sequence(tensors)
    grads = _sequence(grad_tensors) if grad_tensors is not None else [None] * len(tensors)
    retain_graph = create_graph if retain_graph is None else bool(retain_graph)
    engine.run_backward(tensors, grads, retain_graph, create_graph, None if inputs is None else _sequence(inputs))


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """The gradients of ``outputs`` with respect to ``inputs``, returned rather than added to ``.grad``.

    Σ_k grad_outputs[k] · ∂outputs[k]/∂inputs, one tensor per input. With ``create_graph=True``
    the result has a graph and can be differentiated again (Hessians, gradient penalties).

    >>> x = em.tensor([2.0], requires_grad=True)
    >>> (dx,) = em.autograd.grad(x ** 3, x, create_graph=True)     # 3x² = 12
    >>> em.autograd.grad(dx, x)                                    # 6x = 12
    (tensor([12.]),)
    """
    if is_grads_batched:
        raise NotImplementedError("autograd.grad: is_grads_batched=True is not supported; use em.func.vmap")
    outputs, inputs = _sequence(outputs), _sequence(inputs)
    grads = _sequence(grad_outputs) if grad_outputs is not None else [None] * len(outputs)
    if len(grads) != len(outputs):
        raise RuntimeError(f"grad: got {len(grads)} grad_outputs for {len(outputs)} outputs")
    for k, t in enumerate(outputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: element {k} of outputs does not require grad and does not have a grad_fn")
    for k, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: element {k} of inputs does not require grad (One of the differentiated "
                               "Tensors does not require grad)")
    retain_graph = create_graph if retain_graph is None else bool(retain_graph)
    found = engine.run_backward(outputs, grads, retain_graph, create_graph, inputs, accumulate=False)
    result = []
    for k, (x, g) in enumerate(zip(inputs, found, strict=True)):
        if g is None and materialize_grads:
            g = x.new_zeros(x.shape)
        elif g is None and not allow_unused:
            raise RuntimeError(f"grad: input {k} of shape {tuple(x.shape)} was not used in the graph of the "
                               "outputs (One of the differentiated Tensors appears to not have been used in the "
                               "graph); set allow_unused=True if this is the desired behavior")
        result.append(g)
    return tuple(result)


def _sequence(x):
    return [x] if isinstance(x, Tensor) or x is None else list(x)


__all__ = [
    "Function", "FunctionCtx", "Parameter", "Tensor", "as_tensor", "backward", "detect_anomaly", "enable_grad",
    "functional", "grad", "gradcheck", "gradgradcheck", "inference_mode", "is_anomaly_check_nan_enabled",
    "is_anomaly_enabled", "is_grad_enabled", "no_grad", "once_differentiable", "set_detect_anomaly",
    "set_grad_enabled", "Variable",
]
