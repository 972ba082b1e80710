"""A YOLO-style one-stage detector: S × S grid × A anchors × (5 + C) outputs.

Each grid cell predicts, for each of its A anchor boxes, the course's vector

    y = [p_c, b_x, b_y, b_h, b_w, c_1, ..., c_C]

An object belongs to the cell holding its midpoint and to that cell's anchor of highest IoU
with its shape (``ember.vision.boxes.assign_to_anchors``). With cell size c, anchor (a_w, a_h)
and the cell at (row i, column j), the target entries and the decoding of raw outputs t are

    p_c = 1                      p̂_c = σ(t_0)
    b_x = x/c − j ∈ [0, 1)       x̂ = (j + σ(t_1))·c        (midpoint offset inside the cell)
    b_y = y/c − i ∈ [0, 1)       ŷ = (i + σ(t_2))·c
    b_h = log(h / a_h)           ĥ = a_h·exp(t_3)           (size relative to the anchor)
    b_w = log(w / a_w)           ŵ = a_w·exp(t_4)
    c_k one-hot                  ĉ = softmax(t_5..)

The loss is the course's sum of squared errors with YOLO's weights (``YOLOLoss``). Detections
are scored p̂_c · max_k ĉ_k, thresholded, and cleaned by per-class non-max suppression
(``postprocess``).

>>> model = TinyYOLO(num_classes=3, num_anchors=2, grid_size=8, image_size=64)
>>> out = model(em.randn(4, 3, 64, 64))                    # (4, 8, 8, 2, 8)
>>> target = encode_targets(boxes, labels, model.anchors, 3, 8, 64)     # doctest: +SKIP
>>> loss = YOLOLoss()(out, target)                                      # doctest: +SKIP
>>> detections = postprocess(out, model.anchors, 64)      # one dict per image: boxes, scores, labels
"""
from __future__ import annotations

import math

import numpy as np

from ember.autograd.grad_mode import no_grad
from ember.autograd.tensor import Tensor, as_tensor
from ember.backend import get_array_module as xp_of
from ember.backend import to_numpy
from ember.nn.activation import LeakyReLU
from ember.nn.containers import Sequential
from ember.nn.conv import Conv2d
from ember.nn.module import Module
from ember.nn.normalization import BatchNorm2d
from ember.ops.activation import sigmoid_array
from ember.ops.shape import concat, split
from ember.vision.boxes import assign_to_anchors, batched_nms, clip_boxes_to_image

__all__ = ["TinyYOLO", "YOLOLoss", "anchors_from_boxes", "decode", "encode_targets", "postprocess", "yolo_loss"]


def _anchors(anchors) -> np.ndarray:
    a = to_numpy(anchors.array if isinstance(anchors, Tensor) else np.asarray(anchors)).astype(np.float64)
    if a.ndim != 2 or a.shape[1] != 2 or (a <= 0).any():
        raise ValueError(f"yolo: anchors must be (A, 2) positive widths and heights, got {a.tolist()}")
    return a


