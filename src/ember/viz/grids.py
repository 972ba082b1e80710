"""Pictures as arrays: a batch of images tiled into one, a conv layer's filters, a layer's feature
maps, an attention heat map, each returned as a NumPy image (C, H, W) rather than drawn on a figure.

These are the images ``ember.train.tensorboard`` logs (TensorBoard's Images tab takes arrays);
``plot_filters`` and ``plot_feature_maps`` in ``ember.viz.features`` draw the same things as
labelled matplotlib figures. matplotlib is imported only by ``attention_image``.
"""
from __future__ import annotations

import math

import numpy as np

from ember.autograd.tensor import Tensor
from ember.backend import as_numpy
from ember.viz.features import conv_weight_array, feature_maps

__all__ = ["attention_image", "feature_map_grid", "filter_grid", "make_grid"]


# -- tiling --------------------------------------------------------------------------------------


def make_grid(tensor, nrow: int = 8, padding: int = 2, normalize: bool = False, value_range=None,
              scale_each: bool = False, pad_value: float = 0.0) -> np.ndarray:
    """Tile a batch of images (B, C, H, W) into one image (C, H', W'), row by row, as torchvision's ``make_grid``.

    With ``x = min(nrow, B)`` tiles per row and ``y = ⌈B / x⌉`` rows, H' = y·(H + padding) + padding
    and W' = x·(W + padding) + padding; the gaps hold ``pad_value``. ``normalize`` maps
    [lo, hi] to [0, 1] after clipping to it: ``value_range=(lo, hi)``, else the batch's min and
    max, or each image's own with ``scale_each``. A (B, H, W) batch is one channel; unlike
    torchvision, a one-channel batch stays one channel.

    >>> make_grid(np.zeros((5, 3, 4, 4)), nrow=4, padding=1).shape
    (3, 11, 21)
    """
    a = as_numpy(tensor)
    a = a[:, None] if a.ndim == 3 else a
    if a.ndim != 4 or a.shape[0] == 0:
        raise ValueError(f"make_grid: expected a non-empty batch (B, C, H, W) or (B, H, W), got shape {a.shape}")
    if normalize:
        a = a.astype(np.result_type(a.dtype, np.float32))
        lo, hi = value_range if value_range is not None else _batch_range(a, scale_each)
        a = (np.clip(a, lo, hi) - lo) / np.maximum(np.asarray(hi) - lo, 1e-5)
    B, C, H, W = a.shape
    cols = min(nrow, B)
    rows, p = math.ceil(B / cols), padding
    cells = np.full((rows * cols, C, H + p, W + p), pad_value, dtype=a.dtype)
    cells[:B, :, p:, p:] = a  # each cell: its tile after a top and left gap
    grid = cells.reshape(rows, cols, C, H + p, W + p).transpose(2, 0, 3, 1, 4).reshape(C, rows * (H + p),
                                                                                     cols * (W + p))
    return np.pad(grid, ((0, 0), (0, p), (0, p)), constant_values=pad_value)


def _batch_range(a, scale_each):
    axes = (1, 2, 3) if scale_each else None
    return a.min(axis=axes, keepdims=True), a.max(axis=axes, keepdims=True)


