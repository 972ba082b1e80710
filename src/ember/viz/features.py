"""What a conv net sees, saved as PNG: learned filters, feature maps of any layer, receptive fields.

``feature_maps`` reads a layer's output through a forward hook (removed afterwards) and stops
the forward pass there; ``receptive_field`` backpropagates from one output unit to the input,
so the picture shows the pixels that unit actually depends on (its *effective* receptive
field, Luo et al. 2016), whatever the architecture. Figures are drawn on matplotlib's Agg
canvas without pyplot, as in ``ember.viz.plots``.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ember import backend
from ember.autograd.grad_mode import enable_grad, no_grad
from ember.autograd.tensor import Tensor
from ember.creation import tensor
from ember.nn.module import Module

__all__ = ["feature_maps", "plot_feature_maps", "plot_filters", "plot_images", "plot_receptive_field",
           "receptive_field"]


# -- learned filters -----------------------------------------------------------------------------


def plot_filters(weight, path=None, max_filters: int = 64, mode: str = "auto", ncols: int | None = None,
                 cmap: str = "gray", title: str | None = None, dpi: int = 100):
    """Draw the filters of a conv layer as a grid of small images, one tile per filter.

    Args:
        weight: a conv layer (its ``weight`` is used), a Tensor or an array of shape
            (C_out, C_in, kh, kw); a Conv1d's (C_out, C_in, k) is drawn as 1×k strips.
        path: where to save the PNG (parent directories are created); ``None`` only returns the figure.
        max_filters: draw at most this many output filters (the first ones).
        mode: 'auto' — RGB tiles when C_in = 3 (a first layer on colour images), grey tiles
            when C_in = 1, else 'mean'; 'rgb'; 'mean' — each filter averaged over its inputs,
            one grey tile; 'all' — one row per filter, one grey tile per (out, in) slice.

    Each output filter is min-max normalised on its own (over all its input slices together,
    so the relative strength of the slices and the colour balance stay visible): black is its
    most negative weight, white its most positive. Returns the matplotlib ``Figure``.

    >>> plot_filters(model.conv1, "runs/filters.png")
    """
    w = conv_weight_array(weight)
    shape, w = w.shape, w[:max_filters]
    O, C = w.shape[:2]
    mode = ("rgb" if C == 3 else "mean") if mode == "auto" and C != 1 else mode
    w = _normalise(w, axes=(1, 2, 3))
    if mode in ("auto", "mean"):
        tiles = w.mean(axis=1)
        tiles = _normalise(tiles, axes=(1, 2)) if C > 1 else tiles
        fig, axes = _grid(O, ncols, tile_shape=tiles.shape[1:])
        for i, ax in enumerate(axes[:O]):
            _show(ax, tiles[i], cmap, vmin=0, vmax=1, label=str(i))
    elif mode == "rgb":
        if C != 3:
            raise ValueError(f"plot_filters: mode='rgb' needs 3 input channels, got weight of shape {w.shape}")
        fig, axes = _grid(O, ncols, tile_shape=w.shape[2:])
        for i, ax in enumerate(axes[:O]):
            _show(ax, w[i].transpose(1, 2, 0), None, label=str(i))
    elif mode == "all":
        fig, axes = _grid(O * C, C, tile_shape=w.shape[2:])
        for k, ax in enumerate(axes):
            _show(ax, w[k // C, k % C], cmap, vmin=0, vmax=1, label=f"{k // C}.{k % C}")
    else:
        raise ValueError(f"plot_filters: mode must be 'auto', 'rgb', 'mean' or 'all', got {mode!r}")
    return _finish(fig, path, title or f"filters {shape}", dpi)


def conv_weight_array(weight, caller: str = "plot_filters") -> np.ndarray:
    """A conv layer's filters as a float64 NumPy array (C_out, C_in, kh, kw), from the layer, its
    weight Tensor or an array; a Conv1d's (C_out, C_in, k) becomes 1×k. Errors name ``caller``."""
    if isinstance(weight, Module):
        if not isinstance(getattr(weight, "weight", None), Tensor):
            raise TypeError(f"{caller}: {type(weight).__name__} has no weight tensor")
        weight = weight.weight
    w = backend.to_numpy(weight.array if isinstance(weight, Tensor) else np.asarray(weight)).astype(np.float64)
    if w.ndim == 3:
        w = w[:, :, None, :]
    if w.ndim != 4:
        raise ValueError(f"{caller}: expected a conv weight (C_out, C_in, kh, kw), got shape {w.shape}")
    return w