# -- anchors and targets ------------------------------------------------------------------------
def anchors_from_boxes(boxes, num_anchors: int) -> np.ndarray:
    """A anchor shapes (w, h) fitted to training boxes: boxes sorted by area, cut into A equal
    groups, and each group's median width and height (a one-pass stand-in for YOLOv2's k-means).

    Args: boxes (K, 4) xyxy (padding rows of zero size are ignored). Returns (A, 2) float32.

    >>> anchors_from_boxes(np.array([[0, 0, 10, 10], [0, 0, 30, 30]]), 2)
    array([[10., 10.],
           [30., 30.]], dtype=float32)
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    wh = b[:, 2:] - b[:, :2]
    wh = wh[(wh > 0).all(axis=1)]
    if len(wh) < num_anchors:
        raise ValueError(f"anchors_from_boxes: need at least {num_anchors} non-empty boxes, got {len(wh)}")
    groups = np.array_split(wh[np.argsort(wh.prod(axis=1), kind="stable")], num_anchors)
    return np.stack([np.median(g, axis=0) for g in groups]).astype(np.float32)


def encode_targets(boxes, labels, anchors, num_classes: int, grid_size: int, image_size: int) -> np.ndarray:
    """Training targets (N, S, S, A, 5 + C) of padded annotations.

    Args:
        boxes: (N, M, 4) xyxy pixels; labels: (N, M) class indices, −1 for empty slots
            (the layout of ``ember.vision.shapes.make_shapes``).
        anchors: (A, 2) anchor (w, h) in pixels. grid_size: S. image_size: side in pixels.
    Returns: float32 array; slots without an object are all zero. Two objects that fall in the
    same cell and anchor collide: the later one (higher slot index) is kept.

    >>> t = encode_targets(np.array([[[8., 8., 24., 24.]]]), np.array([[1]]), np.array([[16., 16.]]), 2, 4, 64)
    >>> t[0, 1, 1, 0]
    array([1. , 0. , 0. , 0. , 0. , 0. , 1. ], dtype=float32)
    """
    boxes, labels, a = np.asarray(boxes, dtype=np.float64), np.asarray(labels), _anchors(anchors)
    if boxes.ndim != 3 or boxes.shape[2] != 4 or labels.shape != boxes.shape[:2]:
        raise ValueError(f"encode_targets: expected boxes (N, M, 4) and labels (N, M), got {boxes.shape} and "
                         f"{labels.shape}")
    if labels.size and labels.max() >= num_classes:
        raise ValueError(f"encode_targets: labels must be < num_classes = {num_classes}, got {labels.max()}")
    image, slot = np.nonzero(labels >= 0)
    b, c = boxes[image, slot], labels[image, slot]
    row, col, anchor = assign_to_anchors(b, a, grid_size, image_size)
    # keep the last object of each (image, row, col, anchor) so no slot gets two class ones
    key = ((image * grid_size + row) * grid_size + col) * len(a) + anchor
    last = len(key) - 1 - np.unique(key[::-1], return_index=True)[1]
    image, row, col, anchor, b, c = image[last], row[last], col[last], anchor[last], b[last], c[last]
    cell = image_size / grid_size
    target = np.zeros((boxes.shape[0], grid_size, grid_size, len(a), 5 + num_classes), dtype=np.float32)
    index = (image, row, col, anchor)
    target[index + (0,)] = 1.0
    target[index + (1,)] = (b[:, 0] + b[:, 2]) / (2 * cell) - col
    target[index + (2,)] = (b[:, 1] + b[:, 3]) / (2 * cell) - row
    target[index + (3,)] = np.log((b[:, 3] - b[:, 1]) / a[anchor, 1])
    target[index + (4,)] = np.log((b[:, 2] - b[:, 0]) / a[anchor, 0])
    target[index + (5 + c,)] = 1.0
    return target


# -- loss ---------------------------------------------------------------------------------------
def _activate(output):
    """Raw outputs t → the predicted vector [σ(t_0), σ(t_1), σ(t_2), t_3, t_4, softmax(t_5..)]."""
    conf_xy, hw, classes = split(output, [3, 2, output.shape[-1] - 5], dim=-1)
    return concat([conf_xy.sigmoid(), hw, classes.softmax(dim=-1)], dim=-1)


def yolo_loss(output, target, lambda_coord: float = 5.0, lambda_noobj: float = 0.5):
    """The YOLO sum-squared loss of raw outputs (N, S, S, A, 5 + C) against ``encode_targets``.

    With 1^obj = p_c of the target (1 where an object is assigned) and ŷ = the activated outputs:

        L = (1/N) Σ_{cells, anchors} [ λ_coord 1^obj Σ_{b_x, b_y, b_h, b_w} (ŷ − y)²
                                      + 1^obj (p̂_c − 1)² + λ_noobj (1 − 1^obj) p̂_c²
                                      + 1^obj Σ_k (ĉ_k − c_k)² ]

    λ_coord = 5 makes box errors count more than the many confidence terms, λ_noobj = 0.5 keeps
    the empty anchors (most of them) from swamping the few with objects (YOLOv1's values).
    The sum is divided by the batch size N, so the scale does not depend on it.
    """
    output = as_tensor(output)
    y = target.array if isinstance(target, Tensor) else target
    if tuple(output.shape) != tuple(y.shape) or output.ndim != 5 or output.shape[-1] < 6:
        raise ValueError(f"yolo_loss: output and target must both be (N, S, S, A, 5 + C), got "
                         f"{tuple(output.shape)} and {tuple(y.shape)}")
    xp = xp_of(output.array)
    y = xp.asarray(y, dtype=output.dtype)
    obj = y[..., :1]
    weight = xp.concatenate([obj + lambda_noobj * (1 - obj), xp.broadcast_to(lambda_coord * obj, obj.shape[:-1] + (4,)),
                             xp.broadcast_to(obj, obj.shape[:-1] + (y.shape[-1] - 5,))], axis=-1)
    diff = _activate(output) - Tensor(y)
    return (diff * diff * Tensor(weight)).sum() / output.shape[0]


class YOLOLoss(Module):
    """Module form of ``yolo_loss`` with the weights λ_coord (default 5) and λ_noobj (default 0.5).

    >>> criterion = YOLOLoss(lambda_coord=5.0, lambda_noobj=0.5)
    >>> loss = criterion(model(images), targets)                                  # doctest: +SKIP
    """

    def __init__(self, lambda_coord: float = 5.0, lambda_noobj: float = 0.5):
        super().__init__()
        if lambda_coord < 0 or lambda_noobj < 0:
            raise ValueError(f"YOLOLoss: the weights must be ≥ 0, got lambda_coord={lambda_coord}, "
                             f"lambda_noobj={lambda_noobj}")
        self.lambda_coord, self.lambda_noobj = lambda_coord, lambda_noobj

    def forward(self, output, target):
        return yolo_loss(output, target, self.lambda_coord, self.lambda_noobj)

    def extra_repr(self) -> str:
        return f"lambda_coord={self.lambda_coord}, lambda_noobj={self.lambda_noobj}"


# -- decoding -----------------------------------------------------------------------------------
def decode(output, anchors, image_size: int, activated: bool = False):
    """Boxes and scores of every anchor of every cell (see the module docstring for the formulas).

    Args:
        output: (N, S, S, A, 5 + C) raw network outputs, or, with ``activated=True``, vectors
            already in target form (e.g. from ``encode_targets``).
        anchors: (A, 2) anchor (w, h) in pixels. image_size: side in pixels.
    Returns: NumPy arrays boxes (N, S·S·A, 4) xyxy pixels, objectness p_c (N, S·S·A), class
    probabilities (N, S·S·A, C), in (row, column, anchor) order.
    """
    y = to_numpy(output.array if isinstance(output, Tensor) else output).astype(np.float64)
    a = _anchors(anchors)
    if y.ndim != 5 or y.shape[3] != len(a) or y.shape[1] != y.shape[2] or y.shape[-1] < 6:
        raise ValueError(f"decode: output must be (N, S, S, A, 5 + C) with A = {len(a)} anchors, got {y.shape}")
    N, S = y.shape[0], y.shape[1]
    cell = image_size / S
    grid = np.arange(S, dtype=np.float64)
    conf, xy, hw, classes = y[..., 0], y[..., 1:3], np.clip(y[..., 3:5], -10, 10), y[..., 5:]
    if not activated:
        conf, xy = sigmoid_array(conf), sigmoid_array(xy)
        classes = np.exp(classes - classes.max(axis=-1, keepdims=True))
        classes /= classes.sum(axis=-1, keepdims=True)
    cx = (grid[None, None, :, None] + xy[..., 0]) * cell
    cy = (grid[None, :, None, None] + xy[..., 1]) * cell
    h, w = a[:, 1] * np.exp(hw[..., 0]), a[:, 0] * np.exp(hw[..., 1])
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)
    return boxes.reshape(N, -1, 4), conf.reshape(N, -1), classes.reshape(N, -1, classes.shape[-1])


def postprocess(output, anchors, image_size: int, conf_threshold: float = 0.25, iou_threshold: float = 0.45,
                max_detections: int = 100, activated: bool = False) -> list[dict]:
    """Detections per image: decode, score, threshold, per-class NMS, keep the best ``max_detections``.

    The score of an anchor's box is p̂_c · max_k ĉ_k (confidence that it holds an object of its
    most likely class); boxes scoring ≤ ``conf_threshold`` are dropped, the rest are clipped to
    the image and suppressed by ``batched_nms`` within each (image, class) in one call.

    Returns: one dict per image with NumPy 'boxes' (K, 4) xyxy, 'scores' (K,) decreasing,
    'labels' (K,) int64.
    """
    boxes, conf, probs = decode(output, anchors, image_size, activated)
    N, C = boxes.shape[0], probs.shape[-1]
    scores = conf * probs.max(axis=-1)
    image, k = np.nonzero(scores > conf_threshold)
    b, s, c = clip_boxes_to_image(boxes[image, k], (image_size, image_size)), scores[image, k], probs[image, k]
    labels = c.argmax(axis=-1).astype(np.int64)
    keep = batched_nms(b, s, image * C + labels, iou_threshold)
    keep = keep[np.argsort(image[keep], kind="stable")]  # grouped by image, by decreasing score within
    counts = np.bincount(image[keep], minlength=N)
    rank = np.arange(len(keep)) - np.repeat(np.cumsum(counts) - counts, counts)
    keep = keep[rank < max_detections]
    ends = np.cumsum(np.minimum(counts, max_detections))[:-1]
    return [{"boxes": bb.astype(np.float32), "scores": ss.astype(np.float32), "labels": ll}
            for bb, ss, ll in zip(np.split(b[keep], ends), np.split(s[keep], ends), np.split(labels[keep], ends),
                                  strict=True)]


# -- the network --------------------------------------------------------------------------------
def _conv_bn(in_channels: int, out_channels: int, stride: int) -> list[Module]:
    return [Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False), BatchNorm2d(out_channels),
            LeakyReLU(0.1)]


class TinyYOLO(Module):
    """A small YOLO-style CNN: conv–BN–LeakyReLU(0.1) layers, stride-2 convolutions down to the
    S × S grid, and a 1 × 1 convolution predicting A × (5 + C) numbers per cell.

    Layers: log2(image_size / S) stride-2 convolutions, the first of ``width`` channels, each
    next doubling them (at most 4·width); two stride-1 convolutions of twice the channels on
    the grid; the head. (Downsampling from the first layer keeps full-resolution activations,
    the costliest on a CPU, out of the network.)
    The head's p_c biases start at −4 (σ ≈ 0.02): most anchors hold no object, so training
    starts near the right answer for them instead of spending its first steps there.

    Args:
        num_classes: C. num_anchors: A (ignored when ``anchors`` is given).
        grid_size: S. image_size: input side in pixels (image_size / S a power of two).
        anchors: (A, 2) anchor (w, h) in pixels, kept as the buffer ``anchors`` (saved in the
            state dict); default: A squares of sides spread evenly in log scale between 0.15
            and 0.4 of the image.
    Input (N, in_channels, image_size, image_size) → raw outputs (N, S, S, A, 5 + C).

    >>> TinyYOLO(3, num_anchors=2)(em.randn(2, 3, 64, 64)).shape
    (2, 8, 8, 2, 8)
    """

    def __init__(self, num_classes: int, num_anchors: int = 2, grid_size: int = 8, image_size: int = 64,
                 in_channels: int = 3, width: int = 16, anchors=None):
        super().__init__()
        downsamplings = math.log2(image_size / grid_size) if grid_size > 0 and image_size > 0 else -1
        if downsamplings < 0 or downsamplings != int(downsamplings):
            raise ValueError(f"TinyYOLO: image_size / grid_size must be a power of two, got {image_size} / "
                             f"{grid_size}")
        if num_classes < 1 or width < 1:
            raise ValueError(f"TinyYOLO: num_classes and width must be positive, got {num_classes} and {width}")
        if anchors is None:
            sides = np.geomspace(0.15, 0.4, num_anchors) * image_size
            anchors = np.stack([sides, sides], axis=1)
        anchors = _anchors(anchors).astype(np.float32)
        self.num_classes, self.num_anchors = num_classes, len(anchors)
        self.grid_size, self.image_size = grid_size, image_size
        layers, channels = [], in_channels
        for i in range(int(downsamplings)):
            out = width * 2 ** min(i, 2)
            layers += _conv_bn(channels, out, 2)
            channels = out
        if not layers:  # the grid is the image: one stride-1 layer instead
            layers, channels = _conv_bn(in_channels, width, 1), width
        layers += _conv_bn(channels, 2 * channels, 1) + _conv_bn(2 * channels, 2 * channels, 1)
        self.features = Sequential(*layers)
        self.head = Conv2d(2 * channels, self.num_anchors * (5 + num_classes), 1)
        self.register_buffer("anchors", Tensor(anchors))
        self._init_head()

    def _init_head(self) -> None:
        with no_grad():
            bias = self.head.bias.array.reshape(self.num_anchors, 5 + self.num_classes)
            bias[:, 0] = -4.0

    def forward(self, x):
        y = self.head(self.features(x))
        N, S = y.shape[0], y.shape[-1]
        return y.reshape(N, self.num_anchors, 5 + self.num_classes, S, S).permute(0, 3, 4, 1, 2)

    def detect(self, images, conf_threshold: float = 0.25, iou_threshold: float = 0.45,
               max_detections: int = 100) -> list[dict]:
        """Detections of a batch of images (eval mode, no gradient): ``postprocess`` of the outputs."""
        was_training = self.training
        self.eval()
        x = images if isinstance(images, Tensor) else Tensor(images, device=self.anchors.device)
        with no_grad():
            output = self(x)
        self.train(was_training)
        return postprocess(output, self.anchors, self.image_size, conf_threshold, iou_threshold, max_detections)

    def extra_repr(self) -> str:
        return (f"num_classes={self.num_classes}, num_anchors={self.num_anchors}, grid_size={self.grid_size}, "
                f"image_size={self.image_size}")
