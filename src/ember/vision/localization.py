"""Object localisation: classify an image and put a box around its one object.

The network outputs, per image, the course's vector

    y = [p_c, b_x, b_y, b_h, b_w, c_1, ..., c_k]

p_c = 1 when there is an object (0 for background only), (b_x, b_y) its midpoint and
(b_h, b_w) its height and width, all as fractions of the image (top-left (0, 0), bottom-right
(1, 1)), and c_1..c_k the one-hot class. The loss is the sum of squared errors over all
5 + k entries when p_c = 1 and the p_c term alone when p_c = 0 (the rest is "don't care").

>>> y = localization_target(np.array([[16., 8., 48., 40.]]), np.array([2]), num_classes=3, image_size=64)
>>> y
array([[1.   , 0.5  , 0.375, 0.5  , 0.5  , 0.   , 0.   , 1.   ]],
      dtype=float32)
>>> loss = localization_loss(model(images), em.tensor(y))                 # doctest: +SKIP
"""
from __future__ import annotations

import numpy as np

from ember.autograd.tensor import Tensor, as_tensor
from ember.backend import get_array_module as xp_of
from ember.backend import to_numpy
from ember.nn.module import Module

__all__ = ["LocalizationLoss", "decode_localization", "localization_loss", "localization_target"]

_REDUCTIONS = ("none", "mean", "sum")


def _image_hw(image_size) -> tuple[float, float]:
    """``image_size`` as (height, width): an int is a square image."""
    if isinstance(image_size, (int, float)):
        return float(image_size), float(image_size)
    height, width = image_size
    return float(height), float(width)


def localization_target(boxes, labels, num_classes: int, image_size):
    """The course's target vectors [p_c, b_x, b_y, b_h, b_w, c_1..c_k] of N one-object images.

    Args:
        boxes: (N, 4) xyxy pixels of each image's object (ignored where there is none).
        labels: (N,) class index in [0, k), or −1 for an image with no object (then y = 0).
        num_classes: k. image_size: int (square) or (height, width) in pixels.
    Returns: (N, 5 + k) float32 array.

    >>> localization_target(np.zeros((1, 4)), np.array([-1]), 2, 64)
    array([[0., 0., 0., 0., 0., 0., 0.]], dtype=float32)
    """
    boxes, labels = np.asarray(boxes, dtype=np.float64), np.asarray(labels)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or labels.shape != (len(boxes),):
        raise ValueError(f"localization_target: expected boxes (N, 4) and labels (N,), got {boxes.shape} "
                         f"and {labels.shape}")
    if labels.size and (labels.min() < -1 or labels.max() >= num_classes):
        raise ValueError(f"localization_target: labels must lie in [-1, {num_classes}), got {labels.min()}.."
                         f"{labels.max()}")
    height, width = _image_hw(image_size)
    present = labels >= 0
    y = np.zeros((len(boxes), 5 + num_classes), dtype=np.float32)
    y[:, 0] = present
    y[:, 1] = (boxes[:, 0] + boxes[:, 2]) / (2 * width)
    y[:, 2] = (boxes[:, 1] + boxes[:, 3]) / (2 * height)
    y[:, 3] = (boxes[:, 3] - boxes[:, 1]) / height
    y[:, 4] = (boxes[:, 2] - boxes[:, 0]) / width
    y[present, 5 + labels[present]] = 1.0
    y[~present] = 0.0
    return y


def localization_loss(input, target, reduction: str = "mean"):
    """The course's localisation loss of predictions ``input`` against ``target`` (both (N, 5 + k)).

    ℓ = Σ_i (ŷ_i − y_i)²  if y_1 = p_c = 1,   ℓ = (ŷ_1 − y_1)²  if p_c = 0;
    reduced over the N images by ``reduction`` ('mean', 'sum' or 'none'). Differentiable in
    ``input``; ``target`` is data (a Tensor or an array).

    >>> localization_loss(em.tensor([[0.5, 0.1, 0.1, 0.1, 0.1]]), em.tensor([[0.0, 0.5, 0.5, 0.5, 0.5]]))
    tensor(0.25)
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"localization_loss: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    input = as_tensor(input)
    y = target.array if isinstance(target, Tensor) else target
    if tuple(input.shape) != tuple(y.shape) or input.ndim != 2 or input.shape[1] < 5:
        raise ValueError(f"localization_loss: input and target must both be (N, 5 + k), got {tuple(input.shape)} "
                         f"and {tuple(y.shape)}")
    xp = xp_of(input.array)
    y = xp.asarray(y, dtype=input.dtype)
    # weight 1 on p_c always, and on every other entry only where an object is present
    weight = xp.concatenate([xp.ones_like(y[:, :1]), xp.broadcast_to(y[:, :1], (len(y), y.shape[1] - 1))], axis=1)
    diff = input - Tensor(y)
    loss = (diff * diff * Tensor(weight)).sum(axis=1)
    if reduction == "none":
        return loss
    return loss.mean() if reduction == "mean" else loss.sum()


class LocalizationLoss(Module):
    """Module form of ``localization_loss`` (the course's squared-error localisation loss).

    >>> criterion = LocalizationLoss()
    >>> loss = criterion(model(images), targets)                               # doctest: +SKIP
    """

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"LocalizationLoss: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction

    def forward(self, input, target):
        return localization_loss(input, target, self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


def decode_localization(output, image_size, threshold: float = 0.5):
    """Read predictions (N, 5 + k) back as (boxes (N, 4) xyxy pixels, labels (N,), p_c (N,)).

    Images with p_c below ``threshold`` get label −1 (no object). ``output`` is an array or a
    Tensor of already-activated values (p_c a probability, box entries fractions of the image).

    >>> decode_localization(np.array([[0.9, 0.5, 0.375, 0.5, 0.5, 0.1, 0.8]]), 64)[1]
    array([1])
    """
    y = to_numpy(output.array if isinstance(output, Tensor) else output)
    height, width = _image_hw(image_size)
    cx, cy, h, w = y[:, 1] * width, y[:, 2] * height, y[:, 3] * height, y[:, 4] * width
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    labels = np.where(y[:, 0] >= threshold, y[:, 5:].argmax(axis=1), -1)
    return boxes, labels.astype(np.int64), y[:, 0]
