"""Each fused op equals its composition from primitives (values and gradients)."""
import numpy as np
import pytest

import ember as em


def _pair(fused, composed, *shapes, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]
    results = []
    for fn in (fused, composed):
        xs = [em.tensor(a, requires_grad=True) for a in arrays]
        y = fn(*xs)
        y.backward(em.tensor(np.random.default_rng(1).standard_normal(y.shape)))
        results.append((y.detach().numpy(), [x.grad.numpy() for x in xs]))
    (y1, g1), (y2, g2) = results
    np.testing.assert_allclose(y1, y2, rtol=1e-10, atol=1e-12)
    for a, b in zip(g1, g2, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_linear_equals_matmul_plus_bias():
    _pair(em.linear, lambda x, W, b: x @ W.T + b, (2, 5, 3), (4, 3), (4,))


def test_sigmoid_equals_its_formula():
    _pair(em.sigmoid, lambda x: 1 / (1 + (-x).exp()), (3, 4))


def test_softplus_equals_its_formula():
    _pair(em.softplus, lambda x: (1 + x.exp()).log(), (3, 4))


def test_log_softmax_equals_log_of_softmax():
    _pair(lambda x: em.log_softmax(x, 1), lambda x: em.softmax(x, 1).log(), (3, 4, 2))


def test_softmax_equals_exp_over_sum():
    _pair(lambda x: em.softmax(x, -1), lambda x: x.exp() / x.exp().sum(axis=-1, keepdims=True), (3, 4))


def test_logsumexp_equals_log_sum_exp():
    _pair(lambda x: em.logsumexp(x, 1), lambda x: x.exp().sum(axis=1).log(), (3, 4))


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_equals_log_softmax_then_nll(smoothing):
    target = em.tensor([0, 3, 1])
    weight = em.tensor(np.array([1.0, 2.0, 0.5, 1.5]))

    def composed(x):
        logp = em.log_softmax(x, -1)
        w_y = weight[target]
        nll = -(logp * em.one_hot(target, 4)).sum(axis=1) * w_y
        smooth = -(logp * weight).sum(axis=1) / 4
        return ((1 - smoothing) * nll.sum() + smoothing * smooth.sum()) / w_y.sum()

    _pair(lambda x: em.cross_entropy(x, target, weight, label_smoothing=smoothing), composed, (3, 4))


def test_nll_equals_negative_pick():
    target = em.tensor([2, 0])
    _pair(lambda x: em.nll_loss(x, target, reduction="sum"), lambda x: -(x * em.one_hot(target, 3)).sum(), (2, 3))


def test_bce_with_logits_equals_bce_of_sigmoid():
    y = em.tensor(np.array([[0.0, 1.0, 0.3], [1.0, 0.0, 0.7]]))
    _pair(lambda x: em.binary_cross_entropy_with_logits(x, y), lambda x: em.binary_cross_entropy(em.sigmoid(x), y),
          (2, 3))


def test_gelu_tanh_close_to_exact():
    x = em.tensor(np.linspace(-4, 4, 41))
    np.testing.assert_allclose(em.gelu(x, "tanh").numpy(), em.gelu(x).numpy(), atol=1e-3)


# -- each fused Function's own ``composed`` twin (what its second derivatives differentiate) -----------
def _own_twin(fn, *arrays, seed=0):
    """The node's ``composed(*inputs)`` equals its forward, and backpropagates the same gradients."""
    xs = [em.tensor(a, requires_grad=True) if a.dtype.kind == "f" else em.tensor(a) for a in arrays]
    fused = fn(*xs)
    fused = fused if isinstance(fused, tuple) else (fused,)
    twin = fused[0].creator.composed(*fused[0].creator.inputs)
    twin = twin if isinstance(twin, tuple) else (twin,)
    rng = np.random.default_rng(seed)
    ups = [em.tensor(rng.standard_normal(y.shape)) for y in fused]
    wanted = [x for x in xs if x.requires_grad]
    for a, b in zip(fused, twin, strict=True):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)
    for a, b in zip(em.autograd.grad(list(fused), wanted, ups, retain_graph=True),
                    em.autograd.grad(list(twin), wanted, ups), strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-12)


RNG = np.random.default_rng(0)
WEIGHT = np.array([1.0, 2.0, 0.5, 1.5])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("kwargs, target", [
    ({}, np.array([0, 3, 1])),
    ({"weight": em.tensor(WEIGHT), "ignore_index": 1}, np.array([0, 1, 3])),
    ({"label_smoothing": 0.2, "weight": em.tensor(WEIGHT)}, np.array([2, -100, 3])),
    ({"label_smoothing": 0.1}, np.eye(4)[[1, 2, 0]] * 0.7 + 0.075),
])
def test_cross_entropy_twin(kwargs, target, reduction):
    _own_twin(lambda x: em.cross_entropy(x, em.tensor(target), reduction=reduction, **kwargs),
              RNG.standard_normal((3, 4)))


def test_cross_entropy_kdim_and_nll_twins():
    _own_twin(lambda x, t: em.cross_entropy(x, t, label_smoothing=0.3), RNG.standard_normal((2, 4, 3)),
              np.array([[0, 3, 1], [2, 2, 0]]))
    _own_twin(lambda x, t: em.nll_loss(x, t, weight=em.tensor(WEIGHT)), RNG.standard_normal((2, 4, 3)),
              np.array([[0, 3, 1], [2, 2, 0]]))
    _own_twin(lambda x, t: em.cross_entropy(x, t), RNG.standard_normal(4), np.array(2))


@pytest.mark.parametrize("op", [
    lambda x, w, b: em.batch_norm(x, None, None, w, b, training=True),
    lambda x, w, b: em.layer_norm(x, (3, 2), w.reshape(3, 1) * em.ones(3, 2), b.reshape(3, 1) * em.ones(3, 2)),
    lambda x, w, b: em.group_norm(x, 3, w, b),
    lambda x, w, b: em.instance_norm(x, weight=w, bias=b),
])
def test_normalization_twins(op):
    _own_twin(op, RNG.standard_normal((2, 3, 2)), RNG.standard_normal(3), RNG.standard_normal(3))


@pytest.mark.parametrize("kwargs", [{}, {"is_causal": True}, {"attn_mask": RNG.random((3, 4)) > 0.4},
                                    {"dropout_p": 0.3}])
def test_attention_twin(kwargs):
    em.manual_seed(1)
    _own_twin(lambda q, k, v: em.nn.functional.scaled_dot_product_attention(q, k, v, **kwargs),
              RNG.standard_normal((2, 3, 2)), RNG.standard_normal((2, 4, 2)), RNG.standard_normal((2, 4, 3)))


def test_attention_twin_with_weights_bias_and_an_empty_row():
    from ember.ops.attention import attention

    excluded = np.zeros((3, 4), bool)
    excluded[1] = True
    _own_twin(lambda q, k, v, b: attention(q, k, v, excluded=excluded, bias=b, need_weights=True),
              RNG.standard_normal((2, 3, 2)), RNG.standard_normal((2, 4, 2)), RNG.standard_normal((2, 4, 3)),
              RNG.standard_normal((3, 4)))
