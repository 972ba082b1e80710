"""Second derivatives of the losses and of dropout: against PyTorch's (float64, ``create_graph=True``
in both, the upstream gradient differentiated too) and against finite differences of the first
derivatives (``gradgradcheck``). The cross-entropy, NLL, BCE, MSE and L1 rows of the op table
cover their own second derivatives; the rest are here."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember as em
import ember.nn.functional as F
from draws import normal, probs, signs
from ember.autograd.function import OnceDifferentiable
from ember.ops.dropout import alpha_dropout, dropout, dropout2d, feature_dropout
from ember.testing import gradgradcheck
from torch_parity import Const, assert_close, check_second_order, make_inputs


def _positive(*shape, seed=0):
    return np.random.default_rng(seed).uniform(0.5, 2.0, shape)


def check_twice(ours, theirs, inputs):
    """Second derivatives against PyTorch's (``theirs=None``: finite differences only) and gradgradcheck."""
    if theirs is not None:
        check_second_order(ours, theirs, inputs)
    assert gradgradcheck(ours, make_inputs(inputs, dtype=np.float64)[0])


def both(name, **kw):
    """The ember and PyTorch functionals of one name, with the same keyword arguments."""
    return (lambda *a: getattr(F, name)(*a, **kw)), (lambda *a: getattr(TF, name)(*a, **kw))


# -- the composed losses ------------------------------------------------------------------------------
# Inputs keep away from the kinks (|x − y| = β, hinge corners), where the second derivative jumps.
LOSSES = [
    ("smooth_l1", *both("smooth_l1_loss", beta=0.5), [normal(3, 4), Const(normal(3, 4, seed=1))]),
    ("smooth_l1_both_grad", *both("smooth_l1_loss", reduction="sum"), [normal(3, 4), normal(3, 4, seed=1)]),
    ("huber", *both("huber_loss", delta=0.7, reduction="none"), [normal(3, 4), Const(normal(3, 4, seed=1))]),
    ("mse_weighted_none", *both("mse_loss", reduction="none"), [normal(2, 3), normal(2, 3, seed=1)]),
    ("kl_div", *both("kl_div", reduction="batchmean"), [np.log(probs(3, 4)), probs(3, 4, seed=2)]),
    ("kl_div_log_target", *both("kl_div", reduction="sum", log_target=True),
     [np.log(probs(3, 4)), np.log(probs(3, 4, seed=2))]),
    ("poisson_nll", *both("poisson_nll_loss"), [normal(3, 4), Const(np.arange(12.0).reshape(3, 4) % 4)]),
    ("poisson_nll_rate_full", *both("poisson_nll_loss", log_input=False, full=True, reduction="none"),
     [_positive(3, 4), Const(np.arange(12.0).reshape(3, 4) % 4)]),
    ("gaussian_nll", *both("gaussian_nll_loss"), [normal(3, 4), normal(3, 4, seed=1), _positive(3, 4)]),
    ("gaussian_nll_shared_var", *both("gaussian_nll_loss", full=True, reduction="sum"),
     [normal(3, 4), Const(normal(3, 4, seed=1)), _positive(3, 1)]),
    ("bce_logits_both", *both("binary_cross_entropy_with_logits", reduction="none"),
     [normal(3, 4), Const(probs(3, 4, seed=3)), Const(_positive(4))]),
    ("soft_margin", *both("soft_margin_loss"), [normal(3, 4), Const(signs(3, 4))]),
    ("multilabel_soft_margin", *both("multilabel_soft_margin_loss", reduction="none"),
     [normal(3, 4), Const((normal(3, 4, seed=4) > 0) * 1.0), Const(_positive(4))]),
    ("margin_ranking", *both("margin_ranking_loss", margin=0.2),
     [normal(6), normal(6, seed=2), Const(signs(6))]),
    ("hinge_embedding", *both("hinge_embedding_loss", margin=1.0),
     [np.array([[0.3, 1.6, 0.7], [2.1, 0.2, 0.5]]), Const(signs(2, 3))]),
    ("cosine_embedding", *both("cosine_embedding_loss", margin=0.1, reduction="none"),
     [normal(5, 4), normal(5, 4, seed=3), Const(signs(5))]),
    ("cosine_similarity", *both("cosine_similarity", dim=1), [normal(3, 4), normal(3, 4, seed=5)]),
    # PyTorch does not differentiate its multi-class margin losses twice: finite differences only
    ("multi_margin_p2", lambda x, y, w: F.multi_margin_loss(x, y, p=2, margin=0.8, weight=w), None,
     [normal(4, 3) * 0.5, np.array([0, 2, 1, 1]), Const(_positive(3))]),
    ("multi_margin_p1", lambda x, y: F.multi_margin_loss(x, y, reduction="none"), None,
     [normal(4, 3) * 0.5, np.array([0, 2, 1, 1])]),
    ("multilabel_margin", F.multilabel_margin_loss, None,
     [normal(3, 5) * 0.5, np.array([[3, 0, -1, 1, 4], [1, 2, 4, 0, 3], [-1, 2, 0, 0, 0]])]),
]


