"""A synthetic detection dataset: circles, squares and triangles on noisy backgrounds.

Each image has 1 to ``max_objects`` shapes of random class, size, colour and position, drawn
whole inside the image on a background of random dark colour with Gaussian pixel noise.
Shapes overlap little (their boxes have IoU ≤ ``max_iou``); every class's box is the square
around the shape: a circle's bounding square, the square itself, and an upward triangle whose
apex is at the top centre and base along the bottom of the box.

Rasterisation is vectorised over all images: the only loop is over the object slots
(k = 0..max_objects − 1), each drawing one shape into every image at once.

>>> data = make_shapes(100, image_size=64, max_objects=3, seed=0)
>>> data.images.shape, data.boxes.shape, data.labels.shape
((100, 3, 64, 64), (100, 3, 4), (100, 3))
>>> CLASSES[data.labels[0, 0]]
'square'
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ember.vision.boxes import batched_box_iou

__all__ = ["CLASSES", "Shapes", "make_shapes"]

CLASSES = ("circle", "square", "triangle")


class Shapes(NamedTuple):
    """Images and their padded annotations.

    images: (n, 3, H, W) float32 in [0, 1]. boxes: (n, max_objects, 4) float32 xyxy pixels
    (zeros in empty slots). labels: (n, max_objects) int64 index into ``CLASSES``, −1 in
    empty slots.
    """

    images: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray

    def targets(self) -> list[dict]:
        """Per-image ground truth as a list of {'boxes': (k, 4), 'labels': (k,)} (empty slots dropped)."""
        keep = self.labels >= 0
        return [{"boxes": b[m], "labels": c[m]} for b, c, m in zip(self.boxes, self.labels, keep, strict=True)]


def _place(rng, n, image_size, sizes, placed, max_iou, tries):
    """One new box per image, the first of ``tries`` random candidates overlapping ``placed`` ≤ max_iou.

    Returns (boxes (n, 4), found (n,) bool); ``placed`` is (n, K, 4) with empty boxes in unused slots.
    """
    side = rng.uniform(sizes[0], sizes[1], (n, tries))
    x1 = rng.uniform(0, 1, (n, tries)) * (image_size - side)
    y1 = rng.uniform(0, 1, (n, tries)) * (image_size - side)
    candidates = np.stack([x1, y1, x1 + side, y1 + side], axis=-1)
    ok = np.ones((n, tries), dtype=bool)
    if placed.shape[1]:
        with np.errstate(invalid="ignore"):
            ok = ~(batched_box_iou(candidates, placed) > max_iou).any(axis=-1)
    first = ok.argmax(axis=1)
    return candidates[np.arange(n), first], ok.any(axis=1)


def _masks(label, box, image_size):
    """Boolean masks (n, H, W) of each image's shape of class ``label`` (n,) filling box (n, 4)."""
    centres = np.arange(image_size, dtype=np.float32) + 0.5  # pixel centres
    r = ((box[:, 2] - box[:, 0]) / 2)[:, None, None]
    dx = centres[None, None, :] - ((box[:, 0] + box[:, 2]) / 2)[:, None, None]
    dy = centres[None, :, None] - ((box[:, 1] + box[:, 3]) / 2)[:, None, None]
    circle = dx * dx + dy * dy <= r * r
    square = (np.abs(dx) <= r) & (np.abs(dy) <= r)
    triangle = (dy <= r) & (2 * np.abs(dx) <= dy + r)
    label = label[:, None, None]
    return np.where(label == 0, circle, np.where(label == 1, square, triangle))


def make_shapes(n: int, image_size: int = 64, max_objects: int = 3, seed: int = 0, min_objects: int = 1,
                size_range=(0.15, 0.4), noise: float = 0.08, max_iou: float = 0.1, tries: int = 30) -> Shapes:
    """Generate ``n`` images of circles, squares and triangles with their boxes and labels.

    Args:
        n: number of images. image_size: side H = W in pixels.
        max_objects, min_objects: each image gets a uniform count in [min_objects, max_objects]
            (a shape that finds no free place within ``tries`` draws is left out).
        seed: seed of everything random (same seed, same images).
        size_range: box side as a fraction of ``image_size`` (uniform in the range).
        noise: standard deviation of the Gaussian pixel noise.
        max_iou: largest IoU allowed between two boxes of one image.
    Returns: ``Shapes(images, boxes, labels)`` (see ``Shapes``).

    >>> images, boxes, labels = make_shapes(8, seed=1)
    """
    if n < 0 or image_size < 8 or not 1 <= min_objects <= max_objects:
        raise ValueError(f"make_shapes: need n ≥ 0, image_size ≥ 8, 1 ≤ min_objects ≤ max_objects; got n={n}, "
                         f"image_size={image_size}, min_objects={min_objects}, max_objects={max_objects}")
    if not 0 < size_range[0] <= size_range[1] < 1:
        raise ValueError(f"make_shapes: size_range must satisfy 0 < low ≤ high < 1, got {size_range}")
    rng = np.random.default_rng(seed)
    sizes = (size_range[0] * image_size, size_range[1] * image_size)
    background = rng.uniform(0.0, 0.35, (n, 3, 1, 1))
    images = np.broadcast_to(background, (n, 3, image_size, image_size)).astype(np.float32)
    boxes = np.zeros((n, max_objects, 4), dtype=np.float32)
    labels = np.full((n, max_objects), -1, dtype=np.int64)
    counts = rng.integers(min_objects, max_objects + 1, n)
    for k in range(max_objects):
        box, found = _place(rng, n, image_size, sizes, boxes[:, :k], max_iou, tries)
        label = rng.integers(0, len(CLASSES), n)
        colour = rng.uniform(0.0, 1.0, (n, 3))
        colour *= rng.uniform(0.6, 1.0, (n, 1)) / colour.max(axis=1, keepdims=True)  # brightest channel ≥ 0.6
        present = found & (k < counts)
        boxes[present, k], labels[present, k] = box[present], label[present]
        mask = _masks(label, box, image_size) & present[:, None, None]
        np.copyto(images, colour[:, :, None, None].astype(np.float32), where=mask[:, None])
    images += np.float32(noise) * rng.standard_normal(images.shape, dtype=np.float32)
    np.clip(images, 0.0, 1.0, out=images)
    return Shapes(images, boxes, labels)
