"""Siamese networks: shared encoder, online triplet mining, ROC and threshold selection."""
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

import ember as em
from ember import nn
from ember.ops.metric_loss import triplet_margin_loss
from ember.vision.siamese import (
    SiameseNetwork,
    auc,
    batch_hard_triplets,
    best_threshold,
    online_triplet_loss,
    plot_roc,
    roc_curve,
    semi_hard_triplets,
)
from torch_parity import assert_close

# points on a line: classes A = {0, 1, 3}, B = {1.5, 5.2}, C = {4.4} (C has no positive)
POINTS = np.array([0.0, 1.0, 3.0, 1.5, 5.2, 4.4])
LABELS = np.array([0, 0, 0, 1, 1, 2])


def _embeddings(values):
    return em.tensor(np.stack([values, np.zeros_like(values)], axis=1))


# -- mining ------------------------------------------------------------------------------------
def test_batch_hard_picks_farthest_positive_and_nearest_negative_by_hand():
    a, p, n = batch_hard_triplets(_embeddings(POINTS), LABELS)
    assert a.tolist() == [0, 1, 2, 3, 4]  # anchor 5 (class C) has no positive
    assert p.tolist() == [2, 2, 0, 4, 3]
    assert n.tolist() == [3, 3, 5, 1, 5]


def test_semi_hard_picks_nearest_negative_beyond_the_positive_by_hand():
    a, p, n = semi_hard_triplets(_embeddings(POINTS), em.tensor(LABELS))
    assert a.tolist() == [0, 0, 1, 1, 2, 2, 3, 4]
    assert p.tolist() == [1, 2, 0, 2, 0, 1, 4, 3]
    # (2, 0) and (3, 4) have no negative farther than the positive: the farthest negative is taken
    assert n.tolist() == [3, 5, 5, 5, 4, 4, 5, 1]


def _loop_reference(x, labels, mining):
    d = np.array([[np.sum((xi - xj) ** 2) for xj in x] for xi in x])
    triplets = []
    for i in range(len(x)):
        pos = [j for j in range(len(x)) if labels[j] == labels[i] and j != i]
        neg = [k for k in range(len(x)) if labels[k] != labels[i]]
        if not pos or not neg:
            continue
        if mining == "batch_hard":
            triplets.append((i, max(pos, key=lambda j: d[i, j]), min(neg, key=lambda k: d[i, k])))
            continue
        for j in pos:
            beyond = [k for k in neg if d[i, k] > d[i, j]]
            k = min(beyond, key=lambda k: d[i, k]) if beyond else max(neg, key=lambda k: d[i, k])
            triplets.append((i, j, k))
    return [list(t) for t in zip(*triplets, strict=True)]


@pytest.mark.parametrize("mining", ["batch_hard", "semi_hard"])
def test_mining_matches_a_loop_reference_on_random_batches(mining):
    miner = {"batch_hard": batch_hard_triplets, "semi_hard": semi_hard_triplets}[mining]
    rng = np.random.default_rng(0)
    for _ in range(3):
        x, labels = rng.standard_normal((12, 4)), rng.integers(0, 4, 12)
        got = [idx.tolist() for idx in miner(em.tensor(x), labels)]
        assert got == _loop_reference(x, labels, mining)


def test_online_triplet_loss_is_the_triplet_loss_of_the_mined_triplets():
    rng = np.random.default_rng(1)
    x = em.tensor(rng.standard_normal((10, 3)), requires_grad=True)
    labels = rng.integers(0, 3, 10)
    for mining, miner in (("batch_hard", batch_hard_triplets), ("semi_hard", semi_hard_triplets)):
        a, p, n = miner(x, labels)
        expected = triplet_margin_loss(x[a], x[p], x[n], margin=0.3, squared=True)
        got = online_triplet_loss(x, labels, margin=0.3, mining=mining, squared=True)
        assert_close(got, expected)
    got.backward()
    assert x.grad is not None and np.abs(x.grad.numpy()).sum() > 0


def test_online_triplet_loss_without_triplets_is_zero_and_backpropagates():
    x = em.randn(4, 3, requires_grad=True)
    loss = online_triplet_loss(x, np.zeros(4, dtype=np.int64))
    assert loss.item() == 0
    loss.backward()
    assert np.all(x.grad.numpy() == 0)


def test_mining_errors():
    with pytest.raises(ValueError, match="batch_hard_triplets.*\\(4, 3\\).*\\(5,\\)"):
        batch_hard_triplets(em.randn(4, 3), np.zeros(5))
    with pytest.raises(ValueError, match="mining must be one of"):
        online_triplet_loss(em.randn(4, 3), np.zeros(4), mining="hardest")


