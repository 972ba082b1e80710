"""Loss layers: modules holding a loss's options, calling the functional loss in ``forward(input, target)``.

Every loss takes ``reduction`` = 'mean' (default) | 'sum' | 'none', and accepts PyTorch's
deprecated ``size_average``/``reduce`` arguments in the same positions. Class weights are
buffers, so they appear in ``state_dict`` and follow ``.to(...)``, as in PyTorch.
"""
from __future__ import annotations

from ember.autograd.tensor import Tensor
from ember.creation import tensor
from ember.nn import functional as F
from ember.nn.module import Module
from ember.ops.loss import REDUCTIONS


class _Loss(Module):
    """Base of the losses: resolves and checks ``reduction``."""

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__()
        reduction = F._legacy_reduction(size_average, reduce, reduction)
        if reduction not in REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction


class _WeightedLoss(_Loss):
    """A loss with an optional per-class (or per-element) ``weight`` buffer."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _as_buffer(weight))


def _as_buffer(value):
    if value is None or isinstance(value, Tensor):
        return value
    return tensor(value)


class L1Loss(_Loss):
    """Mean absolute error: ℓ_i = |x_i − y_i|, reduced over all elements.

    Shapes: input and target of the same shape; output scalar (or that shape for 'none').

    >>> nn.L1Loss()(em.tensor([1.0, 2.0]), em.tensor([0.0, 0.0]))
    tensor(1.5)
    """

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error: ℓ_i = (x_i − y_i)², reduced over all elements (the regression loss).

    >>> nn.MSELoss()(em.tensor([1.0, 2.0]), em.tensor([0.0, 0.0]))
    tensor(2.5)
    """

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Smooth L1 (Fast R-CNN's box regression loss): ℓ_i = ½d_i²/β if d_i = |x_i − y_i| < β, else d_i − ½β.

    Quadratic near zero, linear beyond β, so outliers pull less than in MSE; β = 0 is L1.

    >>> nn.SmoothL1Loss(beta=1.0)(em.tensor([0.5, 3.0]), em.tensor([0.0, 0.0]))
    tensor(1.3125)
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0):
        super().__init__(size_average, reduce, reduction)
        if beta < 0:
            raise ValueError(f"SmoothL1Loss: beta must be non-negative, got {beta}")
        self.beta = beta

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """Huber loss: ℓ_i = ½d_i² if d_i = |x_i − y_i| < δ, else δ(d_i − ½δ) (δ · SmoothL1 with β = δ).

    >>> nn.HuberLoss(delta=1.0)(em.tensor([0.5, 3.0]), em.tensor([0.0, 0.0]))
    tensor(1.3125)
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction=reduction)
        if delta <= 0:
            raise ValueError(f"HuberLoss: delta must be positive, got {delta}")
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class NegativeSamplingLoss(_Loss):
    """word2vec's negative-sampling loss: ℓ_i = −log σ(u_o·v_i) − Σ_k log σ(−u_k·v_i).

    ``forward(input, positive, negatives)``: centre vectors v (N, D), the true context word's
    output vectors u_o (N, D) and K sampled negatives' output vectors u_k (N, K, D).

    >>> nn.NegativeSamplingLoss()(em.randn(4, 8), em.randn(4, 8), em.randn(4, 5, 8)).shape
    ()
    """

    def forward(self, input, positive, negatives):
        return F.negative_sampling_loss(input, positive, negatives, reduction=self.reduction)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy on probabilities: ℓ = −w[y log p + (1 − y) log(1 − p)].

    The course's logistic-regression loss, with p = σ(z) = ŷ. Input p in [0, 1] and target
    of the same shape; prefer ``BCEWithLogitsLoss`` on raw scores, which is stable.

    >>> nn.BCELoss()(em.tensor([0.5]), em.tensor([1.0]))   # log 2
    tensor(0.6931472)
    """

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Sigmoid + binary cross-entropy in one stable op, on logits x:
    ℓ = −w[p_w·y log σ(x) + (1 − y) log(1 − σ(x))].

    ``pos_weight`` (broadcast along the last, class dimension) > 1 raises recall on positives.

    >>> nn.BCEWithLogitsLoss(pos_weight=em.tensor([3.0]))(em.randn(4, 1), em.ones(4, 1)).shape
    ()
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean", pos_weight=None):
        super().__init__(weight, size_average, reduce, reduction)
        self.register_buffer("pos_weight", _as_buffer(pos_weight))

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy from logits: ℓ_i = −Σ_c q_ic log softmax(x_i)_c.

    Args:
        weight: (C,) rescaling of each class.
        ignore_index: class-index targets equal to it contribute nothing (e.g. padding).
        reduction: 'mean' (weighted mean over kept targets, as PyTorch) | 'sum' | 'none'.
        label_smoothing: ε; the target becomes (1 − ε)·one_hot + ε/C.

    Shapes: input (N, C) or (N, C, d1, ...) logits; target (N,) / (N, d1, ...) class
    indices, or probabilities shaped like input.

    >>> loss = nn.CrossEntropyLoss(label_smoothing=0.1)
    >>> loss(em.randn(8, 5, requires_grad=True), em.randint(0, 5, (8,))).backward()
    """

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(weight, size_average, reduce, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must lie in [0, 1], got {label_smoothing}")
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood: ℓ_i = −w_{y_i}·input[i, y_i], for log-probabilities
    (e.g. from ``LogSoftmax``); LogSoftmax + NLLLoss equals CrossEntropyLoss.

    >>> log_p = nn.LogSoftmax(dim=1)(em.randn(4, 3))
    >>> nn.NLLLoss()(log_p, em.tensor([0, 2, 1, 0])).shape
    ()
    """

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


