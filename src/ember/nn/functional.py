"""The functional interface (``import ember.nn.functional as F``), with PyTorch's names and signatures.

Every function here is a differentiable op from ``ember.ops``; this module only adapts the
call to PyTorch's signature (``inplace`` flags, the deprecated ``size_average``/``reduce``
pair, ``softmax``'s optional ``dim``), so code written against ``torch.nn.functional`` runs
unchanged. The maths lives in ``ember.ops`` alone.

>>> import ember.nn.functional as F
>>> logits = em.randn(8, 10, requires_grad=True)
>>> loss = F.cross_entropy(logits, em.randint(0, 10, (8,)))
>>> loss.backward()
"""
from __future__ import annotations

import warnings

from ember import ops
from ember.ops import activation as _activation
from ember.ops import (  # noqa: F401 - re-exported unchanged: their signatures already are PyTorch's
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    batch_norm,
    conv1d,
    conv2d,
    conv_transpose2d,
    embedding,
    gelu,
    group_norm,
    instance_norm,
    layer_norm,
    linear,
    logsumexp,
    max_pool1d,
    max_pool2d,
    negative_sampling_loss,
    normalize,
    one_hot,
    pairwise_distance,
    sigmoid,
    softplus,
    tanh,
)
from ember.ops import loss as _loss
from ember.ops import metric_loss as _metric_loss
from ember.ops.activation import (  # noqa: F401 - PyTorch's signatures
    glu,
    gumbel_softmax,
    hardshrink,
    prelu,
    softshrink,
    softsign,
    tanhshrink,
)
from ember.ops.attention import scaled_dot_product_attention  # noqa: F401 - PyTorch's signature
from ember.ops.conv import conv_transpose1d, fold, unfold  # noqa: F401 - PyTorch's signatures
from ember.ops.conv3d import conv3d  # noqa: F401 - PyTorch's signature
from ember.ops.ctc import ctc_loss  # noqa: F401 - PyTorch's signature
from ember.ops.dropout import alpha_dropout as _alpha_dropout
from ember.ops.dropout import feature_dropout as _feature_dropout
from ember.ops.embedding import embedding_bag  # noqa: F401 - PyTorch's signature
from ember.ops.loss import cosine_similarity, gaussian_nll_loss  # noqa: F401 - PyTorch's signatures
from ember.ops.max_pooling import max_pool3d, max_unpool1d, max_unpool2d  # noqa: F401 - PyTorch's signatures
from ember.ops.normalization import local_response_norm, rms_norm  # noqa: F401 - PyTorch's signatures
from ember.ops.padding import pad as _pad
from ember.ops.pooling import adaptive_avg_pool3d, avg_pool3d  # noqa: F401 - PyTorch's signatures
from ember.ops.products import bilinear  # noqa: F401 - PyTorch's signature
from ember.ops.resample import (  # noqa: F401 - PyTorch's signatures
    channel_shuffle,
    interpolate,
    pixel_shuffle,
    pixel_unshuffle,
)
from ember.ops.sampling import affine_grid, grid_sample  # noqa: F401 - PyTorch's signatures

__all__ = [
    "smooth_l1_loss", "huber_loss", "negative_sampling_loss",
    "embedding", "scaled_dot_product_attention",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d", "avg_pool1d",
    "avg_pool2d", "max_pool1d", "max_pool2d",
    "batch_norm", "instance_norm", "layer_norm", "group_norm",
    "relu", "relu6", "leaky_relu", "elu", "hardtanh", "sigmoid", "logsigmoid", "tanh", "gelu", "softplus",
    "silu", "softmax", "log_softmax", "softmin", "logsumexp", "linear", "conv1d", "conv2d", "conv_transpose2d",
    "dropout", "dropout2d",
    "selu", "celu", "mish", "hardswish", "hardsigmoid", "softsign", "glu", "threshold", "tanhshrink", "hardshrink",
    "softshrink", "prelu", "rrelu", "gumbel_softmax", "rms_norm", "local_response_norm", "dropout1d", "dropout3d",
    "alpha_dropout", "feature_alpha_dropout", "kl_div", "poisson_nll_loss", "gaussian_nll_loss",
    "cosine_embedding_loss", "margin_ranking_loss", "hinge_embedding_loss", "soft_margin_loss",
    "multilabel_soft_margin_loss", "multilabel_margin_loss", "multi_margin_loss", "ctc_loss", "cosine_similarity",
    "bilinear", "embedding_bag",
    "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "triplet_margin_loss", "triplet_margin_with_distance_loss",
    "contrastive_loss", "pairwise_distance", "normalize",
    "one_hot", "pad",
    "conv3d", "conv_transpose1d", "fold", "unfold", "max_pool3d", "max_unpool1d", "max_unpool2d",
    "avg_pool3d", "adaptive_avg_pool3d",
    "interpolate", "pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "lp_pool1d", "lp_pool2d",
    "grid_sample", "affine_grid",
]