# -- feature maps --------------------------------------------------------------------------------


class _Captured(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised by the capturing hook: the layer's output is in hand, the rest of the forward can be skipped."""


def feature_maps(model: Module, layer, input):
    """The output of ``layer`` (a dotted name such as ``'layer1.0.conv1'``, or the submodule
    itself) when ``model`` runs on ``input``, exactly as that layer returns it.

    The forward pass runs under ``no_grad`` in the model's current mode (call ``model.eval()``
    first for dropout-free maps) and stops right after the layer; the hook is removed even on
    error. If the layer runs several times, its first output is returned. An array input is
    cast to the model's floating-point dtype.

    >>> maps = feature_maps(model, "conv1", images)      # (N, C, H, W) tensor
    """
    with no_grad():
        return _capture(model, _module_of(model, layer, "feature_maps"), _input(model, input))


def _capture(model, module, x):
    captured = []

    def hook(_module, _args, output):
        captured.append(output)
        raise _Captured

    handle = module.register_forward_hook(hook)
    try:
        model(x)
    except _Captured:
        pass
    finally:
        handle.remove()
    if not captured:
        raise RuntimeError(f"feature_maps: {type(module).__name__} was not called by {type(model).__name__}.forward")
    return captured[0]


def _module_of(model: Module, layer, op: str) -> Module:
    if isinstance(layer, str):
        return model.get_submodule(layer)
    if not any(m is layer for m in model.modules()):
        raise ValueError(f"{op}: the given {type(layer).__name__} is not a submodule of {type(model).__name__}")
    return layer


def _layer_name(model, module) -> str:
    return next((name or type(model).__name__ for name, m in model.named_modules() if m is module), "?")


def _input(model, input) -> Tensor:
    if isinstance(input, Tensor):
        return input
    x = tensor(input)
    dtype = next((p.dtype for p in model.parameters() if p.dtype.kind == "f"), None)
    return x.to(dtype) if dtype is not None and x.dtype.kind == "f" else x


def plot_feature_maps(model: Module, layer, input, path=None, max_maps: int = 64, index: int = 0,
                      ncols: int | None = None, cmap: str = "viridis", title: str | None = None, dpi: int = 100):
    """Draw the feature maps (channels) of ``layer`` for sample ``index`` of ``input`` as a grid.

    Spatial outputs (N, C, H, W) give one tile per channel (the first ``max_maps``); a Conv1d's
    (N, C, L) gives 1×L strips. Each map has its own colour scale (min-max per map), since
    channels differ widely in range. Returns the matplotlib ``Figure``.

    >>> plot_feature_maps(model, "layer1", images, "runs/layer1.png", max_maps=16)
    """
    module = _module_of(model, layer, "plot_feature_maps")
    maps = feature_maps(model, module, input)
    name = _layer_name(model, module)
    if not isinstance(maps, Tensor) or maps.ndim not in (3, 4):
        shape = tuple(maps.shape) if isinstance(maps, Tensor) else type(maps).__name__
        raise ValueError(f"plot_feature_maps: layer {name!r} outputs {shape}, not (N, C, H, W) or (N, C, L) maps")
    m = backend.to_numpy(maps.array[index]).astype(np.float64)
    m = (m[:, None, :] if m.ndim == 2 else m)[:max_maps]
    m = _normalise(m, axes=(1, 2))
    fig, axes = _grid(len(m), ncols, tile_shape=m.shape[1:])
    for i, ax in enumerate(axes[:len(m)]):
        _show(ax, m[i], cmap, vmin=0, vmax=1, label=str(i))
    return _finish(fig, path, title or f"{name} ({type(module).__name__}) output {tuple(maps.shape)}", dpi)


# -- receptive fields ----------------------------------------------------------------------------


def receptive_field(model: Module, layer, input, position=None, channel: int | None = None,
                    index: int = 0) -> np.ndarray:
    """|∂y/∂x| summed over input channels: where the input influences one unit of ``layer``.

    y is ``layer``'s output at spatial ``position`` (default the centre), summed over its
    channels or taken at ``channel``, for sample ``index`` of ``input``. The non-zero support
    is the unit's receptive field (its bounding box is r×r for a chain of convolutions,
    clipped at the image border; dead ReLUs can only shrink it); the values show how much
    each pixel counts. Parameters get no gradient (their ``requires_grad`` is switched off and
    restored). Returns a NumPy array (H, W) — or (L,) for 1-D inputs.

    >>> grad = receptive_field(model, "layer2", images)
    >>> rows, cols = np.nonzero(grad)
    """
    module = _module_of(model, layer, "receptive_field")
    x = tensor(_input(model, input).array[index:index + 1], requires_grad=True)
    flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        with enable_grad():
            y = _capture(model, module, x)
            if not isinstance(y, Tensor) or y.ndim < 3:
                raise ValueError(f"receptive_field: layer {_layer_name(model, module)!r} outputs no spatial map")
            where = tuple(n // 2 for n in y.shape[2:]) if position is None else tuple(position)
            unit = y[(0, slice(None) if channel is None else channel, *where)]
            unit.sum().backward()
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
    return np.abs(backend.to_numpy(x.grad.array[0])).sum(axis=0)


def plot_receptive_field(model: Module, layer, input, path=None, position=None, channel: int | None = None,
                         index: int = 0, cmap: str = "magma", title: str | None = None, dpi: int = 100):
    """Draw the input image with the receptive field of one unit of ``layer`` boxed, beside the
    gradient map of ``receptive_field`` (log scale). Returns the matplotlib ``Figure``.

    >>> plot_receptive_field(model, "layer2", images[:1], "runs/rf.png")
    """
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    g = receptive_field(model, layer, input, position, channel, index)
    g = g[None, :] if g.ndim == 1 else g
    image = backend.to_numpy(_input(model, input).array[index]).astype(np.float64)
    image = image[:, None, :] if image.ndim == 2 else image
    rows, cols = np.nonzero(g)
    if not len(rows):
        raise ValueError("plot_receptive_field: the unit does not depend on the input (zero gradient)")
    top, left, h, w = rows.min(), cols.min(), rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
    fig = Figure(figsize=(8, 4), layout="constrained")
    ax_image, ax_grad = fig.subplots(1, 2)
    _show(ax_image, image.transpose(1, 2, 0) if len(image) == 3 else image.mean(axis=0),
          None if len(image) == 3 else "gray", label="input", normalise=True)
    ax_image.add_patch(Rectangle((left - 0.5, top - 0.5), w, h, fill=False, edgecolor="red", linewidth=1.5))
    ax_grad.imshow(np.where(g > 0, g, np.nan), cmap=cmap, norm=LogNorm(), interpolation="nearest")
    ax_grad.set_title("|∂y/∂x|", fontsize=9)
    ax_grad.axis("off")
    name = _layer_name(model, _module_of(model, layer, "plot_receptive_field"))
    return _finish(fig, path, title or f"receptive field of {name}: {h}×{w} px", dpi)


# -- image grids ---------------------------------------------------------------------------------


def plot_images(images, path=None, ncols: int | None = None, cmap: str = "gray", title: str | None = None,
                panel_size: float = 4.0, dpi: int = 100):
    """Draw images side by side, e.g. a photo and its edge maps.

    Args:
        images: a dict {panel title: image} or a list of images; each (H, W) — drawn with
            ``cmap``, scaled from its own min (black) to max (white) — or (1, H, W), or (3, H, W)
            RGB (floats in [0, 1] or uint8). Arrays or Tensors.
        ncols: panels per row (default: all in one row, at most 4).
        panel_size: width of a panel in inches; its height follows the first image's aspect.

    The figure is ncols·panel_size inches wide and nrows·panel_size·H/W + 0.6 high (the title
    band). Returns the matplotlib ``Figure``.

    >>> plot_images({"grey": grey, "Sobel": filters.edge_magnitude(grey)}, "runs/edges.png")
    """
    from matplotlib.figure import Figure

    named = images if isinstance(images, dict) else {str(i): image for i, image in enumerate(images)}
    arrays = {name: _image_array(image) for name, image in named.items()}
    if not arrays:
        raise ValueError("plot_images: no images given")
    ncols = ncols or min(len(arrays), 4)
    nrows = math.ceil(len(arrays) / ncols)
    height, width = next(iter(arrays.values())).shape[:2]
    fig = Figure(figsize=(ncols * panel_size, nrows * panel_size * height / width + 0.6))
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=1 - 0.6 / fig.get_figheight(), wspace=0.03,
                        hspace=0.12)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (name, image) in zip(axes, arrays.items(), strict=False):
        ax.imshow(image, cmap=None if image.ndim == 3 else cmap, interpolation="antialiased")
        ax.set_title(name, fontsize=9, pad=3)
    for ax in axes:
        ax.axis("off")
    return _finish(fig, path, title, dpi)


def _image_array(image) -> np.ndarray:
    a = backend.to_numpy(image.array if isinstance(image, Tensor) else np.asarray(image))
    if a.ndim == 3 and a.shape[0] in (1, 3):
        a = a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3):
        raise ValueError(f"plot_images: expected an image (H, W), (1, H, W) or (3, H, W), got shape {image.shape}")
    return np.clip(a, 0, 1) if a.ndim == 3 and a.dtype.kind == "f" else a


