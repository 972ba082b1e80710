"""Plots saved as PNG: training curves (loss and metrics per epoch, train against dev).

Figures are drawn with matplotlib's object API on the Agg canvas — no pyplot and no
global backend switch — so plotting works on headless machines and never disturbs a
user's interactive session.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["plot_curves"]

_NOT_CURVES = ("epoch", "time", "lr")


def _columns(history) -> dict[str, list]:
    """``{key: [value per epoch]}`` from a ``History``, a list of per-epoch dicts, or a dict of lists."""
    if isinstance(history, dict):
        return {k: list(v) for k, v in history.items()}
    rows = list(history)
    keys = list(dict.fromkeys(k for row in rows for k in row))
    return {k: [row.get(k) for row in rows] for k in keys}


def _default_metrics(columns: dict) -> list[str]:
    return [k for k in columns if not k.startswith("dev_") and k not in _NOT_CURVES] or \
        [k[4:] for k in columns if k.startswith("dev_")]


def plot_curves(history, path=None, metrics=None, title: str | None = None, dpi: int = 100):
    """Plot each metric against the epoch, one panel per metric, train and dev curves together.

    Args:
        history: a ``Trainer`` ``History``, a list of per-epoch dicts, or a dict of lists.
        path: where to save the PNG (parent directories are created); ``None`` only returns
            the figure.
        metrics: the base names to plot (``['loss', 'accuracy']``); default: every train key
            except ``epoch``, ``time`` and ``lr``. ``dev_<name>`` is drawn beside ``<name>``.

    Returns the matplotlib ``Figure``.

    >>> plot_curves(trainer.history, "runs/demo/curves.png")
    """
    from matplotlib.figure import Figure

    columns = _columns(history)
    metrics = list(metrics) if metrics is not None else _default_metrics(columns)
    if not metrics:
        raise ValueError(f"plot_curves: no curves to draw in keys {sorted(columns)}")
    epochs = columns.get("epoch") or list(range(1, len(next(iter(columns.values()))) + 1))
    fig = Figure(figsize=(4.5 * len(metrics), 3.4), layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, name in zip(axes, metrics, strict=True):
        _panel(ax, epochs, columns, name)
    if title:
        fig.suptitle(title)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi)
    return fig


def _panel(ax, epochs, columns: dict, name: str) -> None:
    from matplotlib.ticker import MaxNLocator

    drawn = False
    for key, label in ((name, "train"), (f"dev_{name}", "dev")):
        values = columns.get(key)
        if values is not None and any(v is not None for v in values):
            ax.plot(epochs, [float("nan") if v is None else v for v in values], marker=".", label=label)
            drawn = True
    if not drawn:
        raise KeyError(f"plot_curves: no {name!r} or 'dev_{name}' in the history keys {sorted(columns)}")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(name)
    ax.set_title(name)
    ax.grid(alpha=0.3)
    ax.legend()