# -- activations ------------------------------------------------------------------------------
# NOTE: ``inplace=True`` is accepted for compatibility and computed out of place: the values
# are identical, and autograd here never needs the memory saving an in-place op would buy.
def relu(input, inplace=False):
    """ReLU(x) = max(0, x); derivative 1 for x > 0, else 0.

    >>> F.relu(em.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    """
    return ops.relu(input)


def relu6(input, inplace=False):
    """min(max(0, x), 6): a ReLU capped at 6 (hardtanh on [0, 6])."""
    return ops.hardtanh(input, 0.0, 6.0)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x for x > 0, negative_slope·x otherwise; derivative 1 or negative_slope.

    >>> F.leaky_relu(em.tensor([-2.0, 3.0]), 0.1)
    tensor([-0.2,  3. ])
    """
    return ops.leaky_relu(input, negative_slope)


def elu(input, alpha=1.0, inplace=False):
    """x for x > 0, α(eˣ − 1) otherwise."""
    return ops.elu(input, alpha)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """x clipped to [min_val, max_val]; gradient 1 inside, 0 outside."""
    return ops.hardtanh(input, min_val, max_val)


def silu(input, inplace=False):
    """SiLU (swish): x·σ(x)."""
    return ops.silu(input)


def logsigmoid(input):
    """log σ(x) = −softplus(−x), stable for large |x|."""
    return -ops.softplus(-input)


def _softmax_input(input, dim, dtype, stacklevel):
    """The (cast) input and the dimension; an omitted ``dim`` takes PyTorch's legacy choice, with a warning.

    ``stacklevel`` counts as PyTorch's ``_stacklevel`` does: the default 3 points the warning at
    the caller of ``F.softmax``; ``nn.Softmax`` passes 5 to point past its ``forward`` and ``__call__``.
    """
    if dtype is not None:
        input = ops.cast(input, dtype)
    if dim is None:
        warnings.warn("softmax: implicit dim is deprecated; pass dim explicitly", UserWarning, stacklevel=stacklevel)
        dim = 0 if input.ndim in (0, 1, 3) else 1
    return input, dim


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(x)_i = e^{x_i} / Σ_j e^{x_j} along ``dim`` (stable: the max is subtracted first).

    ``dtype`` casts the input before the op (e.g. float64 for extra precision).

    >>> F.softmax(em.tensor([[1.0, 1.0]]), dim=1)
    tensor([[0.5, 0.5]])
    """
    input, dim = _softmax_input(input, dim, dtype, _stacklevel)
    return ops.softmax(input, dim)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """log softmax(x) = x − logsumexp(x) along ``dim``: stable, unlike log(softmax(x))."""
    input, dim = _softmax_input(input, dim, dtype, _stacklevel)
    return ops.log_softmax(input, dim)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(−x) along ``dim``: weights that favour the smallest entries."""
    input, dim = _softmax_input(input, dim, dtype, _stacklevel)
    return ops.softmax(-input, dim)


def selu(input, inplace=False):
    """SELU(x) = λ·ELU(x, α) with λ ≈ 1.0507, α ≈ 1.6733 (self-normalising)."""
    return _activation.selu(input)


def celu(input, alpha=1.0, inplace=False):
    """CELU(x) = max(0, x) + min(0, α(e^{x/α} − 1))."""
    return _activation.celu(input, alpha)


def mish(input, inplace=False):
    """Mish(x) = x·tanh(softplus(x))."""
    return _activation.mish(input)


def hardswish(input, inplace=False):
    """Hardswish(x) = x·relu6(x + 3)/6."""
    return _activation.hardswish(input)


def hardsigmoid(input, inplace=False):
    """Hardsigmoid(x) = relu6(x + 3)/6."""
    return _activation.hardsigmoid(input)


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else ``value``."""
    return _activation.threshold(input, threshold, value)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Randomised leaky ReLU: slopes drawn from U(lower, upper) in training, (lower + upper)/2 otherwise."""
    return _activation.rrelu(input, lower, upper, training)


# -- dropout and padding ----------------------------------------------------------------------
def dropout(input, p=0.5, training=True, inplace=False):
    """Inverted dropout: zero each element with probability p, scale survivors by 1/(1 − p).

    Identity when ``training`` is False.

    >>> y = F.dropout(em.ones(1000), p=0.2)   # about 200 zeros, the rest 1.25
    """
    return ops.dropout(input, p, training)


def _unbatched_feature_dropout(input, p, training, batched):
    """Feature dropout of ``input``, read as one sample (a batch dimension added, then removed) unless ``batched``."""
    if batched:
        return _feature_dropout(input, p, training)
    return ops.squeeze(_feature_dropout(ops.unsqueeze(input, 0), p, training), 0)


def _check_dropout_p(p):
    """The probability check of dropout1d/2d/3d, worded as PyTorch's."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _warn_unusual_rank(input, dims):
    """PyTorch's deprecation warning of dropout2d/3d for an input that is neither (C, *spatial) nor (N, C, *spatial)."""
    if input.ndim not in (dims + 1, dims + 2):
        warnings.warn(f"dropout{dims}d: Received a {input.ndim}-D input to dropout{dims}d, which is deprecated and "
                      "will result in an error in a future release. To retain the behavior and silence this warning, "
                      f"please use dropout instead. Note that dropout{dims}d exists to provide channel-wise dropout on "
                      f"inputs with {dims} spatial dimensions, a channel dimension, and an optional batch dimension "
                      f"(i.e. {dims + 1}D or {dims + 2}D inputs).", stacklevel=3)  # the caller of dropout{dims}d


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Channel dropout on (N, C, L) or (C, L): each whole channel is zeroed with probability p."""
    _check_dropout_p(p)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D input. Note that "
                           "dropout1d exists to provide channel-wise dropout on inputs with 1 spatial dimension, a "
                           "channel dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    return _unbatched_feature_dropout(input, p, training, input.ndim == 3)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Channel dropout on (N, C, H, W): each whole feature map is zeroed with probability p.

    As PyTorch: other ranks are dropped along dimensions 0 and 1 with a deprecation warning, and
    a 3-D input is read as (N, C, L) (channel-wise 1-D dropout), with a warning saying so.
    """
    _check_dropout_p(p)
    _warn_unusual_rank(input, 2)
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior "
                      "is desired - input is interpreted as shape (N, C, L), where C is the channel dim. This behavior "
                      "will change in a future release to interpret the input as one without a batch dimension, i.e. "
                      "shape (C, H, W). To maintain the 1D channel-wise dropout behavior, please switch to using "
                      "dropout1d instead.", stacklevel=2)
    return _feature_dropout(input, p, training)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Channel dropout on (N, C, D, H, W) or (C, D, H, W): each whole 3-D feature map is zeroed with probability p.

    Other ranks warn, as in PyTorch, and are read as one sample.
    """
    _check_dropout_p(p)
    _warn_unusual_rank(input, 3)
    return _unbatched_feature_dropout(input, p, training, input.ndim == 5)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout (for SELU nets): keeps zero mean and unit variance; identity unless ``training``."""
    return _alpha_dropout(input, p, training)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout of whole channels (dimensions 0 and 1 share a mask entry); identity unless ``training``."""
    return _alpha_dropout(input, p, training, feature=True)


def pad(input, pad, mode="constant", value=None):
    """Pad with (left, right) widths listed from the last dimension backwards.

    Modes 'constant' (``value``, default 0; negative widths crop), 'reflect', 'replicate' and
    'circular' (see ``ember.ops.padding``).

    >>> F.pad(em.ones(2, 3), (1, 1)).shape     # last dim 3 → 5
    (2, 5)
    """
    return _pad(input, pad, mode, value)


# -- losses ---------------------------------------------------------------------------------------
def _legacy_reduction(size_average, reduce, reduction):
    """Map PyTorch's deprecated ``size_average``/``reduce`` pair to a ``reduction`` string."""
    if size_average is None and reduce is None:
        return reduction
    warnings.warn("size_average and reduce are deprecated; use reduction='mean'|'sum'|'none'",
                  UserWarning, stacklevel=3)
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy from logits: L_i = −Σ_c q_ic log softmax(x_i)_c.

    input (N, C) or (N, C, d1, ...); target class indices (N,) / (N, d1, ...) or class
    probabilities shaped like input. ``weight`` (C,) rescales classes; targets equal to
    ``ignore_index`` are skipped; ``label_smoothing`` ε mixes the target with uniform ε/C.

    >>> F.cross_entropy(em.zeros(2, 4), em.tensor([0, 3]))   # log 4
    tensor(1.3862944)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return ops.cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood: L_i = −w_{y_i} · input[i, y_i], for log-probabilities input (N, C, ...)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return ops.nll_loss(input, target, weight, ignore_index, reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """Smooth L1: ½d²/β where d = |x − y| < β, else d − ½β (β = 0: L1), reduced.

    >>> F.smooth_l1_loss(em.tensor([0.5, 3.0]), em.tensor([0.0, 0.0]))
    tensor(1.3125)
    """
    return ops.smooth_l1_loss(input, target, _legacy_reduction(size_average, reduce, reduction), beta)


def huber_loss(input, target, reduction="mean", delta=1.0):
    """Huber: ½d² where d = |x − y| < δ, else δ(d − ½δ), reduced."""
    return ops.huber_loss(input, target, reduction, delta)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error: ℓ = (x − y)², reduced by mean, sum or none.

    With an element-wise ``weight`` (shaped like input), 'mean' is the weighted mean Σ w ℓ / Σ w.

    >>> F.mse_loss(em.tensor([1.0, 3.0]), em.tensor([0.0, 0.0]))
    tensor(5.)
    """
    return ops.mse_loss(input, target, _legacy_reduction(size_average, reduce, reduction), weight)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error: ℓ = |x − y|, reduced by mean, sum or none (weighted mean with ``weight``)."""
    return ops.l1_loss(input, target, _legacy_reduction(size_average, reduce, reduction), weight)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """−[y log p + (1 − y) log(1 − p)] for probabilities p = input in [0, 1] (log clamped at −100)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return ops.binary_cross_entropy(input, target, weight, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """BCE of σ(x) computed stably from logits x; ``pos_weight`` (C,) weights the positive term.

    L = −[w_pos · y log σ(x) + (1 − y) log(1 − σ(x))].
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return ops.binary_cross_entropy_with_logits(input, target, weight, reduction, pos_weight)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean", squared=False):
    """max(d(a, p) − d(a, n) + margin, 0), d = ‖x − y + eps‖_p; ``squared=True``: the FaceNet form on d²."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return ops.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap, reduction, squared)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0,
                                      swap=False, reduction="mean"):
    """max(d(a, p) − d(a, n) + margin, 0) with d = ``distance_function`` (``pairwise_distance`` by default)."""
    return _metric_loss.triplet_margin_with_distance_loss(anchor, positive, negative,
                                                          distance_function=distance_function, margin=margin,
                                                          swap=swap, reduction=reduction)


def contrastive_loss(x1, x2, target, margin=1.0, eps=1e-6, reduction="mean"):
    """y·d² + (1 − y)·max(margin − d, 0)², y = 1 for similar pairs (Hadsell et al. 2006)."""
    return ops.contrastive_loss(x1, x2, target, margin, eps, reduction)



def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL divergence p (log p − log q) for log-probabilities input = log q; 'batchmean' divides the sum by N.

    'mean' (the default) divides by the number of elements and warns, as PyTorch.
    """
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce, reduction)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      stacklevel=2)
    return _loss.kl_div(input, target, reduction, log_target)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """Poisson NLL: e^x − y·x for log-rates (``log_input``), else x − y·log(x + eps); ``full`` adds Stirling's term."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _loss.poisson_nll_loss(input, target, log_input, full, eps, reduction)


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"):
    """1 − cos(x1, x2) for y = 1, max(0, cos(x1, x2) − margin) for y = −1."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _loss.cosine_embedding_loss(input1, input2, target, margin, reduction)


