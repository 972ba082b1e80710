"""Multi-task losses with missing labels, and freezing a body for transfer learning."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember as em
from ember import nn
from ember.testing import gradcheck
from ember.train.multitask import MultiTaskLoss, masked_bce_with_logits
from torch_parity import assert_close, to_torch

NAN = float("nan")


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((6, 4))
    y = rng.integers(0, 2, (6, 4)).astype(np.float64)
    known = rng.random((6, 4)) < 0.6
    return x, np.where(known, y, NAN), known


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_masked_bce_matches_torch_on_the_labelled_entries(reduction):
    x, y, known = _batch()
    logits = em.tensor(x, requires_grad=True)
    loss = masked_bce_with_logits(logits, y, reduction=reduction)
    tx = to_torch(x, requires_grad=True)
    full = TF.binary_cross_entropy_with_logits(tx, torch.from_numpy(np.nan_to_num(y)), reduction="none")
    full = full * torch.from_numpy(known)
    expected = {"mean": full.sum() / known.sum(), "sum": full.sum(), "none": full}[reduction]
    assert_close(loss.detach(), expected.detach())
    upstream = np.random.default_rng(1).standard_normal(expected.shape)
    loss.backward(em.tensor(upstream))
    expected.backward(torch.from_numpy(upstream))
    assert_close(logits.grad, tx.grad)
    assert np.all(logits.grad.numpy()[~known] == 0)


def test_masked_label_values_change_neither_loss_nor_gradient():
    x, y, known = _batch()
    results = []
    for fill in (0.0, 1.0, NAN, 123.0):
        logits = em.tensor(x, requires_grad=True)
        loss = masked_bce_with_logits(logits, np.where(known, y, fill), mask=known)
        loss.backward()
        results.append((loss.item(), logits.grad.numpy()))
    for value, grad in results[1:]:
        assert value == results[0][0] and np.array_equal(grad, results[0][1])
    assert np.isfinite(results[0][0])
    # while a labelled value does change the loss: the mask is what hides the others
    flipped = np.where(known, 1 - np.nan_to_num(y), NAN)
    assert masked_bce_with_logits(em.tensor(x), flipped).item() != results[0][0]


def test_explicit_mask_equals_nan_convention_and_all_missing_gives_zero():
    x, y, known = _batch()
    assert_close(masked_bce_with_logits(em.tensor(x), np.nan_to_num(y), mask=known),
                 masked_bce_with_logits(em.tensor(x), y))
    logits = em.tensor(x, requires_grad=True)
    loss = masked_bce_with_logits(logits, np.full(x.shape, NAN))
    loss.backward()
    assert loss.item() == 0 and np.all(logits.grad.numpy() == 0)


def test_masked_bce_gradcheck_and_float32():
    x, y, _ = _batch(seed=2)
    assert gradcheck(lambda t: masked_bce_with_logits(t, y, reduction="none"), [em.tensor(x, requires_grad=True)])
    out = masked_bce_with_logits(em.tensor(x.astype(np.float32)), y)
    assert out.dtype == np.float32


def test_masked_bce_errors():
    with pytest.raises(ValueError, match="masked_bce_with_logits: input shape \\(6, 4\\) and target shape \\(6, 3\\)"):
        masked_bce_with_logits(em.randn(6, 4), np.zeros((6, 3)))
    with pytest.raises(ValueError, match="mask shape \\(6,\\) must equal target shape \\(6, 4\\)"):
        masked_bce_with_logits(em.randn(6, 4), np.zeros((6, 4)), mask=np.ones(6, dtype=bool))
    with pytest.raises(ValueError, match="reduction"):
        masked_bce_with_logits(em.randn(6, 4), np.zeros((6, 4)), reduction="avg")


def test_multitask_loss_is_the_weighted_sum_of_masked_head_losses():
    x, y, known = _batch()
    heads = {"a": em.tensor(x[:, 0]), "b": em.tensor(x[:, 1:])}
    targets = {"a": y[:, 0], "b": y[:, 1:]}
    total = MultiTaskLoss(weights={"a": 2.0, "b": 0.5})(heads, targets)
    expected = 2.0 * masked_bce_with_logits(heads["a"], y[:, 0]) + 0.5 * masked_bce_with_logits(heads["b"], y[:, 1:])
    assert_close(total, expected)
    as_list = MultiTaskLoss(reduction="sum")([heads["a"], heads["b"]], [targets["a"], targets["b"]],
                                             masks=[known[:, 0], known[:, 1:]])
    assert_close(as_list, masked_bce_with_logits(em.tensor(x), y, reduction="sum"))


def test_multitask_loss_errors():
    with pytest.raises(ValueError, match="targets must hold one entry per head"):
        MultiTaskLoss()([em.randn(3), em.randn(3)], [np.zeros(3)])
    with pytest.raises(ValueError, match="weights must hold one entry per head"):
        MultiTaskLoss(weights=[1.0])({"a": em.randn(3)}, {"a": np.zeros(3)})
    with pytest.raises(TypeError, match="use masked_bce_with_logits"):
        MultiTaskLoss()(em.randn(3, 2), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="reduction must be 'mean' or 'sum'"):
        MultiTaskLoss(reduction="none")


# -- freezing for transfer learning -------------------------------------------------------------
def _model():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3))


@pytest.mark.parametrize("optimizer", [lambda ps: em.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-2),
                                       lambda ps: em.optim.Adam(ps, lr=0.1, weight_decay=1e-2)])
def test_frozen_body_is_untouched_by_optimizer_steps(optimizer):
    model = _model()
    body = model[:4]
    body.requires_grad_(False)
    frozen = {k: v.detach().numpy().copy() for k, v in body.state_dict().items()}
    head_before = model[4].weight.detach().numpy().copy()
    opt = optimizer(model.parameters())  # frozen parameters may be handed over: they get no gradient
    x, y = em.randn(16, 4), em.randint(0, 3, (16,))
    for _ in range(3):
        opt.zero_grad()
        loss = nn.CrossEntropyLoss()(model(x), y)
        loss.backward()
        assert all(p.grad is None for p in body.parameters())
        opt.step()
    for k, v in body.state_dict().items():
        assert np.array_equal(v.numpy(), frozen[k]), k
    assert not np.array_equal(model[4].weight.detach().numpy(), head_before)
    assert [p.requires_grad for p in model.parameters()] == [False] * 4 + [True] * 2
