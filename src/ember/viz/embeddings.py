"""Word vectors in two dimensions: a PCA projection and a labelled scatter plot, saved as PNG.

PCA: centre the chosen vectors, take the SVD X − μ = U S Vᵀ, and keep the coordinates on the
first two right singular vectors, (X − μ) V[:, :2] — the plane that keeps the most variance.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ember.backend import to_numpy

__all__ = ["pca_2d", "plot_embeddings"]


def pca_2d(vectors) -> np.ndarray:
    """Project (n, d) vectors onto their two principal axes: an (n, 2) array.

    The sign of each axis is fixed (largest-magnitude loading positive) so plots repeat.

    >>> pca_2d(np.eye(3)).shape
    (3, 2)
    """
    X = np.asarray(to_numpy(getattr(vectors, "data", vectors)), dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"pca_2d: expected at least two vectors as an (n, d) array, got shape {X.shape}")
    X = X - X.mean(axis=0)
    _, _, Vt = np.linalg.svd(X, full_matrices=False)
    axes = Vt[:2].T if Vt.shape[0] >= 2 else np.pad(Vt.T, ((0, 0), (0, 1)))
    axes = axes * np.sign(axes[np.abs(axes).argmax(axis=0), [0, 1]] + 1e-300)
    return X @ axes


def plot_embeddings(keyed_vectors, words, path=None, title: str | None = None, dpi: int = 100):
    """Scatter the chosen ``words`` of ``keyed_vectors`` (anything with ``kv[word]``, such as a
    ``Word2Vec``'s ``.wv``, or a dict) in their 2-D PCA plane, each point labelled with its word.

    Words missing from the vectors raise a KeyError naming them. Returns the matplotlib
    ``Figure``; saves a PNG when ``path`` is given.

    >>> plot_embeddings(model.wv, ["king", "queen", "man", "woman"], "runs/words.png")
    """
    from matplotlib.figure import Figure

    words = list(words)
    missing = [w for w in words if w not in keyed_vectors]
    if missing:
        raise KeyError(f"plot_embeddings: no vectors for {missing}")
    points = pca_2d(np.stack([np.asarray(to_numpy(getattr(keyed_vectors[w], "data", keyed_vectors[w])))
                              for w in words]))
    fig = Figure(figsize=(6, 5), layout="constrained")
    ax = fig.subplots()
    ax.scatter(points[:, 0], points[:, 1], s=18, color="tab:blue")
    for word, (x, y) in zip(words, points, strict=True):
        ax.annotate(word, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=9)
    ax.set_xlabel("principal axis 1")
    ax.set_ylabel("principal axis 2")
    ax.set_title(title or "word vectors, PCA to 2-D")
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi)
    return fig
