"""Spatial sampling: ``grid_sample`` and ``affine_grid`` (spatial transformer networks), as PyTorch's.

``grid_sample`` reads the input x (N, C, H, W), or (N, C, D, H, W), at the points of a grid
(N, Ho, Wo, 2), or (N, Do, Ho, Wo, 3), in normalised coordinates: −1 and +1 are the input's
edges, grid[..., 0] runs along W (x), grid[..., 1] along H (y), grid[..., 2] along D (z).
Along an axis of n pixels the normalised g becomes the pixel coordinate

    align_corners=True:   u = (g + 1)·(n − 1)/2      (±1 are the centres of the corner pixels)
    align_corners=False:  u = (g + 1)·n/2 − ½        (±1 are the outer edges of the corner pixels)

``padding_mode`` says what lies outside: 'zeros' reads 0, 'border' clips u to [0, n − 1],
'reflection' mirrors u at the edges (the corner pixels' centres with align_corners, their outer
edges without), then clips. The modes sample a small separable stencil of taps around u:

    bilinear (trilinear in 3-D):  ⌊u⌋, ⌊u⌋ + 1 with weights 1 − t, t            (t = u − ⌊u⌋)
    nearest:                      round(u), halves to even (PyTorch's nearbyint), weight 1
    bicubic (2-D only):           ⌊u⌋ − 1 .. ⌊u⌋ + 2 with Keys' cubic weights (a = −0.75);
                                  the padding maps each tap's index, not u (as PyTorch)

and a tap outside the input reads 0. The output is Σ_taps w·x[tap]; its gradient w.r.t. x
scatters gy·w back onto the taps, and w.r.t. the grid is Σ_c Σ_taps gy·x[tap]·∂w/∂g, where
clipping contributes 0 at and beyond the borders and reflection a sign (nearest: 0).
The coordinates follow the formulas of PyTorch's vectorised CPU kernel, in the input's dtype.

``affine_grid`` maps the output's normalised pixel centres through θ: (N, 2, 3) → grid
(N, H, W, 2) with grid[n, i, j] = θ[n]·(x_j, y_i, 1), or (N, 3, 4) → (N, D, H, W, 3), where x_j
runs evenly over [−1, 1] (align_corners=True) or over the pixel centres, scaled by (W − 1)/W.
"""
from __future__ import annotations

import itertools
import math
import warnings
from typing import NamedTuple

from ember.autograd.function import Function
from ember.autograd.tensor import Tensor
from ember.backend import get_array_module as xp_of
from ember.ops.elementwise import where
from ember.ops.linalg import matmul
from ember.ops.pooling import GatherPlane
from ember.ops.shape import reshape, transpose

MODES = ("bilinear", "nearest", "bicubic")
PADDING_MODES = ("zeros", "border", "reflection")
CUBIC_A = -0.75  # Keys' parameter, PyTorch's choice for bicubic


def _default_align_corners(align_corners):
    if align_corners is None:
        warnings.warn("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. "
                      "Please specify align_corners=True if the old behavior is desired. See the documentation of "
                      "grid_sample for details.", UserWarning, stacklevel=3)
        return False
    return bool(align_corners)


# -- coordinates along one axis ----------------------------------------------------------------


def unnormalize(g, n, align_corners):
    """The pixel coordinate u of normalised g along an axis of n pixels, and du/dg."""
    dt = g.dtype.type
    if align_corners:
        scale = dt(n - 1) / dt(2)
        return (g + dt(1)) * scale, scale
    scale = dt(n) / dt(2)
    return (g + dt(1)) * scale - dt(0.5), scale


def clip(u, n):
    """u clipped to [0, n − 1], and du'/du: 1 strictly inside, 0 at and beyond the borders (as PyTorch)."""
    xp = xp_of(u)
    return xp.clip(u, 0, n - 1), ((u > 0) & (u < n - 1)).astype(u.dtype)


