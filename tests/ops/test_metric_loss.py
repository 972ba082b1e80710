"""Metric-learning ops: pairwise distances, triplet and contrastive losses against PyTorch and the formulas."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember as em
from ember.nn.loss import ContrastiveLoss, TripletMarginLoss
from ember.ops.metric_loss import (
    contrastive_loss,
    normalize,
    pairwise_distance,
    pairwise_distances,
    triplet_margin_loss,
)
from ember.testing import gradcheck, gradgradcheck
from torch_parity import Const, assert_close, check_op, check_second_order, make_inputs


def _triplet(n=6, d=5, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((n, d)) for _ in range(3)]


# -- pairwise distance -------------------------------------------------------------------------
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("keepdim", [False, True])
def test_pairwise_distance_matches_torch(p, keepdim):
    x1, x2, _ = _triplet()
    check_op(lambda a, b: pairwise_distance(a, b, p=p, keepdim=keepdim),
             lambda a, b: TF.pairwise_distance(a, b, p=p, keepdim=keepdim), [x1, x2])


def test_pairwise_distance_broadcasts_and_runs_in_float32():
    x1, x2, _ = _triplet()
    out = check_op(lambda a, b: pairwise_distance(a, b), lambda a, b: TF.pairwise_distance(a, b),
                   [x1.astype(np.float32), x2[0].astype(np.float32)])
    assert out[0].dtype == np.float32 and out[0].shape == (6,)


def test_pairwise_distance_gradcheck():
    x1, x2, _ = _triplet()
    for p in (2.0, 3.0):
        assert gradcheck(lambda a, b, p=p: pairwise_distance(a, b, p=p),
                         [em.tensor(x1, requires_grad=True), em.tensor(x2, requires_grad=True)])


@pytest.mark.parametrize("squared", [False, True])
def test_pairwise_distances_equals_loop_reference(squared):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((4, 3))
    for other in (None, y):
        ref_y = x if other is None else other
        ref = np.array([[np.sum((xi - yj) ** 2) for yj in ref_y] for xi in x])
        ref = ref if squared else np.sqrt(ref)
        got = pairwise_distances(em.tensor(x), None if other is None else em.tensor(other), squared=squared)
        assert_close(got, ref)
    assert np.all(np.diag(pairwise_distances(em.tensor(x.astype(np.float32))).numpy()) == 0)


def test_pairwise_distances_matches_torch_cdist_with_gradients():
    rng = np.random.default_rng(2)
    check_op(lambda a, b: pairwise_distances(a, b), lambda a, b: torch.cdist(a, b),
             [rng.standard_normal((5, 3)), rng.standard_normal((4, 3))])


def test_pairwise_distances_gradient_at_zero_distance_is_zero_as_torch_cdist():
    x = np.array([[1.0, 2.0], [1.0, 2.0], [0.0, -1.0]])  # rows 0 and 1 coincide
    out = check_op(lambda a: pairwise_distances(a), lambda a: torch.cdist(a, a), [x])
    assert out[0].detach().numpy()[0, 1] == 0


def test_pairwise_distances_gradcheck():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((3, 3))
    for squared in (False, True):
        assert gradcheck(lambda a, b, s=squared: pairwise_distances(a, b, squared=s),
                         [em.tensor(x, requires_grad=True), em.tensor(y, requires_grad=True)])
        assert gradcheck(lambda a, s=squared: pairwise_distances(a, squared=s), [em.tensor(x, requires_grad=True)])


def test_pairwise_distances_rejects_bad_shapes():
    with pytest.raises(ValueError, match="pairwise_distances.*\\(4, 3\\).*\\(4, 2\\)"):
        pairwise_distances(em.randn(4, 3), em.randn(4, 2))


@pytest.mark.parametrize(("p", "dim"), [(2.0, 1), (1.0, 0), (3.0, -1), (math.inf, 1)])
def test_normalize_matches_torch(p, dim):
    x = np.random.default_rng(4).standard_normal((4, 3, 2))
    check_op(lambda t: normalize(t, p=p, dim=dim), lambda t: TF.normalize(t, p=p, dim=dim), [x])


def test_normalize_clamps_zero_vectors_and_gradchecks():
    x = np.array([[0.0, 0.0], [3.0, 4.0]])
    check_op(normalize, TF.normalize, [x])
    assert gradcheck(normalize, [em.tensor(np.random.default_rng(5).standard_normal((3, 4)), requires_grad=True)])


# -- triplet margin loss ----------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("p", [2.0, 1.0])
def test_triplet_margin_loss_matches_torch(reduction, swap, p):
    check_op(lambda a, b, c: triplet_margin_loss(a, b, c, margin=0.7, p=p, swap=swap, reduction=reduction),
             lambda a, b, c: TF.triplet_margin_loss(a, b, c, margin=0.7, p=p, swap=swap, reduction=reduction),
             _triplet())


def test_triplet_margin_loss_float32_and_1d_match_torch():
    a, p, n = (x.astype(np.float32) for x in _triplet())
    out = check_op(triplet_margin_loss, TF.triplet_margin_loss, [a, p, n])
    assert out[0].dtype == np.float32
    check_op(triplet_margin_loss, TF.triplet_margin_loss, [a[0], p[0], n[0]])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_triplet_margin_loss_module_matches_torch_module(reduction):
    a, p, n = _triplet()
    ours = TripletMarginLoss(margin=0.5, swap=True, reduction=reduction)
    theirs = torch.nn.TripletMarginLoss(margin=0.5, swap=True, reduction=reduction)
    check_op(ours, theirs, [a, p, n])
    assert repr(ours) == repr(theirs) == "TripletMarginLoss()"


def test_triplet_margin_loss_squared_is_the_facenet_formula():
    a, p, n = _triplet()
    margin = 0.2
    expected = np.maximum(np.sum((a - p) ** 2, 1) - np.sum((a - n) ** 2, 1) + margin, 0)
    got = triplet_margin_loss(em.tensor(a), em.tensor(p), em.tensor(n), margin=margin, eps=0.0, squared=True,
                              reduction="none")
    assert_close(got, expected)
    assert (expected > 0).any() and (expected == 0).any()  # both sides of the hinge are exercised
    module = TripletMarginLoss(margin=margin, eps=0.0, squared=True)
    assert_close(module(em.tensor(a), em.tensor(p), em.tensor(n)), np.mean(expected))


def test_triplet_margin_loss_squared_gradient_matches_torch_formula():
    def torch_form(a, p, n):
        return torch.clamp(((a - p) ** 2).sum(1) - ((a - n) ** 2).sum(1) + 0.5, min=0).sum()

    check_op(lambda a, p, n: triplet_margin_loss(a, p, n, margin=0.5, eps=0.0, squared=True, reduction="sum"),
             torch_form, _triplet())


@pytest.mark.parametrize("kwargs", [{}, {"swap": True}, {"squared": True}, {"p": 3.0}])
def test_triplet_margin_loss_gradcheck(kwargs):
    tensors = [em.tensor(x, requires_grad=True) for x in _triplet(n=4, d=3, seed=5)]
    assert gradcheck(lambda a, p, n: triplet_margin_loss(a, p, n, reduction="none", **kwargs), tensors)


def test_triplet_margin_loss_errors():
    a = em.randn(4, 3)
    with pytest.raises(ValueError, match="same number of dimensions.*\\(4, 3\\), \\(3,\\)"):
        triplet_margin_loss(a, a[0], a)
    with pytest.raises(ValueError, match="reduction"):
        triplet_margin_loss(a, a, a, reduction="avg")
    with pytest.raises(ValueError, match="margin must be greater than 0, got -1"):
        triplet_margin_loss(a, a, a, margin=-1)
    with pytest.raises(ValueError, match="TripletMarginLoss: margin"):
        TripletMarginLoss(margin=0.0)


def test_triplet_margin_loss_legacy_reduction_arguments():
    a, p, n = (em.tensor(x) for x in _triplet())
    with pytest.warns(UserWarning):
        module = TripletMarginLoss(size_average=False)
    assert module.reduction == "sum"
    assert_close(module(a, p, n), triplet_margin_loss(a, p, n, reduction="sum"))


# -- contrastive loss -------------------------------------------------------------------------
def _pairs(seed=0):
    rng = np.random.default_rng(seed)
    x1, x2 = rng.standard_normal((8, 4)), rng.standard_normal((8, 4)) * 0.4
    return x1, x2, np.array([1, 0, 1, 0, 0, 1, 0, 0])


def _contrastive_reference(x1, x2, y, margin):
    d = np.sqrt(np.sum((x1 - x2) ** 2, axis=1))
    return y * d**2 + (1 - y) * np.maximum(margin - d, 0) ** 2


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_contrastive_loss_matches_the_formula(reduction):
    x1, x2, y = _pairs()
    margin = 2.5
    ref = _contrastive_reference(x1, x2, y, margin)
    assert (ref[y == 0] > 0).any() and (ref[y == 0] == 0).any()  # inside and outside the margin
    expected = {"mean": ref.mean(), "sum": ref.sum(), "none": ref}[reduction]
    got = contrastive_loss(em.tensor(x1), em.tensor(x2), y, margin=margin, eps=0.0, reduction=reduction)
    assert_close(got, expected)
    assert_close(ContrastiveLoss(margin=margin, eps=0.0, reduction=reduction)(em.tensor(x1), em.tensor(x2), y),
                 expected)


def test_contrastive_loss_gradient_matches_torch_formula():
    x1, x2, y = _pairs()

    def torch_form(a, b, t):
        d = TF.pairwise_distance(a, b)
        return (t * d**2 + (1 - t) * torch.clamp(2.5 - d, min=0) ** 2).mean()

    check_op(lambda a, b, t: contrastive_loss(a, b, t, margin=2.5), torch_form, [x1, x2, Const(y.astype(float))])


def test_contrastive_loss_accepts_bool_labels_and_float32():
    x1, x2, y = _pairs()
    a, b = em.tensor(x1.astype(np.float32)), em.tensor(x2.astype(np.float32))
    out = contrastive_loss(a, b, em.tensor(y.astype(bool)))
    assert out.dtype == np.float32
    assert_close(out, contrastive_loss(a, b, em.tensor(y.astype(np.float32))))


def test_contrastive_loss_gradcheck():
    x1, x2, y = _pairs(seed=3)
    assert gradcheck(lambda a, b: contrastive_loss(a, b, y, margin=2.5, reduction="none"),
                     [em.tensor(x1, requires_grad=True), em.tensor(x2, requires_grad=True)])


def test_contrastive_loss_errors():
    with pytest.raises(ValueError, match="contrastive_loss.*\\(4, 3\\), \\(4, 3\\) and \\(3,\\)"):
        contrastive_loss(em.randn(4, 3), em.randn(4, 3), np.ones(3))
    with pytest.raises(ValueError, match="reduction"):
        contrastive_loss(em.randn(4, 3), em.randn(4, 3), np.ones(4), reduction="max")
    with pytest.raises(ValueError, match="ContrastiveLoss: margin"):
        ContrastiveLoss(margin=-1.0)


# -- second derivatives: against PyTorch's (float64) and finite differences of the first --------------
def _torch_contrastive(a, b, t):
    d = TF.pairwise_distance(a, b)
    return (t * d**2 + (1 - t) * torch.clamp(2.5 - d, min=0) ** 2).mean()


def _torch_squared_distances(a, b):  # torch.cdist has no second derivative
    return ((a[:, None] - b[None]) ** 2).sum(-1)


SECOND_ORDER = [
    ("pairwise_distance_p2", lambda a, b: pairwise_distance(a, b), TF.pairwise_distance, _triplet(4, 3)[:2]),
    ("pairwise_distance_p1", lambda a, b: pairwise_distance(a, b, p=1.0), lambda a, b: TF.pairwise_distance(a, b, 1.0),
     _triplet(4, 3)[:2]),
    ("pairwise_distance_p3_keepdim", lambda a, b: pairwise_distance(a, b, p=3.0, keepdim=True),
     lambda a, b: TF.pairwise_distance(a, b, 3.0, keepdim=True), _triplet(4, 3)[:2]),
    ("pairwise_distance_inf", lambda a, b: pairwise_distance(a, b, p=math.inf),
     lambda a, b: TF.pairwise_distance(a, b, math.inf), _triplet(4, 3)[:2]),
    ("normalize", lambda a: normalize(a, dim=1), lambda a: TF.normalize(a, dim=1), _triplet(4, 3)[:1]),
    ("normalize_p1_dim0", lambda a: normalize(a, p=1.0, dim=0), lambda a: TF.normalize(a, p=1.0, dim=0),
     _triplet(4, 3)[:1]),
    ("pairwise_distances", pairwise_distances, lambda a, b: _torch_squared_distances(a, b).sqrt(), _triplet(4, 3)[:2]),
    ("pairwise_distances_squared", lambda a, b: pairwise_distances(a, b, squared=True), _torch_squared_distances,
     _triplet(4, 3)[:2]),
    ("triplet", triplet_margin_loss, TF.triplet_margin_loss, _triplet(4, 3)),
    ("triplet_swap_p1_none", lambda a, p, n: triplet_margin_loss(a, p, n, p=1, swap=True, reduction="none"),
     lambda a, p, n: TF.triplet_margin_loss(a, p, n, p=1, swap=True, reduction="none"), _triplet(4, 3)),
    ("triplet_squared", lambda a, p, n: triplet_margin_loss(a, p, n, margin=2.0, squared=True, reduction="sum"),
     lambda a, p, n: torch.clamp(TF.pairwise_distance(a, p) ** 2 - TF.pairwise_distance(a, n) ** 2 + 2.0,
                                 min=0).sum(), _triplet(4, 3)),
    ("contrastive", lambda a, b, t: contrastive_loss(a, b, t, margin=2.5), _torch_contrastive,
     [*_pairs()[:2], Const(_pairs()[2].astype(float))]),
]


@pytest.mark.parametrize("ours, theirs, inputs", [r[1:] for r in SECOND_ORDER], ids=[r[0] for r in SECOND_ORDER])
def test_second_derivatives_match_torch_and_finite_differences(ours, theirs, inputs):
    check_second_order(ours, theirs, inputs)
    assert gradgradcheck(ours, make_inputs(inputs, dtype=np.float64)[0])
