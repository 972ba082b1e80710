"""Resampling: ``interpolate`` (nearest, nearest-exact, linear, bilinear, bicubic, trilinear, area) and pixel shuffle.

Every mode but 'area' is separable: each spatial axis is resampled on its own, output position
i reading the input at the source coordinate (PyTorch's, computed in the input's precision)

    align_corners=False:  src(i) = (i + ½)·scale − ½,   scale = 1/scale_factor, or n_in/n_out
    align_corners=True:   src(i) = i·(n_in − 1)/(n_out − 1)

nearest takes ⌊i·scale⌋ and nearest-exact ⌊(i + ½)·scale⌋ (both clipped to n_in − 1): one gather
per axis. linear blends the two neighbours, (1 − λ)·x[⌊src⌋] + λ·x[⌊src⌋ + 1] with λ = src − ⌊src⌋
(src clamped at 0); bicubic the four x[⌊src⌋ − 1 .. ⌊src⌋ + 2] (indices clamped to the edges)
with Keys' cubic weights, a = −0.75. Those weights form an (n_out, n_in) matrix A per axis, so
resampling an axis is one matrix product y = A x along it, and autograd gives the gradient Aᵀ gy.
(One difference from PyTorch's 2- and 4-tap sums: an infinite or NaN input spreads NaN over its
whole row, since 0·∞ = NaN.) 'area' is adaptive average pooling.

Pixel shuffle (Shi et al., 2016) is a reshape and a permutation: (*, C·r², H, W) → (*, C, H·r, W·r).
"""
from __future__ import annotations

import math

import numpy as np

from ember.autograd.tensor import Tensor
from ember.ops.linalg import matmul
from ember.ops.pooling import adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d
from ember.ops.shape import index_select, permute, reshape, transpose

_MODE_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}  # spatial dims each mode needs
MODES = ("nearest", "nearest-exact", "area", *_MODE_DIMS)

# -- source coordinates ------------------------------------------------------------------------


def _scale(n_in, n_out, align_corners, scale_factor, dtype):
    """The step between source coordinates of consecutive outputs (PyTorch's area_pixel_compute_scale)."""
    if align_corners:
        return dtype(n_in - 1) / dtype(n_out - 1) if n_out > 1 else dtype(0)
    if scale_factor is not None and scale_factor > 0:
        return dtype(1.0 / scale_factor)
    return dtype(n_in) / dtype(n_out)


def _source(n_out, scale, align_corners, dtype):
    """src(i) for i < n_out, in ``dtype`` (PyTorch's area_pixel_compute_source_index, before any clamp)."""
    i = np.arange(n_out, dtype=dtype)
    return scale * i if align_corners else scale * (i + dtype(0.5)) - dtype(0.5)


def nearest_indices(n_in, n_out, scale_factor, exact, dtype):
    """Input index read by each output: ⌊i·scale⌋ (nearest) or ⌊(i + ½)·scale⌋ (nearest-exact), ≤ n_in − 1."""
    scale = _scale(n_in, n_out, False, scale_factor, dtype)
    if exact:
        src = np.floor(np.maximum(_source(n_out, scale, False, dtype), 0) + dtype(0.5))
    else:
        src = np.floor(scale * np.arange(n_out, dtype=dtype))
    return np.minimum(src.astype(np.int64), n_in - 1)


