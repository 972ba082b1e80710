"""Gradient and parameter utilities: gradient clipping, flat parameter vectors, L1/L2 penalties, weight and
spectral normalisation; ``rnn``.

``clip_grad_norm_`` and friends follow ``torch.nn.utils``: they act on the ``.grad`` of each
parameter after ``backward()`` and before the optimiser's ``step()``. ``nn.utils.rnn`` holds
packed sequences (``pack_padded_sequence`` and friends).
"""
from __future__ import annotations

from ember import ops
from ember.autograd.grad_mode import no_grad
from ember.autograd.tensor import Tensor
from ember.backend import get_array_module
from ember.nn.utils import parametrizations, parametrize, rnn, stateless
from ember.nn.utils.weight_norm import remove_spectral_norm, remove_weight_norm, spectral_norm, weight_norm

__all__ = [
    "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm",
    "parameters_to_vector", "vector_to_parameters", "l1_penalty", "l2_penalty", "rnn", "stateless",
    "weight_norm", "remove_weight_norm", "spectral_norm", "remove_spectral_norm", "parametrize", "parametrizations",
]


def _as_list(parameters):
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def _grads(parameters):
    return [p.grad for p in _as_list(parameters) if p.grad is not None]


# -- gradient clipping ----------------------------------------------------------------------------
def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The p-norm of all the tensors together, as if concatenated: (Σ_i ‖t_i‖_p^p)^{1/p}; 'inf' gives max |t|.

    Computed as PyTorch does, as the norm of the per-tensor norms (one BLAS dot each for p = 2).
    Returns a 0-d tensor (0 when the list is empty). ``foreach`` is accepted for compatibility.

    >>> nn.utils.get_total_norm([em.tensor([3.0]), em.tensor([4.0])])
    tensor(5.)
    """
    norm_type = float(norm_type)
    arrays = [t.array for t in _as_list(tensors)]
    if not arrays:
        return Tensor(0.0)
    xp = get_array_module(arrays[0])
    total = _vector_norm(xp, xp.stack([_vector_norm(xp, a, norm_type) for a in arrays]), norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"get_total_norm: the total norm of order {norm_type} is non-finite ({float(total)}); "
                           "pass error_if_nonfinite=False to clip anyway")
    return Tensor(xp.asarray(total, dtype=arrays[0].dtype))


def _vector_norm(xp, a, norm_type):
    """‖a‖_p over all elements (0 for an empty array, whose max would be undefined)."""
    return xp.linalg.norm(a.ravel(), norm_type) if a.size else xp.zeros((), a.dtype)


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale every gradient by min(1, max_norm / (total_norm + 1e−6)), given a precomputed total norm."""
    coef = float(max_norm) / (float(total_norm) + 1e-6)
    if not coef < 1.0:  # nothing to clip (or a NaN norm): leave the gradients untouched
        return
    with no_grad():
        for g in _grads(parameters):
            g.array = g.array * g.dtype.type(coef)  # a new array: a gradient array may be shared by two leaves


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Rescale all gradients together when their global norm exceeds ``max_norm``.

    With g the concatenation of every ``p.grad``: if ‖g‖ > max_norm, each gradient is
    multiplied by max_norm/(‖g‖ + 1e−6), which keeps the direction of the update and caps
    its size — the standard remedy for exploding gradients in RNNs.

    Returns the total norm before clipping, as a 0-d tensor (as PyTorch).

    >>> loss.backward()
    >>> norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    >>> optimizer.step()
    """
    parameters = _as_list(parameters)
    total = get_total_norm(_grads(parameters), norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clip every gradient element to [−clip_value, clip_value], in place.

    >>> nn.utils.clip_grad_value_(model.parameters(), clip_value=0.5)
    """
    clip_value = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            g.array = g.xp.clip(g.array, -clip_value, clip_value)


# -- flat parameter vectors -------------------------------------------------------------------------
def parameters_to_vector(parameters):
    """All parameters flattened and concatenated into one 1-D tensor (differentiable).

    >>> nn.utils.parameters_to_vector(nn.Linear(3, 2).parameters()).shape   # 6 weights + 2 biases
    (8,)
    """
    return ops.concat([ops.reshape(p, (-1,)) for p in parameters], 0)


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-D ``vec`` into ``parameters`` (the inverse of ``parameters_to_vector``)."""
    if not isinstance(vec, Tensor) or vec.ndim != 1:
        raise TypeError(f"vector_to_parameters: expects a 1-D tensor, got {type(vec).__name__} "
                        f"of shape {getattr(vec, 'shape', None)}")
    parameters = list(parameters)
    total = sum(p.numel() for p in parameters)
    if vec.numel() != total:
        raise ValueError(f"vector_to_parameters: vector of length {vec.numel()} does not match "
                         f"{total} parameter values")
    start = 0
    with no_grad():
        for p in parameters:
            p.array = vec.array[start:start + p.numel()].reshape(p.shape).astype(p.dtype)
            p._version += 1
            start += p.numel()


# -- regularisation penalties -------------------------------------------------------------------------
def l2_penalty(parameters):
    """Σ_l ‖W^{[l]}‖²_F, the sum of squares of all the given parameters, as a differentiable scalar.

    The course's L2-regularised cost is J = (1/m) Σ_i L(ŷ_i, y_i) + (λ/2m) Σ_l ‖W^{[l]}‖²_F,
    usually over the weights only (not the biases). Its gradient adds (λ/m)·W to dW, which
    is "weight decay": SGD's ``weight_decay`` = λ/m gives the same update.

    >>> weights = [p for name, p in model.named_parameters() if name.endswith('weight')]
    >>> loss = criterion(model(x), y) + lambd / (2 * m) * nn.utils.l2_penalty(weights)
    """
    terms = [ops.sum(p * p) for p in parameters]
    if not terms:
        raise ValueError("l2_penalty: got no parameters")
    return sum(terms[1:], terms[0])


def l1_penalty(parameters):
    """Σ |w| over all the given parameters, as a differentiable scalar; it drives weights to exactly 0 (sparsity).

    In the course's convention the regularised cost is J = (1/m) Σ_i L(ŷ_i, y_i) + (λ/2m)‖w‖₁
    (some texts use λ/m); its (sub)gradient adds (λ/2m)·sign(w) to dw.

    >>> loss = criterion(model(x), y) + lambd / (2 * m) * nn.utils.l1_penalty(model.parameters())
    """
    terms = [ops.sum(ops.abs(p)) for p in parameters]
    if not terms:
        raise ValueError("l1_penalty: got no parameters")
    return sum(terms[1:], terms[0])
