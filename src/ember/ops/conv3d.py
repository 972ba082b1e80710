"""Volumetric convolution: ``conv3d`` through vol2col and one GEMM, as ``conv2d`` through im2col.

For input x (N, C, D, H, W) and weight W (O, C/groups, kd, kh, kw),

    y[n, o, i, j, l] = b[o] + Σ_{c, t, u, v} W[o, c, t, u, v] · x_pad[n, c, i·s_d + t·d_d, j·s_h + u·d_h, l·s_w + v·d_w]

with conv's output size per dimension. ``vol2col`` lays the receptive fields out as columns
(C, kd, kh, kw, N, Do, Ho, Wo) through one strided view, and ``col2vol``, its adjoint, adds them
back with one strided slice per kernel offset. The helpers take any number of spatial
dimensions; the 3-D pools use the same padding and offsets.
"""
from __future__ import annotations

import itertools
import math

from ember.autograd.function import Function
from ember.backend import get_array_module as xp_of
from ember.ops.conv import (
    _check_conv,
    conv_output_size,
    grouped_matmul,
    grouped_matmul_nt,
    grouped_matmul_t,
    ntuple,
    resolve_padding,
)

# -- n-d helpers -------------------------------------------------------------------------------


def pad_spatial(x, pads, value=0):
    """x (N, C, *spatial) surrounded by ``value``: pads holds one (low, high) pair per spatial dimension."""
    if not any(lo or hi for lo, hi in pads):
        return x
    shape = x.shape[:2] + tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[2:], pads, strict=True))
    out = xp_of(x).full(shape, value, dtype=x.dtype)
    out[interior(x.shape, pads)] = x
    return out


def interior(shape, pads):
    """The index of the unpadded region inside the padded array of an input of ``shape``."""
    return (slice(None), slice(None)) + tuple(slice(lo, lo + n) for n, (lo, _) in zip(shape[2:], pads, strict=True))


def crop_spatial(x, pads):
    """Undo ``pad_spatial``: the interior of the padded x."""
    return x[(slice(None), slice(None)) + tuple(slice(lo, n - hi) for n, (lo, hi) in zip(x.shape[2:], pads,
                                                                                        strict=True))]


def offsets(kernel, stride, dilation, out):
    """(k, index) per kernel offset k (row-major): the strided slices of the padded input that offset reads."""
    for k, offset in enumerate(itertools.product(*(range(f) for f in kernel))):
        yield k, (slice(None), slice(None)) + tuple(slice(t * d, t * d + s * (o - 1) + 1, s) for t, d, s, o in
                                                    zip(offset, dilation, stride, out, strict=True))


def windows(xpad, kernel, stride, dilation, out):
    """Every receptive field of xpad (N, C, *spatial) as a strided view (N, C, *out, *kernel); no copy."""
    sN, sC, *sp = xpad.strides
    shape = xpad.shape[:2] + tuple(out) + tuple(kernel)
    strides = (sN, sC) + tuple(s * st for s, st in zip(stride, sp, strict=True)) + \
        tuple(d * st for d, st in zip(dilation, sp, strict=True))
    return xp_of(xpad).lib.stride_tricks.as_strided(xpad, shape, strides)


def vol2col(xpad, kernel, stride, dilation, out):
    """Columns (C·Π kernel, N·Π out) of the padded input: row (c, *offset), column (n, *position)."""
    view = windows(xpad, kernel, stride, dilation, out)
    k = len(kernel)
    order = (1, *range(2 + k, 2 + 2 * k), 0, *range(2, 2 + k))  # (C, *kernel, N, *out)
    return xp_of(xpad).ascontiguousarray(view.transpose(order)).reshape(-1, xpad.shape[0] * math.prod(out))


