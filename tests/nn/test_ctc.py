"""The CTC loss against PyTorch's ``ctc_loss``, against brute-force enumeration of alignments,
and against finite differences."""
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember as em
import ember.nn.functional as F
from ember import nn
from ember.testing import gradcheck

T, N, C, S = 12, 4, 6, 5
INPUT_LENGTHS = [12, 10, 12, 7]
TARGET_LENGTHS = [5, 3, 0, 4]


def _logits(T=T, N=N, C=C, seed=0):
    return np.random.default_rng(seed).standard_normal((T, N, C))


def _targets(seed=1):
    targets = np.random.default_rng(seed).integers(1, C, (N, S))
    targets[1, 1] = targets[1, 0]  # a repeated label: needs a blank between its two frames
    return targets


def _both(logits, targets, input_lengths, target_lengths, dtype=np.float64, **kwargs):
    """(ours, theirs, our logits, their logits): the loss through log_softmax in both frameworks."""
    x = em.tensor(logits.astype(dtype), requires_grad=True)
    tx = torch.tensor(logits.astype(dtype), requires_grad=True)
    ours = F.ctc_loss(x.log_softmax(-1), em.tensor(targets), input_lengths, target_lengths, **kwargs)
    theirs = TF.ctc_loss(tx.log_softmax(-1), torch.tensor(targets), torch.tensor(input_lengths),
                         torch.tensor(target_lengths), **kwargs)
    return ours, theirs, x, tx


def _compare(ours, theirs, x, tx, tol):
    upstream = np.random.default_rng(5).standard_normal(tuple(theirs.shape)).astype(x.dtype)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=tol, atol=tol)
    ours.backward(em.tensor(upstream))
    theirs.backward(torch.tensor(upstream))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("zero_infinity", [False, True])
def test_ctc_matches_torch_through_log_softmax(reduction, zero_infinity, dtype, tol):
    _compare(*_both(_logits(), _targets(), INPUT_LENGTHS, TARGET_LENGTHS, dtype, reduction=reduction,
                    zero_infinity=zero_infinity), tol)


def test_ctc_concatenated_targets_and_blank_index():
    targets, lengths = _targets(), TARGET_LENGTHS
    flat = np.concatenate([row[:n] for row, n in zip(targets, lengths, strict=True)])
    padded = _both(_logits(), targets, INPUT_LENGTHS, lengths, reduction="none")
    concatenated = _both(_logits(), flat, INPUT_LENGTHS, lengths, reduction="none")
    np.testing.assert_allclose(concatenated[0].detach().numpy(), padded[0].detach().numpy(), rtol=1e-12)
    _compare(*concatenated, 1e-10)
    shifted = np.where(targets == C - 1, 0, targets)  # class C − 1 as the blank, class 0 an ordinary label
    _compare(*_both(_logits(), shifted, INPUT_LENGTHS, lengths, blank=C - 1, reduction="sum"), 1e-10)


def test_ctc_impossible_alignment_is_infinite_or_zeroed():
    targets = np.array([[1, 1, 1, 2]])  # needs 4 labels + 2 separating blanks = 6 frames
    for zero_infinity in (False, True):
        ours, theirs, x, tx = _both(_logits(T=5, N=1), targets, [5], [4], reduction="none",
                                    zero_infinity=zero_infinity)
        np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())
        assert np.isinf(ours.detach().numpy()).all() != zero_infinity
    ours.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0.0)


def test_ctc_unbatched_input():
    logits, target = _logits(T=8, N=1)[:, 0], np.array([2, 3, 3])
    x, tx = em.tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    for reduction in ("none", "mean"):
        ours = F.ctc_loss(x.log_softmax(-1), em.tensor(target), 8, 3, reduction=reduction)
        theirs = TF.ctc_loss(tx.log_softmax(-1), torch.tensor(target), torch.tensor(8), torch.tensor(3),
                             reduction=reduction)
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12)