def reflect(u, n, align_corners):
    """u mirrored into [0, n − 1] (align_corners) or [−½, n − ½], and du'/du = ±1."""
    xp, dt = xp_of(u), u.dtype.type
    low, twice_span = (dt(0), dt(2 * (n - 1))) if align_corners else (dt(-0.5), dt(2 * n))
    if twice_span == 0:  # one pixel, aligned corners: everything reflects onto it
        return xp.zeros_like(u), xp.zeros_like(u)
    v = u - low
    a = xp.abs(v)
    extra = a - xp.trunc(a / twice_span) * twice_span  # the distance past an even number of flips
    flipped = twice_span - extra
    odd = extra > flipped
    return xp.where(odd, flipped, extra) + low, xp.where(odd ^ (v < 0), dt(-1), dt(1))


def pad(u, n, padding_mode, align_corners):
    """u after the padding mode, and du'/du."""
    if padding_mode == "zeros":
        return u, 1
    sign = 1
    if padding_mode == "reflection":
        u, sign = reflect(u, n, align_corners)
    u, inside = clip(u, n)
    return u, sign * inside


def cubic_weights(t, a=CUBIC_A, stack=True):
    """Keys' weights of the taps at ⌊u⌋ − 1 .. ⌊u⌋ + 2 for t = u − ⌊u⌋, and their derivatives d/dt
    (stacked into arrays, or, for a tensor t, as two lists of tensors)."""

    def near(s):  # |s| ≤ 1
        return ((a + 2) * s - (a + 3)) * s * s + 1

    def far(s):  # 1 < |s| < 2
        return ((a * s - 5 * a) * s + 8 * a) * s - 4 * a

    def d_near(s):
        return (3 * (a + 2) * s - 2 * (a + 3)) * s

    def d_far(s):
        return (3 * a * s - 10 * a) * s + 8 * a

    w = [far(t + 1), near(t), near(1 - t), far(2 - t)]
    dw = [d_far(t + 1), d_near(t), -d_near(1 - t), -d_far(2 - t)]
    return (xp_of(t).stack(w), xp_of(t).stack(dw)) if stack else (w, dw)


class AxisTaps(NamedTuple):
    """The taps of every grid point along one axis, each (K, *g.shape)."""
    index: object   # int64 pixel index (may lie outside [0, n))
    weight: object  # interpolation weight
    dweight: object  # ∂weight/∂g


def axis_taps(g, n, mode, padding_mode, align_corners):
    """The K taps (bilinear 2, nearest 1, bicubic 4) along an axis of n pixels for normalised coordinates g."""
    xp = xp_of(g)
    if mode == "bicubic":
        u, du = unnormalize(g, n, align_corners)
        u0 = xp.floor(u)
        w, dw = cubic_weights(u - u0)
        index, _ = pad(u0 + xp.arange(-1, 3, dtype=u.dtype).reshape(-1, *(1,) * g.ndim), n, padding_mode,
                       align_corners)
        return AxisTaps(index.astype(xp.int64), w, dw * du)
    u, du = unnormalize(g, n, align_corners)
    u, dpad = pad(u, n, padding_mode, align_corners)
    if mode == "nearest":
        return AxisTaps(xp.rint(u)[None].astype(xp.int64), xp.ones((1, *u.shape), u.dtype),
                        xp.zeros((1, *u.shape), u.dtype))
    u0 = xp.floor(u)
    t = u - u0
    m = du * dpad * xp.ones_like(u)
    return AxisTaps(xp.stack([u0, u0 + 1]).astype(xp.int64), xp.stack([1 - t, t]), xp.stack([-m, m]))


# -- taps of the whole stencil -------------------------------------------------------------------


class Tap(NamedTuple):
    """One tap of the stencil for every grid point, each (N, P): flat index into the spatial dims,
    whether it lies inside the input, its weight, and ∂weight/∂g per grid component (x, y[, z])."""
    flat: object
    inside: object
    weight: object
    dweight: tuple