def col2vol(cols, padded_shape, kernel, stride, dilation, out):
    """The adjoint of ``vol2col``: columns (C·Π kernel, N·Π out) added back onto the padded (N, C, *spatial)."""
    N, C = padded_shape[:2]
    cols = cols.reshape(C, math.prod(kernel), N, *out)
    vol = xp_of(cols).zeros((C, N) + tuple(padded_shape[2:]), dtype=cols.dtype)
    for k, at in offsets(kernel, stride, dilation, out):
        vol[at] += cols[:, k]
    return vol.swapaxes(0, 1)


# -- convolution -------------------------------------------------------------------------------


class Conv3d(Function):
    # NOTE: fused vol2col + GEMM, as Conv2d: backward needs only the columns and the weight.
    def __init__(self, stride, padding, dilation, groups):
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups

    def forward(self, x, W, b=None):
        N, O, kernel = x.shape[0], W.shape[0], W.shape[2:]
        xpad = pad_spatial(x, self.padding)
        self.padded_shape = xpad.shape
        self.out = tuple(conv_output_size(n, k, s, (0, 0), d) for n, k, s, d in
                         zip(xpad.shape[2:], kernel, self.stride, self.dilation, strict=True))
        cols = vol2col(xpad, kernel, self.stride, self.dilation, self.out)
        self.save_for_backward(cols, W)
        y = grouped_matmul(W.reshape(O, -1), cols, self.groups)  # (O, C/G·Π k) @ (C·Π k, N·Π out) per group
        y = xp_of(y).ascontiguousarray(y.reshape(O, N, *self.out).swapaxes(0, 1))
        if b is not None:
            y += b.reshape(-1, 1, 1, 1)
        return y

    def backward(self, gy):
        cols, W = self.saved
        O, kernel = W.shape[0], W.shape[2:]
        gy2 = gy.swapaxes(0, 1).reshape(O, -1)  # (O, N·Π out)
        gx = gW = gb = None
        if self.needs_input_grad[0]:
            gcols = grouped_matmul_t(W.reshape(O, -1), gy2, self.groups)  # dcols = Wᵀ dy
            gxpad = col2vol(gcols, self.padded_shape, kernel, self.stride, self.dilation, self.out)
            gx = xp_of(gy).ascontiguousarray(crop_spatial(gxpad, self.padding))
        if self.needs_input_grad[1]:
            gW = grouped_matmul_nt(gy2, cols, self.groups).reshape(W.shape)
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            gb = gy.sum(axis=(0, 2, 3, 4))
        return gx, gW, gb

    def vjp(self, gy):
        x, W = self.inputs[:2]
        geometry = self.stride, self.padding, self.dilation, self.groups
        needs = self.needs_input_grad
        gx = Conv3dInputGrad(*geometry, self.padded_shape[2:])(gy, W) if needs[0] else None
        gW = Conv3dWeightGrad(*geometry, W.shape[2:])(x, gy) if needs[1] else None
        gb = gy.sum(axis=(0, 2, 3, 4)) if len(needs) > 2 and needs[2] else None
        return gx, gW, gb


# -- the gradients as ops (for gradients of gradients) --------------------------------------------
# conv3d y = C(x, W), its input gradient dx = T(dy, W) (a transposed convolution) and its weight
# gradient dW = K(x, dy) are bilinear and each other's adjoints: the gradient of T is C(g, W) for dy
# and K(g, dy) for W; that of K is T(dy, g) for x and C(x, g) for dy. So every order is these three.


