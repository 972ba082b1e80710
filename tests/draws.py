"""Seeded input arrays shared by the loss tests: normal samples, ±1 signs, probability rows."""
import numpy as np


def normal(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def signs(*shape, seed=1):
    return np.where(np.random.default_rng(seed).random(shape) < 0.5, -1.0, 1.0)


def probs(*shape, seed=0):
    """Rows of a softmax of normal samples: each sums to 1 along the last axis."""
    e = np.exp(normal(*shape, seed=seed))
    return e / e.sum(-1, keepdims=True)