# -- the siamese network ------------------------------------------------------------------------
def _encoder():
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 5))


def test_siamese_forward_is_the_squared_distance_of_shared_embeddings():
    net = SiameseNetwork(_encoder())
    x1, x2 = em.randn(4, 3, 4), em.randn(4, 3, 4)
    W, b = net.encoder[1].weight.detach().numpy(), net.encoder[1].bias.detach().numpy()
    f1, f2 = x1.numpy().reshape(4, -1) @ W.T + b, x2.numpy().reshape(4, -1) @ W.T + b
    assert_close(net(x1, x2).detach(), np.sum((f1 - f2) ** 2, axis=1))
    assert list(net.state_dict()) == ["encoder.1.weight", "encoder.1.bias"]


def test_siamese_gradient_comes_from_both_branches():
    net = SiameseNetwork(_encoder())
    x1, x2 = em.randn(3, 12), em.randn(3, 12)
    net(x1, x2).sum().backward()
    # d = ‖W(x1 − x2)‖²: dd/dW = 2 W (x1 − x2)(x1 − x2)ᵀ summed over pairs; the bias cancels
    W, delta = net.encoder[1].weight.detach().numpy(), (x1 - x2).numpy()
    assert_close(net.encoder[1].weight.grad, 2 * W @ delta.T @ delta)
    assert_close(net.encoder[1].bias.grad, np.zeros(5, dtype=np.float32), atol=1e-5)


def test_verify_thresholds_the_distance():
    net = SiameseNetwork(_encoder())
    x1, x2 = em.randn(6, 12), em.randn(6, 12)
    d = net(x1, x2).detach().numpy()
    threshold = float(np.median(d))
    same = net.verify(x1, x2, threshold)
    assert not same.requires_grad
    assert same.numpy().tolist() == (d <= threshold).tolist()
    assert net.verify(x1, x1, 1e-6).numpy().all()


def test_siamese_rejects_a_non_module_encoder():
    with pytest.raises(TypeError, match="SiameseNetwork: encoder must be a Module"):
        SiameseNetwork(lambda x: x)


# -- ROC and the best threshold -------------------------------------------------------------------
def test_roc_curve_by_hand():
    fpr, tpr, thresholds = roc_curve([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0])
    assert thresholds.tolist() == [np.inf, 0.9, 0.8, 0.7, 0.6]
    assert tpr.tolist() == [0, 0.5, 0.5, 1, 1]
    assert fpr.tolist() == [0, 0, 0.5, 0.5, 1]
    assert auc(fpr, tpr) == 0.75


def test_roc_curve_and_auc_match_sklearn_with_ties():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    scores = np.round(labels + rng.standard_normal(200), 1)  # rounding makes ties
    fpr, tpr, thresholds = roc_curve(em.tensor(scores), labels)
    sk_fpr, sk_tpr, sk_thresholds = sk_roc_curve(labels, scores, drop_intermediate=False)
    assert_close(fpr, sk_fpr)
    assert_close(tpr, sk_tpr)
    assert_close(thresholds[1:], sk_thresholds[1:])
    assert thresholds[0] > scores.max()
    assert abs(auc(fpr, tpr) - roc_auc_score(labels, scores)) < 1e-12


def test_best_threshold_by_hand_and_against_brute_force():
    assert best_threshold([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0]) == (0.9, 0.75)  # ties go to the highest t
    assert best_threshold([0.2, 0.5, 0.9, 0.1], [0, 1, 1, 0]) == (0.5, 1.0)  # separable
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 100)
    scores = labels + rng.standard_normal(100)
    t, accuracy = best_threshold(scores, labels)
    brute = max(np.mean((scores >= s) == labels) for s in np.r_[scores, np.inf])
    assert accuracy == brute and np.mean((scores >= t) == labels) == accuracy


def test_roc_needs_both_classes():
    with pytest.raises(ValueError, match="roc_curve: need one score per label and both classes"):
        roc_curve([0.1, 0.2], [1, 1])
    with pytest.raises(ValueError, match="best_threshold"):
        best_threshold([0.1, 0.2, 0.3], [1, 0])


def test_plot_roc_writes_a_png(tmp_path):
    fpr, tpr, _ = roc_curve([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0])
    path = tmp_path / "sub" / "roc.png"
    fig = plot_roc(fpr, tpr, path, label="AUC = 0.75")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert fig.axes[0].get_xlabel() == "false positive rate"
