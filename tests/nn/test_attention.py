"""Attention: the course's scores against NumPy formulas, masks, gradients; SDPA and MHA against PyTorch."""
import numpy as np
import pytest
import torch

from ember.autograd.tensor import Tensor
from ember.nn.attention import (
    AdditiveAttention,
    CosineAttention,
    DotProductAttention,
    GeneralAttention,
    MultiheadAttention,
    ScaledDotProductAttention,
)
from ember.ops.attention import (
    additive_score,
    attend,
    cosine_score,
    dot_score,
    general_score,
    scaled_dot_product_attention,
    scaled_dot_score,
)
from ember.testing import gradcheck
from torch_parity import Const, assert_close, check_op, copy_weights, to_torch

RNG = np.random.default_rng(0)
N, T, S, D = 2, 3, 5, 4


def _softmax(e):
    e = np.exp(e - e.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _reference_scores(attn, q, k):
    """The course's formulas, written directly in NumPy."""
    if isinstance(attn, ScaledDotProductAttention):
        return np.einsum("ntd,nsd->nts", q, k) / np.sqrt(q.shape[-1])
    if isinstance(attn, DotProductAttention):
        return np.einsum("ntd,nsd->nts", q, k)
    if isinstance(attn, CosineAttention):
        qn = q / np.linalg.norm(q, axis=-1, keepdims=True)
        kn = k / np.linalg.norm(k, axis=-1, keepdims=True)
        return np.einsum("ntd,nsd->nts", qn, kn)
    if isinstance(attn, GeneralAttention):
        return np.einsum("ntd,de,nse->nts", q, attn.weight.detach().numpy(), k)
    Wq, Wk = attn.query_proj.weight.detach().numpy(), attn.key_proj.weight.detach().numpy()
    v = attn.v.weight.detach().numpy()[0]
    hidden = np.tanh((q @ Wq.T)[:, :, None, :] + (k @ Wk.T)[:, None, :, :])
    return hidden @ v


def _layers(dtype=np.float64, dq=D, dk=D):
    return [DotProductAttention(), ScaledDotProductAttention(), CosineAttention(),
            GeneralAttention(dq, dk, dtype=dtype), AdditiveAttention(dq, dk, 6, dtype=dtype)]


LAYER_IDS = ["dot", "scaled", "cosine", "general", "additive"]


@pytest.mark.parametrize("index", range(5), ids=LAYER_IDS)
def test_scores_weights_and_context_match_numpy(index):
    attn = _layers()[index]
    q, k, v = RNG.standard_normal((N, T, D)), RNG.standard_normal((N, S, D)), RNG.standard_normal((N, S, 7))
    context, weights = attn(Tensor(q), Tensor(k), Tensor(v))
    expected = _softmax(_reference_scores(attn, q, k))
    assert_close(weights, expected)
    assert_close(context, expected @ v)
    assert_close(weights.detach().numpy().sum(-1), np.ones((N, T)))


@pytest.mark.parametrize("index", range(5), ids=LAYER_IDS)
def test_single_step_query_and_value_defaulting_to_key(index):
    attn = _layers()[index]
    q, k = RNG.standard_normal((N, D)), RNG.standard_normal((N, S, D))
    context, weights = attn(Tensor(q), Tensor(k))
    assert context.shape == (N, D) and weights.shape == (N, S)
    expected = _softmax(_reference_scores(attn, q[:, None], k))[:, 0]
    assert_close(weights, expected)
    assert_close(context, np.einsum("ns,nsd->nd", expected, k))


@pytest.mark.parametrize("index", range(5), ids=LAYER_IDS)
def test_masked_keys_get_zero_weight_and_do_not_change_the_context(index):
    attn = _layers()[index]
    q, k, v = RNG.standard_normal((N, T, D)), RNG.standard_normal((N, S, D)), RNG.standard_normal((N, S, 3))
    padding = np.zeros((N, S), bool)
    padding[0, 3:] = padding[1, 4:] = True  # lengths 3 and 4
    causal = np.triu(np.ones((T, S), bool), 1)  # broadcast over the batch
    context, weights = attn(Tensor(q), Tensor(k), Tensor(v), key_padding_mask=Tensor(padding), attn_mask=causal)
    w = weights.detach().numpy()
    excluded = padding[:, None, :] | causal[None]
    assert np.all(w[excluded] == 0)
    assert_close(w.sum(-1), np.ones((N, T)))
    expected = _softmax(np.where(excluded, -np.inf, _reference_scores(attn, q, k)))
    assert_close(w, expected)
    k2, v2 = k.copy(), v.copy()
    k2[padding] += 100 * RNG.standard_normal(k2[padding].shape)
    v2[padding] = 1e6
    context2, _ = attn(Tensor(q), Tensor(k2), Tensor(v2), key_padding_mask=Tensor(padding), attn_mask=causal)
    assert_close(context2, context)


def test_float_mask_is_added_to_the_scores():
    q, k = RNG.standard_normal((N, T, D)), RNG.standard_normal((N, S, D))
    bias = RNG.standard_normal((T, S))
    _, weights = DotProductAttention()(Tensor(q), Tensor(k), attn_mask=bias)
    assert_close(weights, _softmax(np.einsum("ntd,nsd->nts", q, k) + bias))


def test_fully_masked_row_gives_zero_weights_and_context_not_nan():
    q = Tensor(RNG.standard_normal((N, T, D)), requires_grad=True)
    k = Tensor(RNG.standard_normal((N, S, D)), requires_grad=True)
    padding = np.zeros((N, S), bool)
    padding[1] = True  # the second sequence has no real key at all
    context, weights = ScaledDotProductAttention()(q, k, key_padding_mask=padding)
    assert np.all(weights.detach().numpy()[1] == 0) and np.all(context.detach().numpy()[1] == 0)
    assert_close(weights.detach().numpy()[0].sum(-1), np.ones(T))
    context.sum().backward()
    assert np.isfinite(q.grad.numpy()).all() and np.all(q.grad.numpy()[1] == 0)


@pytest.mark.parametrize("mask", [None, "padding"])
@pytest.mark.parametrize("kind", LAYER_IDS)
def test_gradcheck_every_score(kind, mask):
    q, k, v = (Tensor(RNG.standard_normal(s), requires_grad=True) for s in ((N, T, D), (N, S, D), (N, S, 3)))
    W = Tensor(RNG.standard_normal((D, D)), requires_grad=True)
    Wq, Wk = (Tensor(RNG.standard_normal((6, D)), requires_grad=True) for _ in range(2))
    vec = Tensor(RNG.standard_normal(6), requires_grad=True)
    padding = None if mask is None else np.array([[False] * 3 + [True] * 2, [False] * 4 + [True]])
    scores = {"dot": lambda: (dot_score, []), "scaled": lambda: (scaled_dot_score, []),
              "cosine": lambda: (cosine_score, []), "general": lambda: (general_score, [W]),
              "additive": lambda: (additive_score, [Wq, Wk, vec])}
    score, params = scores[kind]()

    def fn(q, k, v, *p):
        return attend(score(q, k, *p), v, key_padding_mask=padding)

    assert gradcheck(fn, [q, k, v, *params])


# -- F.scaled_dot_product_attention ------------------------------------------------------------------
SDPA_SHAPES = [((2, 3, 4), (2, 5, 4), (2, 5, 6)), ((2, 2, 4, 3), (2, 2, 4, 3), (2, 2, 4, 5))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shapes", SDPA_SHAPES)
@pytest.mark.parametrize("mask_kind", ["none", "bool", "float", "causal", "scale"])
def test_sdpa_matches_torch(dtype, shapes, mask_kind):
    q, k, v = (RNG.standard_normal(s) for s in shapes)
    L, S_ = shapes[0][-2], shapes[1][-2]
    kwargs, extra = {}, []
    if mask_kind == "bool":
        mask = RNG.random((L, S_)) > 0.4
        mask[:, 0] = True
        extra = [mask]
    elif mask_kind == "float":
        extra = [Const(RNG.standard_normal((L, S_)))]
    elif mask_kind == "causal":
        kwargs = {"is_causal": True}
    elif mask_kind == "scale":
        kwargs = {"scale": 0.3}
    check_op(lambda *a: scaled_dot_product_attention(*a, **kwargs),
             lambda *a: torch.nn.functional.scaled_dot_product_attention(*a, **kwargs),
             [q, k, v, *extra], dtype=dtype)


def test_sdpa_fully_masked_row_is_zero_as_torch():
    q, k = RNG.standard_normal((1, 2, 3)), RNG.standard_normal((1, 4, 3))
    mask = np.array([[True, False, True, True], [False] * 4])
    check_op(scaled_dot_product_attention, torch.nn.functional.scaled_dot_product_attention,
             [q, k, k.copy(), mask], dtype=np.float64)


def test_sdpa_gradcheck_and_errors():
    q, k, v = (Tensor(RNG.standard_normal((2, 3, 4)), requires_grad=True) for _ in range(3))
    assert gradcheck(lambda q, k, v: scaled_dot_product_attention(q, k, v, is_causal=True), [q, k, v])
    with pytest.raises(ValueError, match="not both"):
        scaled_dot_product_attention(q, k, v, attn_mask=np.ones((3, 3), bool), is_causal=True)


# -- MultiheadAttention ------------------------------------------------------------------------------
def _run_mha(module, inputs, kwargs, framework):
    if framework == "torch":
        tensors = [to_torch(x, requires_grad=True) for x in inputs]
        masks = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    else:
        tensors = [Tensor(x.copy(), requires_grad=True) for x in inputs]
        masks = kwargs
    out, weights = module(*tensors, **masks)
    return tensors, out, weights


def _check_mha(ours, theirs, inputs, **kwargs):
    copy_weights(ours, theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours_in, out, w = _run_mha(ours, inputs, kwargs, "ember")
    theirs_in, tout, tw = _run_mha(theirs, inputs, kwargs, "torch")
    assert_close(out, tout, name="output")
    if tw is None:
        assert w is None
    else:
        assert_close(w, tw, name="weights")
    g = RNG.standard_normal(tout.shape)
    out.backward(Tensor(g.astype(out.dtype)))
    tout.backward(torch.from_numpy(g).to(tout.dtype))
    for name, a, b in zip("qkv", ours_in, theirs_in, strict=True):
        assert_close(a.grad, b.grad, name=f"gradient of {name}")
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, theirs_params[name].grad, name=f"gradient of {name}")


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("masks", ["none", "padding", "bool_attn", "float_attn", "both", "per_head"])
def test_mha_matches_torch(batch_first, need_weights, average, masks):
    E, H, L, S_, B = 8, 2, 3, 5, 2
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(E, H, batch_first=batch_first).double()
    ours = MultiheadAttention(E, H, batch_first=batch_first, dtype=np.float64)
    shape = (lambda n: (B, n, E)) if batch_first else (lambda n: (n, B, E))
    inputs = [RNG.standard_normal(shape(L)), RNG.standard_normal(shape(S_)), RNG.standard_normal(shape(S_))]
    kwargs = {"need_weights": need_weights, "average_attn_weights": average}
    padding = np.array([[False] * 3 + [True] * 2, [False] * 5])
    if masks in ("padding", "both"):
        kwargs["key_padding_mask"] = padding
    if masks in ("bool_attn", "both"):
        kwargs["attn_mask"] = np.triu(np.ones((L, S_), bool), 1)
    if masks == "float_attn":
        kwargs["attn_mask"] = RNG.standard_normal((L, S_))
    if masks == "per_head":
        mask = RNG.random((B * H, L, S_)) > 0.5
        mask[..., 0] = False
        kwargs["attn_mask"] = mask
    _check_mha(ours, theirs, inputs, **kwargs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mha_kdim_vdim_and_no_bias_match_torch(dtype):
    tdtype = getattr(torch, np.dtype(dtype).name)
    theirs = torch.nn.MultiheadAttention(6, 3, kdim=4, vdim=5, batch_first=True).to(tdtype)
    ours = MultiheadAttention(6, 3, kdim=4, vdim=5, batch_first=True, dtype=dtype)
    assert ours.in_proj_weight is None and ours.q_proj_weight.shape == (6, 6)
    inputs = [RNG.standard_normal((2, 3, 6)), RNG.standard_normal((2, 4, 4)), RNG.standard_normal((2, 4, 5))]
    _check_mha(ours, theirs, [x.astype(dtype) for x in inputs], key_padding_mask=np.array([[0, 0, 0, 1]] * 2, bool))
    theirs = torch.nn.MultiheadAttention(6, 2, bias=False).to(tdtype)
    ours = MultiheadAttention(6, 2, bias=False, dtype=dtype)
    _check_mha(ours, theirs, [RNG.standard_normal((3, 2, 6)).astype(dtype) for _ in range(3)])


def test_mha_unbatched_and_is_causal_hint_match_torch():
    theirs = torch.nn.MultiheadAttention(4, 2).double()
    ours = MultiheadAttention(4, 2, dtype=np.float64)
    causal = np.triu(np.ones((3, 3), bool), 1)
    _check_mha(ours, theirs, [RNG.standard_normal((3, 4)) for _ in range(3)], attn_mask=causal, is_causal=True)


def test_mha_init_and_errors():
    mha = MultiheadAttention(64, 8)
    assert mha.in_proj_weight.shape == (192, 64)
    assert np.all(mha.in_proj_bias.detach().numpy() == 0) and np.all(mha.out_proj.bias.detach().numpy() == 0)
    bound = np.sqrt(6 / (64 + 192))  # xavier_uniform_ on the (3E, E) matrix, as PyTorch
    w = mha.in_proj_weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    with pytest.raises(ValueError, match="embed_dim 10 must be a positive multiple of num_heads 3"):
        MultiheadAttention(10, 3)
    with pytest.raises(NotImplementedError, match="add_bias_kv"):
        MultiheadAttention(8, 2, add_bias_kv=True)
    x = Tensor(RNG.standard_normal((3, 2, 8)).astype(np.float32))
    with pytest.raises(ValueError, match="bad input shapes"):
        mha(x, x, x)
    with pytest.raises(ValueError, match="needs attn_mask"):
        MultiheadAttention(8, 2)(x, x, x, is_causal=True)
    with pytest.raises(ValueError, match="attn_mask must be"):
        MultiheadAttention(8, 2)(x, x, x, attn_mask=np.zeros((2, 3), bool))


def test_mha_dropout_changes_weights_only_in_training():
    mha = MultiheadAttention(8, 2, dropout=0.5, batch_first=True)
    x = Tensor(RNG.standard_normal((2, 4, 8)).astype(np.float32))
    mha.eval()
    a, _ = mha(x, x, x)
    b, _ = mha(x, x, x)
    assert_close(a, b)
    mha.train()
    c, _ = mha(x, x, x)
    assert not np.allclose(c.detach().numpy(), a.detach().numpy())


def test_attention_shape_errors():
    with pytest.raises(ValueError, match="DotProductAttention"):
        DotProductAttention()(Tensor(np.ones((2, 3))), Tensor(np.ones((3, 4, 3))))
