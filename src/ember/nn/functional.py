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
from ember.nn.attention import scaled_dot_product_attention  # noqa: F401 - PyTorch's signature
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

__all__ = [
    "smooth_l1_loss", "huber_loss", "negative_sampling_loss",
    "embedding", "scaled_dot_product_attention",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d", "avg_pool1d",
    "avg_pool2d", "max_pool1d", "max_pool2d",
    "batch_norm", "instance_norm", "layer_norm", "group_norm",
    "relu", "relu6", "leaky_relu", "elu", "hardtanh", "sigmoid", "logsigmoid", "tanh", "gelu", "softplus",
    "silu", "softmax", "log_softmax", "softmin", "logsumexp", "linear", "conv1d", "conv2d", "conv_transpose2d",
    "dropout", "dropout2d",
    "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "triplet_margin_loss", "contrastive_loss", "pairwise_distance", "normalize",
    "one_hot", "pad",
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


# -- dropout and padding ----------------------------------------------------------------------
def dropout(input, p=0.5, training=True, inplace=False):
    """Inverted dropout: zero each element with probability p, scale survivors by 1/(1 − p).

    Identity when ``training`` is False.

    >>> y = F.dropout(em.ones(1000), p=0.2)   # about 200 zeros, the rest 1.25
    """
    return ops.dropout(input, p, training)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Channel dropout on (N, C, H, W) or (C, H, W): each whole feature map is zeroed with prob. p."""
    return ops.dropout2d(input, p, training)


def pad(input, pad, mode="constant", value=None):
    """Pad with (left, right) widths listed from the last dimension backwards.

    >>> F.pad(em.ones(2, 3), (1, 1)).shape     # last dim 3 → 5
    (2, 5)
    """
    return ops.pad(input, pad, mode, 0.0 if value is None else value)


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


def contrastive_loss(x1, x2, target, margin=1.0, eps=1e-6, reduction="mean"):
    """y·d² + (1 − y)·max(margin − d, 0)², y = 1 for similar pairs (Hadsell et al. 2006)."""
    return ops.contrastive_loss(x1, x2, target, margin, eps, reduction)
