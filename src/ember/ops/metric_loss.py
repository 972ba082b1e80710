"""Metric learning: distances between embeddings, the triplet and contrastive losses.

Everything here composes existing ops (sub, mul, sum, sqrt, clip, minimum), so the gradients
come from their backward passes; no fused Function is needed.
"""
from __future__ import annotations

import math

from ember.autograd.tensor import as_tensor
from ember.ops.arithmetic import pow
from ember.ops.elementwise import abs, clip, minimum, sqrt
from ember.ops.linalg import matmul
from ember.ops.loss import REDUCTIONS, _reduce
from ember.ops.reduction import amax, sum


# -- distances -----------------------------------------------------------------------------
def _sqrt0(s):
    """√s with gradient 0 where s = 0 (the norm's subgradient there, as PyTorch) instead of ∞·0 = NaN."""
    nonzero = (s.array > 0).astype(s.dtype)
    return sqrt(s + (1 - nonzero)) * nonzero  # √1 stands in at zeros, then is masked out


def _norm(v, p, keepdim, axis=-1, name="pairwise_distance"):
    """‖v‖_p along ``axis``: (Σ|v_i|^p)^(1/p), max|v_i| for p = ∞."""
    if p == 2:
        return _sqrt0(sum(v * v, axis=axis, keepdims=keepdim))
    if p == 1:
        return sum(abs(v), axis=axis, keepdims=keepdim)
    if p == math.inf:
        return amax(abs(v), axis=axis, keepdims=keepdim)  # ties share the gradient, as PyTorch's inf-norm
    if not p > 0:
        raise ValueError(f"{name}: p must be positive (or inf), got {p}")
    return pow(sum(pow(abs(v), p), axis=axis, keepdims=keepdim), 1.0 / p)


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """Rescale to unit p-norm along ``dim``: v / max(‖v‖_p, eps) (PyTorch's ``F.normalize``).

    FaceNet puts its embeddings on the unit hypersphere this way, so squared distances lie
    in [0, 4] and a fixed margin (α = 0.2) means the same everywhere.

    >>> normalize(em.tensor([[3.0, 4.0]]))
    tensor([[0.6, 0.8]])
    """
    return input / clip(_norm(input, p, True, axis=dim, name="normalize"), min=eps)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """The p-norm distance between matching rows, over the last dimension: d = ‖x1 − x2 + eps‖_p.

    As PyTorch's ``F.pairwise_distance``: ``eps`` keeps the Euclidean norm's gradient finite when
    x1 = x2, and the inputs broadcast against each other.

    Shapes: x1 (N, D) and x2 (N, D) (or broadcastable) → (N,), or (N, 1) with ``keepdim``.

    >>> pairwise_distance(em.tensor([[0.0, 0.0]]), em.tensor([[3.0, 4.0]]), eps=0.0)
    tensor([5.])
    """
    return _norm(x1 - x2 + eps, p, keepdim)


def _squared_distance(x1, x2, p, eps):
    """d² without a square root where p = 2 (smooth at d = 0), else the distance squared."""
    if p == 2:
        v = x1 - x2 + eps
        return sum(v * v, axis=-1)
    d = pairwise_distance(x1, x2, p, eps)
    return d * d


def pairwise_distances(x, y=None, squared=False):
    """The Euclidean distance matrix D_ij = ‖x_i − y_j‖ (or its square) between two sets of rows.

    Computed as ‖x_i‖² + ‖y_j‖² − 2 x_i·y_j with one matrix product (what online triplet mining
    needs for a whole batch at once); round-off below zero is clipped, and with ``y=None`` the
    diagonal is exactly 0. Where D_ij = 0 the square root's gradient is taken as 0.

    Shapes: x (N, D), y (M, D) → (N, M); ``y=None`` means y = x.

    >>> pairwise_distances(em.tensor([[0.0, 0.0], [3.0, 4.0]]))
    tensor([[0., 5.],
            [5., 0.]])
    """
    if x.ndim != 2 or (y is not None and (y.ndim != 2 or y.shape[1] != x.shape[1])):
        raise ValueError(f"pairwise_distances: expected x (N, D) and y (M, D), got {x.shape} and "
                         f"{None if y is None else y.shape}")
    other = x if y is None else y
    x2 = sum(x * x, axis=1, keepdims=True)
    y2 = sum(other * other, axis=1)
    d2 = clip(x2 + y2 - 2 * matmul(x, other.T), min=0)
    if y is None:  # x_i·x_i − 2 x_i·x_i + x_i·x_i leaves round-off that sqrt would magnify
        d2 = d2 * (1 - x.xp.eye(x.shape[0], dtype=x.dtype))
    if squared:
        return d2
    return _sqrt0(d2)


