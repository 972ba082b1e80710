"""Multi-task learning: one body, several heads, and losses that count only the labels present.

A multi-task example carries one label per task, some of them unknown (an image labelled for
"car" but never checked for "stop sign"). The loss sums each task's binary cross-entropy over
the labelled entries only, J = Σ_tasks Σ_{labelled i} ℓ(ŷ_i, y_i) / (number labelled), so a
missing label neither pushes the head towards 0 nor towards 1. Missing labels are NaN in the
target, or marked False in an explicit mask.

Transfer learning needs no helper here: freeze a body with ``body.requires_grad_(False)``
(its parameters then get no gradient and the optimiser skips them), put it in ``eval()`` if
it has BatchNorm or dropout, and assign a new head (``model.fc = nn.Linear(...)``).

>>> loss = masked_bce_with_logits(model(x), y)            # y (N, T) with NaN where unlabelled
>>> loss = MultiTaskLoss(weights=[1.0, 0.5])([head_a, head_b], [y_a, y_b])
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from ember.autograd.tensor import as_tensor
from ember.backend import get_array_module as xp_of
from ember.nn.module import Module
from ember.ops.loss import REDUCTIONS, binary_cross_entropy_with_logits
from ember.ops.reduction import sum

__all__ = ["MultiTaskLoss", "masked_bce_with_logits"]


def _label_mask(target, mask, name):
    """The boolean mask of labelled entries: ``mask`` if given, else where the target is not NaN."""
    xp = xp_of(target)
    if mask is None:
        return ~xp.isnan(target) if target.dtype.kind == "f" else xp.ones(target.shape, dtype=bool)
    mask = as_tensor(mask).array
    if mask.shape != target.shape:
        raise ValueError(f"{name}: mask shape {mask.shape} must equal target shape {target.shape}")
    return mask.astype(bool)


def masked_bce_with_logits(input, target, mask=None, pos_weight=None, reduction="mean"):
    """Binary cross-entropy on logits, over the labelled entries only.

    ℓ_ij = m_ij · BCE(σ(x_ij), y_ij) with m_ij = 1 where y_ij is known (not NaN, or ``mask``
    True). 'mean' divides the sum by the number of labelled entries (0 if there are none),
    'sum' adds them, 'none' returns ℓ with zeros at the missing entries. Unlabelled targets
    may hold anything (NaN included): they affect neither the loss nor its gradient.

    Shapes: input (N, T) logits (any shape), target like input, mask like input (bool).

    >>> y = em.tensor([[1.0, float("nan")], [0.0, 1.0]])
    >>> masked_bce_with_logits(em.zeros(2, 2), y)          # mean of three log 2
    tensor(0.6931472)
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"masked_bce_with_logits: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    target = as_tensor(target).array
    if target.shape != input.shape:
        raise ValueError(f"masked_bce_with_logits: input shape {input.shape} and target shape {target.shape} differ")
    xp = xp_of(target)
    labelled = _label_mask(target, mask, "masked_bce_with_logits")
    filled = xp.where(labelled, target, 0).astype(input.dtype)  # a NaN target would poison the masked product
    loss = binary_cross_entropy_with_logits(input, filled, reduction="none", pos_weight=pos_weight)
    loss = loss * labelled.astype(input.dtype)
    if reduction == "none":
        return loss
    total = sum(loss)
    return total / max(int(labelled.sum()), 1) if reduction == "mean" else total


class MultiTaskLoss(Module):
    """The summed loss of several sigmoid heads: L = Σ_t w_t · masked_bce_with_logits(x_t, y_t, m_t).

    Each head t (logits of any shape, e.g. (N,) or (N, k)) is scored only on its labelled
    entries, so examples missing a task's label still train the other heads and the shared
    body. ``outputs`` and ``targets`` are sequences (one entry per head) or mappings keyed by
    head name; ``masks`` is optional, in the same structure (default: NaN = missing).

    Args:
        weights: one weight per head (a sequence, or a mapping by head name); default all 1.
        reduction: each head's reduction, 'mean' (over its labelled entries) or 'sum'.

    >>> criterion = MultiTaskLoss(weights={"digit_even": 1.0, "digit_big": 0.5})
    >>> loss = criterion({"digit_even": z1, "digit_big": z2}, {"digit_even": y1, "digit_big": y2})
    """

    def __init__(self, weights=None, reduction: str = "mean"):
        super().__init__()
        if reduction not in ("mean", "sum"):
            raise ValueError(f"MultiTaskLoss: reduction must be 'mean' or 'sum', got {reduction!r}")
        self.weights, self.reduction = weights, reduction

    def forward(self, outputs, targets, masks=None):
        keys = _task_keys(outputs, targets=targets, masks=masks, weights=self.weights)
        total = 0.0
        for key in keys:
            mask = None if masks is None else masks[key]
            loss = masked_bce_with_logits(outputs[key], targets[key], mask, reduction=self.reduction)
            total = total + (1.0 if self.weights is None else self.weights[key]) * loss
        return total


def _task_keys(outputs, **others):
    """The head keys (names or positions), checked to agree across outputs, targets, masks and weights."""
    named = isinstance(outputs, Mapping)
    if not (named or isinstance(outputs, Sequence)):
        raise TypeError(f"MultiTaskLoss: outputs must be a sequence or a mapping of head logits, got "
                        f"{type(outputs).__name__} (for one (N, T) tensor use masked_bce_with_logits)")
    keys = list(outputs) if named else list(range(len(outputs)))
    bad = [name for name, x in others.items() if x is not None and (
        isinstance(x, Mapping) != named or (set(x) != set(keys) if named else len(x) != len(keys)))]
    if bad:
        raise ValueError(f"MultiTaskLoss: {' and '.join(bad)} must hold one entry per head, as outputs does "
                         f"({len(keys)} heads: {keys})")
    return keys