@pytest.mark.parametrize("ours, theirs, inputs", [row[1:] for row in LOSSES], ids=[row[0] for row in LOSSES])
def test_loss_second_derivatives(ours, theirs, inputs):
    check_twice(ours, theirs, inputs)


def test_negative_sampling_loss_second_derivatives_match_its_formula():
    def theirs(v, u_o, u_k):  # −log σ(u_o·v) − Σ_k log σ(−u_k·v)
        noise = torch.einsum("nkd,nd->nk", u_k, v)
        return (TF.softplus(-(v * u_o).sum(1)) + TF.softplus(noise).sum(1)).mean()

    check_twice(F.negative_sampling_loss, theirs, [normal(3, 4), normal(3, 4, seed=1), normal(3, 2, 4, seed=2)])


# -- the fused cross-entropy: every path, in float32 too -----------------------------------------------
CE_PATHS = [
    ("indices_weight_ignore", dict(ignore_index=1), [normal(6, 4), np.array([0, 1, 3, 1, 2, 0]), Const(_positive(4))]),
    ("probs_smoothing_weight", dict(label_smoothing=0.2), [normal(2, 4, 3), Const(probs(2, 3, 4).swapaxes(1, 2)),
                                                          Const(_positive(4))]),
    ("indices_smoothing_kdim_none", dict(label_smoothing=0.1, reduction="none"),
     [normal(2, 4, 3), np.array([[0, 3, 1], [2, 2, -100]])]),
]


@pytest.mark.parametrize("kwargs, inputs", [row[1:] for row in CE_PATHS], ids=[row[0] for row in CE_PATHS])
def test_cross_entropy_paths_second_derivatives(kwargs, inputs):
    check_twice(*both("cross_entropy", **kwargs), inputs)


def test_cross_entropy_hessian_is_that_of_log_softmax():
    """∂²/∂x² of −log softmax(x)_y is diag(p) − p pᵀ (per row, over the mean's divisor)."""
    x = em.tensor(normal(2, 3), requires_grad=True)
    (g,) = em.autograd.grad(em.cross_entropy(x, em.tensor([2, 0]), reduction="sum"), [x], create_graph=True)
    p = np.exp(x.detach().numpy())
    p /= p.sum(1, keepdims=True)
    for i in range(2):
        for j in range(3):
            (row,) = em.autograd.grad(g[i, j], [x], retain_graph=True)
            expected = np.zeros((2, 3))
            expected[i] = (j == np.arange(3)) * p[i, j] - p[i, j] * p[i]
            assert_close(row, expected, name=f"Hessian row ({i}, {j})")


def test_bce_second_derivatives_at_the_clamped_edges_are_torchs():
    """p = 0 or 1: the clamp max(p(1 − p), 1e−12) gives PyTorch's (large but finite) values."""
    check_second_order(F.binary_cross_entropy, TF.binary_cross_entropy,
                       [np.array([0.0, 1.0, 0.5, 1.0, 0.3]), Const(np.array([0.0, 1.0, 1.0, 0.0, 0.6]))])


