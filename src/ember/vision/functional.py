"""The image operations behind the augmentation transforms, as plain functions on whole batches.

torchvision's ``transforms.functional``, batched: every function takes an (N, C, H, W) NumPy/CuPy
array and per-image parameters (arrays whose first axis is N), and transforms all images at once
with no Python loop over images or pixels. Nothing here draws random numbers: the classes of
``ember.vision.transforms`` draw the parameters, these functions apply them.

Geometry. Pixel (row i, column j) has its centre at (x, y) = (j, i); y points down. Warps map each
output pixel back to where it comes from (inverse mapping) and read the input there by bilinear
(or nearest) interpolation, ``grid_sample``; points outside the image read ``fill``. Angles are in
degrees, positive = counter-clockwise on screen (torchvision's ``rotate`` convention), about the
image centre ((W − 1)/2, (H − 1)/2).

>>> from ember.vision import functional as VF
>>> VF.rotate(images, np.full(len(images), 30.0), interpolation="bilinear").shape == images.shape
True
"""
from __future__ import annotations

import numpy as np

from ember import backend
from ember.autograd.tensor import Tensor
from ember.backend import get_array_module as xp_of
from ember.creation import as_tensor

__all__ = ["affine", "affine_grid", "crop", "elastic_transform", "erase", "flip", "gaussian_blur", "grid_sample",
           "inverse_affine_matrix", "normalize", "pad", "pca_color_basis", "rotate", "shift_channels", "to_float"]

PADDING_MODES = ("constant", "edge", "reflect", "symmetric")
INTERPOLATIONS = ("bilinear", "nearest")


# -- batches and per-channel values --------------------------------------------------------------
def _as_batch(image, name: str, allow_2d: bool = False, tensor: bool = False):
    """(batch (N, C, H, W), restore): the image(s) as a 4-D batch, and restore(y) giving y back in their rank and kind.

    A (C, H, W) image, or an (H, W) one where ``allow_2d``, gets leading axes of size 1, which
    restore takes off again (so y may change H, W or C). tensor=False: the batch is the backend
    array (a Tensor is read detached) and restore wraps y back in a Tensor where one came in.
    tensor=True: the batch is a float Tensor (integers read as float32, the graph kept) and restore
    gives y as a Tensor, or as its array where an array came in.
    """
    is_tensor = isinstance(image, Tensor)
    if tensor:
        x = as_tensor(image)
    else:
        x = image.array if is_tensor else image
        x = x if hasattr(x, "ndim") else np.asarray(x)
    if x.ndim not in ((2, 3, 4) if allow_2d else (3, 4)):
        wanted = "an image (H, W), (C, H, W) or (N, C, H, W)" if allow_2d else \
            "an (N, C, H, W) batch or a (C, H, W) image"
        raise ValueError(f"{name}: expected {wanted}, got shape {tuple(x.shape)}")
    if tensor and x.dtype.kind != "f":
        x = x.float()
    added = 4 - x.ndim

    def restore(y):
        y = y.reshape(tuple(y.shape[added:]))
        if tensor:
            return y if is_tensor else y.array
        return Tensor(y) if is_tensor else y

    return x.reshape((1,) * added + tuple(x.shape)), restore


def _choice(value, options, name: str, arg: str):
    if value not in options:
        raise ValueError(f"{name}: {arg} must be one of {options}, got {value!r}")
    return value


def _per_channel(value, C: int, dtype, xp, name: str, arg: str):
    """A number or a length-C sequence as a (1, C, 1, 1) array."""
    v = np.asarray(value, dtype=np.float64).reshape(-1)
    if v.size not in (1, C):
        raise ValueError(f"{name}: {arg} has {v.size} values but the batch has {C} channels")
    return xp.asarray(np.broadcast_to(v, (C,)).astype(dtype).reshape(1, C, 1, 1))


