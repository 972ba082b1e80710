"""Parameter groups with and without weight decay, and the warm-up + cosine learning-rate schedule.

The Transformer recipe (GPT-2, nanoGPT): decay only the matrices and embeddings, never biases
or normalisation gains, and ramp the rate up linearly before a cosine decay to a floor.

>>> opt = em.optim.AdamW(em.optim.param_groups(model, weight_decay=0.1), lr=6e-4, betas=(0.9, 0.95))
>>> sched = em.optim.warmup_cosine(opt, warmup_steps=100, total_steps=5000, min_lr=6e-5)
"""
from __future__ import annotations

import math

from ember.optim.lr_scheduler import LambdaLR

__all__ = ["WarmupCosine", "param_groups", "warmup_cosine"]


def param_groups(model, weight_decay: float) -> list[dict]:
    """Two optimiser groups of ``model``'s trainable parameters: those with ≥ 2 dimensions
    (weight matrices, embeddings) with ``weight_decay``, the rest (biases, LayerNorm gains)
    with 0 — decaying a gain or an offset towards 0 only fights the normalisation.

    A weight shared by two modules (a tied embedding) appears once.

    >>> groups = param_groups(model, 0.1)
    >>> [g["weight_decay"] for g in groups]
    [0.1, 0.0]
    """
    params = [p for _, p in model.named_parameters() if p.requires_grad]
    return [{"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]


class WarmupCosine:
    """The factor f(step) of ``base_lr`` that ``warmup_cosine`` gives ``LambdaLR``:

        f = (step + 1) / (warmup_steps + 1)                        for step < warmup_steps
        f = m + (1 − m)·½(1 + cos(π·(step − warmup_steps) / (total_steps − warmup_steps)))  up to total_steps
        f = m                                                      after total_steps

    with m = min_lr / base_lr. A callable object, so that the scheduler's ``state_dict`` keeps it.
    """

    def __init__(self, warmup_steps: int, total_steps: int, min_factor: float):
        self.warmup_steps, self.total_steps, self.min_factor = warmup_steps, total_steps, min_factor

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / (self.warmup_steps + 1)
        if step >= self.total_steps:
            return self.min_factor
        ratio = (step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps)
        return self.min_factor + (1 - self.min_factor) * 0.5 * (1 + math.cos(math.pi * ratio))


def warmup_cosine(optimizer, warmup_steps: int, total_steps: int, min_lr: float = 0.0) -> LambdaLR:
    """A ``LambdaLR`` that warms each group's rate up linearly over ``warmup_steps`` steps, then
    decays it along a half cosine to ``min_lr`` at ``total_steps`` and holds it there (see
    ``WarmupCosine``). Step it once per optimiser step.

    >>> sched = warmup_cosine(opt, warmup_steps=100, total_steps=5000, min_lr=6e-5)
    """
    if not 0 <= warmup_steps <= total_steps:
        raise ValueError(f"warmup_cosine: need 0 <= warmup_steps <= total_steps, got {warmup_steps}, {total_steps}")
    if min_lr < 0:
        raise ValueError(f"warmup_cosine: min_lr must be >= 0, got {min_lr}")
    factors = [WarmupCosine(warmup_steps, total_steps, min_lr / group["lr"] if group["lr"] else 0.0)
               for group in optimizer.param_groups]
    return LambdaLR(optimizer, factors)
