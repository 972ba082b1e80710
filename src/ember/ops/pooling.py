"""Pooling, the front door of the pooling ops: average pooling here, max pooling and the geometry beside it.

For input x (N, C, H, W), a kernel (kh, kw), stride s, padding p and dilation d,

    max:  y[n, c, i, j] = max_{u, v} x_pad[n, c, i·s_h + u·d_h, j·s_w + v·d_w]        (x_pad padded with −∞)
    avg:  y[n, c, i, j] = Σ_{u, v} x_pad[n, c, i·s_h + u, j·s_w + v] / divisor[i, j]   (x_pad padded with 0)

with ⌊(n + 2p − d(f − 1) − 1)/s⌋ + 1 outputs per dimension (⌈·⌉ with ``ceil_mode``), all exactly
as PyTorch. The max pools live in ``ember.ops.max_pooling``, the window and bin geometry both
share in ``ember.ops.pool_geometry``; every name of those two stays importable from this module.

The average pools: a small kernel costs kh·kw whole-array ``add`` calls over strided slices of
the padded input and no copy of the windows, which is the LeNet/VGG/ResNet hot path (2×2 or
3×3); larger kernels (global pooling) read all windows at once through one strided view.
Adaptive average pooling over equal bins is a plain pool, over unequal ones a product with an
averaging matrix per axis. The 1-D pools are the 2-D ones on a height-1 input; the 3-D pool reads
its windows through one strided view (N, C, Do, Ho, Wo, kd, kh, kw) and sends gradients back one
kernel offset at a time.
"""
from __future__ import annotations

import numpy as np

from ember.autograd.function import Function
from ember.autograd.tensor import Tensor
from ember.backend import get_array_module as xp_of
from ember.ops.conv import pad_plane
from ember.ops.conv3d import crop_spatial, offsets, pad_spatial, windows
from ember.ops.linalg import matmul
from ember.ops.max_pooling import (  # noqa: F401 - re-exported: the pooling ops are imported from here
    AdaptiveMaxPool2d,
    GatherPlane,
    MaxPool2d,
    MaxPool3d,
    ScatterPlane,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    bin_members,
    first_argmax,
    gather_plane,
    max_over_bins,
    max_pool1d,
    max_pool2d,
    max_pool3d,
    scatter_plane,
)
from ember.ops.pool_geometry import (  # noqa: F401 - re-exported, as above
    LOOP_MAX_OFFSETS,
    Window,
    adaptive_bins,
    adaptive_size,
    batched,
    check_float,
    height1,
    pool_args,
    pool_output_size,
    pool_window,
    show,
    unbatched,
    unpad,
)
from ember.ops.shape import squeeze, transpose


# -- average pooling ---------------------------------------------------------------------------
def avg_divisor(window, spatial, padding, count_include_pad, divisor_override, xp):
    """What each window's sum is divided by: the override, or the window's size clipped as PyTorch.

    The window is cut at the end of the right padding (ceil_mode's extra windows), and, without
    ``count_include_pad``, to the input itself. A rectangle, so its area is an outer product.
    """
    if divisor_override is not None:
        return divisor_override
    counts = []  # geometry: computed on the host, so a GPU run waits for nothing here
    for n, k, s, p, o in zip(spatial, window.kernel, window.stride, padding, window.out, strict=True):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, n)
        counts.append(end - start)
    area = counts[0]
    for c in counts[1:]:  # the outer product of the per-dimension counts
        area = area[..., None] * c
    first = area.ravel()[0]
    return int(first) if (area == first).all() else xp.asarray(area)


class AvgPool2d(Function):
    # NOTE: fused, like MaxPool2d: backward needs no input at all, only the windows' geometry.
    def __init__(self, window: Window, divisor):
        self.window, self.divisor = window, divisor  # divisor: a number or an (Ho, Wo) array

    def forward(self, x):
        xpad = pad_plane(x, self.window.pads, 0)
        self.padded_shape = xpad.shape
        if self.window.size > LOOP_MAX_OFFSETS:
            y = self.window.view(xpad).sum(axis=(-2, -1))
        else:
            slices = self.window.offsets()
            y = xpad[next(slices)[1]].copy()
            for _, at in slices:
                y += xpad[at]
        y /= self.divisor
        return y

    def backward(self, gy):
        g = (gy / self.divisor).astype(gy.dtype, copy=False)
        gxpad = xp_of(gy).zeros(self.padded_shape, dtype=gy.dtype)
        if self.window.disjoint and self.window.size > LOOP_MAX_OFFSETS:  # big windows, each position in one
            self.window.view(gxpad)[...] = g[..., None, None]
        else:  # one strided slice per kernel offset, as col2im; added where windows overlap
            for _, at in self.window.offsets():
                if self.window.disjoint:
                    gxpad[at] = g
                else:
                    gxpad[at] += g
        return unpad(gxpad, self.window.pads)

    def vjp(self, gy):
        return AvgUnpool2d(self.window, self.divisor, self.padded_shape)(gy)


