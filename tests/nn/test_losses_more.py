"""The further losses (KL, Poisson, Gaussian, margin and embedding losses) and the similarity layers
against PyTorch: values, gradients of every differentiable input, reductions and edge cases."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember as em
import ember.nn.functional as F
from draws import normal, probs, signs
from ember import nn
from ember.testing import gradcheck
from torch_parity import Const, check_op

RNG = np.random.default_rng(0)
REDUCTIONS = ["mean", "sum", "none"]


def _check(ours, theirs, inputs, dtype=np.float64, tol=None):
    tol = tol or (1e-10 if dtype == np.float64 else 1e-5)
    check_op(ours, theirs, inputs, dtype=dtype, rtol=tol, atol=tol)


# -- KL divergence ---------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none", "mean"])
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kl_div_matches_torch(reduction, log_target, dtype):
    target = np.log(probs(4, 5, seed=2)) if log_target else probs(4, 5, seed=2)
    with_zero = target.copy()
    with_zero[0, 1] = 0.0 if not log_target else with_zero[0, 1]
    # a zero probability contributes 0·log 0 = 0; PyTorch's gradient wrt that target entry is NaN
    # (xlogy's at (0, 0)), ember's 0, so that case is compared with the target held constant
    for inputs in ([np.log(probs(4, 5)), target], [np.log(probs(4, 5)), Const(with_zero)]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 'mean' warns in both
            _check(lambda x, t: F.kl_div(x, t, reduction=reduction, log_target=log_target),
                   lambda x, t: TF.kl_div(x, t, reduction=reduction, log_target=log_target), inputs, dtype)


def test_kl_div_mean_warns_and_gradcheck():
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        F.kl_div(em.randn(2, 3), em.rand(2, 3))
    x = em.tensor(np.log(probs(3, 4)), requires_grad=True)
    t = em.tensor(probs(3, 4, seed=5), requires_grad=True)
    assert gradcheck(lambda a, b: F.kl_div(a, b, reduction="batchmean"), [x, t])
    assert gradcheck(lambda a, b: F.kl_div(a, b, reduction="none", log_target=True), [x, t])


def test_kl_div_loss_module():
    assert repr(nn.KLDivLoss(reduction="batchmean")) == repr(torch.nn.KLDivLoss(reduction="batchmean"))
    x, t = np.log(probs(4, 5)), probs(4, 5, seed=3)
    for kwargs in [{"reduction": "batchmean"}, {"reduction": "sum", "log_target": False},
                   {"reduction": "none", "log_target": True}]:
        target = np.log(t) if kwargs.get("log_target") else t
        ours = nn.KLDivLoss(**kwargs)(em.tensor(x), em.tensor(target))
        theirs = torch.nn.KLDivLoss(**kwargs)(torch.tensor(x), torch.tensor(target))
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="reduction"):
        nn.KLDivLoss(reduction="average")


# -- Poisson and Gaussian likelihoods -----------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input,full", [(True, False), (False, False), (True, True), (False, True)])
def test_poisson_nll_loss_matches_torch(log_input, full, reduction):
    counts = np.random.default_rng(4).poisson(2.0, (3, 5)).astype(float)
    x = normal(3, 5) if log_input else np.abs(normal(3, 5)) + 0.1
    _check(lambda a, y: F.poisson_nll_loss(a, y, log_input=log_input, full=full, reduction=reduction),
           lambda a, y: TF.poisson_nll_loss(a, y, log_input=log_input, full=full, reduction=reduction),
           [x, Const(counts)])
    ours = nn.PoissonNLLLoss(log_input, full, reduction=reduction)(em.tensor(x), em.tensor(counts))
    theirs = torch.nn.PoissonNLLLoss(log_input, full, reduction=reduction)(torch.tensor(x), torch.tensor(counts))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


def test_poisson_nll_loss_gradcheck():
    x = em.tensor(np.abs(normal(3, 4)) + 0.2, requires_grad=True)
    y = em.tensor(np.random.default_rng(4).poisson(2.0, (3, 4)).astype(float))
    assert gradcheck(lambda a: F.poisson_nll_loss(a, y, log_input=False, full=True), [x])
    assert gradcheck(lambda a: F.poisson_nll_loss(a, y), [x])


VAR_SHAPES = [(4, 3), (4,), (4, 1), (1, 3)]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("var_shape", VAR_SHAPES)
@pytest.mark.parametrize("full", [False, True])
def test_gaussian_nll_loss_matches_torch(var_shape, full, reduction):
    var = np.abs(normal(*var_shape, seed=3)) + 0.05
    var.ravel()[0] = 1e-8  # below eps: clamped in the value, not in the gradient (as PyTorch)
    _check(lambda m, y, v: F.gaussian_nll_loss(m, y, v, full=full, reduction=reduction),
           lambda m, y, v: TF.gaussian_nll_loss(m, y, v, full=full, reduction=reduction),
           [normal(4, 3), normal(4, 3, seed=2), var])


def test_gaussian_nll_loss_number_var_module_gradcheck_and_errors():
    mu, y = normal(4, 3), normal(4, 3, seed=2)
    np.testing.assert_allclose(F.gaussian_nll_loss(em.tensor(mu), em.tensor(y), 0.5).numpy(),
                               TF.gaussian_nll_loss(torch.tensor(mu), torch.tensor(y), 0.5).numpy(), rtol=1e-12)
    assert repr(nn.GaussianNLLLoss(full=True)) == repr(torch.nn.GaussianNLLLoss(full=True))
    v = np.abs(normal(4, 1)) + 0.5
    ours = nn.GaussianNLLLoss(full=True, reduction="sum")(em.tensor(mu), em.tensor(y), em.tensor(v))
    theirs = torch.nn.GaussianNLLLoss(full=True, reduction="sum")(torch.tensor(mu), torch.tensor(y), torch.tensor(v))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    m = em.tensor(mu, requires_grad=True)
    var = em.tensor(v, requires_grad=True)
    assert gradcheck(lambda a, s: F.gaussian_nll_loss(a, em.tensor(y), s), [m, var])
    with pytest.raises(ValueError, match="var has negative entry"):
        F.gaussian_nll_loss(em.tensor(mu), em.tensor(y), em.tensor(-v))
    with pytest.raises(ValueError, match="var is of incorrect size"):
        F.gaussian_nll_loss(em.tensor(mu), em.tensor(y), em.ones(2, 3))
    with pytest.raises(ValueError, match="is not valid"):
        F.gaussian_nll_loss(em.tensor(mu), em.tensor(y), em.tensor(v), reduction="avg")


# -- margin and embedding losses ---------------------------------------------------------------------
def _away_from_kinks(x, kinks=(0.0,)):
    for k in kinks:
        x[np.abs(x - k) < 1e-2] = k + 0.1
    return x


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.5])
def test_margin_ranking_loss_matches_torch(margin, reduction):
    x1, x2 = normal(6), normal(6, seed=2)
    t = signs(6)
    _away_from_kinks(-t * (x1 - x2) + margin)
    _check(lambda a, b, y: F.margin_ranking_loss(a, b, y, margin=margin, reduction=reduction),
           lambda a, b, y: TF.margin_ranking_loss(a, b, y, margin=margin, reduction=reduction), [x1, x2, Const(t)])
    ours = nn.MarginRankingLoss(margin, reduction=reduction)(em.tensor(x1), em.tensor(x2), em.tensor(t))
    theirs = torch.nn.MarginRankingLoss(margin, reduction=reduction)(*map(torch.tensor, (x1, x2, t)))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [1.0, 2.0])
def test_hinge_embedding_loss_matches_torch(margin, reduction):
    x = np.abs(normal(3, 4)) * 1.5
    _away_from_kinks(x, (margin,))
    t = signs(3, 4)
    _check(lambda a, y: F.hinge_embedding_loss(a, y, margin=margin, reduction=reduction),
           lambda a, y: TF.hinge_embedding_loss(a, y, margin=margin, reduction=reduction), [x, Const(t)])
    assert repr(nn.HingeEmbeddingLoss()) == repr(torch.nn.HingeEmbeddingLoss())
    np.testing.assert_allclose(nn.HingeEmbeddingLoss(margin)(em.tensor(x), em.tensor(t)).numpy(),
                               torch.nn.HingeEmbeddingLoss(margin)(torch.tensor(x), torch.tensor(t)).numpy())


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_loss_matches_torch(reduction):
    _check(lambda a, y: F.soft_margin_loss(a, y, reduction=reduction),
           lambda a, y: TF.soft_margin_loss(a, y, reduction=reduction), [normal(3, 4), Const(signs(3, 4))])
    x, t = normal(5), signs(5)
    np.testing.assert_allclose(nn.SoftMarginLoss()(em.tensor(x), em.tensor(t)).numpy(),
                               torch.nn.SoftMarginLoss()(torch.tensor(x), torch.tensor(t)).numpy(), rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_multilabel_soft_margin_loss_matches_torch(weighted, reduction):
    target = (np.random.default_rng(3).random((4, 5)) < 0.4).astype(float)
    weight = np.abs(normal(5, seed=7)) if weighted else None
    inputs = [normal(4, 5), Const(target)] + ([Const(weight)] if weighted else [])
    _check(lambda a, y, *w: F.multilabel_soft_margin_loss(a, y, *w, reduction=reduction),
           lambda a, y, *w: TF.multilabel_soft_margin_loss(a, y, *w, reduction=reduction), inputs)
    ours = nn.MultiLabelSoftMarginLoss(None if weight is None else em.tensor(weight), reduction=reduction)
    theirs = torch.nn.MultiLabelSoftMarginLoss(None if weight is None else torch.tensor(weight), reduction=reduction)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    np.testing.assert_allclose(ours(em.tensor(inputs[0]), em.tensor(target)).numpy(),
                               theirs(torch.tensor(inputs[0]), torch.tensor(target)).numpy(), rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.3])
@pytest.mark.parametrize("shape", [(5, 4), (4,)])
def test_cosine_embedding_loss_matches_torch(shape, margin, reduction):
    t = signs(*shape[:-1]) if len(shape) == 2 else np.array(-1.0)
    _check(lambda a, b, y: F.cosine_embedding_loss(a, b, y, margin=margin, reduction=reduction),
           lambda a, b, y: TF.cosine_embedding_loss(a, b, y, margin=margin, reduction=reduction),
           [normal(*shape), normal(*shape, seed=3), Const(t)])


def test_cosine_embedding_loss_module_and_gradcheck():
    x1, x2, t = normal(5, 4), normal(5, 4, seed=3), signs(5)
    assert repr(nn.CosineEmbeddingLoss(0.2)) == repr(torch.nn.CosineEmbeddingLoss(0.2))
    np.testing.assert_allclose(nn.CosineEmbeddingLoss(0.2)(*map(em.tensor, (x1, x2, t))).numpy(),
                               torch.nn.CosineEmbeddingLoss(0.2)(*map(torch.tensor, (x1, x2, t))).numpy(), rtol=1e-12)
    a, b = em.tensor(x1, requires_grad=True), em.tensor(x2, requires_grad=True)
    assert gradcheck(lambda p, q: F.cosine_embedding_loss(p, q, em.tensor(t), reduction="none"), [a, b])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_multi_margin_loss_matches_torch(p, weighted, reduction):
    x, target = normal(6, 4) * 0.6, np.array([0, 3, 1, 1, 2, 0])
    weight = np.abs(normal(4, seed=5)) if weighted else None
    kwargs = {"p": p, "margin": 0.8, "reduction": reduction}
    inputs = [x, target] + ([Const(weight)] if weighted else [])
    _check(lambda a, y, *w: F.multi_margin_loss(a, y, weight=w[0] if w else None, **kwargs),
           lambda a, y, *w: TF.multi_margin_loss(a, y, weight=w[0] if w else None, **kwargs), inputs)
    ours = nn.MultiMarginLoss(p, 0.8, None if weight is None else em.tensor(weight), reduction=reduction)
    theirs = torch.nn.MultiMarginLoss(p, 0.8, None if weight is None else torch.tensor(weight), reduction=reduction)
    np.testing.assert_allclose(ours(em.tensor(x), em.tensor(target)).numpy(),
                               theirs(torch.tensor(x), torch.tensor(target)).numpy(), rtol=1e-12)


def test_multi_margin_loss_one_sample_gradcheck_and_errors():
    _check(lambda a, y: F.multi_margin_loss(a, y, reduction="none"),
           lambda a, y: TF.multi_margin_loss(a, y, reduction="none"), [normal(5) * 0.5, np.array(2)])
    x = em.tensor(normal(4, 3) * 0.5, requires_grad=True)
    assert gradcheck(lambda a: F.multi_margin_loss(a, em.tensor([0, 2, 1, 1]), p=2), [x])
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        nn.MultiMarginLoss(p=3)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_margin_loss_matches_torch(reduction):
    x = normal(3, 5) * 0.5
    target = np.array([[3, 0, -1, 1, 4], [1, 2, 4, 0, 3], [-1, 2, 0, 0, 0]])
    _check(lambda a, y: F.multilabel_margin_loss(a, y, reduction=reduction),
           lambda a, y: TF.multilabel_margin_loss(a, y, reduction=reduction), [x, target])
    _check(lambda a, y: F.multilabel_margin_loss(a, y, reduction=reduction),
           lambda a, y: TF.multilabel_margin_loss(a, y, reduction=reduction), [x[0], target[0]])
    np.testing.assert_allclose(nn.MultiLabelMarginLoss()(em.tensor(x), em.tensor(target)).numpy(),
                               torch.nn.MultiLabelMarginLoss()(torch.tensor(x), torch.tensor(target)).numpy())
    a = em.tensor(x, requires_grad=True)
    assert gradcheck(lambda v: F.multilabel_margin_loss(v, em.tensor(target)), [a])


@pytest.mark.parametrize("name,args", [
    ("margin_ranking_loss", lambda: (normal(4), normal(4, seed=2), signs(4))),
    ("hinge_embedding_loss", lambda: (np.abs(normal(4)), signs(4))),
    ("soft_margin_loss", lambda: (normal(4), signs(4))),
    ("multilabel_soft_margin_loss", lambda: (normal(2, 3), np.eye(2, 3))),
    ("cosine_embedding_loss", lambda: (normal(3, 4), normal(3, 4, seed=2), signs(3))),
])
def test_legacy_size_average_and_reduce(name, args):
    values = args()
    with pytest.warns(UserWarning):
        ours = getattr(F, name)(*map(em.tensor, values), size_average=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = getattr(TF, name)(*map(torch.tensor, values), size_average=False)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", ["MarginRankingLoss", "HingeEmbeddingLoss", "SoftMarginLoss", "CosineEmbeddingLoss",
                                  "MultiLabelSoftMarginLoss", "MultiLabelMarginLoss", "MultiMarginLoss",
                                  "PoissonNLLLoss", "CTCLoss", "KLDivLoss"])
def test_loss_reprs_match_torch(name):
    assert repr(getattr(nn, name)()) == repr(getattr(torch.nn, name)())
    assert getattr(nn, name)().reduction == getattr(torch.nn, name)().reduction


# -- similarity and distance layers ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shapes,dim", [(((5, 4), (5, 4)), 1), (((3, 4, 2), (3, 4, 2)), -1), (((5, 4), (1, 4)), 1),
                                        (((2, 3, 4), (2, 3, 4)), 0)])
def test_cosine_similarity_matches_torch(shapes, dim, dtype):
    x1, x2 = normal(*shapes[0]), normal(*shapes[1], seed=4)
    _check(lambda a, b: F.cosine_similarity(a, b, dim=dim), lambda a, b: TF.cosine_similarity(a, b, dim=dim),
           [x1, x2], dtype)
    ours, theirs = nn.CosineSimilarity(dim, eps=1e-6), torch.nn.CosineSimilarity(dim, eps=1e-6)
    np.testing.assert_allclose(ours(em.tensor(x1), em.tensor(x2)).numpy(),
                               theirs(torch.tensor(x1), torch.tensor(x2)).numpy(), rtol=1e-12)


def test_cosine_similarity_small_norms_are_clamped_like_torch():
    x1, x2 = normal(3, 4) * 1e-9, normal(3, 4, seed=4)
    x1[1] = 0.0
    _check(lambda a, b: F.cosine_similarity(a, b, eps=1e-8), lambda a, b: TF.cosine_similarity(a, b, eps=1e-8),
           [x1, x2], tol=1e-9)
    a, b = em.tensor(normal(3, 4), requires_grad=True), em.tensor(normal(3, 4, seed=4), requires_grad=True)
    assert gradcheck(lambda p, q: F.cosine_similarity(p, q), [a, b])


@pytest.mark.parametrize("p,keepdim", [(2.0, False), (1.0, True), (3.0, False)])
def test_pairwise_distance_module_matches_torch(p, keepdim):
    x1, x2 = normal(5, 4), normal(5, 4, seed=3)
    ours, theirs = nn.PairwiseDistance(p, keepdim=keepdim), torch.nn.PairwiseDistance(p, keepdim=keepdim)
    assert repr(ours) == repr(theirs) and ours.norm == theirs.norm
    a, b = em.tensor(x1, requires_grad=True), em.tensor(x2, requires_grad=True)
    ta, tb = torch.tensor(x1, requires_grad=True), torch.tensor(x2, requires_grad=True)
    y, ty = ours(a, b), theirs(ta, tb)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-10)


# -- triplet loss with a distance of one's choosing -----------------------------------------------------
def _cosine_distance(lib):
    return lambda x, y: 1 - lib.nn.functional.cosine_similarity(x, y)


@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("custom", [False, True])
def test_triplet_margin_with_distance_loss_matches_torch(custom, reduction, swap):
    rng = np.random.default_rng(5)
    a, p, n = (rng.standard_normal((6, 4)) for _ in range(3))

    def ours(x, y, z):
        return nn.TripletMarginWithDistanceLoss(distance_function=_cosine_distance(em) if custom else None,
                                                margin=0.5, swap=swap, reduction=reduction)(x, y, z)

    def theirs(x, y, z):
        return torch.nn.TripletMarginWithDistanceLoss(distance_function=_cosine_distance(torch) if custom else None,
                                                      margin=0.5, swap=swap, reduction=reduction)(x, y, z)

    check_op(ours, theirs, [a, p, n])
    inputs = [em.tensor(v, requires_grad=True) for v in (a, p, n)]
    assert gradcheck(lambda x, y, z: F.triplet_margin_with_distance_loss(x, y, z, swap=swap), inputs)


def test_triplet_margin_with_distance_loss_checks_its_margin():
    with pytest.raises(ValueError, match="margin must be greater than 0"):
        nn.TripletMarginWithDistanceLoss(margin=0)