# -- flips, padding, crops -----------------------------------------------------------------------
def flip(x, axis: int = -1, where=None):
    """Mirror images along ``axis``: −1 left ↔ right, y[n, c, i, j] = x[n, c, i, W − 1 − j]; −2 top ↔ bottom.

    ``where`` (N,) booleans flips only the images marked True (all of them when None).

    >>> flip(x, -1, where=np.array([True, False]))       # the first image mirrored, the second kept
    """
    xp = xp_of(x)
    flipped = xp.flip(x, axis=axis)
    if where is None:
        return flipped
    return xp.where(xp.asarray(where).reshape(-1, 1, 1, 1), flipped, x)


def pad(x, padding, fill=0, padding_mode: str = "constant"):
    """Pad the last two axes by padding = (left, top, right, bottom) pixels: (N, C, H, W) → (N, C, Hp, Wp).

    Hp = H + top + bottom, Wp = W + left + right.

    padding_mode (``numpy.pad``'s): 'constant' writes ``fill`` (a number or one per channel), 'edge'
    repeats the border pixel, 'reflect' mirrors about it (… c b | a b c), 'symmetric' mirrors
    including it (… b a | a b c).

    >>> pad(np.zeros((1, 3, 28, 28)), (2, 2, 2, 2), fill=(0.5, 0.4, 0.3)).shape
    (1, 3, 32, 32)
    """
    _choice(padding_mode, PADDING_MODES, "pad", "padding_mode")
    xp = xp_of(x)
    N, C, H, W = x.shape
    left, top, right, bottom = padding
    if padding_mode != "constant":
        return xp.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), mode=padding_mode)
    out = xp.empty((N, C, H + top + bottom, W + left + right), x.dtype)
    out[...] = _per_channel(fill, C, x.dtype, xp, "pad", "fill")
    out[:, :, top:top + H, left:left + W] = x
    return out


def crop(x, top, left, size):
    """Cut a size = (h, w) window out of each image: y[n, c, i, j] = x[n, c, top[n] + i, left[n] + j].

    top, left (N,) integers placing each window inside its image. All windows are gathered with one
    fancy index.

    >>> crop(x, np.array([0, 4]), np.array([4, 0]), (24, 24)).shape       # x: (2, C, 28, 28)
    (2, C, 24, 24)
    """
    xp = xp_of(x)
    h, w = size
    rows = xp.asarray(top)[:, None, None] + xp.arange(h)[:, None]  # (N, h, 1)
    cols = xp.asarray(left)[:, None, None] + xp.arange(w)         # (N, 1, w)
    windows = x[xp.arange(len(x))[:, None, None], :, rows, cols]   # (N, h, w, C)
    return xp.ascontiguousarray(windows.transpose(0, 3, 1, 2))


# -- warping: inverse affine maps, sampling grids, bilinear sampling -----------------------------
def inverse_affine_matrix(angle, translate, scale, shear, center) -> np.ndarray:
    """(N, 2, 3) matrices taking output pixel coordinates (x, y, 1) to the source pixel they come from.

    The forward warp, about the centre c = (cx, cy), is
        p_out − c = s · R(θ) · Sh · (p_in − c) + t,
    R(θ) = [[cos θ, sin θ], [−sin θ, cos θ]] (counter-clockwise on screen, y down),
    Sh = [[1, 0], [ky, 1]] · [[1, kx], [0, 1]] with kx = tan(shear_x), ky = tan(shear_y) (a positive
    x-shear moves lower rows to the right). Its inverse M = Sh⁻¹ · R(θ)ᵀ / s gives
        p_in = M · p_out + (c − M · (c + t)).
    angle (N,) degrees; translate (N, 2) pixels (right, down); scale (N,); shear (N, 2) degrees;
    center (cx, cy). Identity parameters give exactly [[1, 0, 0], [0, 1, 0]].

    >>> inverse_affine_matrix([90.0], [[0, 0]], [1.0], [[0, 0]], (1.5, 1.5)).round(6)[0]
    array([[ 0., -1.,  3.],
           [ 1.,  0.,  0.]])
    """
    theta = np.deg2rad(np.asarray(angle, np.float64))
    kx, ky = np.tan(np.deg2rad(np.asarray(shear, np.float64))).T
    cos, sin = np.cos(theta), np.sin(theta)
    rotation_t = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)
    shear_inv = np.stack([np.stack([1 + kx * ky, -kx], -1), np.stack([-ky, np.ones_like(ky)], -1)], -2)
    M = shear_inv @ rotation_t / np.asarray(scale, np.float64)[:, None, None]
    c = np.asarray(center, np.float64)
    offset = c - (M @ (c + np.asarray(translate, np.float64))[..., None])[..., 0]
    return np.concatenate([M, offset[..., None]], axis=2)


