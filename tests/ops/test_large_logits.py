"""Ops that shift by a max (log-softmax, softmax, logsumexp, the losses, attention) at huge logits.

log softmax(x) must be computed as (x − m) − log Σ e^{x−m}: written x − (m + log s), the sum
m + log s rounds to m once |m| dwarfs log s, and four tied logits then give 0 instead of
−log 4, from 1e7 in float32 and 1e17 in float64. Values and gradients are compared with
PyTorch at ±1e4, ±1e7, ±1e17 and ±1e30 in both precisions.
"""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember as em
import ember.nn.functional as F
from torch_parity import Const, assert_close, check_op

SCALES = [1e4, 1e7, 1e17, 1e30, -1e4, -1e7, -1e17, -1e30]
DTYPES = [np.float32, np.float64]


def huge_logits(scale, dtype, rows=3, classes=4):
    """Rows of ``classes`` logits near ``scale``: the first row tied, the others a little apart."""
    step = 1e-3 if dtype == np.float32 else 1e-9  # relative gaps the dtype can still represent
    gaps = np.arange(rows)[:, None] * np.arange(classes)[None, :] * step
    return (scale * (1 + gaps)).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", SCALES)
def test_tied_logits_give_log_of_the_class_count(scale, dtype):
    x = em.tensor(np.full((1, 4), scale, dtype=dtype))
    assert_close(F.log_softmax(x, dim=1), np.full((1, 4), -math.log(4), dtype=dtype))
    loss = F.cross_entropy(x, em.tensor([2]))
    assert loss.item() == pytest.approx(math.log(4), rel=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", SCALES)
def test_log_softmax_and_softmax_match_torch(scale, dtype):
    x = huge_logits(scale, dtype)
    check_op(lambda a: F.log_softmax(a, dim=1), lambda a: TF.log_softmax(a, dim=1), [x])
    check_op(lambda a: F.softmax(a, dim=1), lambda a: TF.softmax(a, dim=1), [x])


CROSS_ENTROPY_CASES = {
    "indices": dict(),
    "label smoothing": dict(label_smoothing=0.1),
    "class weights": dict(weight=Const(np.array([0.5, 2.0, 1.0, 3.0]))),
    "weights and smoothing": dict(weight=Const(np.array([0.5, 2.0, 1.0, 3.0])), label_smoothing=0.2),
    "no reduction": dict(reduction="none", label_smoothing=0.1),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("case", list(CROSS_ENTROPY_CASES))
def test_cross_entropy_matches_torch(case, scale, dtype):
    kwargs = dict(CROSS_ENTROPY_CASES[case])
    weight = kwargs.pop("weight", None)
    weight = None if weight is None else weight.array.astype(dtype)

    def ours(x, t):
        return F.cross_entropy(x, t, weight=None if weight is None else em.tensor(weight), **kwargs)

    def theirs(x, t):
        return TF.cross_entropy(x, t, weight=None if weight is None else torch.from_numpy(weight), **kwargs)

    check_op(ours, theirs, [huge_logits(scale, dtype), np.array([0, 3, 1])], atol=_atol(dtype), rtol=_rtol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", SCALES)
def test_cross_entropy_with_probability_targets_and_nll_match_torch(scale, dtype):
    x = huge_logits(scale, dtype)
    q = np.array([[0.1, 0.2, 0.3, 0.4], [1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]], dtype=dtype)
    check_op(lambda a, b: F.cross_entropy(a, b, label_smoothing=0.05),
             lambda a, b: TF.cross_entropy(a, b, label_smoothing=0.05), [x, Const(q)],
             atol=_atol(dtype), rtol=_rtol(dtype))
    check_op(lambda a, t: F.nll_loss(F.log_softmax(a, 1), t), lambda a, t: TF.nll_loss(TF.log_softmax(a, 1), t),
             [x, np.array([3, 0, 2])], atol=_atol(dtype), rtol=_rtol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", SCALES)
def test_logsumexp_value_matches_torch_and_its_gradient_is_the_softmax(scale, dtype):
    """The gradient is compared with torch.softmax, the exact derivative: torch's own logsumexp
    backward evaluates e^{x − logsumexp(x)}, which at 1e30 gives 1 for each of four tied logits."""
    x = huge_logits(scale, dtype)
    ours = em.tensor(x, requires_grad=True)
    y = em.logsumexp(ours, 1)
    assert_close(y, torch.logsumexp(torch.from_numpy(x), 1))
    upstream = np.random.default_rng(0).standard_normal(3).astype(dtype)
    y.backward(em.tensor(upstream))
    assert_close(ours.grad, upstream[:, None] * torch.softmax(torch.from_numpy(x), 1).numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", SCALES)
def test_binary_cross_entropy_with_logits_matches_torch(scale, dtype):
    x = huge_logits(scale, dtype)
    y = np.random.default_rng(1).random(x.shape).astype(dtype)
    check_op(F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, [x, Const(y)],
             atol=_atol(dtype), rtol=_rtol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", [1e2, -1e2, 1e3, -1e3])
def test_attention_weights_at_huge_scores_match_torch(scale, dtype):
    """Scores of size ``scale``² through the attention softmax. Each key is a signed unit vector,
    so every score is one entry of q times 1/2, exact in either precision (no summation rounding)."""
    rng = np.random.default_rng(2)
    q = (scale * scale * (1 + 1e-3 * rng.standard_normal((2, 3, 4)))).astype(dtype)
    k = (np.sign(scale) * np.eye(4)[[0, 1, 2, 3, 1]])[None].repeat(2, axis=0).astype(dtype)
    v = rng.standard_normal((2, 5, 4)).astype(dtype)
    # torch scales q and k by √scale each, so its scores differ by an ulp of |score| (~5e3 here):
    # a relative 5e3 · 2^-24 ≈ 3e-4 in the float32 weights, however the softmax is computed.
    tolerance = 1e-3 if dtype == np.float32 else 1e-9
    check_op(F.scaled_dot_product_attention, TF.scaled_dot_product_attention, [q, Const(k), v],
             atol=tolerance, rtol=tolerance)


def _atol(dtype):
    return 1e-5 if dtype == np.float32 else 1e-9


def _rtol(dtype):
    return 1e-4 if dtype == np.float32 else 1e-7