def test_loss_gradients_are_differentiable_to_third_order():
    x = em.tensor(normal(3, 4), requires_grad=True)
    y = em.tensor(np.array([1, 0, 3]))
    (g,) = em.autograd.grad(em.cross_entropy(x, y), [x], create_graph=True)
    (h,) = em.autograd.grad((g * g).sum(), [x], create_graph=True)
    assert h.requires_grad and not isinstance(h.creator, OnceDifferentiable)
    tx = torch.tensor(x.detach().numpy(), requires_grad=True)
    (tg,) = torch.autograd.grad(TF.cross_entropy(tx, torch.tensor([1, 0, 3])), [tx], create_graph=True)
    (th,) = torch.autograd.grad((tg * tg).sum(), [tx], create_graph=True)
    assert_close(em.autograd.grad((h * h).sum(), [x])[0], torch.autograd.grad((th * th).sum(), [tx])[0])


def test_ctc_is_differentiable_once_and_says_so():
    """As PyTorch's: the first derivative has a graph, differentiating it again raises naming CTC."""
    log_probs = em.tensor(np.log(probs(5, 2, 4)), requires_grad=True)
    loss = F.ctc_loss(log_probs, em.tensor([[1, 2], [3, 3]]), [5, 5], [2, 2])
    (g,) = em.autograd.grad(loss, [log_probs], create_graph=True)
    with pytest.raises(RuntimeError, match="CTC"):
        em.autograd.grad(g.sum(), [log_probs])


# -- dropout: a constant mask, so gradients of every order carry it ----------------------------------
def _seeded(fn, seed=0):
    """``fn`` drawing the same mask on every call (gradgradcheck calls it many times)."""
    def run(*args):
        em.manual_seed(seed)
        return fn(*args)
    return run


DROPOUTS = {"dropout": dropout, "dropout2d": dropout2d, "feature_dropout": feature_dropout,
            "alpha_dropout": alpha_dropout}


@pytest.mark.parametrize("name, shape", [("dropout", (3, 4)), ("dropout2d", (2, 3, 2, 2)),
                                         ("feature_dropout", (2, 3, 2)), ("alpha_dropout", (3, 4))])
def test_dropout_second_derivatives_reuse_the_mask(name, shape):
    """tanh(dropout(x))·x against PyTorch's same expression with the mask ember drew (y/x for a
    non-zero x gives it), so both the mask and the 1/(1 − p) scale enter the second derivative."""
    def drop(x):
        return DROPOUTS[name](x, 0.4, training=True)

    x = normal(*shape)
    y = _seeded(drop)(em.tensor(x)).numpy()
    if name == "alpha_dropout":  # y = a·keep·x + b: recover the affine map from two inputs
        scale = _seeded(drop)(em.tensor(x + 1)).numpy() - y
        shift = y - scale * x
    else:
        scale, shift = y / x, 0.0

    check_twice(_seeded(lambda t: em.tanh(drop(t)) * t),
                lambda t: torch.tanh(t * torch.from_numpy(scale) + torch.as_tensor(shift)) * t, [x])


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_dropout_edge_probabilities(p):
    """p = 0 is the identity and p = 1 all zeros: their second derivatives are those of the rest."""
    check_twice(lambda t: (F.dropout(t, p) * t).sum() + em.tanh(t).sum(),
                lambda t: (t * (1 - p) * t).sum() + torch.tanh(t).sum(), [normal(3, 4)])


def test_dropout_first_derivative_is_the_mask_and_its_derivative_wrt_the_upstream_too():
    """d/dx Σ u ⊙ dropout(x) = u ⊙ m, so ∂/∂u of ⟨v, that⟩ = v ⊙ m: the same mask both times."""
    x = em.tensor(normal(4, 5), requires_grad=True)
    u = em.tensor(normal(4, 5, seed=1), requires_grad=True)
    y = F.dropout(x, 0.3)
    mask = y.detach().numpy() / x.detach().numpy()
    (g,) = em.autograd.grad(y, [x], u, create_graph=True)
    assert_close(g, u.detach().numpy() * mask)
    v = normal(4, 5, seed=2)
    (gu,) = em.autograd.grad((g * em.tensor(v)).sum(), [u])
    assert_close(gu, v * mask)