def affine_grid(matrix, size):
    """Sampling grid (N, 2, H, W) of source pixel coordinates: grid[n, :, i, j] = matrix[n] · (j, i, 1).

    Channel 0 holds x (column), channel 1 y (row), in pixels (unlike PyTorch's ``affine_grid``,
    which works in [−1, 1]). ``matrix`` (N, 2, 3) as from ``inverse_affine_matrix``; size (H, W).

    >>> affine_grid(np.array([[[1.0, 0, 0], [0, 1, 0]]]), (2, 3))[0, 0]     # identity: x = column
    array([[0., 1., 2.],
           [0., 1., 2.]])
    """
    xp = xp_of(matrix)
    H, W = size
    m = xp.asarray(matrix, dtype=xp.float64)[:, :, :, None, None]
    xs = xp.arange(W, dtype=xp.float64)[None, :]
    ys = xp.arange(H, dtype=xp.float64)[:, None]
    return m[:, :, 0] * xs + m[:, :, 1] * ys + m[:, :, 2]


def grid_sample(x, grid, mode: str = "bilinear", fill=0):
    """Read the batch x (N, C, H, W) at the pixel coordinates ``grid`` (N, 2, Ho, Wo) → (N, C, Ho, Wo).

    Bilinear: with (x, y) = grid[n, :, i, j], x₀ = ⌊x⌋, y₀ = ⌊y⌋, a = x − x₀, b = y − y₀,
        out = (1−a)(1−b)·v(y₀, x₀) + a(1−b)·v(y₀, x₀+1) + (1−a)b·v(y₀+1, x₀) + ab·v(y₀+1, x₀+1),
    where v reads x, or ``fill`` (a number or one per channel) outside the image. Nearest: the pixel
    at (round(y), round(x)). All images and corners are gathered in one fancy-index pass.
    Equals PyTorch's ``grid_sample(align_corners=True, padding_mode='zeros')`` for fill = 0.

    >>> grid_sample(x, affine_grid(inverse_affine_matrix(...), x.shape[-2:]))
    """
    _choice(mode, INTERPOLATIONS, "grid_sample", "mode")
    xp = xp_of(x)
    N, C, H, W = x.shape
    gx, gy = grid[:, 0].reshape(N, 1, -1), grid[:, 1].reshape(N, 1, -1)
    if mode == "nearest":
        cx, cy = xp.floor(gx + 0.5), xp.floor(gy + 0.5)
    else:
        x0, y0 = xp.floor(gx), xp.floor(gy)
        a, b = gx - x0, gy - y0
        cx, cy = xp.concatenate([x0, x0 + 1, x0, x0 + 1], 1), xp.concatenate([y0, y0, y0 + 1, y0 + 1], 1)
        weights = xp.concatenate([(1 - a) * (1 - b), a * (1 - b), (1 - a) * b, a * b], 1).astype(x.dtype)
    inside = (cx >= 0) & (cx <= W - 1) & (cy >= 0) & (cy <= H - 1)  # (N, K, P), K corners per point
    flat = (xp.clip(cy, 0, H - 1) * W + xp.clip(cx, 0, W - 1)).astype(xp.int64)
    K, P = flat.shape[1:]
    n, c = xp.arange(N)[:, None, None], xp.arange(C)[None, :, None]
    values = x.reshape(N, C, H * W)[n, c, flat.reshape(N, 1, K * P)].reshape(N, C, K, P)
    values = xp.where(inside[:, None], values, _per_channel(fill, C, x.dtype, xp, "grid_sample", "fill"))
    out = values[:, :, 0] if mode == "nearest" else (values * weights[:, None]).sum(axis=2)
    return out.reshape(N, C, *grid.shape[-2:])


