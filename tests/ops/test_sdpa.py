"""The fused scaled dot-product attention: equal to its composed twin and to PyTorch, gradcheck, masks, dropout."""
import math

import numpy as np
import pytest
import torch

import ember as em
from ember.autograd.tensor import Tensor
from ember.nn import functional as F
from ember.ops.activation import softmax
from ember.ops.attention import ScaledDotProductAttention, attention, masked_softmax, scaled_dot_product_attention
from ember.ops.linalg import matmul
from ember.testing import gradcheck, gradgradcheck
from torch_parity import Const, assert_close, check_op, check_second_order

RNG = np.random.default_rng(0)

# (query, key, value) shapes: plain batch, batch and heads, L ≠ S, a query broadcast over the batch
SHAPES = {
    "batch": ((2, 3, 4), (2, 5, 4), (2, 5, 6)),
    "heads": ((2, 3, 4, 5), (2, 3, 4, 5), (2, 3, 4, 2)),
    "long_keys": ((2, 2, 3, 4), (2, 2, 7, 4), (2, 2, 7, 3)),
    "long_queries": ((1, 2, 6, 4), (1, 2, 3, 4), (1, 2, 3, 4)),
    "broadcast": ((3, 4), (2, 5, 4), (2, 5, 3)),
}
MASKS = ["none", "bool", "float", "causal", "scale", "bool_per_head", "float_broadcast"]


def _mask(kind, shapes):
    """(extra inputs, kwargs) for one mask kind; bool masks keep at least one key per query."""
    L, S = shapes[0][-2], shapes[1][-2]
    lead = np.broadcast_shapes(shapes[0][:-2], shapes[1][:-2])
    if kind in ("bool", "bool_per_head"):
        mask = RNG.random((lead + (L, S)) if kind == "bool_per_head" else (L, S)) > 0.4
        mask[..., 0] = True
        return [mask], {}
    if kind == "float":
        return [Const(RNG.standard_normal((L, S)))], {}
    if kind == "float_broadcast":
        return [Const(RNG.standard_normal(lead[:1] + (1,) * (len(lead) - 1) + (L, S)))], {}
    return [], {"causal": {"is_causal": True}, "scale": {"scale": 0.3}}.get(kind, {})


def composed_attention(q, k, v, attn_mask=None, is_causal=False, scale=None):
    """The composed twin: matmul, mask, softmax and matmul as separate ops (each with its own backward)."""
    L, S = q.shape[-2], k.shape[-2]
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = matmul(q, k.transpose(-1, -2)) * scale
    if is_causal:
        attn_mask = np.tril(np.ones((L, S), bool))
    if attn_mask is None:
        return matmul(softmax(scores, -1), v)
    if isinstance(attn_mask, Tensor) and attn_mask.dtype != bool:
        return matmul(softmax(scores + attn_mask, -1), v)
    mask = attn_mask.numpy() if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
    if mask.dtype == bool:
        return matmul(masked_softmax(scores, keep=mask), v)
    return matmul(softmax(scores + mask, -1), v)


def _tensor(a, dtype):
    """A float input requiring grad (unless wrapped in ``Const``); a bool mask as is."""
    array = np.asarray(a.array if isinstance(a, Const) else a)
    if array.dtype == bool:
        return Tensor(array)
    return Tensor(array.astype(dtype), requires_grad=not isinstance(a, Const))


def _twins(inputs, kwargs, dtype=np.float64, seed=1):
    """Run the fused op and the composed twin on the same inputs; return their outputs and input gradients."""
    results = []
    for fn in (scaled_dot_product_attention, composed_attention):
        xs = [_tensor(a, dtype) for a in inputs]
        y = fn(*xs, **kwargs)
        y.backward(Tensor(np.random.default_rng(seed).standard_normal(y.shape).astype(dtype)))
        results.append((y.detach().numpy(), [x.grad.numpy() for x in xs if x.requires_grad]))
    return results


