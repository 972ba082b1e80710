"""Region-of-interest pooling: ``roi_pool`` and ``roi_align``, with torchvision.ops semantics.

Each RoI k is a box [b, x1, y1, x2, y2] on image b of the input x (N, C, H, W), in input pixels;
``spatial_scale`` maps it onto the feature map (1/16 for a stride-16 backbone). Both ops cut the
RoI into an oh × ow grid of bins and pool each bin, so every RoI gives the same (C, oh, ow) map.

- RoIPool (Fast R-CNN) rounds the box to whole pixels, x1' = round(x1·s) (half away from zero),
  takes a size of max(x2' − x1' + 1, 1), and bin (p, q) covers the pixels
  [x1' + ⌊q·w/ow⌋, x1' + ⌈(q + 1)·w/ow⌉) clipped to the image (likewise for rows). It keeps
  each bin's (first) maximum and its position for backward; an empty bin gives 0.
- RoIAlign (Mask R-CNN) does not round: with ``aligned`` the box is shifted by −0.5 pixel,
  bin (p, q) is sampled at g_h × g_w evenly spaced points, g = ``sampling_ratio`` or
  ⌈roi_size/out⌉ when it is ≤ 0, and the bin's value is the mean of the bilinear
  interpolations at those points. A sample with y < −1 or y > H (x alike) reads 0; one in
  [−1, 0) reads row 0, and one at or beyond H − 1 reads row H − 1 (torchvision's
  ``bilinear_interpolate``).

Neither op differentiates with respect to the boxes, as in torchvision. Both are linear in the
input once their maxima or sampling weights are known, so each op's vjp applies its adjoint as an
op (``AtMaxima``, ``Sampled``) whose own vjp applies the map again: every order differentiates.
"""
from __future__ import annotations

import math

from ember.autograd.function import Function
from ember.backend import get_array_module as xp_of
from ember.backend import unwrap
from ember.ops.conv import ntuple

# torchvision's RoIPool starts every non-empty bin's running maximum at −FLT_MAX (for every dtype)
# and keeps a value only if it is strictly greater.
FLT_MAX = 3.4028234663852886e38


# -- arguments ------------------------------------------------------------------------------


def as_rois(boxes, x, op: str):
    """The boxes as one (K, 5) array [batch_index, x1, y1, x2, y2] in x's dtype and on x's device.

    ``boxes`` is a (K, 5) tensor/array, or a list with one (L_i, 4) [x1, y1, x2, y2] tensor/array
    per image (image i's boxes get batch index i), as torchvision accepts.
    """
    xp = xp_of(x)
    if isinstance(boxes, (list, tuple)):
        parts = [xp.asarray(unwrap(b), dtype=x.dtype) for b in boxes]
        if any(b.ndim != 2 or b.shape[1] != 4 for b in parts):
            shapes = [tuple(b.shape) for b in parts]
            raise ValueError(f"{op}: a list of boxes must hold one (L, 4) [x1, y1, x2, y2] array per image, "
                             f"got shapes {shapes}")
        index = [xp.full((len(b), 1), i, dtype=x.dtype) for i, b in enumerate(parts)]
        rois = xp.concatenate([xp.concatenate(pair, axis=1) for pair in zip(index, parts, strict=True)]) \
            if parts else xp.zeros((0, 5), dtype=x.dtype)
    else:
        rois = xp.asarray(unwrap(boxes), dtype=x.dtype)
        if rois.ndim != 2 or rois.shape[1] != 5:
            raise ValueError(f"{op}: boxes must be a (K, 5) array [batch_index, x1, y1, x2, y2] or a list of "
                             f"(L, 4) arrays, one per image; got shape {tuple(rois.shape)}")
    batch = rois[:, 0].astype(int)
    if len(rois) and (int(batch.min()) < 0 or int(batch.max()) >= x.shape[0]):
        raise ValueError(f"{op}: box batch indices must lie in [0, {x.shape[0]}) for input {tuple(x.shape)}, got "
                         f"{int(batch.min())}..{int(batch.max())}")
    return rois


def _check_input(input, output_size, op):
    if input.ndim != 4:
        raise ValueError(f"{op}: expected input of shape (N, C, H, W), got {tuple(input.shape)}")
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating point, got {input.dtype}")
    size = ntuple(output_size, 2, "output_size", op)
    if min(size) < 1:
        raise ValueError(f"{op}: output_size must be positive, got {output_size!r}")
    return size


def _round(v):
    """C's ``round``: halves away from zero (NumPy's ``round`` sends them to the even neighbour)."""
    xp = xp_of(v)
    return (xp.sign(v) * xp.floor(xp.abs(v) + 0.5)).astype(int)


# -- RoIPool --------------------------------------------------------------------------------


