"""Loss functions. Cross-entropy and NLL are fused (stable and fast); the rest compose.

Second derivatives: cross-entropy and NLL differentiate their ``composed`` twin (log-softmax and a
weighted sum), binary cross-entropy's gradient is an op of its own with PyTorch's derivatives, and
the composed losses get theirs from their parts.
"""
from __future__ import annotations

import builtins

import numpy as np

from ember import threads
from ember.autograd.function import Function
from ember.autograd.tensor import as_tensor
from ember.backend import get_array_module as xp_of
from ember.ops.activation import _log_softmax, log_softmax, softmax_parts, softplus
from ember.ops.arithmetic import mul
from ember.ops.elementwise import abs, exp, log, where
from ember.ops.linalg import matmul
from ember.ops.reduction import mean, sum

REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss, reduction, name):
    if reduction == "mean":
        return mean(loss)
    if reduction == "sum":
        return sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"{name}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _check_same_shape(name, input, target):
    """Input and target of one shape, and a floating-point one among them (the loss is a real number)."""
    if input.shape != target.shape:
        raise ValueError(f"{name}: input shape {input.shape} and target shape {target.shape} differ")
    if input.dtype.kind != "f" and target.dtype.kind != "f":
        raise TypeError(f"{name}: needs floating-point input or target, got {input.dtype} and {target.dtype}")


def _check_binary(name, input, target, **weights):
    """Probabilities or logits with floating-point targets of their shape, and weights that broadcast to it."""
    _check_same_shape(name, input, target)
    if input.dtype.kind != "f" or target.dtype.kind != "f":
        raise TypeError(f"{name}: input and target must be floating point (targets are probabilities), "
                        f"got {input.dtype} and {target.dtype}; convert the target with .float()")
    for arg, w in weights.items():
        shape = getattr(w, "shape", ())
        if w is not None and _broadcast_shape(shape, input.shape) != tuple(input.shape):
            raise ValueError(f"{name}: {arg} of shape {tuple(shape)} does not broadcast to the input shape "
                             f"{tuple(input.shape)}")


def _broadcast_shape(*shapes):
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        return None


# -- cross-entropy and NLL -----------------------------------------------------------------
def _class_last(a):
    """(N, C, d1, ...) → (N, d1, ..., C): the class axis last, where reductions are cheap."""
    return xp_of(a).moveaxis(a, 1, -1) if a.ndim > 2 else a


def _class_first(a):
    return xp_of(a).moveaxis(a, -1, 1) if a.ndim > 2 else a


def _class_weights(C, dtype, weight, xp):
    return xp.ones(C, dtype=dtype) if weight is None else weight.astype(dtype, copy=False)


def _index_weights(target, C, w, ignore_index):
    """For class-index targets: the indices (ignored ones set to 0) and each row's weight w_{y_i} (0 if ignored)."""
    keep = target != ignore_index
    safe = xp_of(target).where(keep, target, 0)  # in [0, C): checked by _check_classification
    return safe, w[safe] * keep, keep