def stencil(spatial, grid, mode, padding_mode, align_corners):
    """Every tap (Tap) of the separable stencil around each of the P = Ho·Wo(·Do) grid points."""
    D, N = len(spatial), grid.shape[0]
    g = grid.reshape(N, -1, D)
    axes = [axis_taps(g[..., D - 1 - i], n, mode, padding_mode, align_corners) for i, n in enumerate(spatial)]
    strides = [math.prod(spatial[i + 1:]) for i in range(D)]
    for ks in itertools.product(*(range(len(a.index)) for a in axes)):
        idx = [a.index[k] for a, k in zip(axes, ks, strict=True)]
        w = [a.weight[k] for a, k in zip(axes, ks, strict=True)]
        inside = math.prod((i >= 0) & (i < n) for i, n in zip(idx, spatial, strict=True))
        flat = sum(i * s for i, s in zip(idx, strides, strict=True))
        dweight = [a.dweight[k] * math.prod(w[:i] + w[i + 1:]) for i, (a, k) in enumerate(zip(axes, ks, strict=True))]
        yield Tap(flat * inside, inside.astype(bool), math.prod(w), tuple(dweight[::-1]))  # grid order: x first


def gather(xf, tap):
    """x (N, C, S) read at one tap of every grid point → (N, C, P); a tap outside reads 0."""
    xp = xp_of(xf)
    N, C = xf.shape[:2]
    v = xf[xp.arange(N)[:, None, None], xp.arange(C)[None, :, None], tap.flat[:, None, :]]
    return xp.where(tap.inside[:, None], v, xf.dtype.type(0))


def scatter(gx, gy, tap):
    """Add gy (N, C, P), weighted by the tap, onto the flat gradient gx (N·C·S) at the tap's pixels."""
    xp = xp_of(gx)
    N, C, _ = gy.shape
    S = gx.size // (N * C)
    rows = xp.arange(N * C).reshape(N, C, 1) * S
    values = xp.where(tap.inside[:, None], gy * tap.weight[:, None], gy.dtype.type(0))
    gx += xp.bincount((rows + tap.flat[:, None, :]).ravel(), weights=values.ravel(), minlength=gx.size)


# -- grid_sample -----------------------------------------------------------------------------------


class GridSample(Function):
    # NOTE: fused: composing the stencil from gathers, masks and products would record ~10 graph
    # nodes per tap (16 taps for bicubic) and materialise each; one Function gathers per tap and
    # scatters back with one bincount per tap.
    def __init__(self, mode, padding_mode, align_corners):
        self.args = mode, padding_mode, align_corners

    def forward(self, x, grid):
        self.save_for_backward(x, grid)
        xp, (N, C, *spatial) = xp_of(x), x.shape
        xf = x.reshape(N, C, -1)
        y = xp.zeros((N, C, math.prod(grid.shape[1:-1])), dtype=x.dtype)
        for tap in stencil(spatial, grid, *self.args):
            y += gather(xf, tap) * tap.weight[:, None]
        return y.reshape(N, C, *grid.shape[1:-1])

    def backward(self, gy):
        x, grid = self.saved
        xp, (N, C, *spatial) = xp_of(x), x.shape
        xf, gy = x.reshape(N, C, -1), gy.reshape(N, C, -1)
        gx = xp.zeros(x.size, dtype=xp.float64) if self.needs_input_grad[0] else None
        ggrid = xp.zeros((N, gy.shape[2], len(spatial)), dtype=grid.dtype) if self.needs_input_grad[1] else None
        for tap in stencil(spatial, grid, *self.args):
            if gx is not None:
                scatter(gx, gy, tap)
            if ggrid is not None and self.args[0] != "nearest":  # nearest is piecewise constant in the grid
                s = (gy * gather(xf, tap)).sum(axis=1)
                for d, dw in enumerate(tap.dweight):
                    ggrid[..., d] += s * dw
        return (None if gx is None else gx.astype(x.dtype).reshape(x.shape),
                None if ggrid is None else ggrid.reshape(grid.shape))

    def composed(self, x, grid):
        """The same sum over taps in ember ops, for gradients of gradients: each tap gathers x at constant
        positions (``GatherPlane``) and weighs it by a product of per-axis weights that are tensors of the grid."""
        (N, C, *spatial), D = x.shape, len(grid.shape) - 2
        g = grid.reshape(N, -1, D)
        axes = [axis_weights(g[..., D - 1 - i], n, *self.args) for i, n in enumerate(spatial)]
        xf, y = x.reshape(N, C, -1), 0
        for tap, weights in zip(stencil(spatial, grid.array, *self.args), itertools.product(*axes), strict=True):
            flat = x.xp.broadcast_to(tap.flat[:, None], (N, C, tap.flat.shape[1]))
            v = where(tap.inside[:, None], GatherPlane(flat, xf.shape)(xf), 0.0)  # a tap outside reads 0
            y = y + v * math.prod(weights[1:], start=weights[0]).reshape(N, 1, -1)
        return y.reshape(N, C, *grid.shape[1:-1])