class AvgUnpool2d(AvgPool2d):
    """AvgPool2d's gradient as an op: gy/divisor spread over each window. Each of the pair is the
    other's adjoint (this forward is that backward, and back), so average pooling differentiates to any order."""

    def __init__(self, window: Window, divisor, padded_shape):
        super().__init__(window, divisor)
        self.padded_shape = padded_shape

    def forward(self, gy):
        return AvgPool2d.backward(self, gy)

    def backward(self, g):
        return AvgPool2d.forward(self, g)

    def vjp(self, g):
        return AvgPool2d(self.window, self.divisor)(g)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """2-D average pooling (PyTorch's ``F.avg_pool2d``): y[i, j] = Σ window / divisor.

    input (N, C, H, W) or (C, H, W) → (N, C, Ho, Wo) with Ho = ⌊(H + 2p − k)/s⌋ + 1 (⌈·⌉ with
    ``ceil_mode``). The divisor is kh·kw, counting zero padding (``count_include_pad=True``) but
    not the part of a ceil_mode window past the padding; only the input positions otherwise; or
    ``divisor_override``. The gradient spreads gy/divisor evenly over each window.

    >>> F.avg_pool2d(em.ones(1, 1, 4, 4), 2)
    tensor([[[[1., 1.],
              [1., 1.]]]])
    """
    x, added = batched("avg_pool2d", input, 2)
    kernel, stride, padding, _ = pool_args("avg_pool2d", 2, kernel_size, stride, padding)
    if divisor_override is not None and (not isinstance(divisor_override, int) or divisor_override == 0):
        raise ValueError(f"avg_pool2d: divisor_override must be a non-zero int, got {divisor_override!r}")
    window = pool_window("avg_pool2d", x.shape[2:], kernel, stride, padding, (1, 1), ceil_mode)
    divisor = avg_divisor(window, x.shape[2:], padding, count_include_pad, divisor_override, xp_of(x.array))
    if not isinstance(divisor, int):
        divisor = divisor.astype(x.dtype)
    return unbatched(AvgPool2d(window, divisor)(x), added)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """1-D average pooling (PyTorch's ``F.avg_pool1d``): input (N, C, L) or (C, L) → (N, C, Lo).

    ``avg_pool2d`` on a height-1 input.

    >>> F.avg_pool1d(em.tensor([[[1.0, 2.0, 3.0, 4.0]]]), 2)
    tensor([[[1.5, 3.5]]])
    """
    x = height1("avg_pool1d", input)
    kernel, stride, padding, _ = pool_args("avg_pool1d", 1, kernel_size, stride, padding)
    pool_window("avg_pool1d", input.shape[-1:], kernel, stride, padding, (1,), ceil_mode)
    return squeeze(avg_pool2d(x, (1,) + kernel, (1,) + stride, (0,) + padding, ceil_mode, count_include_pad), -2)


