"""Normalisation: ``batch_norm``, ``layer_norm``, ``group_norm`` and ``instance_norm``.

All four standardise x over some axes and then apply an affine map:

    x̂ = (x − μ) / √(σ² + ε),    y = γ ⊙ x̂ + β,

with μ and the *biased* σ² (divide by m, the number of values averaged) taken over

- batch norm (training):  the batch and every spatial position, per channel: (N, C, L) over (N, L);
- instance norm:           every spatial position, per sample and channel:  (N, C, L) over L;
- group norm:              the channels of a group and their positions:      (N, G, C/G, L) over (C/G, L);
- layer norm:              the trailing ``normalized_shape``:                  (B, D) over D.

so one fused Function, ``Normalize``, serves them all: each wrapper only picks the view of x,
the reduced axes and the shape that γ and β broadcast as. Its backward is the closed form

    dx = (1/σ)·(g − mean(g) − x̂·mean(g·x̂)),   g = γ ⊙ dy,    dγ = Σ dy·x̂,   dβ = Σ dy,

with the means over the reduced axes and the sums over the axes γ is shared along. In
evaluation, batch norm (and instance norm with running statistics) uses fixed statistics,
so it is the per-channel affine map y = x·s + t with s = γ/√(σ²_run + ε), t = β − μ_run·s.
Second derivatives differentiate ``Normalize.composed``, the same map built from primitives.
"""
from __future__ import annotations

import math

import numpy as np

from ember.autograd.function import Function
from ember.autograd.tensor import Tensor
from ember.backend import get_array_module as xp_of
from ember.ops.broadcast import sum_to
from ember.ops.shape import ConstantPad, reshape

# -- the fused core ---------------------------------------------------------------------------


def _sum_product(a, b, axes):
    """Σ a·b over ``axes``, kept as size-1 dims: one einsum pass, no full-size product in memory."""
    letters = "abcdefgh"[: a.ndim]
    kept = "".join(c for i, c in enumerate(letters) if i not in axes)
    out = xp_of(a).einsum(f"{letters},{letters}->{kept}", a, b)
    return out.reshape([1 if i in axes else n for i, n in enumerate(a.shape)])


def _input_grad(g, xhat, k, mean_g, mean_gx):
    """dx = k·(g − mean(g) − x̂·mean(g·x̂)), in one new array and three in-place passes."""
    gx = xhat * mean_gx
    gx += mean_g
    xp_of(gx).subtract(g, gx, out=gx)
    gx *= k
    return gx


