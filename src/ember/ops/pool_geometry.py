"""Where the windows of a pool lie: output sizes, argument checks, padding, batching, adaptive bins.

For a dimension of n inputs, a kernel f, stride s, padding p and dilation d there are
⌊(n + 2p − d(f − 1) − 1)/s⌋ + 1 windows (⌈·⌉ with ``ceil_mode``, where a last window must still
start inside the input or the left padding), as PyTorch. A ``Window`` holds that geometry for one
pool and yields the strided slices of the padded input that each kernel offset reads. Adaptive
pooling uses PyTorch's bins, start = ⌊i·n/out⌋ and end = ⌈(i + 1)·n/out⌉. The max pools
(``ember.ops.max_pooling``) and average pools (``ember.ops.pooling``) share all of it.
"""
from __future__ import annotations

from typing import NamedTuple

from ember.backend import get_array_module as xp_of
from ember.ops.conv import conv_output_size, crop, ntuple
from ember.ops.shape import squeeze, unsqueeze

# Kernels with more offsets than this read their windows through one strided view instead of
# one slice per offset: fewer, larger NumPy calls win once the windows are big (global pooling).
LOOP_MAX_OFFSETS = 25


# -- windows -----------------------------------------------------------------------------------
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


# -- adaptive bins -----------------------------------------------------------------------------
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