# -- divergences and likelihoods -------------------------------------------------------------
class KLDivLoss(_Loss):
    """Kullback–Leibler divergence: ℓ = p (log p − log q) for log-probabilities input = log q and
    target probabilities p (log-probabilities with ``log_target=True``).

    ``reduction='batchmean'`` (the true KL per sample) sums and divides by the batch size;
    'mean' divides by the number of elements (PyTorch's default, with its warning).

    >>> loss = nn.KLDivLoss(reduction="batchmean")
    >>> loss(F.log_softmax(em.randn(3, 5), dim=1), F.softmax(em.randn(3, 5), dim=1)).shape
    ()
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False):
        batchmean = reduction == "batchmean" and size_average is None and reduce is None
        super().__init__(size_average, reduce, "mean" if batchmean else reduction)
        self.reduction = "batchmean" if batchmean else self.reduction
        self.log_target = log_target

    def forward(self, input, target):
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class PoissonNLLLoss(_Loss):
    """Poisson negative log-likelihood of counts y: ℓ = e^{x} − y·x for log-rates x (``log_input``),
    or ℓ = x − y·log(x + eps) for rates x; ``full`` adds Stirling's term y log y − y + ½ log(2πy) (y > 1).

    >>> nn.PoissonNLLLoss()(em.randn(5), em.tensor([0.0, 1.0, 2.0, 3.0, 1.0])).shape
    ()
    """

    def __init__(self, log_input: bool = True, full: bool = False, size_average=None, eps: float = 1e-8,
                 reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input, target):
        return F.poisson_nll_loss(log_input, target, log_input=self.log_input, full=self.full, eps=self.eps,
                                  reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """Gaussian negative log-likelihood: ℓ = ½ (log max(σ², eps) + (μ − y)²/max(σ², eps)) [+ ½ log 2π].

    ``forward(input, target, var)``: the predicted mean μ, the target y and the predicted
    variance σ² (shaped like input, one dimension short, with a size-1 dimension, or a number).

    >>> nn.GaussianNLLLoss()(em.randn(5, 2), em.randn(5, 2), em.ones(5, 1)).shape
    ()
    """

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
        super().__init__(reduction=reduction)
        self.full, self.eps = full, eps

    def forward(self, input, target, var):
        return F.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps, reduction=self.reduction)


class CTCLoss(_Loss):
    """Connectionist temporal classification loss (Graves et al. 2006): −log p(target | input),
    summed over every alignment of the target to the T frames (blank = class ``blank``).

    ``forward(log_probs, targets, input_lengths, target_lengths)``: log_probs (T, N, C) from a
    log_softmax; targets (N, S) padded or 1-D concatenated; lengths (N,). 'mean' divides each
    loss by its target length, then averages; ``zero_infinity`` zeroes impossible alignments.

    >>> ctc = nn.CTCLoss()
    >>> ctc(em.randn(50, 2, 20).log_softmax(2), em.randint(1, 20, (2, 10)), [50, 50], [10, 7]).shape
    ()
    """

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False):
        super().__init__(reduction=reduction)
        self.blank, self.zero_infinity = blank, zero_infinity

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank, self.reduction,
                          self.zero_infinity)


# -- margin losses ------------------------------------------------------------------------------
class _MarginLoss(_Loss):
    """A loss with a ``margin`` as its first argument, then PyTorch's reduction arguments."""

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin


