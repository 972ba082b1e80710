"""The 2-D classification data sets of the neural-network playground, and the input features built from them.

Four point clouds in the square [−6, 6]², two classes each (label 1 "blue", 0 "orange"), as in the
TensorFlow playground the page imitates:

- ``circle``: class 1 inside radius 2.5, class 0 on the ring 3.5–5 around it;
- ``xor``: uniform points in [−5, 5]² kept 0.3 away from the axes, class 1 where x₁·x₂ > 0;
- ``gauss``: two Gaussian blobs centred at (2, 2) (class 1) and (−2, −2) (class 0);
- ``spiral``: two interleaved arms r = θ·5/(1.75·2π), the second rotated by π.

``noise`` ∈ [0, 1] adds Gaussian jitter of standard deviation ``noise``·σ_name to every point
(σ = 1.2 for the circle and the spiral, 1.5 for XOR) — and, for the blobs, widens them from σ 0.5 to
0.5 + 2·noise, so they overlap. A seeded permutation splits the points into train and test.

>>> data = make_dataset("spiral", n=400, noise=0.1, train_fraction=0.5, seed=0)
>>> data.x_train.shape, data.y_test.shape
((200, 2), (200,))
>>> features(data.x_train, ("x1", "x2", "x1x2")).shape
(200, 3)
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["DATASETS", "FEATURES", "RADIUS", "Dataset2D", "features", "grid", "make_dataset"]

RADIUS = 6.0
"""The half-width of the square the points, the heat maps and the neuron maps cover."""


class Dataset2D(NamedTuple):
    """A split 2-D data set: points (n, 2) float32, labels (n,) float32 in {0, 1}."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


# -- the point clouds (each returns points (n, 2) float64 and labels (n,) in {0, 1}) -------------


def _circle(n, noise, rng):
    label = np.arange(n) % 2
    inner = rng.uniform(0.0, 2.5, n)
    outer = rng.uniform(3.5, 5.0, n)
    r = np.where(label == 1, inner, outer)
    angle = rng.uniform(0.0, 2 * np.pi, n)
    x = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1)
    return x + rng.normal(0.0, 1.2 * noise, x.shape), label


def _xor(n, noise, rng):
    x = rng.uniform(-5.0, 5.0, (n, 2))
    x += np.where(x > 0, 0.3, -0.3)  # keep points off the axes, where the label flips
    label = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    return x + rng.normal(0.0, 1.5 * noise, x.shape), label


def _gauss(n, noise, rng):
    label = np.arange(n) % 2
    centre = np.where(label[:, None] == 1, 2.0, -2.0)
    return centre + rng.normal(0.0, 0.5 + 2.0 * noise, (n, 2)), label


def _spiral(n, noise, rng):
    label = np.arange(n) % 2
    t = rng.uniform(0.0, 1.0, n)
    r = 5.0 * t
    angle = 1.75 * 2 * np.pi * t + np.pi * label
    x = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
    return x + rng.normal(0.0, 1.2 * noise, x.shape), label


DATASETS = {"circle": _circle, "xor": _xor, "gauss": _gauss, "spiral": _spiral}
"""The point-cloud generators by name."""


def make_dataset(name: str, n: int = 400, noise: float = 0.0, train_fraction: float = 0.5,
                 seed: int = 0) -> Dataset2D:
    """``n`` labelled points of the data set ``name``, split into train and test.

    Args:
        name: 'circle', 'xor', 'gauss' or 'spiral'.
        n: number of points (2 ≤ n); the classes are balanced (alternating) except for ``xor``.
        noise: jitter in [0, 1] (see the module docstring).
        train_fraction: share of the points in the training side, in (0, 1); each side keeps at least one.
        seed: seed of the points and of the split.

    Points are clipped to the square [−6, 6]² the maps show.

    >>> make_dataset("xor", n=10, train_fraction=0.7).x_test.shape
    (3, 2)
    """
    if name not in DATASETS:
        raise ValueError(f"make_dataset: unknown data set {name!r}; choose one of {sorted(DATASETS)}")
    if int(n) < 2:
        raise ValueError(f"make_dataset: n must be at least 2, got {n}")
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"make_dataset: noise must lie in [0, 1], got {noise}")
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"make_dataset: train_fraction must lie in (0, 1), got {train_fraction}")
    rng = np.random.default_rng(seed)
    x, label = DATASETS[name](int(n), float(noise), rng)
    x = np.clip(x, -RADIUS, RADIUS).astype(np.float32)
    label = label.astype(np.float32)
    order = rng.permutation(int(n))
    cut = min(max(int(round(train_fraction * n)), 1), int(n) - 1)
    train, test = order[:cut], order[cut:]
    return Dataset2D(x[train], label[train], x[test], label[test])


# -- input features --------------------------------------------------------------------------------

FEATURES = {
    "x1": lambda x: x[:, 0],
    "x2": lambda x: x[:, 1],
    "x1sq": lambda x: x[:, 0] ** 2,
    "x2sq": lambda x: x[:, 1] ** 2,
    "x1x2": lambda x: x[:, 0] * x[:, 1],
    "sinx1": lambda x: np.sin(x[:, 0]),
    "sinx2": lambda x: np.sin(x[:, 1]),
}
"""The input features the network may see, by name: x₁, x₂, x₁², x₂², x₁x₂, sin x₁, sin x₂."""


def features(points, names) -> np.ndarray:
    """The chosen input features of points (n, 2): an (n, len(names)) float32 array, columns in ``names`` order.

    >>> features(np.array([[1.0, 2.0]]), ("x1x2", "x2sq"))
    array([[2., 4.]], dtype=float32)
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"features: expected points of shape (n, 2), got {points.shape}")
    unknown = [name for name in names if name not in FEATURES]
    if unknown or not names:
        raise ValueError(f"features: unknown or no features {unknown or list(names)}; choose from {list(FEATURES)}")
    return np.stack([FEATURES[name](points) for name in names], axis=1).astype(np.float32)


def grid(size: int) -> np.ndarray:
    """The centres of a size × size grid over [−6, 6]², row-major from the top-left (x₂ = +6) corner: (size², 2).

    Row i of the picture is x₂ = 6 − (i + ½)·12/size, column j is x₁ = −6 + (j + ½)·12/size.

    >>> grid(2)
    array([[-3.,  3.],
           [ 3.,  3.],
           [-3., -3.],
           [ 3., -3.]], dtype=float32)
    """
    centres = -RADIUS + (np.arange(size) + 0.5) * (2 * RADIUS / size)
    x1, x2 = np.meshgrid(centres, centres[::-1])
    return np.stack([x1.ravel(), x2.ravel()], axis=1).astype(np.float32)
