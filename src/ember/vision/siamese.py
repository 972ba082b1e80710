"""Siamese networks and metric learning: a shared encoder f, distances d = ‖f(x1) − f(x2)‖²,
verification by a threshold, online triplet mining (FaceNet) and the ROC of a verifier.

Mining works on the whole batch at once from its pairwise distance matrix: batch-hard takes,
for every anchor, its farthest positive and nearest negative (Hermans et al. 2017); semi-hard
takes, for every anchor-positive pair, the nearest negative still farther than the positive
(Schroff et al. 2015). The loss on the mined triplets is ``triplet_margin_loss``.

>>> net = SiameseNetwork(nn.Sequential(nn.Flatten(), nn.Linear(64, 32)))
>>> loss = online_triplet_loss(net.embed(images), labels, margin=0.2, mining="semi_hard", squared=True)
>>> same = net.verify(x1, x2, threshold=0.5)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ember.autograd.grad_mode import no_grad
from ember.autograd.tensor import Tensor, as_tensor
from ember.backend import get_array_module as xp_of
from ember.backend import to_numpy
from ember.nn.module import Module
from ember.ops.metric_loss import pairwise_distances, triplet_margin_loss
from ember.ops.reduction import sum
from ember.ops.shape import flatten

__all__ = ["SiameseNetwork", "auc", "batch_hard_triplets", "best_threshold", "online_triplet_loss", "plot_roc",
           "roc_curve", "semi_hard_triplets"]


class SiameseNetwork(Module):
    """Two inputs through one shared encoder f, compared by d = ‖f(x1) − f(x2)‖².

    ``embed(x)`` is f(x) flattened to (N, D); ``forward(x1, x2)`` the squared distances (N,);
    ``verify(x1, x2, threshold)`` says "same" where d ≤ threshold. The encoder's parameters
    are registered once (``encoder.*``), so both branches train the same weights.

    >>> net = SiameseNetwork(nn.Sequential(nn.Flatten(), nn.Linear(64, 16)))
    >>> net(em.randn(4, 1, 8, 8), em.randn(4, 1, 8, 8)).shape
    (4,)
    """

    def __init__(self, encoder: Module):
        super().__init__()
        if not isinstance(encoder, Module):
            raise TypeError(f"SiameseNetwork: encoder must be a Module, got {type(encoder).__name__}")
        self.encoder = encoder

    def embed(self, x):
        """f(x) as (N, D) embeddings."""
        return flatten(self.encoder(x), 1)

    def forward(self, x1, x2):
        diff = self.embed(x1) - self.embed(x2)
        return sum(diff * diff, axis=1)

    def verify(self, x1, x2, threshold: float):
        """Boolean tensor (N,): True where ‖f(x1) − f(x2)‖² ≤ threshold (the same identity)."""
        with no_grad():
            return self(x1, x2) <= threshold


# -- online triplet mining -----------------------------------------------------------------
def _mining_inputs(embeddings, labels, name):
    """Squared distances (N, N) without a graph, and the positive and negative masks."""
    embeddings = as_tensor(embeddings)
    labels = as_tensor(labels).array
    if embeddings.ndim != 2 or labels.shape != embeddings.shape[:1]:
        raise ValueError(f"{name}: expected embeddings (N, D) and labels (N,), got {embeddings.shape} "
                         f"and {labels.shape}")
    with no_grad():
        D = pairwise_distances(embeddings.detach(), squared=True).array
    xp = xp_of(D)
    same = labels[:, None] == labels[None, :]
    positive = same & ~xp.eye(len(labels), dtype=bool)
    return D, positive, ~same


def batch_hard_triplets(embeddings, labels):
    """Batch-hard mining: for each anchor a, its farthest positive and its nearest negative.

    p(a) = argmax_{j: y_j = y_a, j ≠ a} D_aj and n(a) = argmin_{k: y_k ≠ y_a} D_ak over the
    batch's distance matrix. Anchors lacking a positive or a negative are skipped.

    Shapes: embeddings (N, D), labels (N,) → three int arrays (T,) of row indices (a, p, n).

    >>> a, p, n = batch_hard_triplets(emb, labels)
    >>> loss = triplet_margin_loss(emb[a], emb[p], emb[n])
    """
    D, positive, negative = _mining_inputs(embeddings, labels, "batch_hard_triplets")
    xp = xp_of(D)
    anchors = xp.flatnonzero(positive.any(axis=1) & negative.any(axis=1))
    D = D[anchors]
    hardest_p = xp.where(positive[anchors], D, -xp.inf).argmax(axis=1)
    hardest_n = xp.where(negative[anchors], D, xp.inf).argmin(axis=1)
    return anchors, hardest_p, hardest_n


def semi_hard_triplets(embeddings, labels):
    """Semi-hard mining (FaceNet): every anchor-positive pair with its nearest negative farther than the positive.

    For each pair (a, p), n = argmin_{k: y_k ≠ y_a, D_ak > D_ap} D_ak — a negative still inside
    the margin when the loss is positive, but never closer than the positive, which avoids
    the collapsed solutions of the hardest negatives early in training. Where no negative is
    that far, the farthest negative is taken (as TensorFlow's ``triplet_semihard_loss``).

    Shapes: embeddings (N, D), labels (N,) → three int arrays (T,) of row indices (a, p, n).

    >>> a, p, n = semi_hard_triplets(emb, labels)
    """
    D, positive, negative = _mining_inputs(embeddings, labels, "semi_hard_triplets")
    xp = xp_of(D)
    anchors, positives = xp.nonzero(positive & negative.any(axis=1, keepdims=True))
    D_ap, D_a, neg = D[anchors, positives], D[anchors], negative[anchors]
    beyond = neg & (D_a > D_ap[:, None])
    nearest_beyond = xp.where(beyond, D_a, xp.inf).argmin(axis=1)
    farthest = xp.where(neg, D_a, -xp.inf).argmax(axis=1)
    return anchors, positives, xp.where(beyond.any(axis=1), nearest_beyond, farthest)


MINERS = {"batch_hard": batch_hard_triplets, "semi_hard": semi_hard_triplets}


def online_triplet_loss(embeddings, labels, margin=1.0, mining="batch_hard", squared=False, reduction="mean"):
    """Triplet loss on the triplets mined from one batch: mine indices, then ``triplet_margin_loss``.

    ``mining`` is 'batch_hard' or 'semi_hard'; ``squared=True`` uses the FaceNet form on
    squared distances. A batch with no valid triplet (one class only) gives a zero loss that
    still backpropagates.

    Shapes: embeddings (N, D) with a graph, labels (N,) → scalar (or (T,) for 'none').

    >>> loss = online_triplet_loss(net.embed(images), labels, margin=0.2, mining="semi_hard", squared=True)
    >>> loss.backward()
    """
    if mining not in MINERS:
        raise ValueError(f"online_triplet_loss: mining must be one of {sorted(MINERS)}, got {mining!r}")
    a, p, n = MINERS[mining](embeddings, labels)
    if len(a) == 0:
        return sum(embeddings * 0.0)
    return triplet_margin_loss(embeddings[a], embeddings[p], embeddings[n], margin=margin, reduction=reduction,
                               squared=squared)


# -- verification metrics ------------------------------------------------------------------
def _scores_and_labels(scores, labels, name):
    scores = to_numpy(scores.array if isinstance(scores, Tensor) else scores).astype(np.float64).ravel()
    labels = to_numpy(labels.array if isinstance(labels, Tensor) else labels).ravel().astype(bool)
    if scores.shape != labels.shape or not labels.any() or labels.all():
        raise ValueError(f"{name}: need one score per label and both classes present, got {scores.size} scores "
                         f"and {labels.size} labels with {int(labels.sum())} positives")
    return scores, labels


def _cumulative_counts(scores, labels):
    """Thresholds (distinct scores, descending, +inf first) and the true/false positives at each."""
    order = np.argsort(-scores, kind="stable")
    scores, labels = scores[order], labels[order]
    last = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]  # last row of each distinct score
    tps, fps = np.cumsum(labels)[last], last + 1 - np.cumsum(labels)[last]
    return np.r_[np.inf, scores[last]], np.r_[0, tps], np.r_[0, fps]


def roc_curve(scores, labels):
    """The ROC curve of a verifier that says "same" when score ≥ t, at every distinct threshold t.

    FPR(t) = FP/negatives and TPR(t) = TP/positives, with thresholds descending from +inf
    (nothing accepted) to the lowest score (everything accepted) — scikit-learn's ``roc_curve``
    with ``drop_intermediate=False``. For distances, where small means "same", pass ``-d``.

    Shapes: scores (N,), labels (N,) of 0/1 (1 = same) → fpr, tpr, thresholds (K,) NumPy arrays.

    >>> fpr, tpr, thresholds = roc_curve(-distances, same)
    """
    scores, labels = _scores_and_labels(scores, labels, "roc_curve")
    thresholds, tps, fps = _cumulative_counts(scores, labels)
    return fps / fps[-1], tps / tps[-1], thresholds


def auc(fpr, tpr):
    """Area under a curve by the trapezoid rule, e.g. the ROC AUC from ``roc_curve``'s fpr, tpr.

    >>> auc(*roc_curve(scores, labels)[:2])
    """
    fpr, tpr = np.asarray(fpr, dtype=np.float64), np.asarray(tpr, dtype=np.float64)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def best_threshold(scores, labels):
    """The threshold t maximising the accuracy of "same iff score ≥ t", and that accuracy.

    accuracy(t) = (TP(t) + TN(t)) / N over the thresholds of ``roc_curve``; ties go to the
    highest t. For distances pass ``-d``: then "same iff d ≤ −t".

    Returns (threshold, accuracy) as Python floats.

    >>> t, acc = best_threshold(-distances, same)
    >>> predicted_same = distances <= -t
    """
    scores, labels = _scores_and_labels(scores, labels, "best_threshold")
    thresholds, tps, fps = _cumulative_counts(scores, labels)
    accuracy = (tps + (fps[-1] - fps)) / scores.size
    k = int(np.argmax(accuracy))
    return float(thresholds[k]), float(accuracy[k])


def plot_roc(fpr, tpr, path=None, label=None, title="ROC", dpi=100):
    """Draw the ROC curve (TPR against FPR, with the chance diagonal) and save it as a PNG.

    ``label`` names the curve in the legend (e.g. "AUC = 0.97"). Returns the matplotlib Figure.

    >>> fpr, tpr, _ = roc_curve(-distances, same)
    >>> plot_roc(fpr, tpr, "runs/roc.png", label=f"AUC = {auc(fpr, tpr):.3f}")
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2, 4.0), layout="constrained")
    ax = fig.subplots()
    ax.plot(fpr, tpr, label=label, color="C0")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8, label="chance")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false positive rate", ylabel="true positive rate", title=title)
    ax.legend(loc="lower right")
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi)
    return fig
