"""Convolution: ``conv1d``, ``conv2d``, ``conv_transpose1d/2d`` through im2col and one GEMM; ``unfold``/``fold``.

Cross-correlation, as in every framework: for input x (N, C, H, W) and weight
W (O, C/groups, kh, kw),

    y[n, o, i, j] = b[o] + Σ_{c, u, v} W[o, c, u, v] · x_pad[n, c, i·s_h + u·d_h, j·s_w + v·d_w]

with output size ⌊(n + p_lo + p_hi − d(f − 1) − 1)/s⌋ + 1 per spatial dimension.

``im2col`` lays every receptive field out as one column through a strided view of the
padded input (no Python loop over the batch, channels or pixels), so the whole convolution
is a single matrix product W (O, C·kh·kw) @ cols (C·kh·kw, N·Ho·Wo). Its adjoint
``col2im`` scatters columns back onto the image by adding one strided slice per kernel
offset (kh·kw slices); a stride-1 layer may instead take its input gradient as the
correlation of the padded dy with the flipped kernel (``Conv2d._correlates_back``). The
transposed convolution is the same pair used the other way round.
A 1-D convolution is the 2-D one on a height-1 image.
"""
from __future__ import annotations

import math

from ember.autograd.function import Function
from ember.autograd.grad_mode import is_grad_enabled
from ember.backend import get_array_module as xp_of
from ember.ops.shape import squeeze, unsqueeze

# -- arguments ------------------------------------------------------------------------------


