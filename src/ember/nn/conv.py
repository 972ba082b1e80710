"""Convolution layers: Conv1d, Conv2d, Conv3d, ConvTranspose1d and ConvTranspose2d over im2col ops (``ember.ops``)."""
from __future__ import annotations

from ember.autograd.tensor import Parameter
from ember.creation import empty
from ember.nn import functional as F
from ember.nn import init
from ember.nn.module import Module
from ember.ops.conv import ntuple, resolve_padding

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """What every convolution layer shares: argument checks, parameters, PyTorch's initialisation."""

    _dims = 2
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                 padding_mode, device, dtype, output_padding=0):
        super().__init__()
        name, n = type(self).__name__, self._dims
        for arg, value in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}: {arg} must be a positive integer, got {value!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) must both "
                             f"be divisible by groups ({groups})")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = ntuple(kernel_size, n, "kernel_size", name)
        self.stride = ntuple(stride, n, "stride", name)
        self.dilation = ntuple(dilation, n, "dilation", name)
        if min(self.kernel_size + self.stride + self.dilation) < 1:
            raise ValueError(f"{name}: kernel_size, stride and dilation must be positive, got {self.kernel_size}, "
                             f"{self.stride} and {self.dilation}")
        self.padding = padding if isinstance(padding, str) else ntuple(padding, n, "padding", name)
        if isinstance(padding, str) and (padding not in ("same", "valid") or self._transposed):
            raise ValueError(f"{name}: padding must be an int or a tuple{'' if self._transposed else ', valid or same'}"
                             f", got {padding!r}")
        self.output_padding = ntuple(output_padding, n, "output_padding", name)
        self.padding_mode = padding_mode
        shape = (in_channels, out_channels // groups) if self._transposed else (out_channels, in_channels // groups)
        self.weight = Parameter(empty(*shape, *self.kernel_size, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """W, b ~ U(−1/√fan_in, 1/√fan_in): PyTorch's default (``init.default_layer_init_``)."""
        init.default_layer_init_(self.weight, self.bias)

    def forward(self, input):
        self._check_input(input)
        input, padding = self._mode_padded(input)
        convolve = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[self._dims]
        return convolve(input, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)

    def _mode_padded(self, input):
        """For a non-zero padding_mode: the input padded by F.pad, and 0 as the op's own padding."""
        if self.padding_mode == "zeros":
            return input, self.padding
        pairs = resolve_padding(self.padding, input.shape[2:], self.kernel_size, self.stride, self.dilation,
                                type(self).__name__)
        widths = tuple(w for pair in reversed(pairs) for w in pair)  # F.pad lists the last dimension first
        if not any(widths):
            return input, 0
        return F.pad(input, widths, mode=self.padding_mode), 0

    def _check_input(self, input):
        name, n = type(self).__name__, self._dims
        if input.ndim != n + 2 or input.shape[1] != self.in_channels:
            layout = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}[n]
            raise ValueError(f"{name}(in_channels={self.in_channels}): expected input of shape {layout} with "
                             f"C = {self.in_channels}, got {tuple(input.shape)}")

    def extra_repr(self) -> str:
        # PyTorch's repr, item for item, so printed models read the same in both
        parts = [f"{self.in_channels}, {self.out_channels}", f"kernel_size={self.kernel_size}", f"stride={self.stride}"]
        if self.padding != (0,) * self._dims:
            parts.append(f"padding={self.padding}")
        if self.dilation != (1,) * self._dims:
            parts.append(f"dilation={self.dilation}")
        if any(self.output_padding):
            parts.append(f"output_padding={self.output_padding}")
        if self.groups != 1:
            parts.append(f"groups={self.groups}")
        if self.bias is None:
            parts.append("bias=False")
        if self.padding_mode != "zeros":
            parts.append(f"padding_mode={self.padding_mode}")
        return ", ".join(parts)


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation) over (N, C_in, H, W) images.

    y[n, o] = b[o] + Σ_c W[o, c] ⋆ x[n, c]; each spatial output size is
    ⌊(n + 2p − d(f − 1) − 1)/s⌋ + 1.

    Args:
        in_channels, out_channels: C_in and C_out.
        kernel_size, stride, dilation: an int or an (h, w) pair.
        padding: an int, an (h, w) pair, 'valid' (none) or 'same'. 'same' keeps H and W at
            stride 1 (PyTorch's rule) and gives ⌈n/s⌉ outputs at stride s > 1 (TensorFlow's
            rule, which PyTorch refuses); an odd total puts the extra pixel at the bottom/right.
        groups: split the channels into this many independent convolutions (C_in for depthwise).
        bias: learn a per-channel bias (default True).
        padding_mode: 'zeros', 'reflect', 'replicate' or 'circular'.

    weight (C_out, C_in/groups, kh, kw); bias (C_out,); both initialised as PyTorch.

    >>> conv = nn.Conv2d(3, 16, kernel_size=3, padding=1)
    >>> conv(em.randn(8, 3, 32, 32)).shape
    (8, 16, 32, 32)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C_in, L) sequences; the arguments are Conv2d's with single ints.

    >>> nn.Conv1d(1, 25, kernel_size=5, stride=2, padding=1)(em.randn(8, 1, 40)).shape
    (8, 25, 19)
    """

    _dims = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype)


class Conv3d(_ConvNd):
    """3-D convolution over (N, C_in, D, H, W) volumes; the arguments are Conv2d's with triples.

    weight (C_out, C_in/groups, kd, kh, kw); each output size ⌊(n + 2p − d(f − 1) − 1)/s⌋ + 1.

    >>> nn.Conv3d(3, 8, kernel_size=3, padding=1)(em.randn(2, 3, 8, 16, 16)).shape
    (2, 8, 8, 16, 16)
    """

    _dims = 3

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype)


class _ConvTransposeNd(_ConvNd):
    """What the transposed convolutions share: zero padding only, and ``output_size`` in forward."""

    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias,
                 dilation, padding_mode, device, dtype):
        if padding_mode != "zeros":
            raise ValueError(f"{type(self).__name__}: only padding_mode='zeros' is supported, got {padding_mode!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype, output_padding)

    def forward(self, input, output_size=None):
        self._check_input(input)
        output_padding = self.output_padding
        if output_size is not None:  # choose output_padding to reach the requested size, as PyTorch
            output_padding = tuple(
                want - ((n - 1) * s - 2 * p + d * (k - 1) + 1)
                for want, n, s, p, d, k in zip(tuple(output_size)[-self._dims:], input.shape[2:], self.stride,
                                               self.padding, self.dilation, self.kernel_size, strict=False))
        convolve = F.conv_transpose1d if self._dims == 1 else F.conv_transpose2d
        return convolve(input, self.weight, self.bias, self.stride, self.padding, output_padding, self.groups,
                        self.dilation)


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution (the gradient of Conv2d with respect to its input), for upsampling.

    Output size (H − 1)·s − 2p + d(kh − 1) + output_padding + 1. weight (C_in, C_out/groups, kh, kw).
    The argument order is PyTorch's (``output_padding`` and ``groups`` before ``dilation``).

    >>> up = nn.ConvTranspose2d(16, 8, kernel_size=2, stride=2)
    >>> up(em.randn(1, 16, 7, 7)).shape
    (1, 8, 14, 14)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias,
                         dilation, padding_mode, device, dtype)


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution over (N, C_in, L): ConvTranspose2d's arguments as single ints.

    Output length (L − 1)·s − 2p + d(k − 1) + output_padding + 1; weight (C_in, C_out/groups, k).

    >>> nn.ConvTranspose1d(16, 8, kernel_size=4, stride=2, padding=1)(em.randn(2, 16, 10)).shape
    (2, 8, 20)
    """

    _dims = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias,
                         dilation, padding_mode, device, dtype)