def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"):
    """max(0, −y (x1 − x2) + margin)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _loss.margin_ranking_loss(input1, input2, target, margin, reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    """x for y = 1, max(0, margin − x) for y = −1."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _loss.hinge_embedding_loss(input, target, margin, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + e^{−y x}) for labels y = ±1."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _loss.soft_margin_loss(input, target, reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """−(1/C) Σ_c w_c [y log σ(x) + (1 − y) log σ(−x)] per sample."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _loss.multilabel_soft_margin_loss(input, target, weight, reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """(1/C) Σ_{j ∈ Y} Σ_{i ∉ Y} max(0, 1 − (x_j − x_i)), Y listed in the target before the first −1."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _loss.multilabel_margin_loss(input, target, reduction)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    """(1/C) Σ_{j ≠ y} w_y max(0, margin − x_y + x_j)^p, p ∈ {1, 2}."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _loss.multi_margin_loss(input, target, p, margin, weight, reduction)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling: (Σ_window x^p)^(1/p) over kh × kw windows (p = ∞ is max pooling, p = 1 sum
    pooling), computed as PyTorch does, from the average of x^p."""
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    powered = avg_pool2d(input ** norm_type, kernel_size, stride if stride is not None else kernel_size, 0,
                         ceil_mode)
    return (ops.sign(powered) * ops.relu(powered.abs()) * (kh * kw)) ** (1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """``lp_pool2d`` over (N, C, L) windows of ``kernel_size``."""
    powered = avg_pool1d(input ** norm_type, kernel_size, stride if stride is not None else kernel_size, 0,
                         ceil_mode)
    return (ops.sign(powered) * ops.relu(powered.abs()) * kernel_size) ** (1.0 / norm_type)