def _upscale(a: np.ndarray, scale) -> np.ndarray:
    """Repeat every pixel scale×scale times; ``None`` picks the scale that makes a tile about 32 px."""
    scale = max(1, 32 // max(a.shape[-2:])) if scale is None else int(scale)
    return a.repeat(scale, axis=-2).repeat(scale, axis=-1) if scale > 1 else a


# -- filters and feature maps --------------------------------------------------------------------


def filter_grid(weight, max_filters: int = 64, nrow: int = 8, padding: int = 1, scale: int | None = None,
                pad_value: float = 1.0) -> np.ndarray:
    """The filters of a conv layer as one image (C, H', W') in [0, 1]: a tile per output filter.

    Args:
        weight: a conv layer (its ``weight``), a Tensor or an array (C_out, C_in, kh, kw); a
            Conv1d's (C_out, C_in, k) gives 1×k strips.
        max_filters: the first filters only. ``nrow``, ``padding``, ``pad_value``: as in ``make_grid``.
        scale: repeat each weight scale×scale pixels (default: tiles of about 32 px).

    C_in = 3 gives RGB tiles (a first layer on colour images); otherwise a filter is averaged
    over its inputs into one grey tile (C = 1). Each filter is min-max scaled on its own, as in
    ``ember.viz.plot_filters``: black its most negative weight, white its most positive.

    >>> filter_grid(nn.Conv2d(3, 6, 5), nrow=3).shape          # 6 tiles of 30×30 in 3 columns
    (3, 63, 94)
    """
    w = conv_weight_array(weight, "filter_grid")[:max_filters]
    w = w if w.shape[1] == 3 else w.mean(axis=1, keepdims=True)
    return make_grid(_upscale(w, scale), nrow, padding, normalize=True, scale_each=True, pad_value=pad_value)


def feature_map_grid(model, layer, input, index: int = 0, max_maps: int = 64, nrow: int = 8, padding: int = 1,
                     scale: int | None = None, pad_value: float = 1.0) -> np.ndarray:
    """The feature maps of ``layer`` (a dotted name or the submodule) for sample ``index`` of ``input``,
    as one grey image (1, H', W') in [0, 1]: a tile per channel, each min-max scaled on its own.

    The maps come from ``ember.viz.feature_maps`` (the forward stops after the layer, without
    gradients, in the model's current mode); a Conv1d's (N, C, L) output gives 1×L strips.
    ``max_maps``, ``nrow``, ``padding``, ``scale``, ``pad_value``: as in ``filter_grid``.

    >>> feature_map_grid(lenet, "conv1", images[:1]).shape     # 6 maps of 28×28 in a row
    (1, 30, 175)
    """
    maps = feature_maps(model, layer, input)
    if not isinstance(maps, Tensor) or maps.ndim not in (3, 4):
        shape = tuple(maps.shape) if isinstance(maps, Tensor) else type(maps).__name__
        raise ValueError(f"feature_map_grid: layer {layer!r} outputs {shape}, not (N, C, H, W) or (N, C, L) maps")
    m = as_numpy(maps.array[index])[:max_maps].astype(np.float64)
    m = m[:, None] if m.ndim == 3 else m[:, None, None, :]
    return make_grid(_upscale(m, scale), nrow, padding, normalize=True, scale_each=True, pad_value=pad_value)


# -- attention -----------------------------------------------------------------------------------


def attention_image(weights, input_tokens=None, output_tokens=None, cmap: str = "viridis",
                    dpi: int = 100) -> np.ndarray:
    """A heat map of attention weights as an RGB image (3, H, W) uint8: rows are output steps,
    columns input tokens, colour the weight on a fixed 0 → 1 scale (``cmap``), tokens on the axes.

    ``weights``: (T_out, T_in), row t the distribution decoder step t puts over the inputs.
    The figure is (1.2 + 0.3·T_in) × (1.0 + 0.3·T_out) inches (at least 3 × 2.5) at ``dpi``.
    ``ember.viz.plot_attention`` draws several such maps, or every head, as a figure.

    >>> attention_image(np.full((2, 4), 0.25), list("abcd"), ["x", "y"]).shape
    (3, 250, 300)
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    a = _attention_weights(weights, input_tokens, output_tokens)
    T_out, T_in = a.shape
    fig = Figure(figsize=(max(3.0, 1.2 + 0.3 * T_in), max(2.5, 1.0 + 0.3 * T_out)), dpi=dpi, layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(a, cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
    if input_tokens is not None:
        ax.set_xticks(range(T_in), [str(t) for t in input_tokens], fontsize=7, rotation=90)
    if output_tokens is not None:
        ax.set_yticks(range(T_out), [str(t) for t in output_tokens], fontsize=7)
    ax.set_xlabel("input", fontsize=8)
    ax.set_ylabel("output", fontsize=8)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.ascontiguousarray(np.asarray(canvas.buffer_rgba())[..., :3].transpose(2, 0, 1))


def _attention_weights(weights, input_tokens, output_tokens) -> np.ndarray:
    a = as_numpy(weights).astype(np.float64)
    if a.ndim != 2:
        raise ValueError(f"attention_image: expected weights (T_out, T_in), got shape {a.shape}")
    for tokens, size, side in ((input_tokens, a.shape[1], "input"), (output_tokens, a.shape[0], "output")):
        if tokens is not None and len(tokens) != size:
            raise ValueError(f"attention_image: {len(tokens)} {side} tokens for weights of shape {a.shape}")
    return a