# -- adaptive average pooling ------------------------------------------------------------------
def averaging_matrix(n: int, out: int, xp, dtype):
    """A (out, n) with A[i, m] = 1/|bin i| for m in bin i: averaging along an axis is one product with A."""
    start, end = adaptive_bins(n, out, xp)
    m = xp.arange(n)
    inside = (m >= start[:, None]) & (m < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def adaptive_avg_pool2d(input, output_size):
    """Adaptive 2-D average pooling (PyTorch's ``F.adaptive_avg_pool2d``): each output is the mean of its bin.

    input (N, C, H, W) or (C, H, W) → (N, C, Ho, Wo), bin i along H spanning
    [⌊i·H/Ho⌋, ⌈(i + 1)·H/Ho⌉). Equal bins (H % Ho = 0) are ``avg_pool2d`` with kernel H/Ho;
    otherwise y = A_H x A_Wᵀ with the averaging matrices A (bins may overlap, or repeat when
    upsampling). ``output_size``: an int, or (Ho, Wo) where None keeps that input size.

    >>> F.adaptive_avg_pool2d(em.randn(2, 512, 7, 7), 1).shape
    (2, 512, 1, 1)
    """
    x, added = batched("adaptive_avg_pool2d", input, 2)
    (H, W), (Ho, Wo) = x.shape[2:], adaptive_size("adaptive_avg_pool2d", output_size, x.shape[2:])
    if H % Ho == 0 and W % Wo == 0:
        return unbatched(avg_pool2d(x, (H // Ho, W // Wo)), added)
    xp = xp_of(x.array)
    A_h, A_w = averaging_matrix(H, Ho, xp, x.dtype), averaging_matrix(W, Wo, xp, x.dtype)
    return unbatched(matmul(matmul(Tensor(A_h), x), Tensor(A_w.T)), added)


def adaptive_avg_pool1d(input, output_size):
    """Adaptive 1-D average pooling (PyTorch's ``F.adaptive_avg_pool1d``): (N, C, L) or (C, L) → (N, C, Lo).

    >>> F.adaptive_avg_pool1d(em.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0]]]), 2)
    tensor([[[2., 4.]]])
    """
    x = height1("adaptive_avg_pool1d", input)
    (Lo,) = adaptive_size("adaptive_avg_pool1d", output_size, input.shape[-1:])
    return squeeze(adaptive_avg_pool2d(x, (1, Lo)), -2)


# -- 3-D average pooling -----------------------------------------------------------------------
class AvgPool3d(Function):
    # NOTE: fused, as AvgPool2d: backward needs only the windows' geometry and the divisor.
    def __init__(self, window: Window, divisor):
        self.window, self.divisor = window, divisor  # divisor: a number or a (Do, Ho, Wo) array

    def forward(self, x):
        w = self.window
        xpad = pad_spatial(x, w.pads, 0)
        self.padded_shape = xpad.shape
        return windows(xpad, w.kernel, w.stride, w.dilation, w.out).sum(axis=(-3, -2, -1)) / self.divisor

    def backward(self, gy):
        w = self.window
        g = (gy / self.divisor).astype(gy.dtype, copy=False)
        gxpad = xp_of(gy).zeros(self.padded_shape, dtype=gy.dtype)
        for _, at in offsets(w.kernel, w.stride, w.dilation, w.out):
            gxpad[at] += g
        return crop_spatial(gxpad, w.pads)

    def vjp(self, gy):
        return AvgUnpool3d(self.window, self.divisor, self.padded_shape)(gy)


class AvgUnpool3d(AvgPool3d):
    """AvgPool3d's gradient as an op, the pair each other's adjoint (as ``AvgUnpool2d``)."""

    def __init__(self, window: Window, divisor, padded_shape):
        super().__init__(window, divisor)
        self.padded_shape = padded_shape

    def forward(self, gy):
        return AvgPool3d.backward(self, gy)

    def backward(self, g):
        return AvgPool3d.forward(self, g)

    def vjp(self, g):
        return AvgPool3d(self.window, self.divisor)(g)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """3-D average pooling (PyTorch's ``F.avg_pool3d``): each output is its window's sum / divisor.

    input (N, C, D, H, W) or (C, D, H, W) → (N, C, Do, Ho, Wo); the divisor as ``avg_pool2d``.

    >>> F.avg_pool3d(em.ones(1, 1, 4, 4, 4), 2).shape
    (1, 1, 2, 2, 2)
    """
    x, added = batched("avg_pool3d", input, 3)
    kernel, stride, padding, _ = pool_args("avg_pool3d", 3, kernel_size, stride, padding)
    if divisor_override is not None and (not isinstance(divisor_override, int) or divisor_override == 0):
        raise ValueError(f"avg_pool3d: divisor_override must be a non-zero int, got {divisor_override!r}")
    window = pool_window("avg_pool3d", x.shape[2:], kernel, stride, padding, (1, 1, 1), ceil_mode)
    divisor = avg_divisor(window, x.shape[2:], padding, count_include_pad, divisor_override, xp_of(x.array))
    if not isinstance(divisor, int):
        divisor = divisor.astype(x.dtype)
    return unbatched(AvgPool3d(window, divisor)(x), added)


def adaptive_avg_pool3d(input, output_size):
    """Adaptive 3-D average pooling (PyTorch's ``F.adaptive_avg_pool3d``): each output is the mean of its bin.

    input (N, C, D, H, W) or (C, D, H, W) → (N, C, Do, Ho, Wo), bins as ``adaptive_avg_pool2d``:
    ``avg_pool3d`` when they are equal, else one product with an averaging matrix per axis.

    >>> F.adaptive_avg_pool3d(em.randn(2, 8, 4, 7, 7), 1).shape
    (2, 8, 1, 1, 1)
    """
    x, added = batched("adaptive_avg_pool3d", input, 3)
    spatial = x.shape[2:]
    out = adaptive_size("adaptive_avg_pool3d", output_size, spatial)
    if all(n % o == 0 for n, o in zip(spatial, out, strict=True)):
        return unbatched(avg_pool3d(x, tuple(n // o for n, o in zip(spatial, out, strict=True))), added)
    xp = xp_of(x.array)
    A = [Tensor(averaging_matrix(n, o, xp, x.dtype)) for n, o in zip(spatial, out, strict=True)]
    y = transpose(matmul(A[0], transpose(x, 2, 3)), 2, 3)  # along D
    y = matmul(matmul(A[1], y), transpose(A[2], 0, 1))  # along H, then W
    return unbatched(y, added)