def _brute_force_nll(log_probs, target, blank=0):
    """−log Σ over every frame labelling that collapses to ``target`` (tiny T and C only)."""
    total = 0.0
    for path in itertools.product(range(log_probs.shape[1]), repeat=log_probs.shape[0]):
        merged = [k for i, k in enumerate(path) if i == 0 or k != path[i - 1]]
        if [k for k in merged if k != blank] == list(target):
            total += np.exp(sum(log_probs[t, k] for t, k in enumerate(path)))
    return -np.log(total)


@pytest.mark.parametrize("target", [[1], [1, 2], [2, 2], [1, 2, 1], []])
def test_ctc_equals_the_sum_over_all_alignments(target):
    lp = torch.tensor(_logits(T=5, N=1, C=3, seed=3)[:, 0]).log_softmax(-1).numpy()
    ours = F.ctc_loss(em.tensor(lp[:, None]), em.tensor(np.array([target + [1]])), [5], [len(target)],
                      reduction="none")
    np.testing.assert_allclose(ours.numpy()[0], _brute_force_nll(lp, target), rtol=1e-12)


def test_ctc_gradient_is_exact_and_relates_to_torchs():
    """Ours is ∂loss/∂log_probs (finite differences agree); PyTorch's kernel adds e^{log_probs} on the frames
    t < T_n (the log_softmax Jacobian's share), which cancels upstream of a log_softmax."""
    lp = em.tensor(_logits(T=7, N=3, C=4), requires_grad=True)
    targets, input_lengths, target_lengths = np.array([[1, 2, 2], [3, 1, 0], [2, 0, 0]]), [7, 6, 4], [3, 2, 1]
    assert gradcheck(lambda v: F.ctc_loss(v.log_softmax(-1), em.tensor(targets), input_lengths, target_lengths,
                                          reduction="none"), [lp])
    raw = torch.tensor(_logits(T=7, N=3, C=4)).log_softmax(-1).detach()
    ours = em.tensor(raw.numpy(), requires_grad=True)
    theirs = raw.clone().requires_grad_()
    upstream = np.array([0.5, -1.5, 2.0])
    F.ctc_loss(ours, em.tensor(targets), input_lengths, target_lengths, reduction="none").backward(
        em.tensor(upstream))
    TF.ctc_loss(theirs, torch.tensor(targets), torch.tensor(input_lengths), torch.tensor(target_lengths),
                reduction="none").backward(torch.tensor(upstream))
    frames = (np.arange(7)[:, None] < np.array(input_lengths))[:, :, None]
    expected = theirs.grad.numpy() - np.exp(raw.numpy()) * frames * upstream[None, :, None]
    np.testing.assert_allclose(ours.grad.numpy(), expected, rtol=1e-10, atol=1e-12)
    assert gradcheck(lambda v: F.ctc_loss(v, em.tensor(targets), input_lengths, target_lengths, reduction="sum"),
                     [em.tensor(raw.numpy(), requires_grad=True)])


def test_ctc_loss_module_matches_torch():
    ours, theirs = nn.CTCLoss(blank=0, zero_infinity=True), torch.nn.CTCLoss(blank=0, zero_infinity=True)
    assert repr(ours) == repr(theirs)
    x, tx = em.tensor(_logits(), requires_grad=True), torch.tensor(_logits(), requires_grad=True)
    y = ours(x.log_softmax(2), em.tensor(_targets()), em.tensor(INPUT_LENGTHS), em.tensor(TARGET_LENGTHS))
    ty = theirs(tx.log_softmax(2), torch.tensor(_targets()), torch.tensor(INPUT_LENGTHS),
                torch.tensor(TARGET_LENGTHS))
    _compare(y, ty, x, tx, 1e-10)


def test_ctc_errors():
    lp = em.randn(5, 2, 4).log_softmax(2)
    with pytest.raises(RuntimeError, match="input_lengths to have value at most 5"):
        F.ctc_loss(lp, em.tensor([[1, 2], [1, 1]]), [6, 5], [2, 2])
    with pytest.raises(RuntimeError, match="one entry per sequence"):
        F.ctc_loss(lp, em.tensor([[1, 2], [1, 1]]), [5], [2, 2])
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.ctc_loss(lp, em.tensor([[1, 2], [1, 1]]), [5, 5], [2, 2], reduction="avg")
