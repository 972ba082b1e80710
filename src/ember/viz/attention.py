"""Attention-weight heatmaps: which input positions each output step looked at (SPEC §12)."""
from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np

# Fonts with Chinese characters, as the common systems name them, tried after the default font.
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
             "Droid Sans Fallback", "SimHei", "Microsoft YaHei", "PingFang SC", "Heiti SC")


def _fit_labels(tokens: list, count: int) -> list[str]:
    """``count`` tick labels: the tokens cut to ``count``, or padded with blanks up to it.

    Matplotlib refuses a number of labels other than the number of ticks, and a decoder may take
    a step whose token is not in the text (a special, or the steps of an untrained model).
    """
    labels = [str(t) for t in tokens[:count]]
    return labels + [""] * (count - len(labels))


def plot_attention(inputs, outputs, attention, path=None, columns: int = 2, dpi: int = 100, eos: str = "<eos>"):
    """Heatmaps of attention weights: one panel per example, or one panel per head of one sequence.

    Per example (``attention`` a list): output tokens (rows) × input tokens (columns).

    ``inputs[i]`` and ``outputs[i]`` are token sequences (a string is a sequence of characters);
    ``attention[i]`` is an array (rows, len(inputs[i])) of weights in [0, 1], one row per output
    step. A last row beyond ``outputs[i]`` is labelled ``eos`` (the step that ended decoding).
    Labels are fitted to the weights, as the playground's page does: cut when there are more
    tokens than rows or columns, padded with blanks when fewer (e.g. a step that wrote a special
    token, dropped from the output text); an empty array gives a panel saying so.
    Returns the matplotlib ``Figure``; saves a PNG at ``path`` (parents created) when given.

    Per head (``attention`` one array or Tensor of shape (heads, T_out, T_in), or (layers, heads,
    T_out, T_in)): a grid of heatmaps, one column per head and one row per layer, on one colour
    scale (0 to the largest weight) with one colour bar; ``inputs`` labels the T_in keys along
    the bottom row, ``outputs`` the T_out queries down the left column (None: the same tokens,
    as in self-attention). ``columns`` and ``eos`` do not apply.

    >>> plot_attention(["3 May 2021"], ["2021-05-03"], [weights], "runs/attention.png")
    >>> plot_attention(list("hello"), None, weights_of_a_gpt, "runs/heads.png")   # (layers, heads, 5, 5)
    """
    from matplotlib.figure import Figure

    if not isinstance(attention, (list, tuple)) and hasattr(attention, "ndim"):
        fig = _head_grid(inputs, inputs if outputs is None else outputs, _as_array(attention))
        return _save(fig, path, dpi)
    n = len(inputs)
    if n == 0 or len(outputs) != n or len(attention) != n or any(a is None for a in attention):
        raise ValueError(f"plot_attention: expected as many inputs, outputs and attention arrays (at least one), got "
                         f"{n}, {len(outputs)} and {len(attention)}")
    rows = math.ceil(n / columns)
    fig = Figure(figsize=(6.0 * min(columns, n), 3.2 * rows), layout="constrained")
    axes = fig.subplots(rows, min(columns, n), squeeze=False).reshape(-1)
    fonts = _font_families()
    for ax, source, target, weights in zip(axes, inputs, outputs, attention, strict=False):
        _draw_panel(ax, source, target, np.asarray(weights, dtype=np.float64), eos, fonts)
    for ax in axes[n:]:
        ax.set_axis_off()
    return _save(fig, path, dpi)


def _save(fig, path, dpi: int):
    """Write ``fig`` as a PNG at ``path`` (parents created) when a path is given; return it."""
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            # without a font that has them, matplotlib draws Chinese characters as boxes and warns once per glyph
            warnings.filterwarnings("ignore", message="Glyph .* missing from font")
            fig.savefig(path, dpi=dpi)
    return fig


def _as_array(weights) -> np.ndarray:
    """A NumPy float64 copy of an array or a (possibly grad-tracking, possibly GPU) Tensor."""
    if not isinstance(weights, np.ndarray) and hasattr(weights, "numpy"):
        weights = (weights.detach() if hasattr(weights, "detach") else weights).numpy()
    return np.asarray(weights, dtype=np.float64)


def _head_grid(keys, queries, weights: np.ndarray):
    """The per-head figure of ``plot_attention``: rows = layers, columns = heads, labels on the outer axes."""
    from matplotlib.figure import Figure

    if weights.ndim not in (3, 4) or 0 in weights.shape:
        raise ValueError(f"plot_attention: per-head weights must have shape (heads, T_out, T_in) or "
                         f"(layers, heads, T_out, T_in) with no empty axis, got shape {weights.shape}")
    grid = weights if weights.ndim == 4 else weights[None]
    layers, heads, t_out, t_in = grid.shape
    side = min(max(1.6, 0.22 * max(t_out, t_in)), 4.0)  # inches per panel: room for the labels, bounded
    fig = Figure(figsize=(side * heads + 1.0, side * layers + 0.4), layout="constrained")
    axes = fig.subplots(layers, heads, squeeze=False)
    fonts, vmax = _font_families(), float(grid.max()) or 1.0
    x_labels, y_labels = _fit_labels(list(keys), t_in), _fit_labels(list(queries), t_out)
    for (layer, head), ax in np.ndenumerate(axes):
        image = ax.imshow(grid[layer, head], cmap="viridis", vmin=0.0, vmax=vmax, aspect="auto")
        ax.set_xticks(range(t_in))
        ax.set_yticks(range(t_out))
        if layer == layers - 1:  # tokens on the outer axes only; the inner panels keep bare ticks
            ax.set_xticklabels(x_labels, fontsize=7, fontfamily=fonts,
                               rotation=90 if max(map(len, x_labels)) > 2 else 0)  # words upright would overlap
        else:
            ax.tick_params(labelbottom=False)
        if head == 0:
            ax.set_yticklabels(y_labels, fontsize=7, fontfamily=fonts)
        else:
            ax.tick_params(labelleft=False)
        if layer == 0:
            ax.set_title(f"head {head}", fontsize=8)
        if head == 0 and weights.ndim == 4:
            ax.set_ylabel(f"layer {layer}", fontsize=8)
    fig.colorbar(image, ax=axes, shrink=0.8, label="attention weight")
    return fig


def _draw_panel(ax, source, target, weights: np.ndarray, eos: str, fonts: list[str]) -> None:
    """One heatmap: input tokens along x, output tokens (then ``eos``) along y, labels fitted to the weights."""
    if weights.ndim != 2:
        raise ValueError(f"plot_attention: expected 2-D arrays (output steps, input tokens), got shape {weights.shape}")
    title = (f"{source!r} → {target}" if isinstance(source, str) else
             f"{' '.join(map(str, source))} → {' '.join(map(str, target))}")
    ax.set_title(title, fontsize=8, fontfamily=fonts)
    if weights.size == 0:
        ax.text(0.5, 0.5, f"no attention weights (shape {weights.shape})", ha="center", va="center", fontsize=8)
        ax.set_axis_off()
        return
    ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(weights.shape[1]), _fit_labels(list(source), weights.shape[1]), fontsize=7, fontfamily=fonts)
    ax.set_yticks(range(weights.shape[0]), _fit_labels([*target, eos], weights.shape[0]), fontsize=7,
                  fontfamily=fonts)


def _font_families() -> list[str]:
    """The default sans-serif font, then the installed ones of ``CJK_FONTS``: matplotlib takes each glyph
    from the first font of the list that has it, so Chinese dates are drawn where such a font exists."""
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    return ["sans-serif", *(name for name in CJK_FONTS if name in installed)]