@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("shape_id", list(SHAPES))
def test_fused_equals_composed_twin(shape_id, mask_kind):
    shapes = SHAPES[shape_id]
    extra, kwargs = _mask(mask_kind, shapes)
    (y1, g1), (y2, g2) = _twins([RNG.standard_normal(s) for s in shapes] + extra, kwargs)
    np.testing.assert_allclose(y1, y2, rtol=1e-10, atol=1e-12)
    assert len(g1) == len(g2) == 3
    for a, b in zip(g1, g2, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("shape_id", list(SHAPES))
def test_matches_torch(shape_id, mask_kind, dtype):
    shapes = SHAPES[shape_id]
    extra, kwargs = _mask(mask_kind, shapes)
    check_op(lambda *a: F.scaled_dot_product_attention(*a, **kwargs),
             lambda *a: torch.nn.functional.scaled_dot_product_attention(*a, **kwargs),
             [RNG.standard_normal(s) for s in shapes] + extra, dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_learned_float_mask_gets_its_gradient_as_torch(dtype):
    """A float attn_mask that requires grad (a learned positional bias) is differentiated, as in PyTorch."""
    q, k, v = RNG.standard_normal((2, 3, 4, 5)), RNG.standard_normal((2, 3, 6, 5)), RNG.standard_normal((2, 3, 6, 2))
    check_op(F.scaled_dot_product_attention, torch.nn.functional.scaled_dot_product_attention,
             [q, k, v, RNG.standard_normal((3, 4, 6))], dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grouped_query_attention_matches_torch(dtype):
    q, k, v = RNG.standard_normal((2, 6, 4, 3)), RNG.standard_normal((2, 2, 5, 3)), RNG.standard_normal((2, 2, 5, 4))
    check_op(lambda *a: F.scaled_dot_product_attention(*a, is_causal=True, enable_gqa=True),
             lambda *a: torch.nn.functional.scaled_dot_product_attention(*a, is_causal=True, enable_gqa=True),
             [q, k, v], dtype=dtype)


@pytest.mark.parametrize("mask_kind", ["none", "causal", "bool", "float_grad"])
def test_gradcheck(mask_kind):
    q, k, v = (Tensor(RNG.standard_normal(s), requires_grad=True) for s in ((2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 3)))
    inputs, kwargs = [q, k, v], {}
    if mask_kind == "causal":
        kwargs = {"is_causal": True}
    elif mask_kind == "bool":
        mask = RNG.random((3, 5)) > 0.5
        mask[:, 1] = True
        kwargs = {"attn_mask": mask}
    elif mask_kind == "float_grad":
        inputs.append(Tensor(RNG.standard_normal((2, 1, 3, 5)), requires_grad=True))
    assert gradcheck(lambda *a: scaled_dot_product_attention(*a, **kwargs), inputs)


def test_gradcheck_through_the_weights_output():
    """With need_weights the (dropped) weights are a second output; gradients through both paths."""
    q, k, v = (Tensor(RNG.standard_normal(s), requires_grad=True) for s in ((2, 3, 4), (2, 5, 4), (2, 5, 3)))
    excluded = np.zeros((3, 5), bool)
    excluded[0, 2:] = True
    assert gradcheck(lambda *a: attention(*a, excluded=excluded, need_weights=True), [q, k, v])


@pytest.mark.parametrize("mask", ["bool", "float"])
def test_fully_masked_rows_are_zero_as_torch(mask):
    """A query with no key allowed: output 0 and gradient 0, as PyTorch (not NaN)."""
    q, k, v = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 5, 4)), RNG.standard_normal((2, 5, 3))
    keep = RNG.random((3, 5)) > 0.3
    keep[:, 0], keep[1] = True, False
    attn = keep if mask == "bool" else np.where(keep, 0.0, -np.inf)
    out = check_op(F.scaled_dot_product_attention, torch.nn.functional.scaled_dot_product_attention,
                   [q, k, v, Const(attn) if mask == "float" else attn], dtype=np.float64)[0]
    out = out.detach().numpy()
    assert np.all(out[:, 1] == 0) and np.isfinite(out).all()


def test_only_the_weights_are_kept_for_backward():
    """The graph node keeps one (L, S) array per head (P), not the scores or masked copies."""
    q, k, v = (Tensor(RNG.standard_normal(s), requires_grad=True) for s in ((2, 3, 6, 4), (2, 3, 7, 4), (2, 3, 7, 4)))
    y = scaled_dot_product_attention(q, k, v, attn_mask=RNG.random((6, 7)) > 0.2, dropout_p=0.3)
    node = y.creator
    assert isinstance(node, ScaledDotProductAttention)
    square = [a for a in node.saved if a.shape[-2:] == (6, 7)]
    assert len(square) == 1 and node.keep.dtype == bool


def test_dropout_statistics_and_gradient_follow_the_kept_mask():
    """With uniform weights 1/S, each dropped weight is 0 and each kept one (1/S)/(1 − p); the fraction
    dropped is p, the output's mean stays that of the values, and backward uses the same mask."""
    p, S = 0.25, 400
    em.manual_seed(0)
    q, k = Tensor(np.zeros((2, 8, 4))), Tensor(np.zeros((2, S, 4)))
    v = Tensor(np.ones((2, S, 3)), requires_grad=True)
    out, W = attention(q, k, v, dropout_p=p, need_weights=True)
    w = W.detach().numpy()
    assert set(np.unique(w).round(12)) == {0.0, round(1 / S / (1 - p), 12)}
    assert abs((w == 0).mean() - p) < 0.02
    assert abs(out.detach().numpy().mean() - 1.0) < 0.03
    g = RNG.standard_normal(out.shape)
    out.backward(Tensor(g))
    assert_close(v.grad, np.einsum("nls,nle->nse", w, g))  # dV = Wᵀ dO with the dropped W


def test_dropout_gradient_matches_the_composed_twin_with_the_same_mask():
    q, k, v = (Tensor(RNG.standard_normal(s), requires_grad=True) for s in ((2, 4, 3), (2, 6, 3), (2, 6, 5)))
    em.manual_seed(3)
    out = scaled_dot_product_attention(q, k, v, dropout_p=0.4, is_causal=True)
    keep = out.creator.keep
    g = RNG.standard_normal(out.shape)
    out.backward(Tensor(g))
    fused = [t.grad.numpy().copy() for t in (q, k, v)]
    twins = [Tensor(t.detach().numpy(), requires_grad=True) for t in (q, k, v)]
    scores = matmul(twins[0], twins[1].transpose(-1, -2)) * (1 / math.sqrt(3))
    weights = masked_softmax(scores, keep=np.tril(np.ones((4, 6), bool))) * (keep / 0.6)
    composed = matmul(weights, twins[2])
    assert_close(out, composed)
    composed.backward(Tensor(g))
    for a, b in zip(fused, twins, strict=True):
        assert_close(a, b.grad)


def test_dropout_zero_is_deterministic_and_p_one_gives_zeros():
    q, k, v = (Tensor(RNG.standard_normal((2, 3, 4))) for _ in range(3))
    a = scaled_dot_product_attention(q, k, v, dropout_p=0.0)
    assert_close(a, scaled_dot_product_attention(q, k, v))
    assert a.creator is None or a.creator.keep is None
    assert np.all(scaled_dot_product_attention(q, k, v, dropout_p=1.0).numpy() == 0)


# -- second derivatives: the composed twin of the fused op, differentiated ---------------------------
def _torch_sdpa(**kwargs):
    """PyTorch's attention on its math kernel (its CPU flash kernel has no second derivative)."""
    def run(*a):
        with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH):
            return torch.nn.functional.scaled_dot_product_attention(*a, **kwargs)
    return run