def _pool_bins(start, end, out, size, dtype):
    """Pixel indices (K, out, B) covering each bin along one axis, and which of them lie in their bin.

    Bin p of a RoI of rounded corners start..end spans [start + ⌊p·L/out⌋, start + ⌈(p + 1)·L/out⌉)
    clipped to [0, size], L = max(end − start + 1, 1); B is the widest bin of all RoIs.
    """
    xp = xp_of(start)
    bin_size = (xp.maximum(end - start + 1, 1).astype(dtype) / dtype.type(out))[:, None]
    p = xp.arange(out, dtype=dtype)
    lo = xp.clip(xp.floor(p * bin_size).astype(int) + start[:, None], 0, size)
    hi = xp.clip(xp.ceil((p + 1) * bin_size).astype(int) + start[:, None], 0, size)
    pixels = lo[:, :, None] + xp.arange(max(int((hi - lo).max()), 1) if hi.size else 1)
    return xp.minimum(pixels, size - 1), pixels < hi[:, :, None]


class RoIPool(Function):
    # NOTE: the bins of all RoIs are read at once: one gather of (K, oh, ow, Bh, Bw, C) pixels, B the
    # widest bin, padded positions masked to −∞; the backward sends each gradient to its bin's maximum.
    def __init__(self, rois, output_size, spatial_scale):
        self.rois, self.output_size, self.spatial_scale = rois, output_size, spatial_scale

    def forward(self, x):
        xp = xp_of(x)
        self.x_shape = (N, C, H, W) = x.shape
        (oh, ow), K = self.output_size, len(self.rois)
        corners = _round(self.rois[:, 1:] * x.dtype.type(self.spatial_scale))  # (K, 4): x1, y1, x2, y2
        rows, row_in = _pool_bins(corners[:, 1], corners[:, 3], oh, H, x.dtype)
        cols, col_in = _pool_bins(corners[:, 0], corners[:, 2], ow, W, x.dtype)
        b = self.rois[:, 0].astype(int)
        vals = x[b[:, None, None, None, None], :, rows[:, :, None, :, None], cols[:, None, :, None, :]]
        inside = row_in[:, :, None, :, None] & col_in[:, None, :, None, :]  # (K, oh, ow, Bh, Bw)
        vals = xp.where(inside[..., None], vals, -xp.inf).reshape(K, oh, ow, rows.shape[2] * cols.shape[2], C)
        arg = vals.argmax(axis=3)  # the first maximum in row-major order, as torchvision's strict '>'
        y = xp.take_along_axis(vals, arg[:, :, :, None], axis=3)[:, :, :, 0]
        self.hit = (y > -FLT_MAX).transpose(0, 3, 1, 2)  # False where the bin is empty: no gradient
        y = xp.where(y > -FLT_MAX, y, xp.where(inside.any(axis=(3, 4)), -FLT_MAX, 0)[..., None])
        self.index = _flat_index(b, rows, cols, arg, x.shape)
        return xp.ascontiguousarray(y.astype(x.dtype).transpose(0, 3, 1, 2))

    def backward(self, gy):
        return _to_maxima(gy, self.index, self.hit, self.x_shape)

    def vjp(self, gy):
        return AtMaxima(self.index, self.hit, self.x_shape, transpose=True)(gy)


def _to_maxima(gy, index, hit, x_shape):
    """Σ of the bins' gradients into the input positions of their maxima (bins overlap: a bincount)."""
    gx = xp_of(gy).bincount(index[hit], weights=gy[hit], minlength=math.prod(x_shape))
    return gx.astype(gy.dtype).reshape(x_shape)


def _at_maxima(x, index, hit):
    """The input values at the maxima's positions, 0 for the bins that hit no pixel."""
    return x.reshape(-1)[index] * hit


class AtMaxima(Function):
    """RoIPool once its maxima are found, the linear map y = x[index] (0 where no pixel was hit), or with
    ``transpose`` its adjoint, the scatter-add back. The vjp of each is the other, so RoIPool
    differentiates to every order (its second derivative in x is 0: it is piecewise linear)."""

    def __init__(self, index, hit, x_shape, transpose=False):
        self.index, self.hit, self.x_shape, self.transpose = index, hit, x_shape, transpose

    def forward(self, a):
        return self._apply(a, self.transpose)

    def backward(self, g):
        return self._apply(g, not self.transpose)

    def vjp(self, g):
        return AtMaxima(self.index, self.hit, self.x_shape, not self.transpose)(g)

    def _apply(self, a, transpose):
        return _to_maxima(a, self.index, self.hit, self.x_shape) if transpose else _at_maxima(a, self.index, self.hit)


