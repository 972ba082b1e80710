"""Loss modules against torch.nn's, for each option: values, input gradients, state and errors."""
import numpy as np
import pytest
import torch

import ember as em
from ember import nn
from ember.testing import gradcheck

RNG = np.random.default_rng(0)
LOGITS = RNG.standard_normal((6, 4))
LABELS = np.array([0, 3, 1, 1, -100, 2])
LOGITS_2D = RNG.standard_normal((2, 3, 4, 5))
LABELS_2D = RNG.integers(0, 3, (2, 4, 5))
PROBS = RNG.dirichlet(np.ones(4), size=6)
CLASS_WEIGHT = np.array([0.5, 2.0, 1.0, 1.5])


def _check(ours, theirs, x, target, dtype=np.float64, tol=1e-10):
    """Loss value and d(loss)/d(input) of ember's module and torch's on the same data."""
    x = x.astype(dtype)
    xe, xt = em.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    te, tt = em.tensor(target), torch.tensor(target)
    le, lt = ours(xe, te), theirs(xt, tt)
    np.testing.assert_allclose(le.detach().numpy(), lt.detach().numpy(), rtol=tol, atol=tol)
    upstream = RNG.standard_normal(lt.shape).astype(dtype)
    le.backward(em.tensor(upstream))
    lt.backward(torch.tensor(upstream))
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=tol, atol=tol)


def _both(name, **kwargs):
    """The ember module and its torch twin, with array options turned into each one's tensors."""
    ours = {k: em.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    theirs = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    return getattr(nn, name)(**ours), getattr(torch.nn, name)(**theirs)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weight", [None, CLASS_WEIGHT])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_loss_with_indices(reduction, weight, smoothing):
    ours, theirs = _both("CrossEntropyLoss", weight=weight, reduction=reduction, label_smoothing=smoothing)
    _check(ours, theirs, LOGITS, LABELS)


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_cross_entropy_loss_spatial_with_ignore_index(reduction):
    labels = LABELS_2D.copy()
    labels[0, 1, :2] = 2
    ours, theirs = _both("CrossEntropyLoss", ignore_index=2, reduction=reduction)
    _check(ours, theirs, LOGITS_2D, labels)


@pytest.mark.parametrize("weight", [None, CLASS_WEIGHT])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_loss_with_probabilities(weight, smoothing):
    ours, theirs = _both("CrossEntropyLoss", weight=weight, label_smoothing=smoothing)
    _check(ours, theirs, LOGITS, PROBS)


def test_cross_entropy_loss_float32():
    ours, theirs = _both("CrossEntropyLoss", label_smoothing=0.1)
    _check(ours, theirs, LOGITS, LABELS, np.float32, 1e-5)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weight", [None, CLASS_WEIGHT])
def test_nll_loss(reduction, weight):
    log_p = torch.log_softmax(torch.tensor(LOGITS), 1).numpy()
    ours, theirs = _both("NLLLoss", weight=weight, reduction=reduction)
    _check(ours, theirs, log_p, LABELS)


def test_log_softmax_plus_nll_equals_cross_entropy():
    x = em.tensor(LOGITS)
    composed = nn.NLLLoss()(nn.LogSoftmax(dim=1)(x), em.tensor(LABELS))
    np.testing.assert_allclose(composed.numpy(), nn.CrossEntropyLoss()(x, em.tensor(LABELS)).numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", ["MSELoss", "L1Loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-5), (np.float64, 1e-10)])
def test_regression_losses(name, reduction, dtype, tol):
    ours, theirs = _both(name, reduction=reduction)
    _check(ours, theirs, RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4)).astype(dtype), dtype, tol)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weight", [None, RNG.random((5, 3))])
def test_bce_loss(reduction, weight):
    p = RNG.uniform(0.05, 0.95, (5, 3))
    ours, theirs = _both("BCELoss", weight=weight, reduction=reduction)
    _check(ours, theirs, p, RNG.integers(0, 2, (5, 3)).astype(np.float64))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weight", [None, RNG.random(3)])
@pytest.mark.parametrize("pos_weight", [None, np.array([1.0, 3.0, 0.5])])
def test_bce_with_logits_loss(reduction, weight, pos_weight):
    ours, theirs = _both("BCEWithLogitsLoss", weight=weight, reduction=reduction, pos_weight=pos_weight)
    _check(ours, theirs, RNG.standard_normal((5, 3)) * 4, RNG.uniform(0, 1, (5, 3)))


def test_bce_with_logits_is_stable_for_large_logits():
    x = em.tensor([[-200.0, 200.0]], requires_grad=True)
    loss = nn.BCEWithLogitsLoss()(x, em.tensor([[1.0, 0.0]]))
    loss.backward()
    assert loss.item() == pytest.approx(200.0)
    assert np.isfinite(x.grad.numpy()).all()


