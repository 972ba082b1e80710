"""Max pooling: the maximum of each sliding window, 1-D to 3-D, and its adaptive form.

For input x (N, C, H, W), a kernel (kh, kw), stride s, padding p and dilation d,

    y[n, c, i, j] = max_{u, v} x_pad[n, c, i·s_h + u·d_h, j·s_w + v·d_w]        (x_pad padded with −∞)

with the window geometry of ``ember.ops.pool_geometry``. Small kernels take kh·kw whole-array
``maximum`` calls over strided slices of the padded input (the LeNet/VGG/ResNet hot path); larger
ones read all windows at once through one strided view. The pools keep which window offset won
(the first maximum in row-major order, the last NaN where there is one, as PyTorch), and backward
sends each gradient to that one position. Adaptive max pooling reduces each bin along W then
along H, one gather per position of the longest bin. The 1-D pools are the 2-D ones on a
height-1 input; the 3-D pool reads its windows through one strided view (N, C, Do, Ho, Wo, kd,
kh, kw). The gradient of every max pool is ``ScatterPlane``, whose own gradient is
``GatherPlane``: a linear pair, so the max pools differentiate to any order.
"""
from __future__ import annotations

import math

import numpy as np

from ember.autograd.function import Function
from ember.autograd.tensor import Tensor
from ember.backend import get_array_module as xp_of
from ember.ops.conv import ntuple, pad_plane
from ember.ops.conv3d import crop_spatial, offsets, pad_spatial, windows
from ember.ops.pool_geometry import (
    LOOP_MAX_OFFSETS,
    Window,
    adaptive_bins,
    adaptive_size,
    batched,
    height1,
    pool_args,
    pool_window,
    unbatched,
    unpad,
)
from ember.ops.shape import squeeze


# -- reading and writing chosen positions ------------------------------------------------------
class GatherPlane(Function):
    """y[n, c, j] = x[n, c, index[n, c, j]] over x's spatial positions flattened: the values a max pool chose.

    The gradient of a max pool w.r.t. x is ``ScatterPlane`` (gy added back at those positions),
    whose gradient is this gather again: a linear pair, each the other's adjoint, so the max pools
    differentiate to any order (their second derivative w.r.t. x is 0, the positions being constant).
    """

    def __init__(self, index, x_shape):
        self.index, self.x_shape = index, tuple(x_shape)

    def forward(self, x):
        return gather_plane(x, self.index)

    def backward(self, gy):
        return scatter_plane(gy, self.index, self.x_shape)

    def vjp(self, gy):
        return ScatterPlane(self.index, self.x_shape)(gy)


class ScatterPlane(GatherPlane):
    """gx[n, c, index[n, c, j]] += gy[n, c, j]: a max pool's gradient as an op (see ``GatherPlane``)."""

    def forward(self, gy):
        return scatter_plane(gy, self.index, self.x_shape)

    def backward(self, g):
        return gather_plane(g, self.index)

    def vjp(self, g):
        return GatherPlane(self.index, self.x_shape)(g)


def gather_plane(x, index):
    """x (N, C, *spatial) read at the flat spatial positions ``index`` (N, C, *out)."""
    N, C = x.shape[:2]
    return xp_of(x).take_along_axis(x.reshape(N, C, -1), index.reshape(N, C, -1), axis=2).reshape(index.shape)


def scatter_plane(gy, index, x_shape):
    """gy (N, C, *out) summed onto a zero (N, C, *spatial) at the flat positions ``index`` (which may repeat)."""
    N, C, S = x_shape[0], x_shape[1], math.prod(x_shape[2:])
    xp = xp_of(gy)
    flat = (index.reshape(N, C, -1) + xp.arange(N * C).reshape(N, C, 1) * S).ravel()
    gx = xp.bincount(flat, weights=gy.ravel(), minlength=N * C * S)
    return gx.astype(gy.dtype, copy=False).reshape(x_shape)