def _flat_index(b, rows, cols, arg, shape):
    """Flat input positions (K, C, oh, ow) of the maxima: arg (K, oh, ow, C) indexes each bin's Bh × Bw pixels."""
    xp = xp_of(arg)
    N, C, H, W = shape
    Bw = cols.shape[2]
    h = xp.take_along_axis(rows[:, :, None, :], arg // Bw, axis=3)
    w = xp.take_along_axis(cols[:, None, :, :], arg % Bw, axis=3)
    return (((b[:, None, None, None] * C + xp.arange(C)) * H + h) * W + w).transpose(0, 3, 1, 2)


def roi_pool(input, boxes, output_size, spatial_scale=1.0):
    """Fast R-CNN's RoI max pooling (torchvision's ``roi_pool``).

    input (N, C, H, W); boxes (K, 5) [batch_index, x1, y1, x2, y2] or a list of (L_i, 4)
    [x1, y1, x2, y2] per image, in input coordinates times 1/``spatial_scale``; output_size
    an int or (oh, ow) → (K, C, oh, ow). Box corners are rounded to pixels, each RoI is cut
    into oh × ow bins of ⌊·⌋/⌈·⌉ pixel boundaries and y[k, c, p, q] is the bin's maximum (0 if
    the bin lies off the image). Differentiable in ``input`` only.

    >>> feats = em.randn(2, 16, 20, 20)
    >>> roi_pool(feats, [em.tensor([[0.0, 0, 40, 40]]), em.tensor([[8.0, 8, 72, 56]])], 7, 0.25).shape
    (2, 16, 7, 7)
    """
    size = _check_input(input, output_size, "roi_pool")
    rois = as_rois(boxes, unwrap(input), "roi_pool")
    return RoIPool(rois, size, float(spatial_scale))(input)


# -- RoIAlign -------------------------------------------------------------------------------


def _sample_weights(start, length, grid, out, size):
    """A (K, out, size): A[k, p, i] = (1/g_k) Σ_s weight of pixel row i in the bilinear read at sample s of bin p.

    The samples of bin p lie at start + p·bin + (s + ½)·bin/g for s < g_k, bin = length/out.
    Bilinear interpolation is separable, so a bin's mean over its g_h × g_w samples is
    Σ_{i,j} A_y[p, i] x[i, j] A_x[q, j]: two small matrix products instead of a 4-point gather.
    """
    xp, dtype = xp_of(start), start.dtype
    bin_size = (length / dtype.type(out))[:, None, None]
    steps = xp.maximum(grid, 1).astype(dtype)[:, None, None]
    s = xp.arange(max(int(grid.max()), 1) if grid.size else 1, dtype=dtype) + dtype.type(0.5)
    y = start[:, None, None] + xp.arange(out, dtype=dtype)[:, None] * bin_size + s * bin_size / steps
    used = (y >= -1) & (y <= size) & (s < grid[:, None, None])  # (K, out, G)
    y = xp.maximum(y, 0)
    low = y.astype(int)
    edge = low >= size - 1
    low = xp.where(edge, size - 1, low)
    frac = xp.where(edge, 0, y - low).astype(dtype)  # the sample's weight on row low + 1
    pixels = xp.arange(size)
    weights = ((1 - frac)[..., None] * (pixels == low[..., None]) + frac[..., None] * (pixels == low[..., None] + 1))
    return (weights * used[..., None]).sum(axis=2) / steps


def _align_weights(rois, out, spatial_scale, sampling_ratio, aligned, size, axis):
    """The RoIs' sample weights along one axis (0: x, 1: y): A (K, out, size)."""
    xp, dtype = xp_of(rois), rois.dtype
    offset = dtype.type(0.5 if aligned else 0.0)
    start = rois[:, 1 + axis] * dtype.type(spatial_scale) - offset
    length = rois[:, 3 + axis] * dtype.type(spatial_scale) - offset - start
    if not aligned:
        length = xp.maximum(length, dtype.type(1))  # torchvision forces malformed RoIs to 1 × 1
    grid = xp.full(len(rois), sampling_ratio) if sampling_ratio > 0 else xp.ceil(length / dtype.type(out)).astype(int)
    return _sample_weights(start, length, grid, out, size)


class RoIAlign(Function):
    # NOTE: bilinear sampling is separable, so RoIAlign is y_k = A_y,k · x[b_k] · A_x,kᵀ per channel.
    # The row product runs as one GEMM against the whole batch, (K·oh, N·H) @ (N·H, C·W), with
    # RoI k's weights in image b_k's block (N× the arithmetic of per-image products, but no copy of
    # the map per RoI and no loop); the backward is the same two products transposed,
    # the exact adjoint of the forward, so no scatter is needed.
    def __init__(self, rois, output_size, spatial_scale, sampling_ratio, aligned):
        self.rois, self.output_size, self.spatial_scale = rois, output_size, spatial_scale
        self.sampling_ratio, self.aligned = sampling_ratio, aligned

    def _weights(self, x):
        xp = xp_of(x)
        N, C, H, W = x.shape
        (oh, ow), K = self.output_size, len(self.rois)
        args = (self.spatial_scale, self.sampling_ratio, self.aligned)
        Ay = _align_weights(self.rois, oh, *args, H, axis=1)
        Ax = _align_weights(self.rois, ow, *args, W, axis=0)
        rows = xp.zeros((K, oh, N, H), dtype=x.dtype)
        rows[xp.arange(K), :, self.rois[:, 0].astype(int), :] = Ay
        return rows.reshape(K * oh, N * H), Ax

    def forward(self, x):
        rows, Ax = self._weights(x)
        self.save_for_backward(rows, Ax)
        self.x_shape = x.shape
        return _sample(x, rows, Ax, self.output_size[0])

    def backward(self, gy):
        rows, Ax = self.saved
        return _sample_adjoint(gy, rows, Ax, self.x_shape)

    def vjp(self, gy):
        rows, Ax = self.saved
        return Sampled(rows, Ax, self.x_shape, self.output_size[0], transpose=True)(gy)


def _sample(x, rows, Ax, oh):
    """y_k = A_y,k · x[b_k] · A_x,kᵀ per channel: (N, C, H, W) → (K, C, oh, ow)."""
    N, C, H, W = x.shape
    K, ow = Ax.shape[:2]
    y = rows @ x.transpose(0, 2, 1, 3).reshape(N * H, C * W)  # (K·oh, C·W)
    y = y.reshape(K, oh * C, W) @ Ax.transpose(0, 2, 1)  # (K, oh·C, ow)
    return xp_of(x).ascontiguousarray(y.reshape(K, oh, C, ow).transpose(0, 2, 1, 3))


def _sample_adjoint(gy, rows, Ax, x_shape):
    """The transpose of ``_sample``: (K, C, oh, ow) → (N, C, H, W)."""
    K, C, oh, ow = gy.shape
    N, _, H, W = x_shape
    g = gy.transpose(0, 2, 1, 3).reshape(K, oh * C, ow) @ Ax  # (K, oh·C, W)
    gx = rows.T @ g.reshape(K * oh, C * W)  # (N·H, C·W)
    return xp_of(gy).ascontiguousarray(gx.reshape(N, H, C, W).transpose(0, 2, 1, 3))


class Sampled(Function):
    """RoIAlign with its sampling weights fixed, the linear map ``_sample``, or with ``transpose`` its
    adjoint. The vjp of each is the other, so RoIAlign differentiates to every order (its second
    derivative in x is 0: it is linear)."""

    def __init__(self, rows, Ax, x_shape, oh, transpose=False):
        self.rows, self.Ax, self.x_shape, self.oh, self.transpose = rows, Ax, x_shape, oh, transpose

    def forward(self, a):
        return self._apply(a, self.transpose)

    def backward(self, g):
        return self._apply(g, not self.transpose)

    def vjp(self, g):
        return Sampled(self.rows, self.Ax, self.x_shape, self.oh, not self.transpose)(g)

    def _apply(self, a, transpose):
        if transpose:
            return _sample_adjoint(a, self.rows, self.Ax, self.x_shape)
        return _sample(a, self.rows, self.Ax, self.oh)


def roi_align(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    """Mask R-CNN's RoIAlign (torchvision's ``roi_align``): bilinear sampling, no rounding.

    input (N, C, H, W); boxes (K, 5) [batch_index, x1, y1, x2, y2] or a list of (L_i, 4) per
    image; output_size an int or (oh, ow) → (K, C, oh, ow). Bin (p, q) of RoI k is the mean of
    g_h·g_w bilinear samples, g = ``sampling_ratio`` (or ⌈roi_size/out⌉ when ≤ 0), at
    y = y1·s − o + p·bin_h + (i + ½)·bin_h/g_h (x alike), with o = 0.5 if ``aligned`` else 0
    (and, unaligned, RoI sizes of at least 1). Samples beyond one pixel outside the map read 0.
    Differentiable in ``input`` only.

    >>> feats = em.randn(1, 8, 32, 32)
    >>> roi_align(feats, em.tensor([[0.0, 4.5, 3.0, 60.2, 41.0]]), (7, 7), 0.5, 2, aligned=True).shape
    (1, 8, 7, 7)
    """
    size = _check_input(input, output_size, "roi_align")
    rois = as_rois(boxes, unwrap(input), "roi_align")
    return RoIAlign(rois, size, float(spatial_scale), int(sampling_ratio), bool(aligned))(input)
