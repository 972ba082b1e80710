"""Dropout as an op: a random keep-mask, scaled so the expectation is unchanged."""
from __future__ import annotations

from ember import random
from ember.backend import to_device


def _keep_mask(shape, p, dtype, device):
    keep = random.generator().random(shape) >= p
    return to_device((keep / (1 - p)).astype(dtype), device)


def dropout(x, p=0.5, training=True):
    """Inverted dropout: zero each element with probability p, scale the kept by 1/(1 − p).

    Identity when not training (or p = 0), so evaluation needs no rescaling.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability p must lie in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * x.xp.zeros_like(x.array)  # exact zeros even for inf/NaN inputs
    return x * _keep_mask(x.shape, p, x.dtype, x.device)


def dropout2d(x, p=0.5, training=True):
    """Channel dropout for (N, C, H, W): whole feature maps are zeroed together."""
    if x.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expects (N, C, H, W) or (C, H, W) input, got shape {x.shape}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout2d: probability p must lie in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    shape = x.shape[:-2] + (1, 1)
    return x * _keep_mask(shape, p, x.dtype, x.device)
