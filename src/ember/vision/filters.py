"""The classic 3×3 edge filters as fixed convolution kernels, and helpers to apply them.

Every kernel is applied as the conv layers apply theirs: by cross-correlation (no flip),
y[i, j] = Σ_{u,v} K[u, v]·x[i + u − 1, j + v − 1]. The sign convention is the course's:

- x kernels (``vertical_edge``, ``sobel_x``, ``scharr_x``) compute *left − right*: a
  bright-to-dark step seen left to right gives a positive response, dark-to-bright a negative
  one, a flat region zero. This is −∂I/∂x, the opposite sign to OpenCV's and
  ``scipy.ndimage.sobel``'s derivative convention; magnitudes agree.
- y kernels (``horizontal_edge``, ``sobel_y``, ``scharr_y``) are the transposes and compute
  *top − bottom*: positive for bright above dark.

>>> from ember.vision import filters
>>> edges = filters.apply(image, "vertical_edge")        # image (H, W), (C, H, W) or (N, C, H, W)
>>> strength = filters.edge_magnitude(image, "sobel")    # √(gx² + gy²)
>>> conv = filters.as_conv2d(["sobel_x", "sobel_y"])      # a frozen nn.Conv2d(1, 2, 3, padding='same')
"""
from __future__ import annotations

import numpy as np

from ember import nn
from ember.autograd.tensor import Tensor
from ember.creation import as_tensor
from ember.nn import functional as F
from ember.ops.conv import resolve_padding
from ember.vision.functional import _as_batch

__all__ = ["KERNELS", "OPERATORS", "apply", "as_conv2d", "conv_weight", "edge_magnitude", "get_kernel",
           "horizontal_edge", "rgb_to_grayscale", "scharr_x", "scharr_y", "sobel_x", "sobel_y", "vertical_edge"]

# -- the kernels -------------------------------------------------------------------------------


def vertical_edge(dtype=np.float32) -> np.ndarray:
    """The course's vertical edge detector (Prewitt's x kernel): left column − right column.

        [[1, 0, -1],
         [1, 0, -1],
         [1, 0, -1]]

    >>> vertical_edge()[0]
    array([ 1.,  0., -1.], dtype=float32)
    """
    return np.array([[1, 0, -1]] * 3, dtype=dtype)


def horizontal_edge(dtype=np.float32) -> np.ndarray:
    """The transpose of ``vertical_edge``: top row − bottom row.

        [[ 1,  1,  1],
         [ 0,  0,  0],
         [-1, -1, -1]]
    """
    return vertical_edge(dtype).T.copy()


def sobel_x(dtype=np.float32) -> np.ndarray:
    """Sobel's x kernel: a vertical edge detector weighting the centre row twice (smoother, less noisy).

        [[1, 0, -1],
         [2, 0, -2],
         [1, 0, -1]]
    """
    return np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=dtype)


def sobel_y(dtype=np.float32) -> np.ndarray:
    """Sobel's y kernel, the transpose of ``sobel_x``: top − bottom.

        [[ 1,  2,  1],
         [ 0,  0,  0],
         [-1, -2, -1]]
    """
    return sobel_x(dtype).T.copy()


def scharr_x(dtype=np.float32) -> np.ndarray:
    """Scharr's x kernel: weights 3-10-3, closer to rotation invariance than Sobel's 1-2-1.

        [[ 3, 0,  -3],
         [10, 0, -10],
         [ 3, 0,  -3]]
    """
    return np.array([[3, 0, -3], [10, 0, -10], [3, 0, -3]], dtype=dtype)


def scharr_y(dtype=np.float32) -> np.ndarray:
    """Scharr's y kernel, the transpose of ``scharr_x``: top − bottom.

        [[ 3,  10,  3],
         [ 0,   0,  0],
         [-3, -10, -3]]
    """
    return scharr_x(dtype).T.copy()


KERNELS = {f.__name__: f for f in (vertical_edge, horizontal_edge, sobel_x, sobel_y, scharr_x, scharr_y)}
"""Kernel constructors by name."""

OPERATORS = {"prewitt": ("vertical_edge", "horizontal_edge"), "sobel": ("sobel_x", "sobel_y"),
             "scharr": ("scharr_x", "scharr_y")}
"""The (x, y) kernel pair of each gradient operator, for ``edge_magnitude``."""


def get_kernel(kernel, dtype=np.float32) -> np.ndarray:
    """A kernel by name (a key of ``KERNELS``), or any 2-D array-like (kh, kw), as a NumPy array.

    >>> get_kernel("sobel_y")[:, 1]
    array([ 2.,  0., -2.], dtype=float32)
    """
    if isinstance(kernel, str):
        if kernel not in KERNELS:
            raise ValueError(f"filters: unknown kernel {kernel!r}; choose one of {sorted(KERNELS)}")
        return KERNELS[kernel](dtype)
    array = np.asarray(kernel.numpy() if isinstance(kernel, Tensor) else kernel, dtype=dtype)
    if array.ndim != 2:
        raise ValueError(f"filters: a kernel must be 2-D (kh, kw), got shape {array.shape}")
    return array


def _stack(kernels, dtype=np.float32) -> np.ndarray:
    """One kernel, a list of kernels, or a (K, kh, kw) array → a (K, kh, kw) array."""
    if isinstance(kernels, (list, tuple)):
        single = bool(kernels) and not isinstance(kernels[0], str) and np.ndim(kernels[0]) == 1  # [[1, 0, -1], …]
    else:
        single = isinstance(kernels, str) or np.ndim(kernels) == 2
    if single:
        kernels = [kernels]
    stacked = [get_kernel(k, dtype) for k in kernels]
    if len({k.shape for k in stacked}) != 1:
        raise ValueError(f"filters: kernels of different shapes {[k.shape for k in stacked]} cannot share a conv")
    return np.stack(stacked)