def affine(x, angle, translate, scale, shear, interpolation: str = "nearest", fill=0, center=None):
    """Warp each image by its own rotation, translation, scale and shear: p_out − c = s·R(θ)·Sh·(p_in − c) + t.

    Parameters per image as ``inverse_affine_matrix`` (angle (N,) degrees counter-clockwise,
    translate (N, 2) pixels, scale (N,), shear (N, 2) degrees); c = ``center``, by default the image
    centre. Sampled by ``grid_sample`` with ``interpolation`` and ``fill``; the output keeps (H, W).

    >>> affine(x, [0.0], [[3, 0]], [1.0], [[0, 0]])          # one image moved 3 pixels right
    """
    c = ((x.shape[-1] - 1) / 2, (x.shape[-2] - 1) / 2) if center is None else tuple(center)
    matrix = inverse_affine_matrix(angle, translate, scale, shear, c)
    return grid_sample(x, affine_grid(xp_of(x).asarray(matrix), x.shape[-2:]), interpolation, fill)


def rotate(x, angle, interpolation: str = "nearest", fill=0, center=None):
    """Rotate image n by angle[n] degrees counter-clockwise about ``center`` (the image centre by default).

    Output pixel p reads the input at c + R(θ)ᵀ (p − c): ``affine`` with no translation, shear or
    scaling. Corners that come from outside read ``fill``; the output keeps (H, W).

    >>> rotate(x, np.full(len(x), 90.0))
    """
    N = len(x)
    return affine(x, angle, np.zeros((N, 2)), np.ones(N), np.zeros((N, 2)), interpolation, fill, center)


def elastic_transform(x, displacement, interpolation: str = "bilinear", fill=0):
    """Move pixels by a displacement field: output pixel p reads the input at p + Δ(p).

    displacement Δ (N, 2, H, W) in pixels, channel 0 along x (columns), 1 along y (rows); read by
    ``grid_sample``. ``ElasticTransform`` draws Δ as smoothed noise (Simard et al. 2003).

    >>> elastic_transform(x, 34.0 * gaussian_blur(noise, 4.0))         # noise: (N, 2, H, W) in U(−1, 1)
    """
    xp = xp_of(x)
    H, W = x.shape[-2:]
    base = xp.stack(xp.meshgrid(xp.arange(W, dtype=xp.float64), xp.arange(H, dtype=xp.float64)))
    return grid_sample(x, base + displacement, interpolation, fill)


def gaussian_blur(x, sigma: float, truncate: float = 4.0):
    """Gaussian smoothing of the last two axes, y = G_H · x · G_Wᵀ (a separable convolution as two matmuls).

    G[i, k] sums the weights g(d) ∝ exp(−d²/2σ²), |d| ≤ ⌊truncate·σ + ½⌋, of the taps that land on
    pixel k, the border mirrored (… c b a | a b c …): the same as
    ``scipy.ndimage.gaussian_filter(x, sigma, mode='reflect', truncate=4.0)`` over those axes.

    >>> gaussian_blur(np.ones((1, 2, 8, 8)), 2.0).round(12).max()
    1.0
    """
    xp = xp_of(x)
    G_H = xp.asarray(_gaussian_matrix(x.shape[-2], sigma, truncate))
    G_W = xp.asarray(_gaussian_matrix(x.shape[-1], sigma, truncate))
    return G_H @ x @ G_W.T


def _gaussian_matrix(n: int, sigma: float, truncate: float) -> np.ndarray:
    radius = int(truncate * sigma + 0.5)
    d = np.arange(-radius, radius + 1)
    g = np.exp(-0.5 * (d / sigma) ** 2)
    source = np.mod(np.arange(n)[:, None] + d, 2 * n)
    source = np.where(source >= n, 2 * n - 1 - source, source)  # mirror, repeating for wide kernels
    G = np.zeros((n, n))
    np.add.at(G, (np.arange(n)[:, None], source), g / g.sum())
    return G