@pytest.mark.parametrize("module,target", [
    (nn.CrossEntropyLoss(weight=CLASS_WEIGHT, label_smoothing=0.1), LABELS),
    (nn.MSELoss(), RNG.standard_normal((6, 4))),
    (nn.BCEWithLogitsLoss(pos_weight=np.array([2.0, 1.0, 1.0, 0.5])), RNG.uniform(0, 1, (6, 4))),
])
def test_loss_modules_gradcheck(module, target):
    x = em.tensor(LOGITS, requires_grad=True)
    assert gradcheck(lambda t: module(t, em.tensor(target)), [x])


def test_weights_are_buffers_like_torch():
    ours, theirs = _both("CrossEntropyLoss", weight=CLASS_WEIGHT)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    ours, theirs = _both("BCEWithLogitsLoss", weight=np.ones(3), pos_weight=np.ones(3))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(nn.MSELoss().state_dict()) == []
    assert nn.CrossEntropyLoss(weight=CLASS_WEIGHT).to(em.float32).weight.dtype == np.float32


@pytest.mark.parametrize("name", ["MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss",
                                  "SmoothL1Loss", "HuberLoss"])
def test_constructor_signatures_and_repr_match_torch(name):
    import inspect

    ours = [(p.name, p.default) for p in inspect.signature(getattr(nn, name)).parameters.values()]
    theirs = [(p.name, p.default) for p in inspect.signature(getattr(torch.nn, name)).parameters.values()]
    assert ours == theirs
    assert repr(getattr(nn, name)()) == repr(getattr(torch.nn, name)())


def test_legacy_size_average_and_reduce():
    with pytest.warns(UserWarning, match="deprecated"):
        assert nn.MSELoss(size_average=False).reduction == "sum"
    with pytest.warns(UserWarning):
        assert nn.CrossEntropyLoss(reduce=False).reduction == "none"


def test_loss_errors_are_clear():
    with pytest.raises(ValueError, match="MSELoss: reduction"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="CrossEntropyLoss: label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"mse_loss: input shape \(3,\) and target shape \(4,\)"):
        nn.MSELoss()(em.zeros(3), em.zeros(4))
    with pytest.raises(ValueError, match="cross_entropy"):
        nn.CrossEntropyLoss()(em.zeros(3, 4), em.tensor([0, 1]))
    with pytest.raises(ValueError, match="binary_cross_entropy"):
        nn.BCELoss()(em.tensor([1.5]), em.tensor([1.0]))


# -- robust regression losses and word2vec's negative-sampling loss ----------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name, option", [("SmoothL1Loss", {"beta": 1.0}), ("SmoothL1Loss", {"beta": 0.3}),
                                          ("SmoothL1Loss", {"beta": 0.0}), ("HuberLoss", {"delta": 1.0}),
                                          ("HuberLoss", {"delta": 2.5})])
def test_smooth_l1_and_huber_losses(name, option, reduction):
    x = RNG.standard_normal((5, 7)) * 2  # differences on both sides of β / δ
    target = RNG.standard_normal((5, 7))
    _check(*_both(name, reduction=reduction, **option), x, target)
    _check(*_both(name, reduction=reduction, **option), x, target.astype(np.float32), np.float32, 1e-5)


def test_smooth_l1_gradcheck_and_errors():
    x = em.tensor(RNG.standard_normal((4, 3)) * 2, requires_grad=True)
    target = em.tensor(RNG.standard_normal((4, 3)))
    assert gradcheck(lambda a: nn.SmoothL1Loss(beta=0.5)(a, target), [x])
    assert gradcheck(lambda a: nn.HuberLoss(delta=0.7)(a, target), [x])
    with pytest.raises(ValueError, match="beta"):
        nn.SmoothL1Loss(beta=-1)
    with pytest.raises(ValueError, match="shape"):
        nn.SmoothL1Loss()(em.zeros(3), em.zeros(4))


def _torch_negative_sampling(v, u_o, u_k, reduction):
    """−log σ(u_o·v) − Σ_k log σ(−u_k·v), written out in torch."""
    loss = -torch.nn.functional.logsigmoid((v * u_o).sum(1)) \
        - torch.nn.functional.logsigmoid(-(u_k @ v.unsqueeze(2)).squeeze(2)).sum(1)
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_negative_sampling_loss_against_the_formula(reduction):
    arrays = [RNG.standard_normal(s) for s in ((6, 5), (6, 5), (6, 3, 5))]
    ours = [em.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    le = nn.NegativeSamplingLoss(reduction=reduction)(*ours)
    lt = _torch_negative_sampling(*theirs, reduction)
    np.testing.assert_allclose(le.detach().numpy(), lt.detach().numpy(), rtol=1e-10)
    upstream = RNG.standard_normal(lt.shape)
    le.backward(em.tensor(upstream))
    lt.backward(torch.tensor(upstream))
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert gradcheck(lambda *t: nn.NegativeSamplingLoss(reduction=reduction)(*t).sum(),
                     [em.tensor(a, requires_grad=True) for a in arrays])
    with pytest.raises(ValueError, match=r"negatives \(N, K, D\)"):
        nn.NegativeSamplingLoss()(ours[0], ours[1], ours[1])