# -- as conv weights and layers ----------------------------------------------------------------


def conv_weight(kernels, in_channels: int = 1, depthwise: bool = False, dtype=np.float32) -> np.ndarray:
    """Conv2d weights that apply K fixed kernels.

    Dense (default): shape (K, C, kh, kw) with W[o, c] = K_o / C, so output o is kernel o on
    the channel mean (for C = 1, the kernel itself). Depthwise: shape (C·K, 1, kh, kw) for
    ``groups=C``, output c·K + o being kernel o on channel c.

    >>> conv_weight(["sobel_x", "sobel_y"]).shape
    (2, 1, 3, 3)
    """
    k = _stack(kernels, dtype)
    if depthwise:
        return np.tile(k, (in_channels, 1, 1))[:, None]
    return np.repeat(k[:, None] / np.asarray(in_channels, dtype), in_channels, axis=1)


def as_conv2d(kernels, in_channels: int = 1, depthwise: bool = False, padding="same", padding_mode="zeros",
              dtype=None, device=None) -> nn.Conv2d:
    """An ``nn.Conv2d`` (no bias) whose weight is ``conv_weight(kernels, ...)``, frozen (requires_grad False).

    Dense: Conv2d(C, K); depthwise: Conv2d(C, C·K, groups=C). Use it as the fixed first layer
    of a model, or to compare learned filters with the classic ones.

    >>> edges = as_conv2d(["vertical_edge", "horizontal_edge"])
    >>> edges(em.rand(1, 1, 28, 28)).shape
    (1, 2, 28, 28)
    """
    weight = conv_weight(kernels, in_channels, depthwise, dtype or np.float32)
    conv = nn.Conv2d(in_channels, weight.shape[0], weight.shape[2:], padding=padding, bias=False,
                     groups=in_channels if depthwise else 1, padding_mode=padding_mode, dtype=dtype, device=device)
    conv.load_state_dict({"weight": weight})
    conv.weight.requires_grad_(False)
    return conv


# -- applying them -------------------------------------------------------------------------------


def apply(image, kernel, padding="same", padding_mode="zeros"):
    """Cross-correlate each channel of ``image`` with one kernel (a name or a (kh, kw) array).

    ``image`` (H, W), (C, H, W) or (N, C, H, W): a NumPy/CuPy array or a Tensor. Channels are
    filtered separately (a depthwise conv through ``F.conv2d``); for the edges of a colour
    picture take ``rgb_to_grayscale`` first. Integer images are read as float32. Returns the
    same rank and kind (array in, array out; Tensor in, Tensor out, differentiable).
    ``padding`` as Conv2d's ('same' keeps H and W); ``padding_mode`` 'zeros', 'reflect',
    'replicate' or 'circular' ('reflect' avoids false edges at the image border).

    >>> apply(np.eye(5), "vertical_edge").shape
    (5, 5)
    """
    x, restore = _as_batch(image, "apply", allow_2d=True, tensor=True)
    return restore(_filter(x, _stack(kernel), padding, padding_mode)[:, :, 0])


def edge_magnitude(image, operator: str = "sobel", padding="same", padding_mode="zeros"):
    """Gradient magnitude √(gx² + gy²) per channel, gx and gy from an operator's kernel pair.

    ``operator``: 'sobel' (``sobel_x``, ``sobel_y``), 'scharr' or 'prewitt' (the course's
    vertical/horizontal edge pair). Shapes, kinds and padding as ``apply``.

    >>> edge_magnitude(np.ones((8, 8)), "scharr", padding_mode="replicate").max()
    0.0
    """
    if operator not in OPERATORS:
        raise ValueError(f"edge_magnitude: unknown operator {operator!r}; choose one of {sorted(OPERATORS)}")
    x, restore = _as_batch(image, "edge_magnitude", allow_2d=True, tensor=True)
    g = _filter(x, _stack(OPERATORS[operator]), padding, padding_mode)  # (N, C, 2, H, W)
    return restore((g * g).sum(axis=2).sqrt())


def rgb_to_grayscale(image):
    """Luma L = 0.299·R + 0.587·G + 0.114·B (ITU-R BT.601) of (..., 3, H, W) → (..., 1, H, W).

    Works on arrays and Tensors; integer images give float32 in the same value range.

    >>> rgb_to_grayscale(np.ones((3, 4, 4))).shape
    (1, 4, 4)
    """
    if image.shape[-3] != 3:
        raise ValueError(f"rgb_to_grayscale: expected (..., 3, H, W), got shape {tuple(image.shape)}")
    if not isinstance(image, Tensor) and image.dtype.kind != "f":
        image = image.astype(np.float32)
    r, g, b = (image[..., c:c + 1, :, :] for c in range(3))
    return r * 0.299 + g * 0.587 + b * 0.114


def _filter(x, kernels: np.ndarray, padding, padding_mode):
    """x (N, C, H, W) through K kernels per channel → (N, C, K, Ho, Wo), one grouped conv2d."""
    N, C = x.shape[:2]
    K = kernels.shape[0]
    weight = as_tensor(conv_weight(kernels, C, depthwise=True, dtype=x.dtype), device=x.device)
    if padding_mode != "zeros":
        pairs = resolve_padding(padding, x.shape[2:], kernels.shape[1:], (1, 1), (1, 1), "filters")
        x, padding = F.pad(x, (*pairs[1], *pairs[0]), mode=padding_mode), 0
    y = F.conv2d(x, weight, padding=padding, groups=C)
    return y.reshape(N, C, K, *y.shape[2:])
