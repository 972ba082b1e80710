"""Batches for training a grid detector: annotated images → (images, YOLO targets), with random flips.

A sample is ``(image (3, H, W), boxes (M, 4), labels (M,))``: boxes xyxy in pixels, padded to M
slots, label −1 in an empty slot — row i of the arrays of ``ember.vision.shapes.make_shapes``, so
``TensorDataset(*make_shapes(n))`` serves them. ``YOLOCollate`` is the ``collate_fn`` that makes
a list of samples into one training batch ``(images (N, 3, H, W), targets (N, S, S, A, 5 + C))``
for ``YOLOLoss``: it stacks them, mirrors a random part of them left–right with their boxes, and
encodes the targets (``encode_targets``). With the augmentation and the encoding in the loader,
a detector trains in the plain ``Trainer`` loop.

>>> data = make_shapes(256)
>>> collate = YOLOCollate.for_model(model, hflip=0.5)                          # doctest: +SKIP
>>> loader = DataLoader(TensorDataset(*data), batch_size=32, shuffle=True, collate_fn=collate)  # doctest: +SKIP
>>> Trainer(model, optimizer, YOLOLoss(), metrics=None).fit(loader, epochs=12)  # doctest: +SKIP
"""
from __future__ import annotations

import numpy as np

from ember.autograd.tensor import Tensor
from ember.backend import to_numpy
from ember.data.collate import default_collate
from ember.data.sampler import numpy_generator
from ember.vision.transforms import RandomHorizontalFlip
from ember.vision.yolo import encode_targets

__all__ = ["YOLOCollate", "hflip_boxes"]


def hflip_boxes(boxes: np.ndarray, width: float) -> np.ndarray:
    """Boxes (..., 4) xyxy mirrored left–right in an image ``width`` pixels wide:
    (x₁, y₁, x₂, y₂) → (W − x₂, y₁, W − x₁, y₂), so that x₁ ≤ x₂ still holds.

    >>> hflip_boxes(np.array([[10., 5., 20., 15.]]), 64)
    array([[44.,  5., 54., 15.]])
    """
    flipped = boxes.copy()
    flipped[..., 0], flipped[..., 2] = width - boxes[..., 2], width - boxes[..., 0]
    return flipped


class YOLOCollate:
    """``collate_fn`` for a detector: samples (image, boxes, labels) → (images, ``encode_targets`` targets).

    Args:
        anchors: (A, 2) anchor widths and heights in pixels. num_classes: C.
        grid_size: S. image_size: the image side in pixels.
        hflip: the probability of mirroring each image left–right with its boxes (only for classes
            that are left–right symmetric); ``None`` or 0: no flips, no draws.
        generator: where the flips are drawn from (a NumPy ``Generator`` or an object holding one;
            default: ember's global generator). Handing the DataLoader the same generator makes
            its shuffles and these flips one seeded stream.

    The flip draws happen in the process that collates: with ``num_workers`` > 0 each worker
    draws from its own copy of ``generator`` (pass none there: workers reseed ember's).

    >>> collate = YOLOCollate(anchors=[[16, 16]], num_classes=3, grid_size=8, image_size=64)
    >>> images, targets = collate([(np.zeros((3, 64, 64), np.float32), np.array([[8., 8., 24., 24.]]),
    ...                             np.array([1]))])
    >>> images.shape, targets.shape
    ((1, 3, 64, 64), (1, 8, 8, 1, 8))
    """

    def __init__(self, anchors, num_classes: int, grid_size: int, image_size: int, hflip: float | None = 0.5,
                 generator=None):
        self.anchors = to_numpy(anchors.array) if isinstance(anchors, Tensor) else np.asarray(anchors)
        self.num_classes, self.grid_size, self.image_size = int(num_classes), int(grid_size), int(image_size)
        self.flip = RandomHorizontalFlip(hflip) if hflip else None
        self.generator = generator

    @classmethod
    def for_model(cls, model, hflip: float | None = 0.5, generator=None) -> YOLOCollate:
        """The collate for ``model`` (a ``TinyYOLO``): its anchors, classes, grid and image size."""
        return cls(model.anchors, model.num_classes, model.grid_size, model.image_size, hflip, generator)

    def __call__(self, samples) -> tuple[Tensor, Tensor]:
        images, boxes, labels = (to_numpy(t.array) for t in default_collate(list(samples)))
        if self.flip is not None:
            params = self.flip.get_params(images, numpy_generator(self.generator))
            images = self.flip.apply(images, params)
            boxes = np.where(params["flip"][:, None, None], hflip_boxes(boxes, images.shape[-1]), boxes)
            boxes[labels < 0] = 0.0  # empty slots stay all zero (W − 0 would give them a width)
        target = encode_targets(boxes, labels, self.anchors, self.num_classes, self.grid_size, self.image_size)
        return Tensor(images), Tensor(target)

    def __repr__(self) -> str:
        return (f"YOLOCollate(anchors={self.anchors.tolist()}, num_classes={self.num_classes}, "
                f"grid_size={self.grid_size}, image_size={self.image_size}, "
                f"hflip={None if self.flip is None else self.flip.p})")