class Normalize(Function):
    # NOTE: fused standardise-then-affine. Composed from mean, sub, var, sqrt, div, mul and add,
    # the graph would hold x − μ, (x − μ)², x̂ and γx̂ (four full-size arrays) and its backward
    # would walk them all; here forward saves x̂ alone and backward is the closed form above:
    # a few reductions and one output array. BatchNorm2d is the hot path of every CNN.
    def __init__(self, view, axes, eps, affine_shape, has_weight, has_bias):
        self.view, self.axes, self.eps, self.affine_shape = view, axes, eps, affine_shape
        self.has_weight, self.has_bias = has_weight, has_bias
        self.count = math.prod(view[a] for a in axes)  # m, the values behind each μ and σ²
        # γ constant along the reduced axes (batch and instance norm): the sums can be taken of
        # dy itself and scaled by γ after, so backward forms no full-size γ ⊙ dy
        self.per_stat = all(affine_shape[a] == 1 for a in axes)
        self.not_affine = tuple(i for i, n in enumerate(affine_shape) if n == 1)

    def forward(self, x, *affine):
        self.x_shape, self.param_shape = x.shape, affine[0].shape if affine else None
        w = affine[0].reshape(self.affine_shape) if self.has_weight else None
        b = affine[-1].reshape(self.affine_shape) if self.has_bias else None
        xv = x.reshape(self.view)
        self.mean = xv.sum(axis=self.axes, keepdims=True) / self.count
        xhat = xv - self.mean
        self.var = _sum_product(xhat, xhat, self.axes) / self.count  # biased: divide by m
        inv_std = 1.0 / xp_of(x).sqrt(self.var + self.eps)
        xhat *= inv_std
        # x̂ in x's shape, so that a returned x̂ is covered by the in-place check; γ as given, likewise
        self.save_for_backward(xhat.reshape(x.shape), inv_std, affine[0] if self.has_weight else None)
        if w is None and b is None:
            return self.saved[0]
        y = xhat * w if w is not None else xhat + b
        if w is not None and b is not None:
            y += b
        return y.reshape(x.shape)

    def backward(self, gy):
        xhat, inv_std, w = self.saved
        xhat, gy = xhat.reshape(self.view), gy.reshape(self.view)
        R, m = self.axes, self.count
        gx = sums = None
        if self.per_stat or w is None:  # mean(γ·dy) = γ·mean(dy): reduce dy itself, scale by γ after
            sums = gy.sum(axis=R, keepdims=True), _sum_product(gy, xhat, R)
            if self.needs_input_grad[0]:
                k = inv_std if w is None else inv_std * w.reshape(self.affine_shape)
                gx = _input_grad(gy, xhat, k, sums[0] / m, sums[1] / m)
        elif self.needs_input_grad[0]:
            g = gy * w.reshape(self.affine_shape)
            gx = _input_grad(g, xhat, inv_std, g.sum(axis=R, keepdims=True) / m, _sum_product(g, xhat, R) / m)
        return (None if gx is None else gx.reshape(self.x_shape), *self._affine_grads(gy, xhat, sums))

    def _affine_grads(self, gy, xhat, sums):
        """dγ = Σ dy·x̂ and dβ = Σ dy over the axes γ is shared along (from the per-stat sums when they serve)."""
        grads = []
        for has, k, is_weight in ((self.has_weight, 1, True), (self.has_bias, -1, False)):
            if not has:
                continue
            if not self.needs_input_grad[k]:
                grads.append(None)
            elif self.per_stat:  # sums = (Σ_R dy, Σ_R dy·x̂): only the batch axes are left to add
                grads.append(sum_to(sums[1] if is_weight else sums[0], self.affine_shape).reshape(self.param_shape))
            else:
                axes = self.not_affine
                g = _sum_product(gy, xhat, axes) if is_weight else gy.sum(axis=axes, keepdims=True)
                grads.append(g.reshape(self.param_shape))
        return grads

    def composed(self, x, *affine):
        """The same map from differentiable primitives (mean, variance, x̂, affine), for the higher-order path:

            μ = Σ_R x / m,   σ² = Σ_R (x − μ)² / m,   y = γ ⊙ (x − μ)/√(σ² + ε) + β.
        """
        R, m = self.axes, self.count
        xv = x.reshape(self.view)
        centred = xv - xv.sum(axis=R, keepdims=True) / m
        y = centred / ((centred * centred).sum(axis=R, keepdims=True) / m + self.eps).sqrt()
        if self.has_weight:
            y = y * affine[0].reshape(self.affine_shape)
        if self.has_bias:
            y = y + affine[-1].reshape(self.affine_shape)
        return y.reshape(self.x_shape)


def _normalize(x, view, axes, eps, weight, bias, affine_shape):
    """y = γ x̂ + β through ``Normalize``; returns y and the node, whose ``mean``/``var`` feed running stats."""
    fn = Normalize(view, axes, eps, affine_shape, weight is not None, bias is not None)
    return fn(x, *(t for t in (weight, bias) if t is not None)), fn


# -- checks and running statistics ------------------------------------------------------------


def _check_params(op, input, shape, **tensors):
    """Each given tensor has ``shape``; γ and β share the input's dtype."""
    for name, t in tensors.items():
        if t is None:
            continue
        if tuple(t.shape) != tuple(shape):
            raise ValueError(f"{op}: {name} must have shape {tuple(shape)} for input {tuple(input.shape)}, "
                             f"got {tuple(t.shape)}")
        if name in ("weight", "bias") and t.dtype != input.dtype:
            raise TypeError(f"{op}: input dtype {input.dtype} differs from the {name}'s {t.dtype}")


