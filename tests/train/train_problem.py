"""The small problem the ember.train tests share: three separable blobs and a small model."""
import numpy as np

import ember as em
from ember import nn


def make_blobs(n=240, seed=0):
    """Three Gaussian blobs in 2-D around well-separated centres, float32 inputs and int64 labels."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 2.0], [2.0, -1.0], [-2.0, -1.0]])
    y = rng.integers(0, 3, n)
    x = centres[y] + rng.normal(0, 0.5, (n, 2))
    return x.astype(np.float32), y.astype(np.int64)


def make_model(dropout=0.1, seed=None):
    if seed is not None:
        em.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 3))