class MarginRankingLoss(_MarginLoss):
    """Ranking loss: ℓ = max(0, −y (x1 − x2) + margin), y = 1 when x1 should rank above x2, −1 below.

    >>> nn.MarginRankingLoss(0.5)(em.randn(4), em.randn(4), em.tensor([1.0, -1.0, 1.0, 1.0])).shape
    ()
    """

    def forward(self, input1, input2, target):
        return F.margin_ranking_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class CosineEmbeddingLoss(_MarginLoss):
    """ℓ = 1 − cos(x1, x2) for similar pairs (y = 1), max(0, cos(x1, x2) − margin) for dissimilar (y = −1).

    >>> nn.CosineEmbeddingLoss()(em.randn(4, 8), em.randn(4, 8), em.tensor([1, -1, 1, -1])).shape
    ()
    """

    def forward(self, input1, input2, target):
        return F.cosine_embedding_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class HingeEmbeddingLoss(_MarginLoss):
    """ℓ = x for y = 1 and max(0, margin − x) for y = −1, x typically a distance between a pair.

    >>> nn.HingeEmbeddingLoss()(em.rand(4), em.tensor([1.0, -1.0, 1.0, -1.0])).shape
    ()
    """

    def __init__(self, margin: float = 1.0, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(margin, size_average, reduce, reduction)

    def forward(self, input, target):
        return F.hinge_embedding_loss(input, target, margin=self.margin, reduction=self.reduction)


class SoftMarginLoss(_Loss):
    """Two-class logistic loss for labels y = ±1: ℓ = log(1 + e^{−y x}).

    >>> nn.SoftMarginLoss()(em.randn(4), em.tensor([1.0, -1.0, 1.0, -1.0])).shape
    ()
    """

    def forward(self, input, target):
        return F.soft_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """Multi-label one-vs-all logistic loss: ℓ_n = −(1/C) Σ_c w_c [y log σ(x) + (1 − y) log σ(−x)].

    Input (N, C) logits and target (N, C) of 0/1; ``weight`` (C,) rescales the classes.

    >>> nn.MultiLabelSoftMarginLoss()(em.randn(4, 3), em.tensor([[1.0, 0, 1], [0, 0, 1], [1, 1, 0], [0, 1, 0]])).shape
    ()
    """

    def forward(self, input, target):
        return F.multilabel_soft_margin_loss(input, target, weight=self.weight, reduction=self.reduction)


class MultiLabelMarginLoss(_Loss):
    """Multi-label hinge loss: ℓ = (1/C) Σ_{j ∈ Y} Σ_{i ∉ Y} max(0, 1 − (x_j − x_i)), the target classes Y
    listed first in each row of the integer target and ended by −1.

    >>> nn.MultiLabelMarginLoss()(em.randn(2, 4), em.tensor([[3, 0, -1, 1], [1, -1, 0, 0]])).shape
    ()
    """

    def forward(self, input, target):
        return F.multilabel_margin_loss(input, target, reduction=self.reduction)


class MultiMarginLoss(_WeightedLoss):
    """Multi-class hinge loss: ℓ = (1/C) Σ_{j ≠ y} w_y max(0, margin − x_y + x_j)^p, p ∈ {1, 2}.

    >>> nn.MultiMarginLoss()(em.randn(4, 5), em.tensor([0, 4, 2, 1])).shape
    ()
    """

    def __init__(self, p: int = 1, margin: float = 1.0, weight=None, size_average=None, reduce=None,
                 reduction: str = "mean"):
        super().__init__(weight, size_average, reduce, reduction)
        if p not in (1, 2):
            raise ValueError("only p == 1 and p == 2 supported")
        if weight is not None and self.weight.ndim != 1:
            raise ValueError(f"MultiMarginLoss: expected weight to be a 1D tensor but got: {self.weight.ndim}D")
        self.p, self.margin = p, margin

    def forward(self, input, target):
        return F.multi_margin_loss(input, target, p=self.p, margin=self.margin, weight=self.weight,
                                   reduction=self.reduction)


# -- metric learning -----------------------------------------------------------------------


class TripletMarginLoss(_Loss):
    """Triplet loss: ℓ_i = max(d(a_i, p_i) − d(a_i, n_i) + margin, 0), d(x, y) = ‖x − y + eps‖_p.

    PyTorch's ``nn.TripletMarginLoss`` with its defaults; ``swap=True`` takes min(d(a, n), d(p, n))
    as the negative distance. ``squared=True`` is the course's FaceNet form on squared distances,
    max(‖f(A) − f(P)‖² − ‖f(A) − f(N)‖² + α, 0) with α = ``margin``.

    Shapes: anchor, positive, negative (N, D) or (D,); output scalar, or (N,) for 'none'.

    >>> loss = nn.TripletMarginLoss(margin=0.2, squared=True)
    >>> loss(em.randn(8, 16), em.randn(8, 16), em.randn(8, 16)).shape
    ()
    """

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                 size_average=None, reduce=None, reduction: str = "mean", squared: bool = False):
        super().__init__(size_average, reduce, reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginLoss: margin must be greater than 0, got {margin}")
        self.margin, self.p, self.eps, self.swap, self.squared = margin, p, eps, swap, squared

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p, eps=self.eps,
                                     swap=self.swap, reduction=self.reduction, squared=self.squared)