# -- losses --------------------------------------------------------------------------------
def _check_options(name, margin, reduction):
    if not margin > 0:
        raise ValueError(f"{name}: margin must be greater than 0, got {margin}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, reduction="mean",
                        squared=False):
    """Triplet loss: ℓ_i = max(d(a_i, p_i) − d(a_i, n_i) + margin, 0), reduced.

    With the defaults this is PyTorch's ``F.triplet_margin_loss``: d(x, y) = ‖x − y + eps‖_p,
    and ``swap=True`` uses min(d(a, n), d(p, n)) as the negative distance (Balntas et al. 2016).
    ``squared=True`` gives the FaceNet form of the course, on squared distances:
    ℓ = max(‖f(A) − f(P)‖² − ‖f(A) − f(N)‖² + α, 0) with α = ``margin`` (FaceNet uses 0.2 on
    unit-norm embeddings); each distance is squared, eps included, and p = 2 needs no square root.

    Shapes: anchor, positive, negative (N, D) or (D,), all with the same number of dimensions;
    output scalar, or (N,) for reduction='none'.

    >>> a, p, n = em.randn(8, 16), em.randn(8, 16), em.randn(8, 16)
    >>> triplet_margin_loss(a, p, n, margin=0.2, squared=True).shape
    ()
    """
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise ValueError("triplet_margin_loss: anchor, positive and negative must have the same number of "
                         f"dimensions, got shapes {anchor.shape}, {positive.shape} and {negative.shape}")
    _check_options("triplet_margin_loss", margin, reduction)
    dist = _squared_distance if squared else pairwise_distance
    d_ap, d_an = dist(anchor, positive, p, eps), dist(anchor, negative, p, eps)
    if swap:
        d_an = minimum(d_an, dist(positive, negative, p, eps))
    return _reduce(clip(d_ap - d_an + margin, min=0), reduction, "triplet_margin_loss")


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0, swap=False,
                                      reduction="mean"):
    """The triplet loss with any distance: ℓ_i = max(d(a_i, p_i) − d(a_i, n_i) + margin, 0), d given as
    ``distance_function(x, y)`` (a callable of tensors giving one distance per row; PyTorch's default,
    ``pairwise_distance``, when None). ``swap`` as ``triplet_margin_loss``.

    >>> a, p, n = em.randn(8, 4), em.randn(8, 4), em.randn(8, 4)
    >>> F.triplet_margin_with_distance_loss(a, p, n, distance_function=lambda x, y: 1 - F.cosine_similarity(x, y)).shape
    ()
    """
    _check_options("triplet_margin_with_distance_loss", margin, reduction)
    dist = pairwise_distance if distance_function is None else distance_function
    d_ap, d_an = dist(anchor, positive), dist(anchor, negative)
    if swap:
        d_an = minimum(d_an, dist(positive, negative))
    return _reduce(clip(d_ap - d_an + margin, min=0), reduction, "triplet_margin_with_distance_loss")


def contrastive_loss(x1, x2, target, margin=1.0, eps=1e-6, reduction="mean"):
    """Contrastive loss (Hadsell, Chopra & LeCun 2006): ℓ_i = y_i d_i² + (1 − y_i) max(margin − d_i, 0)².

    d_i = ‖x1_i − x2_i + eps‖ is the Euclidean distance between the two embeddings of pair i.
    Label convention: y = 1 for a *similar* pair (pulled together), y = 0 for a dissimilar one
    (pushed apart until at least ``margin`` away). The paper writes the opposite labels and
    halves both terms; this form is the common modern one.

    Shapes: x1, x2 (N, D); target (N,) of 0/1 (bool, int or float) → scalar, or (N,) for 'none'.

    >>> x1, x2 = em.randn(4, 8), em.randn(4, 8)
    >>> contrastive_loss(x1, x2, em.tensor([1, 0, 1, 0]), margin=2.0).shape
    ()
    """
    target = as_tensor(target)
    if x1.shape != x2.shape or x1.ndim < 1 or tuple(target.shape) != x1.shape[:-1]:
        raise ValueError(f"contrastive_loss: expected x1 and x2 of one shape (N, D) and target (N,), got "
                         f"{x1.shape}, {x2.shape} and {tuple(target.shape)}")
    _check_options("contrastive_loss", margin, reduction)
    y = target.array.astype(x1.dtype)
    d2 = _squared_distance(x1, x2, 2, eps)
    push = clip(margin - _sqrt0(d2), min=0)
    return _reduce(y * d2 + (1 - y) * (push * push), reduction, "contrastive_loss")
