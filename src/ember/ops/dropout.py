"""Dropout as an op: a random keep-mask, scaled so the expectation is unchanged.

Each variant is x ⊙ m (plus a constant shift for alpha dropout) with the drawn mask m a constant,
so mul's vjp gives the gradient gy ⊙ m, and gradients of every order, with that same mask.
"""
from __future__ import annotations

from ember import random
from ember.backend import to_device


def _keep_mask(shape, p, dtype, device):
    keep = random.generator().random(shape) >= p
    return to_device((keep * (1 / (1 - p) if p < 1 else 0.0)).astype(dtype), device)  # p = 1: all dropped


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


def feature_dropout(x, p=0.5, training=True):
    """Feature (channel) dropout: zero x[n, c, ...] as a whole with probability p, scale the kept by 1/(1 − p).

    PyTorch's ``feature_dropout``: the mask has shape (N, C, 1, …, 1), dimensions 0 and 1 of x.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if x.ndim < 2:
        raise RuntimeError(f"Feature dropout requires at least 2 dimensions in the input, got shape {x.shape}")
    if not training or p == 0.0 or x.numel() == 0:
        return x
    return x * _keep_mask(x.shape[:2] + (1,) * (x.ndim - 2), p, x.dtype, x.device)


# α' = λα of SELU (Klambauer et al. 2017): SELU's outputs saturate at −α' for large negative inputs.
_ALPHA_PRIME = 1.7580993408473766


def alpha_dropout(x, p=0.5, training=False, feature=False):
    """Alpha dropout (for SELU nets): dropped units are set to SELU's saturation −λα, then an affine map
    a·(·) + b restores zero mean and unit variance: a = ((1 − p)(1 + p·α'²))^{−1/2}, b = a·α'·p.

    Kept: a·x + a·α'·p; dropped: a·α'·(p − 1). ``feature=True`` drops whole channels (N, C, 1, …)
    as PyTorch's ``feature_alpha_dropout``. Identity unless ``training``.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0 or x.numel() == 0:
        return x
    if p == 1.0:
        return x * x.xp.zeros_like(x.array)
    if feature and x.ndim < 2:
        raise RuntimeError(f"Feature dropout requires at least 2 dimensions in the input, got shape {x.shape}")
    shape = x.shape[:2] + (1,) * (x.ndim - 2) if feature else x.shape
    keep = to_device(random.generator().random(shape) >= p, x.device)
    a = 1.0 / (((_ALPHA_PRIME**2) * p + 1) * (1 - p)) ** 0.5
    b = (keep - 1.0) * (_ALPHA_PRIME * a) + _ALPHA_PRIME * a * p
    return x * (keep * a).astype(x.dtype) + b.astype(x.dtype)
