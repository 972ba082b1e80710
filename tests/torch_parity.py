"""Helpers to test an ember op or layer against PyTorch, the test oracle.

They live with the tests, not in the library: ember itself never imports PyTorch.

- ``to_torch(x)`` / ``to_numpy(x)``: move values between ember, PyTorch and NumPy.
- ``assert_close(actual, expected)``: ``allclose`` with tolerances that follow the dtype,
  and a message naming what differs and where.
- ``check_op(ember_fn, torch_fn, inputs)``: run both on the same inputs, compare the
  outputs (values and dtypes), backpropagate one random upstream gradient through both,
  and compare the gradient of every differentiable input.
- ``Const(array)``: marks a floating-point input that must not require grad (a target).

>>> check_op(lambda x, y: x * y, lambda x, y: x * y, [np.ones((3, 4)), np.ones(4)])
"""
from __future__ import annotations

import numpy as np
import torch

from ember.autograd.tensor import Tensor
from ember.backend import to_numpy as _backend_to_numpy

TOLERANCES = {np.dtype(np.float16): (1e-2, 1e-3), np.dtype(np.float32): (1e-4, 1e-5),
              np.dtype(np.float64): (1e-7, 1e-9)}


class Const:
    """An input array passed to both frameworks as data that needs no gradient."""

    def __init__(self, array):
        self.array = np.asarray(array)


def to_numpy(x):
    """A NumPy array from an ember tensor, a PyTorch tensor, an array or a number."""
    if isinstance(x, Tensor):
        return _backend_to_numpy(x.array)
    if type(x).__module__.startswith("torch"):
        return x.detach().cpu().numpy(force=True)  # force: a second derivative may be a ZeroTensor
    return np.asarray(x)


def to_torch(x, requires_grad=False):
    """A PyTorch tensor with the values and dtype of ``x`` (ember tensor or array)."""
    t = torch.from_numpy(np.array(to_numpy(x), copy=True))
    return t.requires_grad_(requires_grad) if requires_grad else t


def assert_close(actual, expected, rtol=None, atol=None, name="value", check_dtype=True):
    """Assert that ``actual`` equals ``expected`` within tolerances chosen from ``expected``'s dtype."""
    a, e = to_numpy(actual), to_numpy(expected)
    if a.shape != e.shape:
        raise AssertionError(f"{name}: shape {a.shape} differs from the expected {e.shape}")
    if check_dtype and a.dtype != e.dtype:
        raise AssertionError(f"{name}: dtype {a.dtype} differs from the expected {e.dtype}")
    default_rtol, default_atol = TOLERANCES.get(e.dtype, (0.0, 0.0))
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=name, equal_nan=True)


def _differentiable(value):
    return isinstance(value, np.ndarray) and value.dtype.kind == "f"


