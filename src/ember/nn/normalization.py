"""Normalisation layers: BatchNorm1d/2d/3d, InstanceNorm1d/2d, LayerNorm and GroupNorm.

Each standardises its input over some axes, x̂ = (x − μ)/√(σ² + ε), and applies a learnable
affine map y = γ x̂ + β (γ initialised to 1, β to 0). The maths is one fused op in
``ember.ops.normalization``; the layers hold γ, β and the running statistics, whose names
(``weight``, ``bias``, ``running_mean``, ``running_var``, ``num_batches_tracked``) are
PyTorch's, so a PyTorch state dict loads unchanged.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ember.autograd.tensor import Parameter
from ember.creation import empty, ones, tensor, zeros
from ember.nn import functional as F
from ember.nn import init
from ember.nn.module import Module
from ember.ops.shape import squeeze, unsqueeze


def _check_positive(layer, name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{layer}: {name} must be a positive integer, got {value!r}")


def _affine_parameters(module, shape, affine, bias, device, dtype):
    """Register γ (``weight``) and β (``bias``) of ``shape``, or None for each one switched off."""
    module.register_parameter("weight", Parameter(empty(*shape, dtype=dtype, device=device)) if affine else None)
    module.register_parameter("bias", Parameter(empty(*shape, dtype=dtype, device=device)) if affine and bias else None)


def _reset_affine(module):
    """γ ← 1, β ← 0, as PyTorch initialises every normalisation layer."""
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class _NormBase(Module):
    """What batch and instance norm share: γ, β, the running statistics and their repr."""

    _layouts = {}  # ndim → the layout named in errors, e.g. {4: "(N, C, H, W)"}

    def __init__(self, num_features, eps, momentum, affine, track_running_stats, device, dtype, bias):
        super().__init__()
        _check_positive(type(self).__name__, "num_features", num_features)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        _affine_parameters(self, (num_features,), affine, bias, device, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dtype, device=device))
            self.register_buffer("running_var", ones(num_features, dtype=dtype, device=device))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=np.int64, device=device))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """running_mean ← 0, running_var ← 1, num_batches_tracked ← 0."""
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array[...] = 0

    def reset_parameters(self) -> None:
        """Reset the running statistics, γ ← 1 and β ← 0, as PyTorch."""
        self.reset_running_stats()
        _reset_affine(self)

    def _check_input(self, input):
        """Raise, naming the layer, unless input has an accepted ndim and num_features channels."""
        name = f"{type(self).__name__}(num_features={self.num_features})"
        if input.ndim not in self._layouts:
            layouts = " or ".join(self._layouts.values())
            raise ValueError(f"{name}: expected {' or '.join(f'{d}D' for d in self._layouts)} input {layouts}, "
                             f"got {input.ndim}D input of shape {tuple(input.shape)}")
        if input.shape[self._channel_dim(input)] != self.num_features:
            raise ValueError(f"{name}: expected input of shape {self._layouts[input.ndim]} with C = "
                             f"{self.num_features}, got {tuple(input.shape)}")

    def _channel_dim(self, input):
        return 1

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


# -- batch norm -------------------------------------------------------------------------------------


class _BatchNorm(_NormBase):
    """Batch normalisation over (N, C, *): one mean and variance per channel.

    Training (each batch B of m = N·L values per channel):

        μ_B = (1/m) Σ x,    σ²_B = (1/m) Σ (x − μ_B)²   (biased: the batch is normalised by it)
        y = γ (x − μ_B)/√(σ²_B + ε) + β
        running_mean ← (1 − momentum)·running_mean + momentum·μ_B
        running_var  ← (1 − momentum)·running_var  + momentum·σ²_B·m/(m − 1)   (unbiased)

    exactly as PyTorch; ``momentum=None`` makes the running statistics a cumulative average
    (factor 1/num_batches_tracked). Evaluation normalises with the running statistics (with
    the batch's own when ``track_running_stats=False``). Training needs more than one value
    per channel.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *, bias: bool = True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias)

    def forward(self, input):
        self._check_input(input)
        if self.training and math.prod(input.shape) // self.num_features == 1:
            raise ValueError(f"{type(self).__name__}(num_features={self.num_features}): expected more than 1 value "
                             f"per channel when training, got input of shape {tuple(input.shape)}")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.array += 1
            self.num_batches_tracked._version += 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.array)
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if track else None, self.running_var if track else None,
                            self.weight, self.bias, use_batch_stats, factor, self.eps)