def _channels(op, input, **per_channel):
    """C of an (N, C, *) input, after checking every per-channel tensor has shape (C,)."""
    if input.ndim < 2:
        raise ValueError(f"{op}: expected input of shape (N, C, *), got {tuple(input.shape)}")
    _check_params(op, input, input.shape[1:2], **per_channel)
    return input.shape[1]


def _fixed_affine(input, mean, var, weight, bias, eps):
    """Normalise with given per-channel statistics: y = x·s + t, s = γ/√(σ² + ε), t = β − μ·s."""
    scale = (1.0 / xp_of(var.array).sqrt(var.array + eps)).astype(input.dtype, copy=False)
    if weight is not None:
        scale = weight * scale
    shift = -mean.array.astype(input.dtype, copy=False) * scale
    if bias is not None:
        shift = shift + bias
    shape = (1, input.shape[1]) + (1,) * (input.ndim - 2)
    return input * _per_channel(scale, shape) + _per_channel(shift, shape)


def _per_channel(v, shape):
    return reshape(v, shape) if isinstance(v, Tensor) else v.reshape(shape)


def _update_running(running_mean, running_var, mean, var_unbiased, momentum):
    """running ← (1 − momentum)·running + momentum·batch value, in place (buffers are not trained)."""
    for buffer, value in ((running_mean, mean), (running_var, var_unbiased)):
        if buffer is not None:
            # on the array: a Python-float factor stays exact in float64 (a tensor op would make it float32)
            buffer.array *= 1.0 - momentum
            buffer.array += momentum * value
            buffer._version += 1


