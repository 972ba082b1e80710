"""Finite-difference gradient checking.

For a scalar L = Σ(u ⊙ fn(x)) with a random upstream gradient u (all-ones would hide
transposition bugs), compare the analytic dL/dx from backward with the central
difference (L(x + h e_i) − L(x − h e_i)) / 2h, element by element, in float64.
"""
from __future__ import annotations

import numpy as np

from ember.autograd.grad_mode import no_grad
from ember.autograd.tensor import Tensor


def _outputs(fn, inputs):
    out = fn(*inputs)
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _loss(outputs, upstream):
    return sum(float((o.array * u).sum()) for o, u in zip(outputs, upstream, strict=True) if u is not None)


def numerical_grad(fn, inputs, upstream, index, eps):
    """Central-difference gradient of Σ u ⊙ fn(inputs) w.r.t. ``inputs[index]``."""
    x = inputs[index].array
    grad = np.zeros_like(x)
    with no_grad():
        for i in np.ndindex(*x.shape):
            original = x[i]
            x[i] = original + eps
            plus = _loss(_outputs(fn, inputs), upstream)
            x[i] = original - eps
            minus = _loss(_outputs(fn, inputs), upstream)
            x[i] = original
            grad[i] = (plus - minus) / (2 * eps)
    return grad


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0, raise_exception=True):
    """Check ``fn``'s backward against central differences for every float input that requires grad.

    ``inputs`` are tensors (float64 recommended; others are converted) or other values passed
    through unchanged. Returns True, or raises ``AssertionError`` naming the input and the
    worst element.

    >>> x = em.randn(3, 4, dtype=em.float64, requires_grad=True)
    >>> em.autograd.gradcheck(lambda t: (t * t).sum(axis=1), [x])
    True
    """
    inputs = [_as_float64(x) for x in inputs]
    if not any(isinstance(x, Tensor) and x.requires_grad for x in inputs):
        raise ValueError("gradcheck: expects at least one input tensor to require grad, but none has "
                         "requires_grad=True")
    rng = np.random.default_rng(seed)
    outputs = _outputs(fn, inputs)
    upstream = [rng.standard_normal(o.shape) if o.requires_grad else None for o in outputs]
    for x in inputs:
        if isinstance(x, Tensor):
            x.grad = None
    differentiable = [o for o, u in zip(outputs, upstream, strict=True) if u is not None]
    for k, (o, u) in enumerate((o, u) for o, u in zip(outputs, upstream, strict=True) if u is not None):
        o.backward(Tensor(u.astype(o.dtype)), retain_graph=k < len(differentiable) - 1)
    for index, x in enumerate(inputs):
        if not (isinstance(x, Tensor) and x.requires_grad):
            continue
        analytic = np.zeros(x.shape) if x.grad is None else np.asarray(x.grad.array, dtype=np.float64)
        numeric = numerical_grad(fn, inputs, upstream, index, eps)
        if not np.allclose(analytic, numeric, atol=atol, rtol=rtol):
            worst = np.unravel_index(np.argmax(np.abs(analytic - numeric)), x.shape)
            message = (f"gradcheck: input {index} of shape {x.shape}: analytic and numerical gradients differ; "
                       f"worst at {worst}: {analytic[worst]:.6g} vs {numeric[worst]:.6g}")
            if raise_exception:
                raise AssertionError(message)
            return False
    return True


def _as_float64(x):
    if isinstance(x, Tensor) and x.dtype.kind == "f" and x.dtype != np.float64:
        return Tensor(x.array.astype(np.float64), requires_grad=x.requires_grad)
    return x


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0, raise_exception=True):
    """Check ``fn``'s second derivatives: gradcheck of the map (inputs, u) ↦ ∂(Σ u ⊙ fn(inputs))/∂inputs.

    The first derivatives are taken with ``create_graph=True`` and checked against central
    differences of themselves, with respect to the inputs and to the upstream gradient ``u``
    (random unless ``grad_outputs`` is given), so a wrong ``vjp`` of any op ``fn`` uses fails.

    >>> x = em.randn(3, dtype=em.float64, requires_grad=True)
    >>> em.autograd.gradgradcheck(lambda t: t.tanh(), [x])
    True
    """
    from ember.autograd import grad
    from ember.autograd.grad_mode import enable_grad

    inputs = [_as_float64(x) for x in inputs]
    n = len(inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(seed + 1)
        grad_outputs = [Tensor(rng.standard_normal(o.shape), requires_grad=True)
                        for o in _outputs(fn, inputs) if o.requires_grad]

    def first_derivatives(*args):
        xs, us = args[:n], args[n:]
        with enable_grad():
            pairs = [(o, u) for o, u in zip([o for o in _outputs(fn, xs) if o.requires_grad], us, strict=True)]
            wanted = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
            return grad([o for o, _ in pairs], wanted, [u for _, u in pairs], create_graph=True,
                        materialize_grads=True)

    return gradcheck(first_derivatives, [*inputs, *grad_outputs], eps=eps, atol=atol, rtol=rtol, seed=seed,
                     raise_exception=raise_exception)