def _as_list(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def make_inputs(inputs, dtype=None):
    """Ember and PyTorch twins of ``inputs``: float arrays become leaves requiring grad.

    ``dtype`` casts the float arrays (``Const`` ones too); other values pass through as is.
    """
    ember_inputs, torch_inputs = [], []
    for value in inputs:
        constant = isinstance(value, Const)
        array = value.array if constant else value
        if isinstance(array, np.ndarray) and dtype is not None and array.dtype.kind == "f":
            array = array.astype(dtype)
        if not isinstance(array, np.ndarray):
            ember_inputs.append(array)
            torch_inputs.append(array)
            continue
        grad = _differentiable(array) and not constant
        ember_inputs.append(Tensor(array.copy(), requires_grad=grad))
        torch_inputs.append(to_torch(array, requires_grad=grad))
    return ember_inputs, torch_inputs


def check_op(ember_fn, torch_fn, inputs, rtol=None, atol=None, dtype=None, backward=True, seed=0):
    """Compare ``ember_fn`` with ``torch_fn`` on the same inputs: outputs, then gradients.

    ``inputs`` holds NumPy arrays (float ones are differentiable unless wrapped in ``Const``)
    and plain values. The backward pass uses a random upstream gradient per float output
    (all-ones would hide transposition bugs). Returns the ember outputs.
    """
    ember_inputs, torch_inputs = make_inputs(inputs, dtype)
    ours, theirs = _as_list(ember_fn(*ember_inputs)), _as_list(torch_fn(*torch_inputs))
    if len(ours) != len(theirs):
        raise AssertionError(f"ember returned {len(ours)} outputs, PyTorch {len(theirs)}")
    for k, (o, t) in enumerate(zip(ours, theirs, strict=True)):
        assert_close(o, t, rtol, atol, name=f"output {k}")
    if backward:
        _check_backward(ours, theirs, ember_inputs, torch_inputs, rtol, atol, seed)
    return ours


def _check_backward(ours, theirs, ember_inputs, torch_inputs, rtol, atol, seed):
    rng = np.random.default_rng(seed)
    pairs = [(o, t) for o, t in zip(ours, theirs, strict=True) if t.requires_grad]
    if not pairs:
        return
    upstream = [rng.standard_normal(t.shape).astype(to_numpy(t).dtype) for _, t in pairs]
    torch.autograd.backward([t for _, t in pairs], [torch.from_numpy(u) for u in upstream])
    for k, ((o, _), u) in enumerate(zip(pairs, upstream, strict=True)):
        if not o.requires_grad:
            raise AssertionError(f"output {k} does not require grad in ember but does in PyTorch")
        o.backward(Tensor(u), retain_graph=k < len(pairs) - 1)
    for k, (e, t) in enumerate(zip(ember_inputs, torch_inputs, strict=True)):
        if isinstance(e, Tensor) and e.requires_grad:
            expected = np.zeros(e.shape, e.dtype) if t.grad is None else t.grad
            actual = np.zeros(e.shape, e.dtype) if e.grad is None else e.grad
            assert_close(actual, expected, rtol, atol, name=f"gradient of input {k}")


def copy_weights(ours, theirs):
    """Load a PyTorch module's state dict (parameters and buffers) into its ember twin ``ours``."""
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def check_module(ours, theirs, data, rtol=None, atol=None, seed=7, copy=True):
    """Compare an ember module with its PyTorch twin on the array ``data``.

    Copies the twin's weights into ``ours`` (unless ``copy`` is False), runs both in their
    current train/eval mode, backpropagates one random upstream gradient, and compares the
    output, the input gradient, every parameter gradient and every buffer afterwards
    (running statistics included). Returns the ember output.
    """
    if copy:
        copy_weights(ours, theirs)
    x = Tensor(np.array(data, copy=True), requires_grad=data.dtype.kind == "f")
    tx = to_torch(data, requires_grad=data.dtype.kind == "f")
    y, ty = ours(x), theirs(tx)
    assert_close(y, ty, rtol, atol, name="output")
    upstream = np.random.default_rng(seed).standard_normal(ty.shape).astype(to_numpy(ty).dtype)
    y.backward(Tensor(upstream))
    ty.backward(torch.from_numpy(upstream))
    if x.requires_grad:
        assert_close(x.grad, tx.grad, rtol, atol, name="input gradient")
    theirs_params = dict(theirs.named_parameters())
    ours_params = dict(ours.named_parameters())
    assert ours_params.keys() == theirs_params.keys(), (sorted(ours_params), sorted(theirs_params))
    for name, p in ours_params.items():
        assert_close(p.grad, theirs_params[name].grad, rtol, atol, name=f"gradient of {name}")
    theirs_buffers = dict(theirs.named_buffers())
    for name, b in ours.named_buffers():
        assert_close(b, theirs_buffers[name], rtol, atol, name=f"buffer {name}", check_dtype=False)
    return y


def check_second_order(ember_fn, torch_fn, inputs, rtol=None, atol=None, seed=3):
    """Compare second derivatives with PyTorch's, in float64.

    With a random upstream gradient u (itself differentiable) the first derivatives
    g = ∂(Σ u ⊙ f)/∂x are taken with ``create_graph=True`` in both frameworks, then a random v
    is backpropagated through them: ∂(Σ v ⊙ g)/∂x (the Hessian-vector product) and ∂(…)/∂u
    (the Jacobian-vector product) must agree. An op whose first derivative does not depend on
    the inputs (a linear op) has zero second derivatives in both.
    """
    rng = np.random.default_rng(seed)
    ember_inputs, torch_inputs = make_inputs(inputs, dtype=np.float64)
    ours, theirs = _as_list(ember_fn(*ember_inputs)), _as_list(torch_fn(*torch_inputs))
    pairs = [(o, t) for o, t in zip(ours, theirs, strict=True) if t.requires_grad]
    e_wanted = [e for e in ember_inputs if isinstance(e, Tensor) and e.requires_grad]
    t_wanted = [t for t in torch_inputs if isinstance(t, torch.Tensor) and t.requires_grad]
    if not pairs or not t_wanted:
        return
    upstream = [rng.standard_normal(t.shape) for _, t in pairs]
    e_up = [Tensor(u, requires_grad=True) for u in upstream]
    t_up = [torch.from_numpy(u).requires_grad_(True) for u in upstream]
    import ember as em

    e_first = em.autograd.grad([o for o, _ in pairs], e_wanted, e_up, create_graph=True, materialize_grads=True)
    t_first = torch.autograd.grad([t for _, t in pairs], t_wanted, t_up, create_graph=True, materialize_grads=True)
    for k, (e, t) in enumerate(zip(e_first, t_first, strict=True)):
        assert_close(e, t, rtol, atol, name=f"first derivative {k}")
    probes = [rng.standard_normal(t.shape) for t in t_first]
    e_terms = [(g * Tensor(v)).sum() for g, v in zip(e_first, probes, strict=True) if g.requires_grad]
    t_terms = [(g * torch.from_numpy(v)).sum() for g, v in zip(t_first, probes, strict=True) if g.requires_grad]
    e_second = _second(em.autograd.grad, e_terms, e_wanted + e_up, lambda x: np.zeros(x.shape))
    t_second = _second(torch.autograd.grad, t_terms, t_wanted + t_up, lambda x: np.zeros(tuple(x.shape)))
    for k, (e, t) in enumerate(zip(e_second, t_second, strict=True)):
        what = f"second derivative w.r.t. input {k}" if k < len(e_wanted) else "second derivative w.r.t. upstream"
        assert_close(e, t, rtol, atol, name=what)


def _second(grad, terms, wrt, zeros):
    """∂(Σ terms)/∂wrt, zeros where nothing depends on an input (both frameworks' conventions)."""
    if not terms:
        return [zeros(x) for x in wrt]
    found = grad(sum(terms[1:], terms[0]), wrt, allow_unused=True)
    return [zeros(x) if g is None else to_numpy(g) for g, x in zip(found, wrt, strict=True)]