class Conv3dInputGrad(Function):
    """dx = T(dy, W): columns Wᵀ dy added back onto the padded input (col2vol), then cropped."""

    def __init__(self, stride, padding, dilation, groups, padded_size):
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.padded_size = tuple(padded_size)

    def forward(self, gy, W):
        self.save_for_backward(gy, W)
        O, Cg, *kernel = W.shape
        gcols = grouped_matmul_t(W.reshape(O, -1), gy.swapaxes(0, 1).reshape(O, -1), self.groups)
        padded_shape = (gy.shape[0], Cg * self.groups) + self.padded_size
        gxpad = col2vol(gcols, padded_shape, kernel, self.stride, self.dilation, gy.shape[2:])
        return xp_of(gy).ascontiguousarray(crop_spatial(gxpad, self.padding))

    def backward(self, g):
        gy, W = self.saved
        conv, weight_grad = self._adjoints(W.shape)
        return (conv.forward(g, W) if self.needs_input_grad[0] else None,
                weight_grad.forward(g, gy) if self.needs_input_grad[1] else None)

    def vjp(self, g):
        (gy, W), needs = self.inputs, self.needs_input_grad
        conv, weight_grad = self._adjoints(W.shape)
        return conv(g, W) if needs[0] else None, weight_grad(g, gy) if needs[1] else None

    def _adjoints(self, W_shape):
        geometry = self.stride, self.padding, self.dilation, self.groups
        return Conv3d(*geometry), Conv3dWeightGrad(*geometry, W_shape[2:])


class Conv3dWeightGrad(Function):
    """dW = K(x, dy): dW[o, c, t, u, v] = Σ dy[n, o, i, j, l] · x_pad[n, c, i·s_d + t·d_d, j·s_h + u·d_h,
    l·s_w + v·d_w], the columns of x against dy per group."""

    def __init__(self, stride, padding, dilation, groups, kernel):
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.kernel = tuple(kernel)

    def forward(self, x, gy):
        self.save_for_backward(x, gy)
        O = gy.shape[1]
        cols = vol2col(pad_spatial(x, self.padding), self.kernel, self.stride, self.dilation, gy.shape[2:])
        gy2 = gy.swapaxes(0, 1).reshape(O, -1)
        return grouped_matmul_nt(gy2, cols, self.groups).reshape(O, -1, *self.kernel)

    def backward(self, g):
        x, gy = self.saved
        input_grad, conv = self._adjoints(x.shape)
        return (input_grad.forward(gy, g) if self.needs_input_grad[0] else None,
                conv.forward(x, g) if self.needs_input_grad[1] else None)

    def vjp(self, g):
        (x, gy), needs = self.inputs, self.needs_input_grad
        input_grad, conv = self._adjoints(x.shape)
        return input_grad(gy, g) if needs[0] else None, conv(x, g) if needs[1] else None

    def _adjoints(self, x_shape):
        geometry = self.stride, self.padding, self.dilation, self.groups
        padded = tuple(n + lo + hi for n, (lo, hi) in zip(x_shape[2:], self.padding, strict=True))
        return Conv3dInputGrad(*geometry, padded), Conv3d(*geometry)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D cross-correlation (PyTorch's ``F.conv3d``).

    input (N, C, D, H, W), weight (O, C/groups, kd, kh, kw), bias (O,) → (N, O, Do, Ho, Wo),
    each size ⌊(n + 2p − d(f − 1) − 1)/s⌋ + 1. ``padding``: an int, one per dimension, 'valid'
    or 'same'.

    >>> F.conv3d(em.randn(2, 3, 8, 16, 16), em.randn(4, 3, 3, 3, 3), padding=1).shape
    (2, 4, 8, 16, 16)
    """
    _check_conv("conv3d", input, weight, bias, groups, 3)
    stride = ntuple(stride, 3, "stride", "conv3d")
    dilation = ntuple(dilation, 3, "dilation", "conv3d")
    pads = resolve_padding(padding, input.shape[2:], weight.shape[2:], stride, dilation, "conv3d")
    out = [conv_output_size(*args) for args in zip(input.shape[2:], weight.shape[2:], stride, pads, dilation,
                                                   strict=True)]
    if min(out) < 1:
        raise ValueError(f"conv3d: kernel {tuple(weight.shape[2:])} (dilation {dilation}) does not fit the padded "
                         f"input {tuple(input.shape)} with padding {pads}")
    fn = Conv3d(stride, pads, dilation, groups)
    return fn(input, weight) if bias is None else fn(input, weight, bias)