def _target_weights(target, C, dtype, weight, ignore_index, smoothing):
    """The coefficients A (…, C) with loss_i = −Σ_c A_ic log p_ic, and the mean's divisor.

    Index targets: A_ic = (1−ε) w_{y_i} [c = y_i] + ε w_c / C, zero on ignored rows; the
    mean divides by Σ_i w_{y_i} over kept rows (PyTorch's convention).
    Probability targets q: A_ic = w_c ((1−ε) q_ic + ε/C); the mean divides by the count.
    """
    xp = xp_of(target)
    w = _class_weights(C, dtype, weight, xp)
    if target.dtype.kind == "f":
        A = (1 - smoothing) * target.astype(dtype, copy=False) + smoothing / C
        return A * w, float(target.size // C)
    safe, w_y, keep = _index_weights(target, C, w, ignore_index)
    A = xp.zeros(target.shape + (C,), dtype=dtype)
    xp.put_along_axis(A, safe[..., None], ((1 - smoothing) * w_y)[..., None], axis=-1)
    if smoothing:
        A += (smoothing / C) * keep[..., None] * w
    return A, w_y.sum()


class _LogLikelihoodLoss(Function):
    """−Σ_c A_ic z_ic reduced, where z is log p (NLL) or log_softmax(x) (cross-entropy)."""

    from_logits: bool  # set by the two subclasses below

    def __init__(self, weight, ignore_index, smoothing, reduction):
        self.weight, self.ignore_index = weight, ignore_index
        self.smoothing, self.reduction = smoothing, reduction

    def forward(self, x, target):
        z = _class_last(x)
        if target.dtype.kind == "f":  # probabilities carry the class axis too
            target = _class_last(target)
        xp, C = xp_of(z), z.shape[-1]
        if target.dtype.kind != "f" and not self.smoothing:
            loss, saved, A = self._index_forward(z, target, xp)
        else:
            if self.from_logits:
                z = _log_softmax(z, -1)
            A, self.divisor = _target_weights(target, C, x.dtype, self.weight, self.ignore_index, self.smoothing)
            loss, saved = -(A * z).sum(axis=-1), z
        self.save_for_backward(saved, A)
        if self.reduction == "none":
            return loss
        total = loss.sum()
        return total / self.divisor if self.reduction == "mean" else total

    def _index_forward(self, z, target, xp):
        """Plain class indices: loss_i = −w_{y_i} log p_{i, y_i}; saves p (logits) or log p.

        NOTE: one log-probability per row is gathered, never a dense one-hot A (N, C) built and
        multiplied, and from logits only p = e/s is kept: on a 10k-word vocabulary this is half
        the full passes over the logits of the dense form, forward and backward.
        """
        C = z.shape[-1]
        safe, w_y, _ = _index_weights(target, C, _class_weights(C, z.dtype, self.weight, xp), self.ignore_index)
        picked = xp.take_along_axis(z, safe[..., None], axis=-1)[..., 0]
        saved = z
        if self.from_logits:  # log p_y = (z_y − m) − log s (the shift first: see _log_softmax), p = e / s
            saved, m, s = softmax_parts(z, -1)
            picked = (picked - m[..., 0]) - xp.log(s)[..., 0]
        self.divisor = w_y.sum()
        return -w_y * picked, saved, (safe, w_y)

    def backward(self, gy):
        saved, A = self.saved
        if self.reduction == "mean":
            gy = gy / self.divisor
        xp = xp_of(saved)
        if isinstance(A, tuple):  # class indices: dz = p·w_y·dy − w_y·dy at the target (p only from logits)
            safe, w_y = A
            g = (w_y * gy)[..., None].astype(saved.dtype, copy=False)
            gz = threads.rowwise(xp.multiply, saved, g) if self.from_logits else xp.zeros_like(saved)
            at = safe[..., None]
            xp.put_along_axis(gz, at, xp.take_along_axis(gz, at, axis=-1) - g, axis=-1)
            return _class_first(gz), None
        if self.reduction == "none":
            gy = gy[..., None]
        gz = -A * gy
        if self.from_logits:  # ∂/∂x_j −Σ_c A_c log softmax_c = p_j Σ_c A_c − A_j
            gz = xp.exp(saved) * (A.sum(axis=-1, keepdims=True) * gy) + gz
        return _class_first(gz), None

    def composed(self, x, target):
        """The loss from differentiable primitives, −Σ_c A_ic z_ic reduced with z = log_softmax(x) (or x
        itself) and the coefficients A a constant: the higher-order path differentiates this."""
        axis = 1 if x.ndim > 1 else 0
        t = target.array if target.dtype.kind != "f" else _class_last(target.array)
        A, divisor = _target_weights(t, x.shape[axis], x.dtype, self.weight, self.ignore_index, self.smoothing)
        z = log_softmax(x, axis) if self.from_logits else x
        loss = -sum(z * _class_first(A), axis=axis)
        if self.reduction == "none":
            return loss
        return sum(loss) / float(divisor) if self.reduction == "mean" else sum(loss)


class _CrossEntropy(_LogLikelihoodLoss):
    from_logits = True


class _NLL(_LogLikelihoodLoss):
    from_logits = False


def _check_classification(name, input, target, weight, ignore_index):
    """Raise, naming the loss, unless the logits are floating point and the targets and class weights fit them."""
    if input.ndim < 1:
        raise ValueError(f"{name}: input must have a class dimension, got shape {input.shape}")
    if input.dtype.kind != "f":
        raise TypeError(f"{name}: input must be floating point (logits or log-probabilities), got {input.dtype}")
    C = input.shape[1] if input.ndim > 1 else input.shape[0]
    if weight is not None and tuple(weight.shape) != (C,):
        raise RuntimeError(f"{name}: weight should be defined either for all {C} classes or no classes, "
                           f"got a weight of shape {tuple(weight.shape)}")
    if target.dtype.kind == "f" and target.shape == input.shape:
        return  # probabilities
    expected = input.shape[:1] + input.shape[2:] if input.ndim > 1 else ()
    if target.dtype.kind not in "iu" or target.shape != expected:
        raise ValueError(f"{name}: input of shape {input.shape} needs integer class-index targets of shape "
                         f"{expected} or probability targets of its own shape, got {target.dtype} targets of shape "
                         f"{target.shape}")
    t = target.array
    out_of_bounds = (t != ignore_index) & ((t < 0) | (t >= C))
    if out_of_bounds.any():
        raise IndexError(f"{name}: target {t[out_of_bounds].ravel()[0]} is out of bounds for {C} classes "
                         f"(ignore_index={ignore_index})")


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy from logits (N, C, ...) with class indices (N, ...) or probabilities.

    loss_i = −Σ_c q_ic log softmax(x_i)_c, q the (smoothed) target distribution, computed
    stably through log-softmax. ``weight`` rescales classes; ``ignore_index`` drops targets.
    """
    return _log_likelihood(_CrossEntropy, "cross_entropy", input, target, weight, ignore_index, reduction,
                           label_smoothing)


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of class indices given log-probabilities (N, C, ...)."""
    return _log_likelihood(_NLL, "nll_loss", input, target, weight, ignore_index, reduction, 0.0)


def _log_likelihood(cls, name, input, target, weight, ignore_index, reduction, label_smoothing):
    target = as_tensor(target)
    weight = None if weight is None else as_tensor(weight).array
    _check_classification(name, input, target, weight, ignore_index)
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing must lie in [0, 1], got {label_smoothing}")
    return cls(weight, ignore_index, label_smoothing, reduction)(input, target)


# -- regression and binary losses ----------------------------------------------------------
def _reduce_weighted(loss, reduction, name, weight):
    """Reduce ``loss`` scaled element-wise by ``weight``: 'mean' is the weighted mean Σ w ℓ / Σ w."""
    if weight is None:
        return _reduce(loss, reduction, name)
    if tuple(weight.shape) != tuple(loss.shape):
        raise ValueError(f"{name}: weight shape {tuple(weight.shape)} must equal input shape {loss.shape}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    loss = loss * weight
    if reduction == "none":
        return loss
    return sum(loss) / sum(weight) if reduction == "mean" else sum(loss)


def mse_loss(input, target, reduction="mean", weight=None):
    """(x − y)², reduced; with an element-wise ``weight``, 'mean' is Σ w ℓ / Σ w."""
    _check_same_shape("mse_loss", input, target)
    diff = input - target
    return _reduce_weighted(diff * diff, reduction, "mse_loss", weight)


def l1_loss(input, target, reduction="mean", weight=None):
    """|x − y|, reduced; with an element-wise ``weight``, 'mean' is Σ w ℓ / Σ w."""
    _check_same_shape("l1_loss", input, target)
    return _reduce_weighted(abs(input - target), reduction, "l1_loss", weight)


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """Smooth L1 (Fast R-CNN's box loss): ½d²/β where d = |x − y| < β, else d − ½β; β = 0 is L1."""
    _check_same_shape("smooth_l1_loss", input, target)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    d = abs(input - target)
    return _reduce(d if beta == 0 else where(d.array < beta, 0.5 * d * d / beta, d - 0.5 * beta), reduction,
                   "smooth_l1_loss")


def huber_loss(input, target, reduction="mean", delta=1.0):
    """Huber: ½d² where d = |x − y| < δ, else δ(d − ½δ); equal to δ · smooth_l1_loss(β = δ)."""
    _check_same_shape("huber_loss", input, target)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    d = abs(input - target)
    return _reduce(where(d.array < delta, 0.5 * d * d, delta * (d - 0.5 * delta)), reduction, "huber_loss")


def negative_sampling_loss(input, positive, negatives, reduction="mean"):
    """word2vec's negative-sampling loss (Mikolov et al. 2013) for centre vectors v = ``input`` (N, D):

        ℓ = −log σ(u_o·v) − Σ_k log σ(−u_k·v)

    with u_o = ``positive`` (N, D) the output vector of the true context word and u_k =
    ``negatives`` (N, K, D) those of K words drawn from the unigram^0.75 table.
    """
    if input.ndim != 2 or tuple(positive.shape) != tuple(input.shape) or negatives.ndim != 3 \
            or tuple(negatives.shape[::2]) != tuple(input.shape):
        raise ValueError(f"negative_sampling_loss: expected input (N, D), positive (N, D), negatives (N, K, D); got "
                         f"{tuple(input.shape)}, {tuple(positive.shape)}, {tuple(negatives.shape)}")
    true_score = sum(input * positive, axis=1)
    noise_scores = matmul(negatives, input.reshape(input.shape[0], -1, 1)).reshape(negatives.shape[:2])
    loss = softplus(-true_score) + sum(softplus(noise_scores), axis=1)  # −log σ(s) = softplus(−s)
    return _reduce(loss, reduction, "negative_sampling_loss")


_BCE_EPS = 1e-12


class _BinaryCrossEntropy(Function):
    # NOTE: fused to match PyTorch at the edges: log terms clamped at −100 so p = 0 or 1
    # give a finite loss, and the gradient (p − y)/max(p(1 − p), 1e−12).
    def forward(self, p, y):
        xp = xp_of(p)
        self.save_for_backward(p, y)
        with np.errstate(divide="ignore"):  # log 0 = −inf is expected here, then clamped
            log_p, log_q = xp.maximum(xp.log(p), -100), xp.maximum(xp.log1p(-p), -100)
        return -(y * log_p + (1 - y) * log_q)

    def backward(self, gy):
        p, y = self.saved
        return gy * (p - y) / xp_of(p).maximum(p * (1 - p), _BCE_EPS), None

    def vjp(self, gy):
        p, y = self.inputs
        return _BinaryCrossEntropyGrad()(p, y, gy) if self.needs_input_grad[0] else None, None


class _BinaryCrossEntropyGrad(Function):
    """BCE's input gradient gy·(p − y)/max(p(1 − p), ε) as an op, so that it differentiates again.

    Its derivatives are PyTorch's (the clamp's edges included; the target is a constant):

        ∂/∂gy = (p − y)/max(p(1 − p), ε),   ∂/∂p = gy·(p² − 2py + y)/((p + ε)²(1 − p + ε)²),   ε = 1e−12.
    """

    def forward(self, p, y, gy):
        self.save_for_backward(p, y, gy)
        return gy * (p - y) / xp_of(p).maximum(p * (1 - p), _BCE_EPS)

    def backward(self, g):
        p, y, gy = self.saved
        gp = _bce_curvature(p, y, gy * g) if self.needs_input_grad[0] else None
        ggy = g * (p - y) / xp_of(p).maximum(p * (1 - p), _BCE_EPS) if self.needs_input_grad[2] else None
        return gp, None, ggy

    def vjp(self, g):
        p, y, gy = self.inputs
        gp = _bce_curvature(p, y, gy * g) if self.needs_input_grad[0] else None
        return gp, None, _BinaryCrossEntropyGrad()(p, y, g) if self.needs_input_grad[2] else None


def _bce_curvature(p, y, scale):
    """scale·(p² − 2py + y)/((p + ε)²(1 − p + ε)²): ∂/∂p of (p − y)/p(1 − p), on arrays or tensors alike."""
    return scale * (p * p - 2 * p * y + y) / ((p + _BCE_EPS) ** 2 * (1 - p + _BCE_EPS) ** 2)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """−[y log p + (1 − y) log(1 − p)] for probabilities p in [0, 1]."""
    _check_binary("binary_cross_entropy", input, target, weight=weight)
    if bool(((input.array < 0) | (input.array > 1)).any()):
        raise ValueError("binary_cross_entropy: input probabilities must lie in [0, 1]; "
                         "use binary_cross_entropy_with_logits for raw scores")
    loss = _BinaryCrossEntropy()(input, target)
    return _reduce(loss if weight is None else mul(loss, weight), reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """BCE on logits x, stably: (1 − y)x + (1 + (w_pos − 1)y)·softplus(−x)."""
    _check_binary("binary_cross_entropy_with_logits", input, target, weight=weight, pos_weight=pos_weight)
    log_weight = 1 if pos_weight is None else 1 + (pos_weight - 1) * target
    loss = (1 - target) * input + log_weight * softplus(-input)
    return _reduce(loss if weight is None else loss * weight, reduction, "binary_cross_entropy_with_logits")


# -- divergences and likelihoods -----------------------------------------------------------------
def _positive_part(x):
    """max(x, 0), gradient 1 where x > 0 (PyTorch's ``clamp_min(0)`` in its margin losses)."""
    return where(x.array > 0, x, 0.0)


def kl_div(input, target, reduction="mean", log_target=False):
    """Kullback–Leibler divergence pointwise, for log-probabilities ``input`` = log q and target p:

        ℓ = p (log p − log q)   (0 where p = 0),   or with ``log_target``: e^{t} (t − log q), t = log p.

    ``reduction='batchmean'`` divides the sum by the batch size (the true KL per sample); 'mean'
    divides by the number of elements, as PyTorch (which warns about it, in ``F.kl_div``).

    >>> kl_div(em.log(em.tensor([[0.5, 0.5]])), em.tensor([[0.5, 0.5]]), reduction="batchmean")
    tensor(0.)
    """
    target = as_tensor(target, like=input)
    if log_target:
        loss = exp(target) * (target - input)
    else:
        # 0·log 0 = 0, and the gradient wrt p is 0 there (log p + 1 − log q elsewhere; PyTorch's is NaN there)
        present = target.array != 0
        loss = where(present, target * (log(where(present, target, 1.0)) - input), 0.0)
    if reduction == "batchmean":
        total = sum(loss)
        return total / input.shape[0] if input.ndim else total
    return _reduce(loss, reduction, "kl_div")


def poisson_nll_loss(input, target, log_input=True, full=False, eps=1e-8, reduction="mean"):
    """Poisson negative log-likelihood of counts y with rate λ:

        ℓ = e^{x} − y·x (``log_input``: x = log λ),   or   ℓ = x − y·log(x + eps) (x = λ),

    plus, with ``full``, Stirling's term y log y − y + ½ log(2πy) where y > 1.

    >>> poisson_nll_loss(em.zeros(3), em.ones(3))   # e^0 − 1·0
    tensor(1.)
    """
    if reduction not in REDUCTIONS:
        raise ValueError(reduction + " is not a valid value for reduction")
    target = as_tensor(target, like=input)
    loss = exp(input) - target * input if log_input else input - target * log(input + eps)
    if full:
        big = target.array > 1
        y = where(big, target, 1.0)  # 1 stands in below the cut: no log 0 in the unused branch
        loss = loss + where(big, y * log(y) - y + 0.5 * log(2 * np.pi * y), 0.0)
    return _reduce(loss, reduction, "poisson_nll_loss")


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Gaussian negative log-likelihood of target y under N(μ = input, σ² = var):

        ℓ = ½ (log max(σ², eps) + (μ − y)² / max(σ², eps)) [+ ½ log 2π with ``full``].

    ``var`` is shaped like input (heteroscedastic), one dimension short of it or with one
    dimension of size 1 (homoscedastic), or a number. As PyTorch, the clamp at ``eps`` is not
    differentiated through (the gradient wrt var is that of the unclamped formula).
    """
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = as_tensor(input.xp.full(input.shape, var, dtype=input.dtype))
    elif bool((var.array < 0).any()):
        raise ValueError("var has negative entry/entries")
    if var.shape != input.shape:
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.reshape(var.shape + (1,))
        elif var.ndim != input.ndim or builtins.sum(b for a, b in zip(input.shape, var.shape, strict=True)
                                                    if a != b) != 1:  # PyTorch's test: one size-1 dimension
            raise ValueError("var is of incorrect size")
    if reduction not in REDUCTIONS:
        raise ValueError(reduction + " is not valid")
    var = var + (var.xp.maximum(var.array, eps) - var.array)  # the clamp, outside the graph
    diff = input - target
    loss = 0.5 * (log(var) + diff * diff / var)
    if full:
        loss = loss + 0.5 * np.log(2 * np.pi)
    return _reduce(loss, reduction, "gaussian_nll_loss")


# -- margin and embedding losses -----------------------------------------------------------------
def margin_ranking_loss(input1, input2, target, margin=0.0, reduction="mean"):
    """Ranking loss: ℓ = max(0, −y (x1 − x2) + margin), y = 1 if x1 should rank higher, −1 otherwise."""
    target = as_tensor(target, like=input1)
    if not input1.ndim == input2.ndim == target.ndim:
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                           f"input1: {input1.shape}, input2: {input2.shape}, target: {target.shape} ")
    return _reduce(_positive_part(margin - target * (input1 - input2)), reduction, "margin_ranking_loss")


def hinge_embedding_loss(input, target, margin=1.0, reduction="mean"):
    """Hinge embedding loss for distances x with labels y = ±1: ℓ = x where y = 1, max(0, margin − x) where y = −1."""
    t = as_tensor(target).array
    loss = where(t != 1, _positive_part(margin - input), 0.0) + where(t != -1, input, 0.0)
    return _reduce(loss, reduction, "hinge_embedding_loss")


def soft_margin_loss(input, target, reduction="mean"):
    """Two-class logistic loss with labels y = ±1: ℓ = log(1 + e^{−y x}), computed as softplus(−y x)."""
    target = as_tensor(target, like=input)
    return _reduce(softplus(-target * input), reduction, "soft_margin_loss")


def multilabel_soft_margin_loss(input, target, weight=None, reduction="mean"):
    """Multi-label one-vs-all logistic loss over the C classes (last dimension) of each sample:

        ℓ_n = −(1/C) Σ_c w_c [y_nc log σ(x_nc) + (1 − y_nc) log σ(−x_nc)].
    """
    target = as_tensor(target, like=input)
    loss = target * softplus(-input) + (1 - target) * softplus(input)  # −log σ(x) = softplus(−x)
    if weight is not None:
        loss = loss * weight
    C = input.shape[-1]
    return _reduce(sum(loss, axis=input.ndim - 1) / C, reduction, "multilabel_soft_margin_loss")


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction="mean"):
    """Cosine embedding loss for pairs labelled y = 1 (similar) or −1 (dissimilar):

        ℓ = 1 − cos(x1, x2) where y = 1,   max(0, cos(x1, x2) − margin) where y = −1,

    cos = x1·x2 / √((‖x1‖² + 1e−12)(‖x2‖² + 1e−12)) along the last dimension, as PyTorch.
    Shapes: x1, x2 (N, D) with target (N,), or (D,) with a scalar target.
    """
    target = as_tensor(target)
    if input1.ndim not in (1, 2) or input1.shape != input2.shape or target.ndim != input1.ndim - 1:
        raise RuntimeError(f"cosine_embedding_loss: expected 1D or 2D inputs of one shape and a target with one "
                           f"dimension less, got {input1.shape}, {input2.shape} and {target.shape}")
    d = input1.ndim - 1
    norms = (sum(input1 * input1, axis=d) + 1e-12) * (sum(input2 * input2, axis=d) + 1e-12)
    cos = sum(input1 * input2, axis=d) / norms**0.5
    t = target.array
    loss = where(t == 1, 1 - cos, 0.0) + where(t == -1, _positive_part(cos - margin), 0.0)
    return _reduce(loss, reduction, "cosine_embedding_loss")


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """cos(x1, x2) = Σ (x1/‖x1‖)(x2/‖x2‖) along ``dim``, each norm clamped at ``eps`` (PyTorch's formula:
    normalise first, which keeps the result in [−1, 1]; the clamp is not differentiated through).

    >>> cosine_similarity(em.tensor([[1.0, 0.0]]), em.tensor([[1.0, 1.0]]))
    tensor([0.70710677])
    """
    from ember.ops.metric_loss import _norm  # noqa: PLC0415 - metric_loss imports this module

    shape = np.broadcast_shapes(x1.shape, x2.shape)
    x1, x2 = x1.expand(*shape), x2.expand(*shape)

    def unit(x):
        n = _norm(x, 2, True, axis=dim, name="cosine_similarity")
        return x / (n + (n.xp.maximum(n.array, eps) - n.array))  # the clamp, outside the graph

    return sum(unit(x1) * unit(x2), axis=dim)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, reduction="mean"):
    """Multi-class hinge loss (Weston & Watkins): for the true class y of each sample,

        ℓ = (1/C) Σ_{j ≠ y} w_y · max(0, margin − x_y + x_j)^p,   p ∈ {1, 2}.

    Shapes: input (N, C) with class indices (N,), or (C,) with one index.
    """
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    target = as_tensor(target)
    x = input.reshape(1, -1) if input.ndim == 1 else input
    t = target.array.reshape(-1).astype(np.int64)
    N, C = x.shape
    if t.shape != (N,) or bool(((t < 0) | (t >= C)).any()):
        raise ValueError(f"multi_margin_loss: expected {N} class indices in [0, {C}), got target {target.shape}")
    xp = x.xp
    rows = xp.arange(N)
    z = _positive_part(margin - x[rows, t].reshape(N, 1) + x)
    h = z if p == 1 else z * z
    h = h * (xp.arange(C) != t[:, None])  # the true class itself does not count
    if weight is not None:
        h = h * as_tensor(weight).array[t][:, None].astype(x.dtype)
    loss = sum(h, axis=1) / C
    return _reduce(loss.reshape(()) if input.ndim == 1 else loss, reduction, "multi_margin_loss")


def multilabel_margin_loss(input, target, reduction="mean"):
    """Multi-label hinge loss: for the target classes Y of a sample (``target`` lists them, ended by −1),

        ℓ = (1/C) Σ_{j ∈ Y} Σ_{i ∉ Y} max(0, 1 − (x_j − x_i)).

    Shapes: input (N, C) and an integer target (N, C), or (C,) and (C,). All (j, i) pairs are formed
    at once, an (N, C, C) array: meant for the tens-to-hundreds of labels of multi-label tasks.
    """
    target = as_tensor(target)
    x = input.reshape(1, -1) if input.ndim == 1 else input
    t = target.array.reshape(x.shape).astype(np.int64)
    N, C = x.shape
    xp = x.xp
    listed = xp.cumprod(t != -1, axis=1).astype(bool)  # the entries before the first −1
    safe = xp.where(listed, t, C)  # C: a spare column for the unlisted entries
    is_target = xp.zeros((N, C + 1), dtype=bool)
    xp.put_along_axis(is_target, safe, True, axis=1)
    x_y = x[xp.arange(N)[:, None], xp.minimum(safe, C - 1)]  # (N, J): the score of each listed target
    z = _positive_part(1 - x_y.reshape(N, C, 1) + x.reshape(N, 1, C))  # (N, J, I)
    mask = listed[:, :, None] & ~is_target[:, None, :C]
    loss = sum(z * mask, axis=(1, 2)) / C
    return _reduce(loss.reshape(()) if input.ndim == 1 else loss, reduction, "multilabel_margin_loss")