class TripletMarginWithDistanceLoss(_Loss):
    """The triplet loss with a distance of one's choosing (``distance_function(x, y)``, per row; the
    Euclidean ``pairwise_distance`` by default): ℓ_i = max(d(a_i, p_i) − d(a_i, n_i) + margin, 0).

    >>> loss = nn.TripletMarginWithDistanceLoss(distance_function=lambda x, y: 1 - F.cosine_similarity(x, y))
    >>> loss(em.randn(8, 16), em.randn(8, 16), em.randn(8, 16)).shape
    ()
    """

    def __init__(self, *, distance_function=None, margin: float = 1.0, swap: bool = False, reduction: str = "mean"):
        super().__init__(None, None, reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginWithDistanceLoss: margin must be greater than 0, got {margin}")
        self.distance_function, self.margin, self.swap = distance_function, margin, swap

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_with_distance_loss(anchor, positive, negative, distance_function=self.distance_function,
                                                   margin=self.margin, swap=self.swap, reduction=self.reduction)


class ContrastiveLoss(_Loss):
    """Contrastive loss (Hadsell et al. 2006): ℓ_i = y_i d_i² + (1 − y_i) max(margin − d_i, 0)².

    d_i = ‖x1_i − x2_i + eps‖; y = 1 marks a similar pair (pulled together), y = 0 a dissimilar
    one (pushed at least ``margin`` apart).

    Shapes: x1, x2 (N, D); target (N,) of 0/1; output scalar, or (N,) for 'none'.

    >>> nn.ContrastiveLoss(margin=2.0)(em.randn(4, 8), em.randn(4, 8), em.tensor([1, 0, 1, 0])).shape
    ()
    """

    def __init__(self, margin: float = 1.0, eps: float = 1e-6, reduction: str = "mean"):
        super().__init__(reduction=reduction)
        if margin <= 0:
            raise ValueError(f"ContrastiveLoss: margin must be greater than 0, got {margin}")
        self.margin, self.eps = margin, eps

    def forward(self, x1, x2, target):
        return F.contrastive_loss(x1, x2, target, margin=self.margin, eps=self.eps, reduction=self.reduction)



# -- distances ------------------------------------------------------------------------------
class PairwiseDistance(Module):
    """The p-norm distance between matching rows: d = ‖x1 − x2 + eps‖_p over the last dimension.

    >>> nn.PairwiseDistance()(em.randn(4, 8), em.randn(4, 8)).shape
    (4,)
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1, x2):
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class CosineSimilarity(Module):
    """cos(x1, x2) = Σ x1·x2 / (max(‖x1‖, eps)·max(‖x2‖, eps)) along ``dim``.

    >>> nn.CosineSimilarity(dim=1)(em.randn(4, 8), em.randn(4, 8)).shape
    (4,)
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, self.dim, self.eps)