def axis_weights(g, n, mode, padding_mode, align_corners):
    """The weights of ``axis_taps`` as tensors of the normalised coordinates g (its indices being constant
    where g moves a little): affine in g for bilinear and nearest, cubic in t = u − ⌊u⌋ for bicubic."""
    taps = axis_taps(g.array, n, mode, padding_mode, align_corners)
    shift = g - Tensor(g.array)  # 0, with derivative 1: a weight's change as g moves
    if mode != "bicubic":
        return [Tensor(w) + shift * Tensor(dw) for w, dw in zip(taps.weight, taps.dweight, strict=True)]
    u, du = unnormalize(g.array, n, align_corners)
    t = Tensor(u - xp_of(u).floor(u)) + shift * float(du)
    return list(cubic_weights(t, stack=False)[0])


def _check_grid_sample(x, grid, mode):
    if x.dtype != grid.dtype:
        raise RuntimeError(f"grid_sampler(): expected input and grid to have same dtype, but input has {x.dtype} "
                           f"and grid has {grid.dtype}")
    if x.dtype.kind != "f":
        raise RuntimeError(f"grid_sampler(): expected a floating-point input and grid, got {x.dtype}")
    if x.ndim not in (4, 5) or grid.ndim != x.ndim:
        raise RuntimeError("grid_sampler(): expected 4D or 5D input and grid with same number of dimensions, but "
                           f"got input with sizes {list(x.shape)} and grid with sizes {list(grid.shape)}")
    if x.shape[0] != grid.shape[0]:
        raise RuntimeError("grid_sampler(): expected grid and input to have same batch size, but got input with "
                           f"sizes {list(x.shape)} and grid with sizes {list(grid.shape)}")
    if grid.shape[-1] != x.ndim - 2:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {x.ndim - 2} in last dimension, but got grid "
                           f"with sizes {list(grid.shape)}")
    for i in range(2, x.ndim):
        if x.shape[i] == 0:
            raise RuntimeError("grid_sampler(): expected input to have non-empty spatial dimensions, but input has "
                               f"sizes {list(x.shape)} with dimension {i} being empty")
    if mode == "bicubic" and x.ndim != 4:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Sample ``input`` (N, C, H, W) at ``grid`` (N, Ho, Wo, 2) in [−1, 1] coordinates → (N, C, Ho, Wo).

    PyTorch's ``F.grid_sample``: out[n, c, i, j] = Σ_taps w·input[n, c, tap] around the point
    grid[n, i, j] = (x, y); see the module docstring for the coordinates, the three modes
    ('bilinear', 'nearest', 'bicubic') and padding modes ('zeros', 'border', 'reflection').
    5-D input (N, C, D, H, W) with grid (N, Do, Ho, Wo, 3) samples trilinearly ('bilinear') or
    'nearest'. ``align_corners`` defaults to False, with PyTorch's warning when omitted.
    Differentiable w.r.t. the input and the grid (nearest: zero gradient w.r.t. the grid).

    >>> x = em.arange(16.0).reshape(1, 1, 4, 4)
    >>> F.grid_sample(x, em.zeros(1, 1, 1, 2), align_corners=True)   # the centre
    tensor([[[[7.5]]]])
    """
    if mode not in MODES:
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', "
                         f"but got: '{mode}'")
    if padding_mode not in PADDING_MODES:
        raise ValueError("nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: '{padding_mode}'")
    align_corners = _default_align_corners(align_corners)
    _check_grid_sample(input, grid, mode)
    return GridSample(mode, padding_mode, align_corners)(input, grid)


# -- affine_grid -----------------------------------------------------------------------------------


def linspace_from_neg_one(n, align_corners, dtype, xp):
    """The n normalised pixel centres along an axis: evenly over [−1, 1], scaled by (n − 1)/n without aligned
    corners (PyTorch's two-sided linspace, so both ends are exact)."""
    if n <= 1:
        return xp.zeros(1, dtype=dtype)
    dt = xp.dtype(dtype).type
    i = xp.arange(n)
    step = dt(2) / dt(n - 1)
    r = xp.where(i < n // 2, dt(-1) + step * i.astype(dtype), dt(1) - step * (n - 1 - i).astype(dtype))
    return r if align_corners else r * dt(n - 1) / dt(n)


def base_grid(spatial, align_corners, dtype, xp):
    """(prod(spatial), D + 1) rows (x, y[, z], 1), row-major over the spatial dims (D, H, W)."""
    axes = [linspace_from_neg_one(n, align_corners, dtype, xp) for n in spatial]
    mesh = xp.meshgrid(*axes, indexing="ij")
    return xp.stack([m.ravel() for m in mesh[::-1]] + [xp.ones(math.prod(spatial), dtype=dtype)], axis=1)


def _check_affine_grid(theta, size, align_corners):
    if theta.dtype.kind != "f":
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    dims = len(size) - 2
    if dims not in (2, 3):
        raise NotImplementedError("affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  f"respectively. Got size {size}.")
    if theta.ndim != 3 or theta.shape[-2:] != (dims, dims + 1):
        raise ValueError(f"Expected a batch of {dims}D affine matrices of shape Nx{dims}x{dims + 1} for size "
                         f"{size}. Got {tuple(theta.shape)}.")
    if align_corners and min(size[2:]) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size grids when "
                      "align_corners=True. This is not an issue for standard usage. If you need the old behavior, "
                      "see the documentation for grid_sample.", UserWarning, stacklevel=3)
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    if theta.shape[0] != size[0]:
        raise RuntimeError(f"affine_grid: theta holds {theta.shape[0]} matrices but size asks for a batch of "
                           f"{size[0]}")


def affine_grid(theta, size, align_corners=None):
    """The sampling grid of the affine maps θ for an output of ``size``, in [−1, 1] coordinates.

    PyTorch's ``F.affine_grid``: θ (N, 2, 3) and size (N, C, H, W) give (N, H, W, 2) with
    grid[n, i, j] = θ[n]·(x_j, y_i, 1); θ (N, 3, 4) and size (N, C, D, H, W) give (N, D, H, W, 3).
    A matrix product with a constant base grid, so differentiable w.r.t. θ.

    >>> x = em.arange(4.0).reshape(1, 1, 2, 2)
    >>> theta = em.tensor([[[0.0, -1.0, 0.0], [1.0, 0.0, 0.0]]])      # a quarter turn
    >>> F.grid_sample(x, F.affine_grid(theta, x.shape, align_corners=False), align_corners=False)
    tensor([[[[1., 3.],
              [0., 2.]]]])
    """
    align_corners = _default_align_corners(align_corners)
    size = tuple(int(s) for s in size)
    _check_affine_grid(theta, size, align_corners)
    base = Tensor(base_grid(size[2:], align_corners, theta.dtype, theta.xp))
    grid = matmul(base, transpose(theta, 1, 2))  # (N, S, D): every row (x, y[, z], 1) mapped by θ
    return reshape(grid, (size[0], *size[2:], len(size) - 2))