# -- the four normalisations ----------------------------------------------------------------------


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Batch normalisation (PyTorch's ``F.batch_norm``) of input (N, C, *) per channel.

    Training: y = γ(x − μ_B)/√(σ²_B + ε) + β with the batch mean μ_B and biased variance σ²_B
    over N and every position; running_mean ← (1 − momentum)·running_mean + momentum·μ_B and
    running_var ← (1 − momentum)·running_var + momentum·σ²_B·m/(m − 1) (unbiased), in place,
    when they are given. Evaluation: the running statistics take the place of μ_B and σ²_B.

    >>> F.batch_norm(em.randn(8, 3, 4, 4), em.zeros(3), em.ones(3), training=True).shape
    (8, 3, 4, 4)
    """
    C = _channels("batch_norm", input, weight=weight, bias=bias, running_mean=running_mean, running_var=running_var)
    if not training:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are required when training=False")
        return _fixed_affine(input, running_mean, running_var, weight, bias, eps)
    view = (input.shape[0], C, math.prod(input.shape[2:]))
    m = view[0] * view[2]
    if m == 1:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, "
                         f"got input of shape {tuple(input.shape)}")
    y, fn = _normalize(input, view, (0, 2), eps, weight, bias, (1, C, 1))
    _update_running(running_mean, running_var, fn.mean.reshape(C), fn.var.reshape(C) * (m / (m - 1)), momentum)
    return y


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Instance normalisation (PyTorch's ``F.instance_norm``): each sample's channel over its positions.

    y = γ(x − μ_nc)/√(σ²_nc + ε) + β for input (N, C, *). Given running statistics are updated
    with the batch average of μ_nc and of the unbiased σ²_nc; ``use_input_stats=False``
    normalises with the running statistics instead.

    >>> F.instance_norm(em.randn(2, 3, 8, 8)).shape
    (2, 3, 8, 8)
    """
    C = _channels("instance_norm", input, weight=weight, bias=bias, running_mean=running_mean,
                  running_var=running_var)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError("instance_norm: running_mean and running_var are required when use_input_stats=False")
        return _fixed_affine(input, running_mean, running_var, weight, bias, eps)
    view = (input.shape[0], C, math.prod(input.shape[2:]))
    if view[2] == 1:
        raise ValueError(f"instance_norm: expected more than 1 spatial element when training, "
                         f"got input of shape {tuple(input.shape)}")
    y, fn = _normalize(input, view, (2,), eps, weight, bias, (1, C, 1))
    L = view[2]
    _update_running(running_mean, running_var, fn.mean.mean(axis=0).reshape(C),
                    fn.var.mean(axis=0).reshape(C) * (L / (L - 1)), momentum)
    return y


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Layer normalisation (PyTorch's ``F.layer_norm``) over the trailing ``normalized_shape`` dims.

    y = γ ⊙ (x − μ)/√(σ² + ε) + β with μ, σ² over the last len(normalized_shape) dims of each
    sample; weight γ and bias β have shape ``normalized_shape`` (element-wise affine).

    >>> F.layer_norm(em.randn(4, 10, 32), (32,)).shape
    (4, 10, 32)
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise ValueError(f"layer_norm: given normalized_shape={shape}, expected input of shape "
                         f"(*, {', '.join(map(str, shape))}), got {tuple(input.shape)}")
    _check_params("layer_norm", input, shape, weight=weight, bias=bias)
    D = math.prod(shape)
    y, _ = _normalize(input, (math.prod(input.shape[: input.ndim - k]), D), (1,), eps, weight, bias, (1, D))
    return y


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Group normalisation (PyTorch's ``F.group_norm``): the C channels in ``num_groups`` groups.

    For input (N, C, *), μ and σ² are taken over each sample's group of C/G channels and all
    their positions; then y = γ_c x̂ + β_c per channel. G = 1 is layer norm over (C, *) with
    per-channel affine; G = C is instance norm.

    >>> F.group_norm(em.randn(2, 6, 5, 5), 3).shape
    (2, 6, 5, 5)
    """
    C = _channels("group_norm", input, weight=weight, bias=bias)
    if not isinstance(num_groups, int) or num_groups < 1 or C % num_groups:
        raise ValueError(f"group_norm: the number of channels {C} of input {tuple(input.shape)} must be "
                         f"divisible by num_groups={num_groups!r}")
    G = num_groups
    view = (input.shape[0], G, C // G, math.prod(input.shape[2:]))
    y, _ = _normalize(input, view, (2, 3), eps, weight, bias, (1, G, C // G, 1))
    return y


# -- RMS and local response normalisation (composed: their backward comes from the parts) --------


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """Root-mean-square normalisation (Zhang & Sennrich 2019; PyTorch's ``F.rms_norm``):

        y = x / √(mean(x²) + ε) ⊙ γ,

    the mean over the trailing ``normalized_shape`` dims; no centring and no bias. ``eps=None``
    takes the machine epsilon of the input's dtype, as PyTorch.

    >>> F.rms_norm(em.randn(4, 10, 32), (32,)).shape
    (4, 10, 32)
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise ValueError(f"rms_norm: given normalized_shape={shape}, expected input of shape "
                         f"(*, {', '.join(map(str, shape))}), got {tuple(input.shape)}")
    _check_params("rms_norm", input, shape, weight=weight)
    eps = float(np.finfo(input.dtype).eps) if eps is None else eps
    axes = tuple(range(input.ndim - k, input.ndim))
    ms = (input * input).sum(axis=axes, keepdims=True) * (1.0 / math.prod(shape)) if k else input * input
    y = input / (ms + eps) ** 0.5
    return y if weight is None else y * weight


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """Local response normalisation across channels (AlexNet; PyTorch's ``F.local_response_norm``):

        b_c = a_c / (k + α/n · Σ_{c'} a_{c'}²)^β,

    the sum over the n = ``size`` channels c − ⌊n/2⌋ … c + ⌊(n−1)/2⌋ (zero beyond the ends).
    Input (N, C, *) with at least one position dimension.

    >>> F.local_response_norm(em.randn(2, 8, 5, 5), size=5).shape
    (2, 8, 5, 5)
    """
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.ndim} dimensions)")
    if input.numel() == 0:
        return input
    C = input.shape[1]
    widths = [(0, 0)] * input.ndim
    widths[1] = (size // 2, (size - 1) // 2)
    squares = ConstantPad(tuple(widths), 0.0)(input * input)
    window = squares[:, 0:C]
    for j in range(1, size):  # a sum over the (small) window, vectorised over everything else
        window = window + squares[:, j:j + C]
    return input / (window * (alpha / size) + k) ** beta