# -- drawing helpers -----------------------------------------------------------------------------


def _normalise(a: np.ndarray, axes) -> np.ndarray:
    """Min-max scale each slice over ``axes`` to [0, 1]; a constant slice becomes 0.5."""
    lo, hi = a.min(axis=axes, keepdims=True), a.max(axis=axes, keepdims=True)
    span = hi - lo
    return np.where(span > 0, (a - lo) / np.where(span > 0, span, 1), 0.5)


def _grid(n: int, ncols: int | None, tile_shape):
    """A figure with a grid of n image axes (extra cells hidden); returns (fig, flat axes)."""
    from matplotlib.figure import Figure

    ncols = max(1, min(n, ncols or math.ceil(math.sqrt(n))))
    nrows = math.ceil(n / ncols)
    aspect = tile_shape[1] / tile_shape[0]
    cell = 1.2 if aspect <= 4 else 0.6
    fig = Figure(figsize=(ncols * cell * min(aspect, 4), nrows * cell + 0.5))
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=1 - 0.5 / fig.get_figheight(), wspace=0.15,
                        hspace=0.35)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes


def _show(ax, image, cmap, vmin=None, vmax=None, label="", normalise=False):
    if normalise:
        image = _normalise(image, axes=None)
    strip = image.shape[1] > 4 * image.shape[0]  # a 1-D filter or map: stretch it to the cell
    ax.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest", aspect="auto" if strip else "equal")
    ax.set_title(label, fontsize=7, pad=2)
    ax.axis("off")


def _finish(fig, path, title, dpi):
    if title:
        fig.suptitle(title, fontsize=10)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi)
    return fig