class BatchNorm1d(_BatchNorm):
    __doc__ = _BatchNorm.__doc__ + """
    Input (N, C) or (N, C, L); statistics over N (and L).

    >>> bn = nn.BatchNorm1d(100)
    >>> bn(em.randn(20, 100)).shape
    (20, 100)
    """

    _layouts = {2: "(N, C)", 3: "(N, C, L)"}


class BatchNorm2d(_BatchNorm):
    __doc__ = _BatchNorm.__doc__ + """
    Input (N, C, H, W); statistics over N, H and W.

    >>> bn = nn.BatchNorm2d(16)
    >>> bn(em.randn(8, 16, 32, 32)).shape
    (8, 16, 32, 32)
    """

    _layouts = {4: "(N, C, H, W)"}


class BatchNorm3d(_BatchNorm):
    __doc__ = _BatchNorm.__doc__ + """
    Input (N, C, D, H, W); statistics over N, D, H and W.

    >>> nn.BatchNorm3d(4)(em.randn(2, 4, 3, 5, 5)).shape
    (2, 4, 3, 5, 5)
    """

    _layouts = {5: "(N, C, D, H, W)"}


# -- instance norm ----------------------------------------------------------------------------------


class _InstanceNorm(_NormBase):
    """Instance normalisation: each sample's channel over its own positions.

        y = γ (x − μ_nc)/√(σ²_nc + ε) + β,   μ_nc, σ²_nc (biased) over the positions of sample n, channel c

    as PyTorch: no affine map and no running statistics by default. With
    ``track_running_stats=True``, training updates running_mean/var with the batch average of
    μ_nc and of the unbiased σ²_nc (momentum as BatchNorm; ``momentum=None`` leaves them
    unchanged, as PyTorch), and evaluation normalises with them. An unbatched input (C, *)
    is accepted.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = False,
                 track_running_stats: bool = False, device=None, dtype=None, *, bias: bool = True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias)

    def _channel_dim(self, input):
        return 0 if input.ndim == min(self._layouts) else 1

    def _check_input(self, input):
        try:
            super()._check_input(input)
        except ValueError as err:
            # with nothing shaped by num_features, PyTorch only warns about the channel count
            if input.ndim not in self._layouts or self.affine or self.track_running_stats:
                raise
            warnings.warn(f"{err}; num_features is unused without affine or running statistics", stacklevel=4)

    def forward(self, input):
        self._check_input(input)
        if input.ndim == min(self._layouts):  # unbatched (C, *): a batch of one
            return squeeze(self._normalize(unsqueeze(input, 0)), 0)
        return self._normalize(input)

    def _normalize(self, input):
        momentum = 0.0 if self.momentum is None else self.momentum
        return F.instance_norm(input, self.running_mean, self.running_var, self.weight, self.bias,
                               self.training or not self.track_running_stats, momentum, self.eps)


class InstanceNorm1d(_InstanceNorm):
    __doc__ = _InstanceNorm.__doc__ + """
    Input (N, C, L) or (C, L).

    >>> nn.InstanceNorm1d(4)(em.randn(2, 4, 50)).shape
    (2, 4, 50)
    """

    _layouts = {2: "(C, L)", 3: "(N, C, L)"}


class InstanceNorm2d(_InstanceNorm):
    __doc__ = _InstanceNorm.__doc__ + """
    Input (N, C, H, W) or (C, H, W) — the normalisation of style transfer.

    >>> nn.InstanceNorm2d(3, affine=True)(em.randn(2, 3, 16, 16)).shape
    (2, 3, 16, 16)
    """

    _layouts = {3: "(C, H, W)", 4: "(N, C, H, W)"}


# -- layer and group norm ---------------------------------------------------------------------------


class LayerNorm(Module):
    """Layer normalisation over the trailing ``normalized_shape`` dimensions of each sample.

        y = γ ⊙ (x − μ)/√(σ² + ε) + β,   μ, σ² (biased) over the last len(normalized_shape) dims

    The same in training and evaluation. γ (init 1) and β (init 0) have shape
    ``normalized_shape`` (element-wise affine; ``elementwise_affine=False`` drops both,
    ``bias=False`` drops β).

    >>> ln = nn.LayerNorm(32)
    >>> ln(em.randn(4, 10, 32)).shape
    (4, 10, 32)
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        if not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape):
            raise ValueError(f"LayerNorm: normalized_shape must be a positive int or a tuple of them, "
                             f"got {normalized_shape!r}")
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        _affine_parameters(self, shape, elementwise_affine, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """γ ← 1, β ← 0."""
        _reset_affine(self)

    def forward(self, input):
        k = len(self.normalized_shape)
        if input.ndim < k or tuple(input.shape[input.ndim - k:]) != self.normalized_shape:
            raise ValueError(f"LayerNorm(normalized_shape={self.normalized_shape}): expected input of shape "
                             f"(*, {', '.join(map(str, self.normalized_shape))}), got {tuple(input.shape)}")
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class GroupNorm(Module):
    """Group normalisation: the channels split into ``num_groups`` groups, each normalised per sample.

        y = γ_c (x − μ_ng)/√(σ²_ng + ε) + β_c,   μ_ng, σ²_ng (biased) over the C/G channels of
        group g and all their positions

    The same in training and evaluation, and independent of the batch size. GroupNorm(1, C)
    normalises like LayerNorm over (C, *); GroupNorm(C, C) like InstanceNorm. γ (init 1) and
    β (init 0) are per channel, shape (C,).

    >>> gn = nn.GroupNorm(3, 6)
    >>> gn(em.randn(20, 6, 10, 10)).shape
    (20, 6, 10, 10)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, device=None,
                 dtype=None, *, bias: bool = True):
        super().__init__()
        _check_positive("GroupNorm", "num_groups", num_groups)
        _check_positive("GroupNorm", "num_channels", num_channels)
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        _affine_parameters(self, (num_channels,), affine, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """γ ← 1, β ← 0."""
        _reset_affine(self)

    def forward(self, input):
        if input.ndim < 2 or input.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm(num_groups={self.num_groups}, num_channels={self.num_channels}): expected "
                             f"input of shape (N, {self.num_channels}, *), got {tuple(input.shape)}")
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class RMSNorm(Module):
    """Root-mean-square normalisation over the trailing ``normalized_shape`` dimensions:

        y = x / √(mean(x²) + ε) ⊙ γ,

    no centring and no bias (the LayerNorm of LLaMA-style transformers). ``eps=None`` uses the
    machine epsilon of the input's dtype, as PyTorch; γ (init 1) has shape ``normalized_shape``.

    >>> nn.RMSNorm(32)(em.randn(4, 10, 32)).shape
    (4, 10, 32)
    """

    def __init__(self, normalized_shape, eps: float | None = None, elementwise_affine: bool = True, device=None,
                 dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        if not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape):
            raise ValueError(f"RMSNorm: normalized_shape must be a positive int or a tuple of them, "
                             f"got {normalized_shape!r}")
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        weight = Parameter(empty(*shape, dtype=dtype, device=device)) if elementwise_affine else None
        self.register_parameter("weight", weight)  # and no bias slot at all, as PyTorch
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """γ ← 1."""
        if self.weight is not None:
            init.ones_(self.weight)

    def forward(self, input):
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class LocalResponseNorm(Module):
    """Local response normalisation across neighbouring channels (AlexNet, Krizhevsky et al. 2012):

        b_c = a_c / (k + α/n · Σ_{c' near c} a_{c'}²)^β,   n = ``size`` channels around c

    AlexNet used n = 5, β = 0.75, k = 2 and α = 1e−4 on the plain sum (α = 5e−4 here, where the sum
    is divided by n as in PyTorch). Input (N, C, *), at least 3-D; no parameters.

    >>> nn.LocalResponseNorm(5, k=2.0)(em.randn(2, 16, 7, 7)).shape
    (2, 16, 7, 7)
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        _check_positive("LocalResponseNorm", "size", size)
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