def ntuple(value, n: int, name: str, op: str) -> tuple:
    """``value`` as an n-tuple of ints: an int repeats, a sequence must have n entries."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    if len(values) != n or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    return values


def same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """(low, high) zero padding for ``padding='same'``: the output has ⌈size/stride⌉ positions.

    With stride 1 this keeps the size, as PyTorch's 'same'; with stride > 1 it is TensorFlow's
    rule. The total d(f − 1) + 1 + s(⌈n/s⌉ − 1) − n is split with the odd pixel at the end.
    """
    total = max((math.ceil(size / stride) - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    return total // 2, total - total // 2


def resolve_padding(padding, spatial, kernel, stride, dilation, op) -> tuple:
    """Padding as one (low, high) pair per spatial dimension.

    Accepts an int, one int per dimension, one (low, high) pair per dimension, 'valid' or 'same'.
    """
    n = len(spatial)
    if padding == "valid":
        return ((0, 0),) * n
    if padding == "same":
        return tuple(same_padding(*args) for args in zip(spatial, kernel, stride, dilation, strict=False))
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int, a tuple, 'valid' or 'same', got {padding!r}")
    if isinstance(padding, (tuple, list)) and len(padding) == n and all(isinstance(p, (tuple, list)) for p in padding):
        pairs = tuple(ntuple(p, 2, "padding", op) for p in padding)
    else:
        pairs = tuple((p, p) for p in ntuple(padding, n, "padding", op))
    if any(p < 0 for pair in pairs for p in pair):
        raise ValueError(f"{op}: padding must be non-negative, got {padding!r}")
    return pairs


def conv_output_size(size, kernel, stride, padding, dilation, ceil_mode=False) -> int:
    """⌊(n + p_lo + p_hi − d(f − 1) − 1)/s⌋ + 1 (⌈·⌉ with ``ceil_mode``, as pooling allows)."""
    span = size + padding[0] + padding[1] - dilation * (kernel - 1) - 1
    if span < 0:
        return 0
    return (-(-span // stride) if ceil_mode else span // stride) + 1


# -- im2col / col2im -------------------------------------------------------------------------


def pad_plane(x, pads, value=0):
    """x (N, C, H, W) surrounded by ``value`` around H and W: pads = ((top, bottom), (left, right))."""
    (top, bottom), (left, right) = pads
    if not (top or bottom or left or right):
        return x
    N, C, H, W = x.shape
    out = xp_of(x).full((N, C, H + top + bottom, W + left + right), value, dtype=x.dtype)
    out[:, :, top : top + H, left : left + W] = x
    return out


def im2col(x, kernel, stride, dilation, out_size):
    """Receptive fields of padded x (N, C, H, W) as columns: an array (C, kh, kw, N, Ho, Wo).

    cols[c, u, v, n, i, j] = x[n, c, i·s_h + u·d_h, j·s_w + v·d_w]. The strided view costs
    nothing; the one copy makes the GEMM operand contiguous, row (c, u, v) by column (n, i, j).
    """
    xp = xp_of(x)
    sN, sC, sH, sW = x.strides
    (kh, kw), (sh, sw), (dh, dw), (Ho, Wo) = kernel, stride, dilation, out_size
    view = xp.lib.stride_tricks.as_strided(
        x, (x.shape[1], kh, kw, x.shape[0], Ho, Wo), (sC, dh * sH, dw * sW, sN, sh * sH, sw * sW)
    )
    return xp.ascontiguousarray(view)


def col2im(cols, padded_shape, stride, dilation, batch_last=False):
    """The adjoint of ``im2col``: add columns (C, kh, kw, N, Ho, Wo) back onto an (N, C, H, W) image.

    One strided slice per kernel offset (u, v); the sum runs in (C, N, H, W) order so that each
    addition walks both operands along rows, and a single transpose gives NCHW at the end.
    With ``batch_last`` the columns come as (C, kh, kw, Ho, Wo, N) and the sum runs in
    (C, H, W, N) order: on small maps each addition then walks Wo·N contiguous values, not Wo.
    """
    if batch_last:
        C, kh, kw, Ho, Wo, N = cols.shape
    else:
        C, kh, kw, N, Ho, Wo = cols.shape
    (sh, sw), (dh, dw) = stride, dilation
    plane = tuple(padded_shape[2:])
    img = xp_of(cols).zeros((C, *plane, N) if batch_last else (C, N, *plane), dtype=cols.dtype)
    target = img.transpose(0, 3, 1, 2) if batch_last else img  # a (C, N, H, W) view either way
    for u in range(kh):
        for v in range(kw):
            window = (slice(u * dh, u * dh + sh * (Ho - 1) + 1, sh), slice(v * dw, v * dw + sw * (Wo - 1) + 1, sw))
            if batch_last:
                img[:, window[0], window[1]] += cols[:, u, v]
            else:
                target[:, :, window[0], window[1]] += cols[:, u, v]
    return target.transpose(1, 0, 2, 3)


# NOTE: below this output width the input gradient's columns are laid out batch-last, so col2im
# adds rows of Wo·N values rather than Wo; above it the extra transpose of dy costs more than it saves.
BATCH_LAST_BELOW_WIDTH = 16


def crop(x, pads):
    """Undo ``pad_plane``: the interior of x (N, C, H, W)."""
    (top, bottom), (left, right) = pads
    return x[:, :, top : x.shape[2] - bottom, left : x.shape[3] - right]


def grouped_matmul(a, b, groups):
    """a (G·P, Q) @ b (G·Q, R) block-diagonally: each group's rows of a meet its rows of b."""
    if groups == 1:
        return a @ b
    G = groups
    return (a.reshape(G, a.shape[0] // G, -1) @ b.reshape(G, b.shape[0] // G, -1)).reshape(-1, b.shape[-1])


def grouped_matmul_t(a, b, groups):
    """aᵀ @ b per group, for a (G·P, Q) and b (G·P, R): the adjoint of ``grouped_matmul``'s first operand."""
    if groups == 1:
        return a.T @ b
    G = groups
    a3 = a.reshape(G, a.shape[0] // G, -1)
    return (a3.transpose(0, 2, 1) @ b.reshape(G, b.shape[0] // G, -1)).reshape(-1, b.shape[-1])


def grouped_matmul_nt(a, b, groups):
    """a @ bᵀ per group, for a (G·P, R) and b (G·Q, R): the weight gradient dy · colsᵀ.

    NOTE: where the inner dimension R = N·Ho·Wo is long against b's rows (R ≥ 8Q, the early
    layers), one group is computed as (b · aᵀ)ᵀ: OpenBLAS runs that operand order faster there,
    1.2–1.7× on LeNet-5's layers and ResNet-18's 64-channel ones, and slower on the deep layers
    (0.3–0.9× with the copy that makes the transposed result contiguous), measured at 1 and 2 threads.
    """
    if groups == 1 and b.shape[1] >= 8 * b.shape[0]:
        return (b @ a.T).T
    return grouped_matmul(a, _transpose_groups(b, groups), groups)


# -- convolution -----------------------------------------------------------------------------


# NOTE: the im2col columns are kh·kw times the input (9× for 3×3). A layer whose columns for the
# whole batch stay below KEEP_COLUMNS_BELOW_BYTES keeps them for the weight gradient. Above it,
# forward and backward run over chunks of images whose columns take about COLUMN_CHUNK_BYTES, and
# backward recomputes each chunk's columns from the padded input rather than keeping them all:
# measured on ResNet-18 (CIFAR stem, batch 32, whose 64- and 128-channel layers are chunked), peak
# memory fell from 1,096 to about 700 MiB for 2–4% more time per step (benchmarks/cnn.py).
# Without autograd (inference) nothing is recomputed, and any layer with more than one chunk's
# columns runs in chunks, which keeps them in cache: LeNet-5 inference at batch 256 is 1.1–1.2×
# faster so.
KEEP_COLUMNS_BELOW_BYTES = 32 * 2**20
COLUMN_CHUNK_BYTES = 8 * 2**20


def correlate_in_chunks(xpad, W2, kernel, stride, dilation, out, images):
    """y (N, O, Ho, Wo): every window of the padded xpad (N, C, Hp, Wp) times W2 (O, C·kh·kw), over
    chunks of ``images`` images whose im2col columns are made and used while they are in cache."""
    xp = xp_of(xpad)
    O = W2.shape[0]
    y = xp.empty((xpad.shape[0], O, *out), dtype=xp.result_type(xpad.dtype, W2.dtype))
    for s in range(0, xpad.shape[0], images):
        cols = chunk_columns(xpad[s:s + images], kernel, stride, dilation, out)
        y[s:s + images] = (W2 @ cols).reshape(O, -1, *out).swapaxes(0, 1)
    return y


def chunk_columns(part, kernel, stride, dilation, out):
    """The im2col columns of the images ``part`` as one GEMM operand (C·kh·kw, n·Ho·Wo)."""
    return im2col(part, kernel, stride, dilation, out).reshape(-1, len(part) * out[0] * out[1])


class Conv2d(Function):
    # NOTE: fused im2col + GEMM. Composing the convolution from indexing and matmul ops would
    # keep kh·kw copies of the input in the graph; here backward needs only the columns (or, for
    # large layers, the padded input they are recomputed from: see KEEP_COLUMNS_BELOW_BYTES).
    def __init__(self, stride, padding, dilation, groups, out_size=None):
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.out_size = out_size  # (Ho, Wo) when fewer windows than fit are wanted (conv_transpose2d's gradient)

    def forward(self, x, W, b=None):
        N, G = x.shape[0], self.groups
        O, _, kh, kw = W.shape
        xpad = pad_plane(x, self.padding)
        self.padded_shape = xpad.shape
        Ho, Wo = self.out_size or (conv_output_size(n, k, s, (0, 0), d) for n, k, s, d in
                                   zip(xpad.shape[2:], (kh, kw), self.stride, self.dilation, strict=False))
        self.out = Ho, Wo
        self.chunk = self._images_per_chunk(x.shape[1] * kh * kw * Ho * Wo * x.itemsize, N, is_grad_enabled())
        if self.chunk < N:
            y = self._forward_in_chunks(xpad, W)
        else:
            cols = im2col(xpad, (kh, kw), self.stride, self.dilation, (Ho, Wo))
            cols = cols.reshape(-1, N * Ho * Wo)
            self.save_for_backward(cols, W)
            y = grouped_matmul(W.reshape(O, -1), cols, G)  # (O, C/G·kh·kw) @ (C·kh·kw, N·Ho·Wo) per group
            y = xp_of(y).ascontiguousarray(y.reshape(O, N, Ho, Wo).swapaxes(0, 1))
        if b is not None:
            y += b[:, None, None]
        return y

    def _images_per_chunk(self, column_bytes_per_image, N, backward=True):
        """N (keep the whole batch's columns) or the images per chunk of the chunked path;
        ``backward``: whether a backward pass may follow (autograd is recording)."""
        limit = KEEP_COLUMNS_BELOW_BYTES if backward else COLUMN_CHUNK_BYTES
        if self.groups > 1 or column_bytes_per_image * N < limit:
            return N
        return max(1, min(N - 1, COLUMN_CHUNK_BYTES // column_bytes_per_image))

    def _columns(self, xpad, start, kernel):
        """The im2col columns (C·kh·kw, n·Ho·Wo) of the chunk of images from ``start``."""
        return chunk_columns(xpad[start:start + self.chunk], kernel, self.stride, self.dilation, self.out)

    def _input_plane(self):
        """(H, W) of the input, before its padding."""
        return tuple(n - lo - hi for n, (lo, hi) in zip(self.padded_shape[2:], self.padding, strict=True))

    def _forward_in_chunks(self, xpad, W):
        self.save_for_backward(xpad, W)
        return correlate_in_chunks(xpad, W.reshape(W.shape[0], -1), W.shape[2:], self.stride, self.dilation,
                                   self.out, self.chunk)

    def backward(self, gy):
        needs = self.needs_input_grad
        W = self.saved[1]
        by_correlation = needs[0] and self._correlates_back(W)
        gx = self._input_grad_by_correlation(gy, W) if by_correlation else None
        from_columns = needs[0] and not by_correlation  # dx from Wᵀ dy's columns and col2im
        gW = None
        if self.chunk >= gy.shape[0]:  # one chunk: the whole batch, its columns kept by forward
            gx_cols, gW = self._chunk_grads(gy, self.saved[0], W, self.padded_shape, from_columns)
            gx = gx_cols if from_columns else gx
        elif from_columns or needs[1]:  # chunk by chunk, each chunk's columns recomputed from the padded input
            xpad = self.saved[0]
            if from_columns:
                gx = xp_of(gy).empty((gy.shape[0], W.shape[1], *self._input_plane()), dtype=gy.dtype)
            for s in range(0, gy.shape[0], self.chunk):
                part = gy[s:s + self.chunk]
                cols = self._columns(xpad, s, W.shape[2:]) if needs[1] else None
                gx_part, gW_part = self._chunk_grads(part, cols, W, (len(part), *self.padded_shape[1:]), from_columns)
                if from_columns:
                    gx[s:s + self.chunk] = gx_part
                if needs[1]:
                    gW = gW_part if gW is None else gW + gW_part  # dW = Σ_chunks dy colsᵀ
        gb = gy.sum(axis=(0, 2, 3)) if len(needs) > 2 and needs[2] else None
        return gx, None if gW is None else gW.reshape(W.shape), gb

    def _correlates_back(self, W):
        """Whether dx is taken as a correlation of dy: it is one for stride 1, one group, windows that
        fit the input (no out_size) and each padding at most d(k − 1), the padding of that
        correlation's other side; and it pays where its columns are no larger than the columns
        path's (O·H·W ≤ C·Ho·Wo) and the maps are wide (Wo ≥ BATCH_LAST_BELOW_WIDTH).

        NOTE: measured on single layers, forward and backward: 64 channels on 32×32 maps 1.09×
        faster, 128 on 16×16 1.06×; but 256 on 8×8 0.97×, 512 on 4×4 0.81× (the batch-last col2im
        is quick there), and LeNet-5's 6 → 16 channels 0.42× (its correlation has 5× the columns).
        """
        O, C, kh, kw = W.shape
        Ho, Wo = self.out
        H, Wd = self._input_plane()
        reach = [d * (k - 1) for d, k in zip(self.dilation, (kh, kw), strict=True)]
        return (tuple(self.stride) == (1, 1) and self.groups == 1 and self.out_size is None
                and all(0 <= lo <= r and 0 <= hi <= r for (lo, hi), r in zip(self.padding, reach, strict=True))
                and O * H * Wd <= C * Ho * Wo and Wo >= BATCH_LAST_BELOW_WIDTH)

    def _input_grad_by_correlation(self, gy, W):
        """dx of a stride-1 convolution: dy, padded by d(k − 1) − p on each side, correlated with the
        flipped kernel W'[c, o, u, v] = W[o, c, k−1−u, k−1−v].

        NOTE: the same GEMM as Wᵀ dy into kh·kw-times-larger columns followed by col2im's kh·kw
        strided adds, but its columns come from dy in chunks that stay in cache (as inference's do),
        and nothing is added back: half the memory traffic of the columns path.
        """
        (kh, kw), (dh, dw) = W.shape[2:], self.dilation
        (top, bottom), (left, right) = self.padding
        gypad = pad_plane(gy, ((dh * (kh - 1) - top, dh * (kh - 1) - bottom),
                               (dw * (kw - 1) - left, dw * (kw - 1) - right)))
        flipped = xp_of(W).ascontiguousarray(W[:, :, ::-1, ::-1].swapaxes(0, 1)).reshape(W.shape[1], -1)
        plane = self._input_plane()
        per_image = flipped.shape[1] * math.prod(plane) * gy.itemsize
        images = max(1, min(gy.shape[0], COLUMN_CHUNK_BYTES // per_image))
        return correlate_in_chunks(gypad, flipped, (kh, kw), (1, 1), self.dilation, plane, images)

    def _chunk_grads(self, gy, cols, W, padded_shape, input_grad):
        """dx (with ``input_grad``) and dW (O, C/G·kh·kw) of the images of ``gy``, whose columns are ``cols``."""
        O, _, kh, kw = W.shape
        N, _, Ho, Wo = gy.shape
        gx = gW = None
        batch_last = input_grad and Wo < BATCH_LAST_BELOW_WIDTH
        if self.needs_input_grad[1] or (input_grad and not batch_last):
            gy2 = gy.swapaxes(0, 1).reshape(O, -1)  # (O, N·Ho·Wo): a copy, made only when used
        if input_grad:
            g = gy.transpose(1, 2, 3, 0).reshape(O, -1) if batch_last else gy2  # columns (Ho, Wo, N) or (N, Ho, Wo)
            gcols = grouped_matmul_t(W.reshape(O, -1), g, self.groups)  # dcols = Wᵀ dy
            gcols = gcols.reshape((-1, kh, kw, Ho, Wo, N) if batch_last else (-1, kh, kw, N, Ho, Wo))
            gx = crop(col2im(gcols, padded_shape, self.stride, self.dilation, batch_last), self.padding)
        if self.needs_input_grad[1]:
            gW = grouped_matmul_nt(gy2, cols, self.groups)  # dW = dy colsᵀ
        return gx, gW

    def vjp(self, gy):
        x, W = self.inputs[:2]
        geometry = self.stride, self.padding, self.dilation, self.groups
        needs = self.needs_input_grad
        gx = ConvTranspose2d(*geometry, self.padded_shape[2:])(gy, W) if needs[0] else None  # dx = Wᵀ ⋆ dy
        gW = Conv2dWeightGrad(*geometry, W.shape[2:])(x, gy) if needs[1] else None
        gb = gy.sum(axis=(0, 2, 3)) if len(needs) > 2 and needs[2] else None
        return gx, gW, gb


class Conv2dWeightGrad(Function):
    """conv2d's weight gradient as an op of (x, dy), for gradients of gradients:

        dW[o, c, u, v] = Σ_{n, i, j} dy[n, o, i, j] · x_pad[n, c, i·s_h + u·d_h, j·s_w + v·d_w]

    Bilinear, like conv2d and conv_transpose2d: the three are each other's adjoints, so its gradient
    is conv_transpose2d(dy, g) for x and conv2d(x, g) for dy.
    """

    def __init__(self, stride, padding, dilation, groups, kernel):
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.kernel = tuple(kernel)

    def forward(self, x, gy):
        N, O, Ho, Wo = gy.shape
        self.save_for_backward(x, gy)
        cols = im2col(pad_plane(x, self.padding), self.kernel, self.stride, self.dilation, (Ho, Wo))
        gy2 = gy.swapaxes(0, 1).reshape(O, -1)
        return grouped_matmul_nt(gy2, cols.reshape(-1, N * Ho * Wo), self.groups).reshape(O, -1, *self.kernel)

    def backward(self, g):
        x, gy = self.saved
        transposed, conv = self._adjoints(x.shape, gy.shape)
        return (transposed.forward(gy, g) if self.needs_input_grad[0] else None,
                conv.forward(x, g) if self.needs_input_grad[1] else None)

    def vjp(self, g):
        (x, gy), needs = self.inputs, self.needs_input_grad
        transposed, conv = self._adjoints(x.shape, gy.shape)
        return transposed(gy, g) if needs[0] else None, conv(x, g) if needs[1] else None

    def _adjoints(self, x_shape, gy_shape):
        """conv_transpose2d back onto x's padded plane, and conv2d onto dy's windows."""
        geometry = self.stride, self.padding, self.dilation, self.groups
        padded = tuple(n + lo + hi for n, (lo, hi) in zip(x_shape[2:], self.padding, strict=True))
        return ConvTranspose2d(*geometry, padded), Conv2d(*geometry, tuple(gy_shape[2:]))


def _transpose_groups(cols, groups):
    """cols (G·K, M) → per-group transposes stacked as (G·M, K), for dW = dy · colsᵀ per group."""
    if groups == 1:
        return cols.T
    G = groups
    return cols.reshape(G, cols.shape[0] // G, -1).transpose(0, 2, 1).reshape(-1, cols.shape[0] // G)


def _check_conv(op, x, W, b, groups, spatial_dims, transposed=False):
    if x.ndim != spatial_dims + 2:
        layout = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}[spatial_dims]
        raise ValueError(f"{op}: expected input of shape {layout}, got {tuple(x.shape)}")
    if x.dtype != W.dtype:
        raise TypeError(f"{op}: input dtype {x.dtype} differs from the weight's {W.dtype}")
    in_channels = W.shape[0] if transposed else W.shape[1] * groups
    if x.shape[1] != in_channels:
        raise ValueError(f"{op}: weight {tuple(W.shape)} with groups={groups} expects {in_channels} input "
                         f"channels, got input {tuple(x.shape)}")
    out_channels = W.shape[1] * groups if transposed else W.shape[0]
    if out_channels % groups:
        raise ValueError(f"{op}: weight {tuple(W.shape)} has {out_channels} output channels, not divisible by "
                         f"groups={groups}")
    if b is not None and tuple(b.shape) != (out_channels,):
        raise ValueError(f"{op}: bias must have shape ({out_channels},), got {tuple(b.shape)}")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation (PyTorch's ``F.conv2d``).

    input (N, C, H, W), weight (O, C/groups, kh, kw), bias (O,) → (N, O, Ho, Wo).
    ``padding``: an int, (ph, pw), ((top, bottom), (left, right)), 'valid' or 'same' (⌈n/s⌉
    outputs; with stride 1 the size is kept).

    >>> F.conv2d(em.randn(2, 3, 32, 32), em.randn(8, 3, 5, 5), padding="same").shape
    (2, 8, 32, 32)
    """
    _check_conv("conv2d", input, weight, bias, groups, 2)
    stride = ntuple(stride, 2, "stride", "conv2d")
    dilation = ntuple(dilation, 2, "dilation", "conv2d")
    pads = resolve_padding(padding, input.shape[2:], weight.shape[2:], stride, dilation, "conv2d")
    sizes = zip(input.shape[2:], weight.shape[2:], stride, pads, dilation, strict=True)
    out = [conv_output_size(*args) for args in sizes]
    if min(out) < 1:
        raise ValueError(f"conv2d: kernel {tuple(weight.shape[2:])} (dilation {dilation}) does not fit the padded "
                         f"input {tuple(input.shape)} with padding {pads}")
    fn = Conv2d(stride, pads, dilation, groups)
    return fn(input, weight) if bias is None else fn(input, weight, bias)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation (PyTorch's ``F.conv1d``): input (N, C, L), weight (O, C/groups, k) → (N, O, Lo).

    Computed as ``conv2d`` on a height-1 image, so the two share one implementation.

    >>> F.conv1d(em.randn(4, 1, 40), em.randn(16, 1, 5), stride=2).shape
    (4, 16, 18)
    """
    _check_conv("conv1d", input, weight, bias, groups, 1)
    (stride,) = ntuple(stride, 1, "stride", "conv1d")
    (dilation,) = ntuple(dilation, 1, "dilation", "conv1d")
    (pads,) = resolve_padding(padding, input.shape[2:], weight.shape[2:], (stride,), (dilation,), "conv1d")
    y = conv2d(unsqueeze(input, 2), unsqueeze(weight, 2), bias, (1, stride), ((0, 0), pads), (1, dilation), groups)
    return squeeze(y, 2)


# -- transposed convolution ------------------------------------------------------------------


class ConvTranspose2d(Function):
    # NOTE: the adjoint of Conv2d: forward is conv2d's input-gradient computation (GEMM then
    # col2im), backward its forward (im2col then GEMM).
    def __init__(self, stride, padding, dilation, groups, out_size):
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.out_size = out_size  # padded (Hp, Wp) the columns are scattered onto

    def forward(self, x, W, b=None):
        N, C, H, Wd = x.shape
        _, Og, kh, kw = W.shape
        self.save_for_backward(x, W)
        x2 = x.swapaxes(0, 1).reshape(C, -1)  # (C, N·H·W)
        cols = grouped_matmul_t(W.reshape(C, -1), x2, self.groups).reshape(-1, kh, kw, N, H, Wd)
        y = crop(col2im(cols, (N, Og * self.groups) + self.out_size, self.stride, self.dilation), self.padding)
        y = xp_of(y).ascontiguousarray(y)
        if b is not None:
            y += b[:, None, None]
        return y

    def backward(self, gy):
        x, W = self.saved
        N, C, H, Wd = x.shape
        _, _, kh, kw = W.shape
        cols = im2col(pad_plane(gy, self.padding), (kh, kw), self.stride, self.dilation, (H, Wd))
        cols = cols.reshape(-1, N * H * Wd)
        gx = gW = gb = None
        if self.needs_input_grad[0]:
            gx = grouped_matmul(W.reshape(C, -1), cols, self.groups)  # the convolution of dy by W
            gx = xp_of(gx).ascontiguousarray(gx.reshape(C, N, H, Wd).swapaxes(0, 1))
        if self.needs_input_grad[1]:
            x2 = x.swapaxes(0, 1).reshape(C, -1)
            gW = grouped_matmul_nt(x2, cols, self.groups).reshape(W.shape)
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            gb = gy.sum(axis=(0, 2, 3))
        return gx, gW, gb

    def vjp(self, gy):
        x, W = self.inputs[:2]
        geometry = self.stride, self.padding, self.dilation, self.groups
        needs = self.needs_input_grad
        gx = Conv2d(*geometry, tuple(x.shape[2:]))(gy, W) if needs[0] else None  # the convolution of dy by W
        gW = Conv2dWeightGrad(*geometry, W.shape[2:])(gy, x) if needs[1] else None  # x plays conv2d's dy
        gb = gy.sum(axis=(0, 2, 3)) if len(needs) > 2 and needs[2] else None
        return gx, gW, gb


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 2-D convolution (PyTorch's ``F.conv_transpose2d``), the gradient of ``conv2d``.

    input (N, C, H, W), weight (C, O/groups, kh, kw) → (N, O, Ho, Wo) with
    Ho = (H − 1)·s − 2p + d(kh − 1) + output_padding + 1.

    >>> F.conv_transpose2d(em.randn(1, 8, 7, 7), em.randn(8, 3, 4, 4), stride=2, padding=1).shape
    (1, 3, 14, 14)
    """
    _check_conv("conv_transpose2d", input, weight, bias, groups, 2, transposed=True)
    stride = ntuple(stride, 2, "stride", "conv_transpose2d")
    dilation = ntuple(dilation, 2, "dilation", "conv_transpose2d")
    padding = ntuple(padding, 2, "padding", "conv_transpose2d")
    output_padding = ntuple(output_padding, 2, "output_padding", "conv_transpose2d")
    if any(op >= max(s, d) for op, s, d in zip(output_padding, stride, dilation, strict=False)):
        raise ValueError(f"conv_transpose2d: output_padding {output_padding} must be smaller than stride {stride} "
                         f"or dilation {dilation}")
    # the padded output: every column lands inside it; `padding` is cropped from the start and
    # `padding − output_padding` from the end, as PyTorch.
    full = tuple((n - 1) * s + d * (k - 1) + 1 + op for n, s, d, k, op in
                 zip(input.shape[2:], stride, dilation, weight.shape[2:], output_padding, strict=False))
    pads = tuple((p, p) for p in padding)
    if any(f - 2 * p < 1 for f, p in zip(full, padding, strict=False)):
        raise ValueError(f"conv_transpose2d: padding {padding} leaves no output for input {tuple(input.shape)}")
    fn = ConvTranspose2d(stride, pads, dilation, groups, full)
    return fn(input, weight) if bias is None else fn(input, weight, bias)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 1-D convolution (PyTorch's ``F.conv_transpose1d``), the gradient of ``conv1d``.

    input (N, C, L), weight (C, O/groups, k) → (N, O, Lo), Lo = (L − 1)·s − 2p + d(k − 1) + output_padding + 1;
    ``conv_transpose2d`` on a height-1 image.

    >>> F.conv_transpose1d(em.randn(2, 4, 10), em.randn(4, 3, 4), stride=2, padding=1).shape
    (2, 3, 20)
    """
    _check_conv("conv_transpose1d", input, weight, bias, groups, 1, transposed=True)
    args = {name: ntuple(value, 1, name, "conv_transpose1d")[0] for name, value in
            (("stride", stride), ("padding", padding), ("output_padding", output_padding), ("dilation", dilation))}
    y = conv_transpose2d(unsqueeze(input, 2), unsqueeze(weight, 2), bias, (1, args["stride"]), (0, args["padding"]),
                         (0, args["output_padding"]), groups, (1, args["dilation"]))
    return squeeze(y, 2)


# -- unfold / fold ---------------------------------------------------------------------------


class Unfold(Function):
    # NOTE: im2col exposed as an op; its backward is col2im, so Fold below is this op run backwards.
    def __init__(self, kernel, stride, dilation, padding, out_size, padded_shape):
        self.kernel, self.stride, self.dilation, self.padding = kernel, stride, dilation, padding
        self.out_size, self.padded_shape = out_size, padded_shape

    def forward(self, x):
        return _unfold(self, x)

    def backward(self, gy):
        return _fold(self, gy)

    def vjp(self, gy):
        return Fold(*self._geometry())(gy)

    def _geometry(self):
        return self.kernel, self.stride, self.dilation, self.padding, self.out_size, self.padded_shape


class Fold(Unfold):
    def forward(self, cols):
        return _fold(self, cols)

    def backward(self, gy):
        return _unfold(self, gy)

    def vjp(self, gy):
        return Unfold(*self._geometry())(gy)


def _unfold(geom, x):
    """x (N, C, H, W) → blocks (N, C·kh·kw, Ho·Wo): row (c, u, v), column (i, j)."""
    cols = im2col(pad_plane(x, geom.padding), geom.kernel, geom.stride, geom.dilation, geom.out_size)
    C, kh, kw, N, Ho, Wo = cols.shape
    return xp_of(x).ascontiguousarray(cols.transpose(3, 0, 1, 2, 4, 5)).reshape(N, C * kh * kw, Ho * Wo)


def _fold(geom, blocks):
    """The adjoint of ``_unfold``: blocks (N, C·kh·kw, Ho·Wo) summed back onto (N, C, H, W)."""
    (kh, kw), (Ho, Wo), N = geom.kernel, geom.out_size, blocks.shape[0]
    cols = blocks.reshape(N, -1, kh, kw, Ho, Wo).transpose(1, 2, 3, 0, 4, 5)
    img = col2im(cols, geom.padded_shape, geom.stride, geom.dilation)
    return xp_of(img).ascontiguousarray(crop(img, geom.padding))


def _block_geometry(op, spatial, kernel_size, dilation, padding, stride):
    """kernel, dilation, (lo, hi) pads, stride and the number of blocks (Ho, Wo) over an (H, W) image."""
    kernel, dilation, pad, stride = (ntuple(v, 2, name, op) for v, name in
                                     ((kernel_size, "kernel_size"), (dilation, "dilation"), (padding, "padding"),
                                      (stride, "stride")))
    if min(kernel + dilation + stride) < 1 or min(pad) < 0:
        raise ValueError(f"{op}: kernel_size, dilation and stride must be positive and padding non-negative, got "
                         f"{kernel}, {dilation}, {stride} and {pad}")
    pads = tuple((p, p) for p in pad)
    out = tuple(conv_output_size(*args) for args in zip(spatial, kernel, stride, pads, dilation, strict=True))
    if min(out) < 1:
        raise RuntimeError(f"{op}: given input with spatial size {tuple(spatial)}, kernel_size={kernel}, dilation="
                           f"{dilation}, padding={pad}, calculated shape of the array of sliding blocks as {out}, "
                           "but its components must be at least one")
    return kernel, dilation, pads, stride, out


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Extract sliding blocks (PyTorch's ``F.unfold``, im2col): (N, C, H, W) → (N, C·kh·kw, L).

    out[n, (c, u, v), (i, j)] = x_pad[n, c, i·s_h + u·d_h, j·s_w + v·d_w], L = Ho·Wo the number of
    blocks (conv's output size). An unbatched (C, H, W) input gives (C·kh·kw, L). A convolution is
    W.view(O, −1) @ unfold(x).

    >>> F.unfold(em.randn(2, 3, 5, 5), kernel_size=3).shape
    (2, 27, 9)
    """
    if input.ndim not in (3, 4):
        raise ValueError(f"unfold: expected a 3D (C, H, W) or 4D (N, C, H, W) input, got {tuple(input.shape)}")
    x = unsqueeze(input, 0) if input.ndim == 3 else input
    kernel, dilation, pads, stride, out = _block_geometry("unfold", x.shape[2:], kernel_size, dilation, padding,
                                                          stride)
    padded = (x.shape[0], x.shape[1]) + tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[2:], pads, strict=True))
    y = Unfold(kernel, stride, dilation, pads, out, padded)(x)
    return squeeze(y, 0) if input.ndim == 3 else y


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum sliding blocks back into an image (PyTorch's ``F.fold``, col2im): (N, C·kh·kw, L) → (N, C, H, W).

    The adjoint of ``unfold``: overlapping blocks add up, so fold(unfold(x)) counts each pixel
    once per block that holds it. ``output_size`` is (H, W); an unbatched (C·kh·kw, L) input
    gives (C, H, W).

    >>> F.fold(em.randn(1, 12, 12), output_size=(4, 5), kernel_size=2).shape
    (1, 3, 4, 5)
    """
    if input.ndim not in (2, 3):
        raise ValueError(f"fold: expected a 2D (C·kh·kw, L) or 3D (N, C·kh·kw, L) input, got {tuple(input.shape)}")
    x = unsqueeze(input, 0) if input.ndim == 2 else input
    size = ntuple(output_size, 2, "output_size", "fold")
    kernel, dilation, pads, stride, out = _block_geometry("fold", size, kernel_size, dilation, padding, stride)
    if x.shape[1] % (kernel[0] * kernel[1]) or x.shape[2] != out[0] * out[1]:
        raise RuntimeError(f"fold: expected an input of shape (N, C·{kernel[0]}·{kernel[1]}, {out[0] * out[1]}) for "
                           f"output_size={size}, kernel_size={kernel}, dilation={dilation}, padding="
                           f"{tuple(p for p, _ in pads)}, stride={stride}, got {tuple(input.shape)}")
    C = x.shape[1] // (kernel[0] * kernel[1])
    padded = (x.shape[0], C) + tuple(n + lo + hi for n, (lo, hi) in zip(size, pads, strict=True))
    y = Fold(kernel, stride, dilation, pads, out, padded)(x)
    return squeeze(y, 0) if input.ndim == 2 else y
