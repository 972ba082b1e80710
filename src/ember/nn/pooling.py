"""Pooling layers over the ops of ``ember.ops.pooling``: max, average (1-D to 3-D), adaptive, global, pyramid.

None has parameters; each checks its arguments when built, and a bad input's error names the
layer and the input's shape.
"""
from __future__ import annotations

from ember.nn import functional as F
from ember.nn.module import Module
from ember.ops.pooling import adaptive_size, pool_args
from ember.ops.shape import cat, flatten


class _Pool(Module):
    """Runs the functional op and rewords its errors in the layer's terms (``MaxPool2d(kernel_size=3, ...)``)."""

    def _pool(self, op, input, *args):
        try:
            return op(input, *args)
        except ValueError as err:
            raise ValueError(f"{self!r} on input of shape {tuple(input.shape)}: {err}") from err


# -- max pooling --------------------------------------------------------------------------------


class _MaxPoolNd(_Pool):
    _dims = 2

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        pool_args(type(self).__name__, self._dims, kernel_size, stride, padding, dilation)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input):
        op = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[self._dims]
        return self._pool(op, input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                          self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool2d(_MaxPoolNd):
    """2-D max pooling: each output is the largest value in its (dilated) kh×kw window.

    Ho = ⌊(H + 2p − d(kh − 1) − 1)/s⌋ + 1 (⌈·⌉ with ``ceil_mode``), likewise Wo.

    Args:
        kernel_size: window size, an int or (kh, kw).
        stride: window step (default ``kernel_size``: non-overlapping windows).
        padding: −∞ added on each side, at most half the kernel.
        dilation: spacing between the window's elements.
        return_indices: also return each maximum's flat index h·W + w in its input plane.
        ceil_mode: round the output size up, adding a last partial window.

    Input (N, C, H, W) or (C, H, W) → (N, C, Ho, Wo). The gradient flows to each window's
    (first) maximum only.

    >>> nn.MaxPool2d(2)(em.randn(8, 6, 28, 28)).shape
    (8, 6, 14, 14)
    """


class MaxPool1d(_MaxPoolNd):
    """1-D max pooling over (N, C, L) or (C, L): MaxPool2d's arguments as single ints.

    >>> nn.MaxPool1d(3, stride=2)(em.randn(4, 8, 50)).shape
    (4, 8, 24)
    """

    _dims = 1


class _MaxUnpoolNd(_Pool):
    _dims = 2

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.padding = kernel_size, padding
        self.stride = stride if stride is not None else kernel_size

    def forward(self, input, indices, output_size=None):
        op = {1: F.max_unpool1d, 2: F.max_unpool2d}[self._dims]
        return self._pool(op, input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool2d(_MaxUnpoolNd):
    """The partial inverse of ``MaxPool2d``: ``unpool(y, indices)`` puts each maximum back where it was
    found (``MaxPool2d(..., return_indices=True)``), zeros elsewhere (SegNet's decoder).

    >>> pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    >>> y, indices = pool(em.randn(1, 3, 8, 8))
    >>> unpool(y, indices).shape
    (1, 3, 8, 8)
    """


class MaxUnpool1d(_MaxUnpoolNd):
    """The partial inverse of ``MaxPool1d`` over (N, C, L)."""

    _dims = 1


class MaxPool3d(_MaxPoolNd):
    """3-D max pooling over (N, C, D, H, W) or (C, D, H, W): MaxPool2d's arguments as ints or triples.

    >>> nn.MaxPool3d(2)(em.randn(2, 3, 8, 8, 8)).shape
    (2, 3, 4, 4, 4)
    """

    _dims = 3


# -- average pooling ----------------------------------------------------------------------------


class AvgPool2d(_Pool):
    """2-D average pooling: each output is the mean of its kh×kw window.

    Ho = ⌊(H + 2p − kh)/s⌋ + 1 (⌈·⌉ with ``ceil_mode``), likewise Wo.

    Args:
        kernel_size, stride (default ``kernel_size``), padding (zeros, at most half the kernel).
        ceil_mode: round the output size up, adding a last partial window.
        count_include_pad: divide by the window size including the zero padding (default) or
            by the number of input elements in the window.
        divisor_override: divide every window's sum by this instead.

    Input (N, C, H, W) or (C, H, W) → (N, C, Ho, Wo).

    >>> nn.AvgPool2d(2)(em.randn(8, 6, 28, 28)).shape
    (8, 6, 14, 14)
    """

    _dims = 2

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        name = type(self).__name__
        pool_args(name, self._dims, kernel_size, stride, padding)
        if divisor_override is not None and (not isinstance(divisor_override, int) or divisor_override == 0):
            raise ValueError(f"{name}: divisor_override must be a non-zero int, got {divisor_override!r}")
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input):
        op = F.avg_pool3d if self._dims == 3 else F.avg_pool2d
        return self._pool(op, input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool3d(AvgPool2d):
    """3-D average pooling over (N, C, D, H, W) or (C, D, H, W): AvgPool2d's arguments as ints or triples.

    >>> nn.AvgPool3d(2)(em.randn(2, 3, 8, 8, 8)).shape
    (2, 3, 4, 4, 4)
    """

    _dims = 3


class AvgPool1d(_Pool):
    """1-D average pooling over (N, C, L) or (C, L): AvgPool2d's arguments as single ints (no divisor_override).

    As PyTorch, kernel_size, stride and padding are kept as 1-tuples.

    >>> nn.AvgPool1d(2)(em.tensor([[[1.0, 2.0, 3.0, 4.0]]]))
    tensor([[[1.5, 3.5]]])
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        kernel, stride, padding, _ = pool_args("AvgPool1d", 1, kernel_size, stride, padding)
        self.kernel_size, self.stride, self.padding = kernel, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, input):
        return self._pool(F.avg_pool1d, input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


# -- adaptive pooling ---------------------------------------------------------------------------


class _AdaptivePool(_Pool):
    _dims = 2

    def __init__(self, output_size):
        super().__init__()
        adaptive_size(type(self).__name__, output_size, (1,) * self._dims)  # None entries pass as any size
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(_AdaptivePool):
    """Average pooling to a fixed output size (Ho, Wo), whatever the input size.

    Output bin i along H averages rows ⌊i·H/Ho⌋ .. ⌈(i + 1)·H/Ho⌉ − 1 (PyTorch's bins), likewise
    along W. ``output_size``: an int or (Ho, Wo); None keeps that input size. ``AdaptiveAvgPool2d(1)``
    is global average pooling (see also ``GlobalAvgPool2d``).

    >>> nn.AdaptiveAvgPool2d((1, 1))(em.randn(2, 512, 7, 7)).shape
    (2, 512, 1, 1)
    """

    def forward(self, input):
        return self._pool(F.adaptive_avg_pool2d, input, self.output_size)


class AdaptiveAvgPool1d(_AdaptivePool):
    """Average pooling of (N, C, L) or (C, L) to a fixed length ``output_size``, with PyTorch's bins.

    >>> nn.AdaptiveAvgPool1d(4)(em.randn(2, 8, 10)).shape
    (2, 8, 4)
    """

    _dims = 1

    def forward(self, input):
        return self._pool(F.adaptive_avg_pool1d, input, self.output_size)


class AdaptiveAvgPool3d(_AdaptivePool):
    """Average pooling of (N, C, D, H, W) or (C, D, H, W) to a fixed (Do, Ho, Wo), with PyTorch's bins.

    >>> nn.AdaptiveAvgPool3d(1)(em.randn(2, 8, 4, 7, 7)).shape
    (2, 8, 1, 1, 1)
    """

    _dims = 3

    def forward(self, input):
        return self._pool(F.adaptive_avg_pool3d, input, self.output_size)


class _AdaptiveMaxPool(_AdaptivePool):
    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input):
        op = F.adaptive_max_pool2d if self._dims == 2 else F.adaptive_max_pool1d
        return self._pool(op, input, self.output_size, self.return_indices)


class AdaptiveMaxPool2d(_AdaptiveMaxPool):
    """Max pooling to a fixed output size (Ho, Wo), with AdaptiveAvgPool2d's bins.

    ``return_indices``: also return each maximum's flat index h·W + w in its input plane.

    >>> nn.AdaptiveMaxPool2d(4)(em.randn(2, 8, 13, 13)).shape
    (2, 8, 4, 4)
    """


class AdaptiveMaxPool1d(_AdaptiveMaxPool):
    """Max pooling of (N, C, L) or (C, L) to a fixed length ``output_size``, with PyTorch's bins.

    >>> nn.AdaptiveMaxPool1d(1)(em.randn(2, 8, 10)).shape   # max over time
    (2, 8, 1)
    """

    _dims = 1


# -- global and pyramid pooling -------------------------------------------------------------------


class _GlobalPool(_Pool):
    def __init__(self, flatten: bool = True):
        super().__init__()
        self.flatten = flatten

    def forward(self, input):
        y = self._pool(self._op, input, 1)
        return flatten(y, -3) if self.flatten else y

    def extra_repr(self) -> str:
        return f"flatten={self.flatten}"


class GlobalAvgPool2d(_GlobalPool):
    """Global average pooling: y[n, c] = (1/HW) Σ_{h, w} x[n, c, h, w].

    The same as ``AdaptiveAvgPool2d(1)`` followed by ``Flatten()``: (N, C, H, W) → (N, C), ready
    for a Linear head; ``flatten=False`` keeps (N, C, 1, 1), exactly AdaptiveAvgPool2d(1).
    An unbatched (C, H, W) input gives (C,) (or (C, 1, 1)).

    >>> nn.GlobalAvgPool2d()(em.randn(2, 512, 7, 7)).shape
    (2, 512)
    """

    _op = staticmethod(F.adaptive_avg_pool2d)


class GlobalMaxPool2d(_GlobalPool):
    """Global max pooling: y[n, c] = max_{h, w} x[n, c, h, w].

    The same as ``AdaptiveMaxPool2d(1)`` followed by ``Flatten()``: (N, C, H, W) → (N, C);
    ``flatten=False`` keeps (N, C, 1, 1). The gradient flows to each plane's first maximum.

    >>> nn.GlobalMaxPool2d()(em.randn(2, 512, 7, 7)).shape
    (2, 512)
    """

    _op = staticmethod(F.adaptive_max_pool2d)


class SpatialPyramidPooling(Module):
    """Spatial pyramid pooling (He et al., 2014): a fixed-length vector from a feature map of any size.

    For each level l, adaptive pooling to l×l bins; the levels' (N, C, l, l) outputs are flattened
    (channel-major, then bin rows and columns) and concatenated:

        (N, C, H, W) → (N, C·Σ_l l²)      e.g. levels (1, 2, 4): C·21 features

    Args:
        levels: the pyramid's grid sizes (default (1, 2, 4)).
        mode: 'max' (as the paper) or 'avg'.

    >>> spp = nn.SpatialPyramidPooling(levels=(1, 2, 4))
    >>> spp(em.randn(2, 256, 13, 13)).shape, spp(em.randn(2, 256, 10, 17)).shape
    ((2, 5376), (2, 5376))
    """

    def __init__(self, levels=(1, 2, 4), mode: str = "max"):
        super().__init__()
        levels = tuple(levels) if isinstance(levels, (tuple, list)) else (levels,)
        if not levels or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in levels):
            raise ValueError(f"SpatialPyramidPooling: levels must be positive ints, got {levels!r}")
        if mode not in ("max", "avg"):
            raise ValueError(f"SpatialPyramidPooling: mode must be 'max' or 'avg', got {mode!r}")
        self.levels, self.mode = levels, mode

    def output_features(self, channels: int) -> int:
        """Length of the output vector for ``channels`` input channels: C·Σ l²."""
        return channels * sum(n * n for n in self.levels)

    def forward(self, input):
        if input.ndim != 4:
            raise ValueError(f"{self!r}: expected input of shape (N, C, H, W), got {tuple(input.shape)}")
        pool = F.adaptive_max_pool2d if self.mode == "max" else F.adaptive_avg_pool2d
        return cat([flatten(pool(input, n), 1) for n in self.levels], dim=1)

    def extra_repr(self) -> str:
        return f"levels={self.levels}, mode={self.mode!r}"


class _LPPoolNd(_Pool):
    _dims = 2

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type, self.kernel_size, self.stride, self.ceil_mode = norm_type, kernel_size, stride, ceil_mode

    def forward(self, input):
        op = F.lp_pool1d if self._dims == 1 else F.lp_pool2d
        return self._pool(op, input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")


class LPPool2d(_LPPoolNd):
    """Power-average pooling, (Σ_window x^p)^(1/p), over kh × kw windows (see ``F.lp_pool2d``).

    >>> nn.LPPool2d(2, 3, stride=2)(em.randn(1, 2, 9, 9)).shape
    (1, 2, 4, 4)
    """


class LPPool1d(_LPPoolNd):
    """Power-average pooling over (N, C, L) windows."""

    _dims = 1
