"""Attention-weight heatmaps: which input positions each output step looked at (SPEC §12)."""
from __future__ import annotations

import math
from pathlib import Path


def plot_attention(inputs, outputs, attention, path=None, columns: int = 2, dpi: int = 100, eos: str = "<eos>"):
    """Heatmaps of attention weights, one panel per example: output tokens (rows) × input tokens (columns).

    ``inputs[i]`` and ``outputs[i]`` are token sequences (a string is a sequence of characters);
    ``attention[i]`` is an array (rows, len(inputs[i])) of weights in [0, 1], one row per output
    step. A last row beyond ``outputs[i]`` is labelled ``eos`` (the step that ended decoding).
    Returns the matplotlib ``Figure``; saves a PNG at ``path`` (parents created) when given.

    >>> plot_attention(["3 May 2021"], ["2021-05-03"], [weights], "runs/attention.png")
    """
    from matplotlib.figure import Figure

    n = len(inputs)
    if n == 0 or len(outputs) != n or len(attention) != n or any(a is None for a in attention):
        raise ValueError(f"plot_attention: expected as many inputs, outputs and attention arrays (at least one), got "
                         f"{n}, {len(outputs)} and {len(attention)}")
    rows = math.ceil(n / columns)
    fig = Figure(figsize=(6.0 * min(columns, n), 3.2 * rows), layout="constrained")
    axes = fig.subplots(rows, min(columns, n), squeeze=False).reshape(-1)
    for ax, source, target, weights in zip(axes, inputs, outputs, attention, strict=False):
        ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_xticks(range(len(source)), [str(t) for t in source], fontsize=7)
        labels = [str(t) for t in target] + [eos]
        ax.set_yticks(range(len(weights)), labels[:len(weights)], fontsize=7)
        title = (f"{source!r} → {target}" if isinstance(source, str) else
                 f"{' '.join(map(str, source))} → {' '.join(map(str, target))}")
        ax.set_title(title, fontsize=8)
    for ax in axes[n:]:
        ax.set_axis_off()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi)
    return fig