@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("shape_id", list(SHAPES))
def test_second_derivatives_match_torch(shape_id, mask_kind):
    shapes = SHAPES[shape_id]
    extra, kwargs = _mask(mask_kind, shapes)
    check_second_order(lambda *a: F.scaled_dot_product_attention(*a, **kwargs), _torch_sdpa(**kwargs),
                       [RNG.standard_normal(s) for s in shapes] + extra)


@pytest.mark.parametrize("mask", ["bool", "float"])
def test_second_derivatives_of_fully_masked_rows_are_zero_as_torch(mask):
    keep = RNG.random((3, 4)) > 0.3
    keep[:, 0], keep[1] = True, False
    attn = keep if mask == "bool" else Const(np.where(keep, 0.0, -np.inf))
    check_second_order(F.scaled_dot_product_attention, _torch_sdpa(),
                       [RNG.standard_normal(s) for s in ((2, 3, 2), (2, 4, 2), (2, 4, 3))] + [attn])


def test_second_derivatives_of_a_learned_bias_and_grouped_heads_match_torch():
    q, k, v = RNG.standard_normal((1, 4, 3, 2)), RNG.standard_normal((1, 2, 4, 2)), RNG.standard_normal((1, 2, 4, 3))
    check_second_order(lambda *a: F.scaled_dot_product_attention(*a, enable_gqa=True),
                       _torch_sdpa(enable_gqa=True), [q, k, v, RNG.standard_normal((4, 3, 4))])