# -- max pooling -------------------------------------------------------------------------------
def first_argmax(win):
    """Index of the first maximum along win's last axis; of the last NaN where one is present (PyTorch's rule)."""
    xp = xp_of(win)
    arg = win.argmax(axis=-1)  # NumPy stops at the first NaN; PyTorch keeps the last
    nan = xp.isnan(win)
    if bool(nan.any()):
        last_nan = win.shape[-1] - 1 - nan[..., ::-1].argmax(axis=-1)
        arg = xp.where(nan.any(axis=-1), last_nan, arg)
    return arg


class MaxPool2d(Function):
    # NOTE: fused, since composing max from slices and maximum ops would keep kh·kw slices and
    # masks in the graph; here backward needs only the padded input and the output.
    def __init__(self, window: Window, return_indices=False):
        self.window, self.return_indices = window, return_indices
        self.arg = None  # kernel offset chosen by each window, found when first needed

    def forward(self, x):
        xpad = pad_plane(x, self.window.pads, -math.inf)
        if self.window.size > LOOP_MAX_OFFSETS:
            win = self.window.view(xpad).reshape(xpad.shape[:2] + self.window.out + (-1,))
            self.arg = first_argmax(win)
            y = xp_of(x).take_along_axis(win, self.arg[..., None], axis=-1)[..., 0]
        else:
            slices = self.window.offsets()
            y = xpad[next(slices)[1]].copy()
            for _, at in slices:
                xp_of(x).maximum(y, xpad[at], out=y)  # NaN propagates, as PyTorch's max pooling
            if self.return_indices:
                self.argmax(xpad, y)
        self.save_for_backward(xpad, y)
        return y

    def argmax(self, xpad, y):
        """Kernel offset of each window's first maximum (last NaN), scanning the offsets backwards."""
        if self.arg is None:
            xp = xp_of(y)
            arg = xp.full(y.shape, self.window.size - 1, dtype=xp.int16)
            for k, at in reversed(list(self.window.offsets())[:-1]):
                hit = (xpad[at] == y).astype(xp.int16)
                arg -= hit * (arg - k)  # arg ← k where the window hits its maximum at offset k
            if xp is not np or xp.isnan(y).any():  # on a GPU, always: the test would wait for the device
                for k, at in self.window.offsets():
                    arg = xp.where(xp.isnan(xpad[at]), xp.int16(k), arg)
            self.arg = arg
        return self.arg

    def backward(self, gy):
        xpad, y = self.saved
        arg, window = self.argmax(xpad, y), self.window
        xp = xp_of(gy)
        gxpad = xp.zeros(xpad.shape, dtype=gy.dtype)
        if window.disjoint and window.size > LOOP_MAX_OFFSETS:  # big windows, each position in one at most
            k = xp.arange(window.size).reshape(window.kernel)
            xp.multiply(gy[..., None, None], arg[..., None, None] == k, out=window.view(gxpad))
        else:  # one strided slice per kernel offset, as col2im; added where windows overlap
            for k, at in window.offsets():
                if window.disjoint:
                    xp.multiply(gy, arg == k, out=gxpad[at])
                else:
                    gxpad[at] += gy * (arg == k)
        return unpad(gxpad, window.pads)

    def vjp(self, gy):
        xpad, y = self.saved
        x_shape = self.inputs[0].shape
        return ScatterPlane(_flat_indices(self.window, self.argmax(xpad, y), x_shape[2:]), x_shape)(gy)

    def release(self):
        super().release()
        self.arg = None


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """2-D max pooling (PyTorch's ``F.max_pool2d``): y[i, j] = max over the (dilated) window at (i·s, j·s).

    input (N, C, H, W) or (C, H, W) → (N, C, Ho, Wo), Ho = ⌊(H + 2p − d(k − 1) − 1)/s⌋ + 1
    (⌈·⌉ with ``ceil_mode``). ``stride`` defaults to ``kernel_size``; the padding (at most half
    the kernel) is −∞. With ``return_indices`` also the flat index h·W + w of each maximum in its
    input plane (int64), for ``max_unpool2d``-style uses. The gradient flows to that maximum only.

    >>> y, idx = F.max_pool2d(em.randn(8, 16, 32, 32), 2, return_indices=True)
    >>> y.shape, idx.shape
    ((8, 16, 16, 16), (8, 16, 16, 16))
    """
    x, added = batched("max_pool2d", input, 2)
    kernel, stride, padding, dilation = pool_args("max_pool2d", 2, kernel_size, stride, padding, dilation)
    window = pool_window("max_pool2d", x.shape[2:], kernel, stride, padding, dilation, ceil_mode)
    fn = MaxPool2d(window, return_indices)
    y = fn(x)
    if not return_indices:
        return unbatched(y, added)
    rows, cols = window.positions(fn.arg)
    (top, _), (left, _) = window.pads
    indices = (rows - top).astype("int64") * x.shape[3] + (cols - left)
    return unbatched((y, Tensor(indices)), added)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """1-D max pooling (PyTorch's ``F.max_pool1d``): input (N, C, L) or (C, L) → (N, C, Lo).

    ``max_pool2d`` on a height-1 input; indices are positions along L.

    >>> F.max_pool1d(em.randn(4, 8, 50), kernel_size=3, stride=2).shape
    (4, 8, 24)
    """
    x = height1("max_pool1d", input)
    kernel, stride, padding, dilation = pool_args("max_pool1d", 1, kernel_size, stride, padding, dilation)
    pool_window("max_pool1d", input.shape[-1:], kernel, stride, padding, dilation, ceil_mode)
    out = max_pool2d(x, (1,) + kernel, (1,) + stride, (0,) + padding, (1,) + dilation, ceil_mode, return_indices)
    return tuple(squeeze(t, -2) for t in out) if return_indices else squeeze(out, -2)


