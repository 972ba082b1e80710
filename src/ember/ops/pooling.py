"""Pooling: max and average pooling over sliding windows, and their adaptive forms.

For input x (N, C, H, W), a kernel (kh, kw), stride s, padding p and dilation d,

    max:  y[n, c, i, j] = max_{u, v} x_pad[n, c, i·s_h + u·d_h, j·s_w + v·d_w]        (x_pad padded with −∞)
    avg:  y[n, c, i, j] = Σ_{u, v} x_pad[n, c, i·s_h + u, j·s_w + v] / divisor[i, j]   (x_pad padded with 0)

with ⌊(n + 2p − d(f − 1) − 1)/s⌋ + 1 outputs per dimension (⌈·⌉ with ``ceil_mode``, where a last
window must still start inside the input or the left padding), all exactly as PyTorch.

Windows are strided slices of the padded input, one per kernel offset (u, v): a small kernel
costs kh·kw whole-array ``maximum``/``add`` calls and no copy of the windows, which is the
LeNet/VGG/ResNet hot path (2×2 or 3×3). Larger kernels (global pooling) read all windows at
once through one strided view. Max pooling keeps which window offset won (the first maximum in
row-major order, as PyTorch), and its backward sends each gradient to that one position.
Adaptive pooling uses PyTorch's bins, start = ⌊i·n/out⌋ and end = ⌈(i + 1)·n/out⌉: equal bins
are a plain pool; unequal ones are a matrix product (average) or a max along W then along H,
one gather per position in the longest bin (max).
The 1-D pools are the 2-D ones on a height-1 input. The 3-D pools read their windows through one
strided view (N, C, Do, Ho, Wo, kd, kh, kw) and send gradients back one kernel offset at a time.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ember.autograd.function import Function
from ember.autograd.tensor import Tensor
from ember.backend import get_array_module as xp_of
from ember.ops.conv import conv_output_size, crop, ntuple, pad_plane
from ember.ops.conv3d import crop_spatial, offsets, pad_spatial, windows
from ember.ops.linalg import matmul
from ember.ops.shape import squeeze, transpose, unsqueeze

# Kernels with more offsets than this read their windows through one strided view instead of
# one slice per offset: fewer, larger NumPy calls win once the windows are big (global pooling).
LOOP_MAX_OFFSETS = 25


# -- geometry ----------------------------------------------------------------------------------


class Window(NamedTuple):
    """Where the pooling windows of a 2-D pool lie on the padded input."""

    kernel: tuple  # (kh, kw)
    stride: tuple  # (sh, sw)
    dilation: tuple  # (dh, dw)
    pads: tuple  # ((top, bottom), (left, right)); bottom/right also cover ceil_mode's extra window
    out: tuple  # (Ho, Wo)

    @property
    def size(self) -> int:
        return self.kernel[0] * self.kernel[1]

    @property
    def disjoint(self) -> bool:
        """No input position lies in two windows (so gradients can be assigned, not added)."""
        return all(k == 1 or s >= d * (k - 1) + 1 for k, s, d in zip(self.kernel, self.stride, self.dilation,
                                                                     strict=True))

    def offsets(self):
        """(k, (rows, cols)): for each kernel offset k = u·kw + v, the slices of the padded input it reads."""
        (kh, kw), (sh, sw), (dh, dw), (Ho, Wo) = self.kernel, self.stride, self.dilation, self.out
        for u in range(kh):
            for v in range(kw):
                rows = slice(u * dh, u * dh + sh * (Ho - 1) + 1, sh)
                yield u * kw + v, (slice(None), slice(None), rows, slice(v * dw, v * dw + sw * (Wo - 1) + 1, sw))

    def view(self, xpad):
        """Every window of the padded xpad (N, C, Hp, Wp) as a strided view (N, C, Ho, Wo, kh, kw)."""
        sN, sC, sH, sW = xpad.strides
        shape = xpad.shape[:2] + self.out + self.kernel
        strides = (sN, sC, self.stride[0] * sH, self.stride[1] * sW, self.dilation[0] * sH, self.dilation[1] * sW)
        return xp_of(xpad).lib.stride_tricks.as_strided(xpad, shape, strides)

    def positions(self, arg):
        """Padded-input (row, col) of the element each window chose: arg holds kernel offsets u·kw + v."""
        xp = xp_of(arg)
        kw = self.kernel[1]
        rows = xp.arange(self.out[0])[:, None] * self.stride[0] + (arg // kw) * self.dilation[0]
        cols = xp.arange(self.out[1]) * self.stride[1] + (arg % kw) * self.dilation[1]
        return rows, cols


def pool_output_size(size, kernel, stride, padding, dilation, ceil_mode) -> int:
    """PyTorch's pooling output size: conv's, and with ``ceil_mode`` no window starting in the right padding."""
    out = conv_output_size(size, kernel, stride, (padding, padding), dilation, ceil_mode)
    if ceil_mode and out > 0 and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def show(values: tuple):
    """A 1-tuple as its int, for messages about 1-D pools."""
    return values[0] if len(values) == 1 else values


def pool_args(op, dims, kernel_size, stride, padding, dilation=1):
    """kernel, stride (None or [] → kernel), padding and dilation as checked ``dims``-tuples."""
    kernel = ntuple(kernel_size, dims, "kernel_size", op)
    stride = kernel if stride is None or (isinstance(stride, (tuple, list)) and not stride) else \
        ntuple(stride, dims, "stride", op)
    padding, dilation = ntuple(padding, dims, "padding", op), ntuple(dilation, dims, "dilation", op)
    for name, values in (("kernel_size", kernel), ("stride", stride), ("dilation", dilation)):
        if min(values) < 1:
            raise ValueError(f"{op}: {name} must be positive, got {show(values)}")
    if any(p < 0 or p > k // 2 for p, k in zip(padding, kernel, strict=True)):
        raise ValueError(f"{op}: padding must be between 0 and half the kernel size, got padding={show(padding)} "
                         f"for kernel_size={show(kernel)}")
    return kernel, stride, padding, dilation


def pool_window(op, spatial, kernel, stride, padding, dilation, ceil_mode) -> Window:
    """The windows of a pool over an input of spatial shape (H, W); an error names the op if none fit."""
    out = tuple(pool_output_size(*args, ceil_mode) for args in zip(spatial, kernel, stride, padding, dilation,
                                                                   strict=True))
    if min(out) < 1:
        raise ValueError(f"{op}: kernel_size={show(kernel)} with padding={show(padding)} and dilation="
                         f"{show(dilation)} does not fit the input of size {show(tuple(spatial))}: the output "
                         f"size would be {show(out)}")
    # the padding each side must have for the last window to lie inside the array (ceil_mode can reach
    # past p on the right; in floor mode the tail may stay unread, hence the max with 0)
    pads = tuple((p, max(0, (o - 1) * s + d * (k - 1) + 1 - n - p)) for n, k, s, p, d, o in
                 zip(spatial, kernel, stride, padding, dilation, out, strict=True))
    return Window(kernel, stride, dilation, pads, out)


def unpad(gxpad, pads):
    """The gradient of the unpadded input: ``crop``, or the array itself (no view) when nothing was padded."""
    return crop(gxpad, pads) if any(p for pair in pads for p in pair) else gxpad


def check_float(op, x):
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point input, got {x.dtype} of shape {tuple(x.shape)}")


def batched(op, x, dims):
    """x with a batch axis (PyTorch accepts one unbatched sample), and whether one was added."""
    check_float(op, x)
    if x.ndim == dims + 1:
        return unsqueeze(x, 0), True
    if x.ndim != dims + 2:
        layout = {1: "(N, C, L) or (C, L)", 2: "(N, C, H, W) or (C, H, W)", 3: "(N, C, D, H, W) or (C, D, H, W)"}[dims]
        raise ValueError(f"{op}: expected input of shape {layout}, got {tuple(x.shape)}")
    return x, False


def unbatched(ys, added):
    """Drop the batch axis ``batched`` added, from one output or an (output, indices) pair."""
    if not added:
        return ys
    return tuple(squeeze(y, 0) for y in ys) if isinstance(ys, tuple) else squeeze(ys, 0)


def height1(op, x):
    """A 1-D input (N, C, L) or (C, L) as a height-1 image for the 2-D pools."""
    check_float(op, x)
    if x.ndim not in (2, 3):
        raise ValueError(f"{op}: expected input of shape (N, C, L) or (C, L), got {tuple(x.shape)}")
    return unsqueeze(x, -2)


# -- max pooling ------------------------------------------------------------------------------


def first_argmax(win):
    """Index of the first maximum along win's last axis; of the last NaN where one is present (PyTorch's rule)."""
    xp = xp_of(win)
    arg = win.argmax(axis=-1)  # NumPy stops at the first NaN; PyTorch keeps the last
    nan = xp.isnan(win)
    if bool(nan.any()):
        last_nan = win.shape[-1] - 1 - nan[..., ::-1].argmax(axis=-1)
        arg = xp.where(nan.any(axis=-1), last_nan, arg)
    return arg


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


# -- average pooling --------------------------------------------------------------------------


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


# -- adaptive pooling -------------------------------------------------------------------------


def adaptive_size(op, output_size, spatial) -> tuple:
    """output_size as one positive int per spatial dimension; None keeps that input size."""
    dims = len(spatial)
    sizes = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * dims
    sizes = tuple(n if o is None else o for o, n in zip(sizes, spatial, strict=False)) if len(sizes) == dims else ()
    if not sizes or not all(isinstance(o, int) and not isinstance(o, bool) and o > 0 for o in sizes):
        raise ValueError(f"{op}: output_size must be a positive int or a tuple of {dims} positive ints (or None), "
                         f"got {output_size!r}")
    return sizes


def adaptive_bins(n: int, out: int, xp):
    """PyTorch's adaptive bins over n positions: start = ⌊i·n/out⌋, end = ⌈(i + 1)·n/out⌉."""
    i = xp.arange(out)
    return i * n // out, -(-(i + 1) * n // out)


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


# -- 3-D pooling ----------------------------------------------------------------------------------


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