def linear_matrix(n_in, n_out, align_corners, scale_factor, dtype):
    """A (n_out, n_in): row i holds 1 − λ at ⌊src⌋ and λ at the next index (the same one at the last)."""
    A = np.zeros((n_out, n_in), dtype=np.float64)
    rows = np.arange(n_out)
    if n_out == n_in:  # PyTorch copies when the size does not change, whatever the scale factor
        A[rows, rows] = 1.0
        return A
    scale = _scale(n_in, n_out, align_corners, scale_factor, dtype)
    src = np.maximum(_source(n_out, scale, align_corners, dtype), 0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    lam = np.clip(src - i0, 0, 1).astype(np.float64)
    i1 = i0 + (i0 < n_in - 1)
    np.add.at(A, (rows, i0), 1.0 - lam)
    np.add.at(A, (rows, i1), lam)
    return A


def _cubic_weights(t, a=-0.75):
    """Keys' cubic convolution weights of the taps at offsets −1, 0, 1, 2 from ⌊src⌋, for t = src − ⌊src⌋."""
    def near(x):  # |x| ≤ 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=1)


def cubic_matrix(n_in, n_out, align_corners, scale_factor, dtype):
    """A (n_out, n_in) of bicubic weights; taps past an edge read the edge (their weights add up there)."""
    scale = _scale(n_in, n_out, align_corners, scale_factor, dtype)
    src = _source(n_out, scale, align_corners, dtype)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    t = np.clip(src - i0, 0, 1).astype(np.float64)
    taps = np.clip(i0[:, None] + np.arange(-1, 3), 0, n_in - 1)
    A = np.zeros((n_out, n_in), dtype=np.float64)
    np.add.at(A, (np.repeat(np.arange(n_out), 4), taps.ravel()), _cubic_weights(t).ravel())
    return A


# -- interpolate ---------------------------------------------------------------------------------


def _along(x, axis, A):
    """y = A x along ``axis`` of x, for A (n_out, n_in): one matrix product."""
    A = Tensor(x.xp.asarray(A.astype(x.dtype)))
    if axis == x.ndim - 1:
        return matmul(x, transpose(A, 0, 1))
    if axis == x.ndim - 2:
        return matmul(A, x)
    return transpose(matmul(A, transpose(x, axis, -2)), axis, -2)


def _output_sizes(x, size, scale_factor, recompute_scale_factor):
    """(output sizes, the scale factors the kernels use, or None each) from ``size`` or ``scale_factor``."""
    dims = x.ndim - 2
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: " + ("only one of size or scale_factor should be defined" if size is not None
                                            else "either size or scale_factor should be defined"))
    given = size if size is not None else scale_factor
    values = tuple(given) if isinstance(given, (tuple, list)) else (given,) * dims
    if len(values) != dims:
        what = "output size" if size is not None else "scale_factor"
        raise ValueError(f"interpolate: input and {what} must have the same number of spatial dimensions, but got "
                         f"input with spatial dimensions of {list(x.shape[2:])} and {what} of {given}; give the "
                         "input as (N, C, d1, ..., dK) and one value per spatial dimension")
    if size is not None:
        return tuple(int(s) for s in values), (None,) * dims
    sizes = tuple(math.floor(float(n) * float(s)) for n, s in zip(x.shape[2:], values, strict=True))
    if recompute_scale_factor:
        return sizes, (None,) * dims
    return sizes, tuple(float(s) for s in values)


