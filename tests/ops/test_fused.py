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