# -- adaptive max pooling ----------------------------------------------------------------------
def max_over_bins(x, members, axis, with_nan):
    """Max of x over each bin along ``axis`` (members (out, L) as ``bin_members``), and which member won.

    One gather per member position m < L: a strictly larger value takes over, so the first maximum
    wins (and, when ``with_nan``, every NaN takes over, so the last NaN wins, as PyTorch).
    """
    xp = xp_of(x)
    y = xp.take(x, members[:, 0], axis=axis)
    arg = xp.zeros(y.shape, dtype=xp.int32)
    for m in range(1, members.shape[1]):
        candidate = xp.take(x, members[:, m], axis=axis)
        wins = candidate > y
        if with_nan:
            wins |= xp.isnan(candidate)
        xp.maximum(y, candidate, out=y)  # NaN propagates
        arg += wins * (m - arg)  # arg ← m where the candidate wins (cheaper than where())
    return y, arg


class AdaptiveMaxPool2d(Function):
    # NOTE: separable: the max over a bin's rectangle is the max over its rows of each row's max, so
    # bins are reduced along W, then along H, by a loop over the (few) positions of the longest bin.
    # The first row holding the maximum, then that row's first maximum, is PyTorch's row-major choice.
    def __init__(self, rows, cols):
        self.rows, self.cols = rows, cols  # (Ho, Lh) and (Wo, Lw) input indices of each bin

    def forward(self, x):
        xp = xp_of(x)
        with_nan = bool(xp.isnan(x).any())
        row_max, col_arg = max_over_bins(x, self.cols, 3, with_nan)  # (N, C, H, Wo)
        y, row_arg = max_over_bins(row_max, self.rows, 2, with_nan)  # (N, C, Ho, Wo)
        row = self.rows[xp.arange(self.rows.shape[0])[:, None], row_arg]
        col = self.cols[xp.arange(self.cols.shape[0]), xp.take_along_axis(col_arg, row, axis=2)]
        self.indices = row.astype(xp.int64) * x.shape[3] + col
        self.in_shape = x.shape
        self.save_for_backward(self.indices)
        return y

    def backward(self, gy):
        (indices,) = self.saved
        return scatter_plane(gy, indices, self.in_shape)  # bins overlap: added, not assigned

    def vjp(self, gy):
        return ScatterPlane(self.saved[0], self.in_shape)(gy)

    def release(self):
        super().release()
        self.indices = None