def _check_mode(x, mode, align_corners, antialias):
    if mode not in MODES:
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported; use one of {MODES}")
    if align_corners is not None and mode not in _MODE_DIMS:
        raise ValueError("interpolate: align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if x.ndim not in (3, 4, 5):
        raise NotImplementedError(f"interpolate: expected a 3D, 4D or 5D input (N, C, d1, ...), got {x.ndim}D input "
                                  f"of shape {tuple(x.shape)}")
    if mode in _MODE_DIMS and x.ndim - 2 != _MODE_DIMS[mode]:
        raise NotImplementedError(f"interpolate: got {x.ndim}D input, but {mode} mode needs "
                                  f"{_MODE_DIMS[mode] + 2}D input")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    if x.dtype.kind != "f":
        raise TypeError(f"interpolate: expected a floating-point input, got {x.dtype}")


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None,
                antialias=False):
    """Resize (N, C, *spatial) to ``size``, or by ``scale_factor`` (PyTorch's ``F.interpolate``).

    Modes: 'nearest', 'nearest-exact' (any of 1–3 spatial dims), 'linear' (3-D input),
    'bilinear' and 'bicubic' (4-D), 'trilinear' (5-D), 'area' (adaptive average pooling).
    ``align_corners`` (interpolating modes only, default False) maps the corner pixels' centres
    onto each other. With ``scale_factor`` the output size is ⌊n·s⌋ and the coordinates use 1/s
    unless ``recompute_scale_factor``. Differentiable with respect to the input.

    >>> F.interpolate(em.randn(1, 3, 8, 8), scale_factor=2, mode="bilinear").shape
    (1, 3, 16, 16)
    """
    _check_mode(input, mode, align_corners, antialias)
    sizes, scales = _output_sizes(input, size, scale_factor, recompute_scale_factor)
    if min(sizes) < 1:
        raise ValueError(f"interpolate: the output size {sizes} of input {tuple(input.shape)} must be positive")
    if mode == "area":
        return (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[input.ndim - 3](input, sizes)
    dtype = np.float64 if input.dtype == np.float64 else np.float32  # PyTorch's precision for the coordinates
    y = input
    for k, (n_in, n_out, s) in enumerate(zip(input.shape[2:], sizes, scales, strict=True)):
        axis = 2 + k
        if mode in ("nearest", "nearest-exact"):
            index = nearest_indices(n_in, n_out, s, mode == "nearest-exact", dtype)
            y = index_select(y, axis, y.xp.asarray(index))
        else:
            build = cubic_matrix if mode == "bicubic" else linear_matrix
            y = _along(y, axis, build(n_in, n_out, bool(align_corners), s, dtype))
    return y


# -- pixel shuffle -------------------------------------------------------------------------------


def _check_factor(op, x, factor, name):
    if not isinstance(factor, int) or isinstance(factor, bool) or factor < 1:
        raise ValueError(f"{op}: {name} must be a positive integer, got {factor!r}")
    if x.ndim < 3:
        raise RuntimeError(f"{op} expects input to have at least 3 dimensions, but got input with {x.ndim} "
                           "dimension(s)")


def pixel_shuffle(input, upscale_factor):
    """Rearrange (*, C·r², H, W) into (*, C, H·r, W·r): y[c, h·r + i, w·r + j] = x[c·r² + i·r + j, h, w].

    The sub-pixel convolution's upsampling (Shi et al., 2016): a reshape and a permutation.

    >>> F.pixel_shuffle(em.randn(1, 8, 3, 3), 2).shape
    (1, 2, 6, 6)
    """
    _check_factor("pixel_shuffle", input, upscale_factor, "upscale_factor")
    r, (*lead, C, H, W) = upscale_factor, input.shape
    if C % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of "
                           f"upscale_factor, but input.size(-3)={C} is not divisible by {r * r}")
    k = len(lead)
    x = reshape(input, (*lead, C // (r * r), r, r, H, W))
    x = permute(x, (*range(k), k, k + 3, k + 1, k + 4, k + 2))  # (*, C, H, r, W, r)
    return reshape(x, (*lead, C // (r * r), H * r, W * r))


def pixel_unshuffle(input, downscale_factor):
    """The inverse of ``pixel_shuffle``: (*, C, H·r, W·r) → (*, C·r², H, W).

    >>> F.pixel_unshuffle(em.randn(1, 2, 6, 6), 2).shape
    (1, 8, 3, 3)
    """
    _check_factor("pixel_unshuffle", input, downscale_factor, "downscale_factor")
    r, (*lead, C, H, W) = downscale_factor, input.shape
    if H % r or W % r:
        raise RuntimeError(f"pixel_unshuffle expects height and width to be divisible by downscale_factor, but "
                           f"input.size(-2)={H} and input.size(-1)={W} are not divisible by {r}")
    k = len(lead)
    x = reshape(input, (*lead, C, H // r, r, W // r, r))
    x = permute(x, (*range(k), k, k + 2, k + 4, k + 1, k + 3))  # (*, C, r, r, H/r, W/r)
    return reshape(x, (*lead, C * r * r, H // r, W // r))


def channel_shuffle(input, groups):
    """ShuffleNet's channel shuffle: the C = g·n channels of (N, C, *) seen as (g, n) and read as (n, g), so
    that the next grouped convolution mixes channels from every group.

    >>> F.channel_shuffle(em.arange(4.0).reshape(1, 4, 1, 1), 2).flatten()
    tensor([0., 2., 1., 3.])
    """
    if not isinstance(groups, int) or groups <= 0:
        raise ValueError(f"channel_shuffle: groups must be a positive integer, got {groups!r}")
    N, C, *rest = input.shape
    if C % groups:
        raise ValueError(f"channel_shuffle: number of channels {C} must be divisible by groups {groups}")
    x = reshape(input, (N, groups, C // groups, *rest))
    return reshape(permute(x, (0, 2, 1, *range(3, x.ndim))), (N, C, *rest))
