"""Bounding boxes: format conversion, areas, IoU, non-max suppression, anchor boxes.

The functions follow ``torchvision.ops`` (same names, argument order and results) and accept
NumPy/CuPy arrays or ember Tensors, returning the same kind. Boxes are ``(N, 4)`` in
``xyxy`` = (x1, y1, x2, y2) with 0 ≤ x1 ≤ x2 and 0 ≤ y1 ≤ y2 unless a format says otherwise:
``xywh`` = (x1, y1, w, h) and ``cxcywh`` = (centre x, centre y, w, h).

>>> boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=np.float32)
>>> nms(boxes, np.array([0.9, 0.8, 0.7]), iou_threshold=0.5)
array([0, 2])
"""
from __future__ import annotations

import numpy as np

from ember.autograd.tensor import Tensor
from ember.backend import as_array
from ember.backend import get_array_module as xp_of
from ember.ops.shape import stack

__all__ = [
    "assign_to_anchors", "batched_box_iou", "batched_nms", "box_area", "box_convert", "box_iou", "clip_boxes_to_image",
    "grid_anchors", "nms", "remove_small_boxes", "wh_iou",
]

BOX_FORMATS = ("xyxy", "xywh", "cxcywh")


# -- helpers ------------------------------------------------------------------------------------
def _like(array, template):
    """``array`` as the kind of ``template``: a Tensor (no grad) for a Tensor, else the array."""
    return Tensor(array) if isinstance(template, Tensor) else array


def _check_boxes(name: str, boxes, what: str = "boxes") -> None:
    shape = tuple(boxes.shape)
    if len(shape) != 2 or shape[1] != 4:
        raise ValueError(f"{name}: {what} must be (N, 4), got {shape}")


def _check_scores(name: str, boxes, scores, what: str = "scores") -> None:
    if tuple(scores.shape) != (boxes.shape[0],):
        raise ValueError(f"{name}: {what} must be (N,) = ({boxes.shape[0]},) for boxes {tuple(boxes.shape)}, "
                         f"got {tuple(scores.shape)}")


# -- conversion and areas -----------------------------------------------------------------------
def box_convert(boxes, in_fmt: str, out_fmt: str):
    """Convert boxes between ``'xyxy'``, ``'xywh'`` and ``'cxcywh'`` (torchvision's ``box_convert``).

    xyxy → cxcywh: cx = (x1 + x2)/2, cy = (y1 + y2)/2, w = x2 − x1, h = y2 − y1.
    ``boxes`` is (..., 4); on a Tensor the conversion is differentiable.

    >>> box_convert(np.array([[10., 20., 30., 60.]]), "xyxy", "cxcywh")
    array([[20., 40., 20., 40.]])
    """
    for fmt in (in_fmt, out_fmt):
        if fmt not in BOX_FORMATS:
            raise ValueError(f"box_convert: format must be one of {BOX_FORMATS}, got {fmt!r}")
    if boxes.shape[-1:] != (4,):
        raise ValueError(f"box_convert: boxes must be (..., 4), got {tuple(boxes.shape)}")
    if in_fmt == out_fmt:
        return boxes
    a, b, c, d = (boxes[..., i] for i in range(4))
    if in_fmt == "xywh":
        a, b, c, d = a, b, a + c, b + d
    elif in_fmt == "cxcywh":
        a, b, c, d = a - c / 2, b - d / 2, a + c / 2, b + d / 2
    if out_fmt == "xywh":
        a, b, c, d = a, b, c - a, d - b
    elif out_fmt == "cxcywh":
        a, b, c, d = (a + c) / 2, (b + d) / 2, c - a, d - b
    if isinstance(boxes, Tensor):
        return stack([a, b, c, d], dim=-1)
    return xp_of(boxes).stack([a, b, c, d], axis=-1)


def box_area(boxes):
    """Areas (x2 − x1)(y2 − y1) of (N, 4) xyxy boxes → (N,).

    >>> box_area(np.array([[0., 0., 2., 3.]]))
    array([6.])
    """
    _check_boxes("box_area", boxes)
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def batched_box_iou(b1, b2):
    """IoU of xyxy box arrays (..., N, 4) × (..., M, 4) → (..., N, M), over any leading batch axes
    (a batch of images with padded box lists, say); 0/0 gives NaN, as torchvision. Arrays only,
    unchecked: the fast path under ``box_iou``, ``nms``, matching and target assignment.

    >>> batched_box_iou(np.zeros((8, 5, 4)), np.zeros((8, 3, 4))).shape
    (8, 5, 3)
    """
    xp = xp_of(b1)
    area1 = (b1[..., 2] - b1[..., 0]) * (b1[..., 3] - b1[..., 1])
    area2 = (b2[..., 2] - b2[..., 0]) * (b2[..., 3] - b2[..., 1])
    lt = xp.maximum(b1[..., :, None, :2], b2[..., None, :, :2])
    rb = xp.minimum(b1[..., :, None, 2:], b2[..., None, :, 2:])
    wh = xp.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter / (area1[..., :, None] + area2[..., None, :] - inter)