@pytest.mark.parametrize("mask_kind", ["none", "causal", "bool", "float_grad"])
def test_gradgradcheck(mask_kind):
    shapes = ((1, 2, 3, 2), (1, 2, 4, 2), (1, 2, 4, 3))
    inputs, kwargs = [Tensor(RNG.standard_normal(s), requires_grad=True) for s in shapes], {}
    if mask_kind == "causal":
        kwargs = {"is_causal": True}
    elif mask_kind == "bool":
        kwargs = {"attn_mask": RNG.random((3, 4)) > 0.5}
        kwargs["attn_mask"][:, 1] = True
    elif mask_kind == "float_grad":
        inputs.append(Tensor(RNG.standard_normal((2, 3, 4)), requires_grad=True))
    assert gradgradcheck(lambda *a: scaled_dot_product_attention(*a, **kwargs), inputs)


def test_gradgradcheck_through_the_weights_output():
    q, k, v = (Tensor(RNG.standard_normal(s), requires_grad=True) for s in ((2, 3, 2), (2, 4, 2), (2, 4, 3)))
    excluded = np.zeros((3, 4), bool)
    excluded[0, 2:] = True
    assert gradgradcheck(lambda *a: attention(*a, excluded=excluded, need_weights=True), [q, k, v])


def test_dropout_second_derivatives_reuse_the_kept_mask():
    """Seeded, the op draws the same mask on every call; PyTorch's composition gets that mask."""
    shapes = ((2, 3, 2), (2, 4, 2), (2, 4, 3))
    q, k, v = (RNG.standard_normal(s) for s in shapes)

    def ours(*a):
        em.manual_seed(5)
        return scaled_dot_product_attention(*a, dropout_p=0.4, is_causal=True)

    keep = ours(*(Tensor(x, requires_grad=True) for x in (q, k, v))).creator.keep

    def theirs(q, k, v):
        scores = (q @ k.transpose(-1, -2) / math.sqrt(2)).masked_fill(~torch.from_numpy(np.tril(np.ones((3, 4), bool))),
                                                                      -math.inf)
        return (torch.softmax(scores, -1) * torch.from_numpy(keep / 0.6)) @ v

    check_second_order(ours, theirs, [q, k, v])
    assert gradgradcheck(ours, [Tensor(x, requires_grad=True) for x in (q, k, v)])


def test_bad_inputs_raise_clear_errors():
    q, k, v = Tensor(np.ones((2, 3, 4))), Tensor(np.ones((2, 5, 4))), Tensor(np.ones((2, 5, 6)))
    with pytest.raises(ValueError, match=r"query \(2, 3, 4\), key \(2, 5, 3\)"):
        scaled_dot_product_attention(q, Tensor(np.ones((2, 5, 3))), v)
    with pytest.raises(ValueError, match=r"attn_mask of shape \(4, 5\) does not broadcast"):
        scaled_dot_product_attention(q, k, v, attn_mask=np.ones((4, 5), bool))
    with pytest.raises(ValueError, match="not both"):
        scaled_dot_product_attention(q, k, v, attn_mask=np.ones((3, 5), bool), is_causal=True)
    with pytest.raises(ValueError, match="dropout_p"):
        scaled_dot_product_attention(q, k, v, dropout_p=1.5)
    with pytest.raises(ValueError, match=r"query heads \(3\) must be a multiple of the key heads \(2\)"):
        scaled_dot_product_attention(Tensor(np.ones((1, 3, 2, 4))), Tensor(np.ones((1, 2, 2, 4))),
                                     Tensor(np.ones((1, 2, 2, 4))), enable_gqa=True)