def bin_members(n: int, out: int, xp):
    """(out, L) input indices of each adaptive bin, L the longest bin; shorter bins repeat their last index."""
    start, end = adaptive_bins(n, out, xp)
    length = int((end - start).max())
    return xp.minimum(start[:, None] + xp.arange(length), end[:, None] - 1)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Adaptive 2-D max pooling (PyTorch's ``F.adaptive_max_pool2d``): each output is the max of its bin.

    Bins as ``adaptive_avg_pool2d``; equal bins are ``max_pool2d``. With ``return_indices`` also
    the flat index h·W + w of each maximum in its plane. The gradient goes to that maximum.

    >>> F.adaptive_max_pool2d(em.randn(2, 8, 13, 13), (4, 4)).shape
    (2, 8, 4, 4)
    """
    x, added = batched("adaptive_max_pool2d", input, 2)
    (H, W), (Ho, Wo) = x.shape[2:], adaptive_size("adaptive_max_pool2d", output_size, x.shape[2:])
    if H % Ho == 0 and W % Wo == 0:
        return unbatched(max_pool2d(x, (H // Ho, W // Wo), return_indices=return_indices), added)
    xp = xp_of(x.array)
    fn = AdaptiveMaxPool2d(bin_members(H, Ho, xp), bin_members(W, Wo, xp))
    y = fn(x)
    return unbatched((y, Tensor(fn.indices)) if return_indices else y, added)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Adaptive 1-D max pooling (PyTorch's ``F.adaptive_max_pool1d``): (N, C, L) or (C, L) → (N, C, Lo).

    >>> F.adaptive_max_pool1d(em.tensor([[[1.0, 5.0, 2.0, 4.0, 3.0]]]), 2)
    tensor([[[5., 4.]]])
    """
    x = height1("adaptive_max_pool1d", input)
    (Lo,) = adaptive_size("adaptive_max_pool1d", output_size, input.shape[-1:])
    out = adaptive_max_pool2d(x, (1, Lo), return_indices)
    return tuple(squeeze(t, -2) for t in out) if return_indices else squeeze(out, -2)


# -- 3-D max pooling ---------------------------------------------------------------------------
class MaxPool3d(Function):
    # NOTE: fused, as MaxPool2d; the windows are read through one strided view, and backward sends
    # each gradient to its window's maximum one kernel offset at a time (adding where windows overlap).
    def __init__(self, window: Window):
        self.window = window

    def forward(self, x):
        w = self.window
        xpad = pad_spatial(x, w.pads, -math.inf)
        self.padded_shape = xpad.shape
        win = windows(xpad, w.kernel, w.stride, w.dilation, w.out).reshape(xpad.shape[:2] + w.out + (-1,))
        self.arg = first_argmax(win)
        self.save_for_backward(self.arg)
        return xp_of(x).take_along_axis(win, self.arg[..., None], axis=-1)[..., 0]

    def backward(self, gy):
        (arg,) = self.saved
        w = self.window
        gxpad = xp_of(gy).zeros(self.padded_shape, dtype=gy.dtype)
        for k, at in offsets(w.kernel, w.stride, w.dilation, w.out):
            gxpad[at] += gy * (arg == k)
        return crop_spatial(gxpad, w.pads)

    def vjp(self, gy):
        (arg,), x_shape = self.saved, self.inputs[0].shape
        return ScatterPlane(_flat_indices(self.window, arg, x_shape[2:]), x_shape)(gy)

    def release(self):
        super().release()
        self.arg = None


def _flat_indices(window, arg, spatial):
    """Flat index (d·H + h)·W + w, in the unpadded input, of the element each window chose."""
    xp = xp_of(arg)
    flat = 0
    for axis, (u, n, s, d, (lo, _), o) in enumerate(zip(xp.unravel_index(arg, window.kernel), spatial, window.stride,
                                                         window.dilation, window.pads, window.out, strict=True)):
        position = xp.arange(o).reshape((-1,) + (1,) * (len(spatial) - 1 - axis)) * s + u * d - lo
        flat = flat * n + position
    return flat.astype(xp.int64)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """3-D max pooling (PyTorch's ``F.max_pool3d``): the maximum of each (dilated) kd×kh×kw window.

    input (N, C, D, H, W) or (C, D, H, W) → (N, C, Do, Ho, Wo), sizes as ``max_pool2d``. With
    ``return_indices`` also the flat index (d·H + h)·W + w of each maximum in its input volume.

    >>> F.max_pool3d(em.randn(2, 3, 8, 8, 8), 2).shape
    (2, 3, 4, 4, 4)
    """
    x, added = batched("max_pool3d", input, 3)
    kernel, stride, padding, dilation = pool_args("max_pool3d", 3, kernel_size, stride, padding, dilation)
    window = pool_window("max_pool3d", x.shape[2:], kernel, stride, padding, dilation, ceil_mode)
    fn = MaxPool3d(window)
    y = fn(x)
    if not return_indices:
        return unbatched(y, added)
    return unbatched((y, Tensor(_flat_indices(window, fn.arg, x.shape[2:]))), added)


# -- unpooling ------------------------------------------------------------------------------------
def _max_unpool(op, dims, input, indices, kernel_size, stride, padding, output_size):
    """Every value of ``input`` (N, C, *in) written at its flat position ``indices`` in a zero plane of
    the pooled input's size (N, C, *out); the gradient reads those positions back."""
    x, added = batched(op, input, dims)
    index = indices.array if isinstance(indices, Tensor) else np.asarray(indices)
    index = index.reshape(x.shape) if added else index
    if index.shape != x.shape:
        raise ValueError(f"{op}: indices {tuple(index.shape)} must have the input's shape {tuple(x.shape)}")
    kernel = ntuple(kernel_size, dims, "kernel_size", op)
    stride = kernel if stride is None else ntuple(stride, dims, "stride", op)
    padding = ntuple(padding, dims, "padding", op)
    if output_size is None:
        out = tuple((n - 1) * s - 2 * p + k for n, s, p, k in zip(x.shape[2:], stride, padding, kernel, strict=True))
    else:
        out = tuple(output_size)[-dims:]
    if index.size and (int(index.min()) < 0 or int(index.max()) >= math.prod(out)):
        raise ValueError(f"{op}: found an invalid max index {int(index.max())} (output volume of size "
                         f"{'x'.join(map(str, out))})")
    y = MaxUnpool(index.astype(np.int64, copy=False), (*x.shape[:2], *out))(x)
    return unbatched(y, added)


class MaxUnpool(Function):
    """y[n, c, index[n, c, j]] = x[n, c, j] on zeros: written, not added, where overlapping windows chose
    one position twice (the same maximum), as PyTorch; the gradient reads each position back."""

    def __init__(self, index, y_shape):
        self.index, self.y_shape = index, tuple(y_shape)

    def forward(self, x):
        xp = xp_of(x)
        N, C = x.shape[:2]
        y = xp.zeros((N, C, math.prod(self.y_shape[2:])), dtype=x.dtype)
        y[xp.arange(N)[:, None, None], xp.arange(C)[None, :, None], self.index.reshape(N, C, -1)] = x.reshape(N, C, -1)
        return y.reshape(self.y_shape)

    def backward(self, gy):
        return gather_plane(gy, self.index)

    def vjp(self, gy):
        return GatherPlane(self.index, self.y_shape)(gy)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of ``max_pool2d``: each value back at the position its maximum came from
    (``indices`` from ``return_indices=True``), zeros elsewhere; (N, C, H, W) → (N, C, Ho, Wo) with
    Ho = (H − 1)·s − 2p + k unless ``output_size`` says otherwise.

    >>> y, i = F.max_pool2d(em.randn(1, 1, 4, 4), 2, return_indices=True)
    >>> F.max_unpool2d(y, i, 2).shape
    (1, 1, 4, 4)
    """
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of ``max_pool1d``: (N, C, L) → (N, C, (L − 1)·s − 2p + k)."""
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)