# -- colour --------------------------------------------------------------------------------------
def shift_channels(x, shift):
    """Add one offset per image and channel: y[n, c] = x[n, c] + shift[n, c], shift (N, C) cast to x's dtype.

    >>> shift_channels(np.zeros((2, 3, 4, 4)), [[0.1, 0, 0], [0, 0, -0.1]])[:, :, 0, 0]
    array([[ 0.1,  0. ,  0. ],
           [ 0. ,  0. , -0.1]])
    """
    return x + xp_of(x).asarray(shift).astype(x.dtype)[:, :, None, None]


def pca_color_basis(images):
    """Eigen-decomposition of the C × C covariance of the pixel colours of ``images`` (N, C, H, W).

    Σ = cov over all N·H·W pixels of their C values; returns (eigvals (C,), eigvecs (C, C)),
    largest first, eigvecs[:, k] the k-th principal colour direction, eigenvalues clipped at 0.

    >>> eigvals, eigvecs = pca_color_basis(train_images)        # e.g. once over the training set
    """
    x, _ = _as_batch(images, "pca_color_basis")
    pixels = x.transpose(1, 0, 2, 3).reshape(x.shape[1], -1).astype(np.float64)
    cov = backend.to_numpy(xp_of(pixels).cov(pixels)).reshape(x.shape[1], x.shape[1])
    eigvals, eigvecs = np.linalg.eigh(cov)
    return np.clip(eigvals[::-1], 0, None), eigvecs[:, ::-1]


# -- erasing, conversion, normalisation ----------------------------------------------------------
def erase(x, top, left, h, w, value=0):
    """Overwrite an h[n] × w[n] rectangle of image n, its top-left corner at (top[n], left[n]), with ``value``.

    top, left, h, w (N,) integers (h[n] = 0 leaves image n alone); value a number, one per channel,
    or an array that broadcasts to x (noise, say). The rectangles are built as broadcast masks.

    >>> erase(x, [2], [3], [4], [5], value=0.5)          # rows 2..5, columns 3..7 of one image
    """
    xp = xp_of(x)
    H, W = x.shape[-2:]
    top, left, h, w = (xp.asarray(v) for v in (top, left, h, w))
    rows, cols = xp.arange(H), xp.arange(W)
    in_rows = (rows >= top[:, None]) & (rows < (top + h)[:, None])
    in_cols = (cols >= left[:, None]) & (cols < (left + w)[:, None])
    mask = in_rows[:, None, :, None] & in_cols[:, None, None, :]
    if (value.ndim if hasattr(value, "ndim") else np.ndim(value)) <= 1:
        value = _per_channel(value, x.shape[1], x.dtype, xp, "erase", "value")
    return xp.where(mask, xp.asarray(value, dtype=x.dtype), x)


def to_float(x, dtype=np.float32, channels_last: bool = False):
    """Images as floats: integers scaled to [0, 1] by their type's maximum (uint8: x / 255), floats only cast.

    channels_last=True first moves (..., H, W, C) images, as image files load, to (..., C, H, W).

    >>> to_float(np.full((1, 1, 2, 2), 255, np.uint8)).max()
    1.0
    """
    xp, dtype = xp_of(x), np.dtype(dtype)
    if channels_last:
        x = xp.moveaxis(x, -1, -3)
    if x.dtype.kind in "iub":
        top = 1 if x.dtype.kind == "b" else np.iinfo(x.dtype).max
        return xp.ascontiguousarray(x.astype(dtype) / dtype.type(top))
    return xp.ascontiguousarray(x.astype(dtype))


def normalize(x, mean, std):
    """Standardise each channel: y[n, c] = (x[n, c] − mean[c]) / std[c], mean and std a number or one per channel.

    >>> normalize(np.ones((1, 3, 2, 2)), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)).max()
    2.0
    """
    xp, C = xp_of(x), x.shape[1]
    mean = _per_channel(mean, C, x.dtype, xp, "normalize", "mean")
    return (x - mean) / _per_channel(std, C, x.dtype, xp, "normalize", "std")