def box_iou(boxes1, boxes2):
    """Pairwise intersection over union of (N, 4) and (M, 4) xyxy boxes → (N, M).

    IoU = |A ∩ B| / (|A| + |B| − |A ∩ B|). Touching boxes have IoU 0; two empty boxes give NaN
    (0/0), as in torchvision. Not differentiable (the result is a plain array or Tensor).

    >>> box_iou(np.array([[0., 0., 2., 2.]]), np.array([[1., 0., 3., 2.], [2., 2., 4., 4.]]))
    array([[0.33333333, 0.        ]])
    """
    _check_boxes("box_iou", boxes1, "boxes1")
    _check_boxes("box_iou", boxes2, "boxes2")
    return _like(batched_box_iou(as_array(boxes1), as_array(boxes2)), boxes1)


def wh_iou(wh1, wh2):
    """IoU of box shapes (N, 2) × (M, 2) = (w, h) placed on one common centre → (N, M).

    The anchor-matching IoU of YOLO: min(w1, w2)·min(h1, h2) / (w1h1 + w2h2 − min(w1, w2)·min(h1, h2)).

    >>> wh_iou(np.array([[2., 2.]]), np.array([[1., 1.], [2., 4.]]))
    array([[0.25, 0.5 ]])
    """
    wh1, wh2 = as_array(wh1), as_array(wh2)
    xp = xp_of(wh1)
    inter = xp.minimum(wh1[:, None, 0], wh2[None, :, 0]) * xp.minimum(wh1[:, None, 1], wh2[None, :, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter / ((wh1[:, 0] * wh1[:, 1])[:, None] + (wh2[:, 0] * wh2[:, 1])[None, :] - inter)


def remove_small_boxes(boxes, min_size: float):
    """Indices (ascending) of the boxes whose width and height are both ≥ ``min_size``.

    >>> remove_small_boxes(np.array([[0., 0., 1., 5.], [0., 0., 4., 4.]]), 2.0)
    array([1])
    """
    _check_boxes("remove_small_boxes", boxes)
    b = as_array(boxes)
    keep = ((b[:, 2] - b[:, 0]) >= min_size) & ((b[:, 3] - b[:, 1]) >= min_size)
    return _like(xp_of(b).nonzero(keep)[0].astype(np.int64), boxes)


def clip_boxes_to_image(boxes, size):
    """Clip (..., 4) xyxy boxes to an image of ``size`` = (height, width): x into [0, w], y into [0, h].

    >>> clip_boxes_to_image(np.array([[-5., 2., 70., 80.]]), (64, 64))
    array([[ 0.,  2., 64., 64.]])
    """
    if boxes.shape[-1:] != (4,):
        raise ValueError(f"clip_boxes_to_image: boxes must be (..., 4), got {tuple(boxes.shape)}")
    height, width = size
    b = as_array(boxes)
    xp = xp_of(b)
    upper = xp.asarray([width, height, width, height], dtype=b.dtype)
    return _like(xp.clip(b, 0, upper), boxes)


# -- non-max suppression ------------------------------------------------------------------------
def nms(boxes, scores, iou_threshold: float):
    """Non-max suppression: indices of the kept boxes, by decreasing score (torchvision's ``nms``).

    Repeatedly keep the highest-scoring remaining box and discard the remaining boxes whose
    IoU with it is above ``iou_threshold`` (strictly). Equal scores keep their input order
    (stable sort). Discard low-confidence boxes before calling (``scores > threshold``).

    Args:
        boxes: (N, 4) xyxy. scores: (N,). Returns: (K,) int64 indices into ``boxes``.

    >>> nms(np.array([[0., 0., 10., 10.], [1., 1., 10., 10.]]), np.array([0.6, 0.9]), 0.5)
    array([1])
    """
    _check_boxes("nms", boxes)
    _check_scores("nms", boxes, scores)
    b, s = as_array(boxes), as_array(scores)
    xp = xp_of(b)
    order = xp.argsort(-s, kind="stable")
    keep = []
    # the loop runs once per kept box; each step tests all remaining boxes at once
    while order.size > 0:
        i, rest = order[0], order[1:]
        keep.append(int(i))
        iou = batched_box_iou(b[i][None, :], b[rest])[0]
        order = rest[~(iou > iou_threshold)]  # NaN IoU (empty boxes) suppresses nothing, as torchvision
    return _like(xp.asarray(keep, dtype=np.int64), boxes)


def batched_nms(boxes, scores, idxs, iou_threshold: float):
    """Non-max suppression within each category ``idxs`` (torchvision's ``batched_nms``).

    Boxes of different categories never suppress each other: each category's boxes are shifted
    by idxs·(max coordinate + 1) so they cannot overlap, then one ``nms`` runs over all.

    Args:
        boxes: (N, 4) xyxy. scores: (N,). idxs: (N,) integer category of each box.
    Returns: (K,) int64 indices of kept boxes, by decreasing score.

    >>> boxes = np.array([[0., 0., 10., 10.], [1., 1., 10., 10.]])
    >>> batched_nms(boxes, np.array([0.9, 0.8]), np.array([0, 1]), 0.5)
    array([0, 1])
    """
    _check_boxes("batched_nms", boxes)
    _check_scores("batched_nms", boxes, scores)
    _check_scores("batched_nms", boxes, idxs, "idxs")
    b, i = as_array(boxes), as_array(idxs)
    if b.shape[0] == 0:
        return _like(xp_of(b).zeros(0, dtype=np.int64), boxes)
    offsets = i.astype(b.dtype) * (b.max() + 1)
    return _like(as_array(nms(b + offsets[:, None], as_array(scores), iou_threshold)), boxes)


# -- anchor boxes -------------------------------------------------------------------------------
def grid_anchors(grid_size: int, anchors, image_size: int):
    """Anchor boxes of every grid cell: (S, S, A, 4) xyxy, each anchor centred on its cell.

    The image (``image_size`` pixels square) is cut into S × S cells of c = image_size / S
    pixels; anchor a of cell (row i, column j) is centred at ((j + ½)c, (i + ½)c) with the
    shape ``anchors[a]`` = (w, h) in pixels.

    >>> grid_anchors(2, np.array([[4., 2.]]), 8)[0, 1, 0]      # row 0, column 1
    array([4., 1., 8., 3.])
    """
    a = np.asarray(as_array(anchors), dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 2:
        raise ValueError(f"grid_anchors: anchors must be (A, 2) widths and heights, got {a.shape}")
    cell = image_size / grid_size
    centres = (np.arange(grid_size) + 0.5) * cell
    cx = np.broadcast_to(centres[None, :, None], (grid_size, grid_size, len(a)))
    cy = np.broadcast_to(centres[:, None, None], (grid_size, grid_size, len(a)))
    w, h = a[:, 0], a[:, 1]
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)


def assign_to_anchors(boxes, anchors, grid_size: int, image_size: int):
    """Assign each object to the grid cell holding its midpoint and to that cell's best anchor.

    The cell is (row, col) = (⌊cy / c⌋, ⌊cx / c⌋) with c = image_size / S (a midpoint on the
    far edge goes to the last cell); the anchor is the one of highest IoU with the object's
    shape when both are centred on the same point (``wh_iou``; ties go to the first anchor).

    Args:
        boxes: (N, 4) xyxy pixels. anchors: (A, 2) anchor (w, h) in pixels.
    Returns: (rows, cols, anchor_indices), each (N,) int64 (NumPy).

    >>> assign_to_anchors(np.array([[40., 8., 60., 20.]]), np.array([[8., 8.], [20., 12.]]), 4, 64)
    (array([0]), array([3]), array([1]))
    """
    _check_boxes("assign_to_anchors", boxes)
    b = np.asarray(as_array(boxes), dtype=np.float64)
    a = np.asarray(as_array(anchors), dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 2:
        raise ValueError(f"assign_to_anchors: anchors must be (A, 2) widths and heights, got {a.shape}")
    cell = image_size / grid_size
    centre = (b[:, :2] + b[:, 2:]) / 2
    col, row = np.clip(np.floor(centre / cell).astype(np.int64), 0, grid_size - 1).T
    best = wh_iou(b[:, 2:] - b[:, :2], a).argmax(axis=1) if len(b) else np.zeros(0, dtype=np.int64)
    return row, col, best.astype(np.int64)
