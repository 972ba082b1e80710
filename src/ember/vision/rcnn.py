"""Region-based detection: the R-CNN idea with a cheap region proposer and a Fast R-CNN head.

R-CNN runs a classifier only on a few *proposed* windows instead of every window of a sliding
search; Fast R-CNN runs the convolutional backbone once over the whole image and cuts each
proposal's features out of the shared map with RoI pooling. This module has the three parts:

1. ``propose_regions``: multi-scale sliding windows scored by centre–surround colour contrast,
   computed for all windows at once from integral images, then non-max suppressed (no network).
2. ``TwoStageDetector``: backbone → ``RoIAlign`` over the proposals → a head that predicts
   C + 1 class scores (index 0 is background) and class-specific box deltas.
3. Training targets (``assign_targets``, ``sample_rois``, ``fast_rcnn_loss``) and inference
   (``TwoStageDetector.detect``: decode, per-class NMS, score threshold).

Boxes are xyxy pixels. Batches of boxes are padded arrays: (N, P, 4) proposals, with empty
(zero-area) boxes in unused slots, and (N, M, 4) ground truth with labels (N, M), −1 in unused
slots — the layout of ``ember.vision.shapes.make_shapes``.

>>> data = make_shapes(8, seed=0)
>>> proposals, scores = propose_regions(data.images, num_proposals=100)        # (8, 100, 4), (8, 100)
>>> proposal_recall(proposals, data.boxes, data.labels)                          # doctest: +SKIP
>>> model = TwoStageDetector(num_classes=3)
>>> losses = model.loss(data.images, proposals, data.boxes, data.labels)         # {'loss', 'classifier', 'box'}
>>> detections = model.detect(data.images, proposals)     # one dict per image: boxes, scores, labels (0..C−1)
"""
from __future__ import annotations

import math

import numpy as np

from ember.autograd.grad_mode import no_grad
from ember.autograd.tensor import Tensor
from ember.backend import as_array
from ember.backend import get_array_module as xp_of
from ember.nn import init
from ember.nn.activation import ReLU
from ember.nn.containers import Flatten, Sequential
from ember.nn.conv import Conv2d
from ember.nn.linear import Linear
from ember.nn.module import Module
from ember.nn.normalization import BatchNorm2d
from ember.nn.roi import RoIAlign
from ember.ops.activation import softmax
from ember.ops.loss import cross_entropy, smooth_l1_loss
from ember.vision.boxes import batched_box_iou

__all__ = ["TwoStageDetector", "assign_targets", "decode_boxes", "encode_boxes", "fast_rcnn_loss", "nms_per_image",
           "propose_regions", "proposal_recall", "sample_rois", "sliding_windows", "window_contrast"]

# exp(tw) is capped so that a wild early prediction cannot overflow (torchvision's bound)
MAX_LOG_SCALE = math.log(1000.0 / 16)
CHUNK = 128  # images scored at once by the proposer


def _check_last(name, what, x, size=4):
    if x.ndim < 1 or x.shape[-1] != size:
        raise ValueError(f"{name}: {what} must be (..., {size}), got {tuple(x.shape)}")


# -- box deltas (the R-CNN parameterisation) -------------------------------------------------------
def _centres(boxes):
    w, h = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
    return boxes[..., 0] + 0.5 * w, boxes[..., 1] + 0.5 * h, w, h


def encode_boxes(boxes, reference, weights=(1.0, 1.0, 1.0, 1.0)):
    """Regression targets of ``boxes`` relative to ``reference`` boxes (R-CNN's parameterisation).

    With centres (x, y), widths w and heights h of a box and (x_a, y_a, w_a, h_a) of its
    reference box (a proposal or an anchor):

        t_x = w_x (x − x_a)/w_a,   t_y = w_y (y − y_a)/h_a,   t_w = w_w log(w/w_a),   t_h = w_h log(h/h_a)

    The weights (w_x, w_y, w_w, w_h) rescale the targets (Faster R-CNN uses (10, 10, 5, 5)).
    ``boxes`` and ``reference`` are (..., 4) xyxy and broadcast; returns (..., 4) deltas.
    The inverse is ``decode_boxes``.

    >>> encode_boxes(np.array([[2., 2., 6., 10.]]), np.array([[0., 0., 4., 4.]]))
    array([[0.5       , 1.        , 0.        , 0.69314718]])
    """
    b, r = as_array(boxes), as_array(reference)
    _check_last("encode_boxes", "boxes", b)
    _check_last("encode_boxes", "reference", r)
    xp = xp_of(b)
    x, y, w, h = _centres(b)
    xa, ya, wa, ha = _centres(r)
    wx, wy, ww, wh = weights
    return xp.stack([wx * (x - xa) / wa, wy * (y - ya) / ha, ww * xp.log(w / wa), wh * xp.log(h / ha)], axis=-1)


def decode_boxes(deltas, reference, weights=(1.0, 1.0, 1.0, 1.0), max_log_scale: float = MAX_LOG_SCALE):
    """Boxes from deltas relative to ``reference`` boxes: the inverse of ``encode_boxes``.

    x = x_a + w_a t_x / w_x,  y = y_a + h_a t_y / w_y,  w = w_a exp(t_w / w_w),  h = h_a exp(t_h / w_h),
    with t_w / w_w and t_h / w_h capped at ``max_log_scale`` (log(1000/16), as torchvision).
    ``deltas`` and ``reference`` are (..., 4) and broadcast; returns (..., 4) xyxy.

    >>> decode_boxes(np.array([[0.5, 1.0, 0.0, np.log(2)]]), np.array([[0., 0., 4., 4.]]))
    array([[ 2.,  2.,  6., 10.]])
    """
    d, r = as_array(deltas), as_array(reference)
    _check_last("decode_boxes", "deltas", d)
    _check_last("decode_boxes", "reference", r)
    xp = xp_of(d)
    xa, ya, wa, ha = _centres(r)
    wx, wy, ww, wh = weights
    x, y = xa + wa * d[..., 0] / wx, ya + ha * d[..., 1] / wy
    w = wa * xp.exp(xp.minimum(d[..., 2] / ww, max_log_scale))
    h = ha * xp.exp(xp.minimum(d[..., 3] / wh, max_log_scale))
    return xp.stack([x - 0.5 * w, y - 0.5 * h, x + 0.5 * w, y + 0.5 * h], axis=-1)


# -- the region proposer ---------------------------------------------------------------------------
def sliding_windows(height: int, width: int, sizes, aspect_ratios=(1.0,), stride: float = 0.125) -> np.ndarray:
    """Every window of an image: (W, 4) integer xyxy boxes, over sizes and aspect ratios.

    A window of size s and aspect ratio a (= width/height) is round(s√a) × round(s/√a) pixels
    (at least 1, at most the image); it slides by max(1, round(stride · its shorter side))
    pixels, and the last position of each row and column touches the image's far edge.
    Duplicates (from rounding) are removed; the rows are sorted.

    >>> sliding_windows(4, 4, sizes=[2], stride=1.0)[:3]
    array([[0, 0, 2, 2],
           [0, 2, 2, 4],
           [2, 0, 4, 2]])
    """
    if height < 1 or width < 1 or stride <= 0:
        raise ValueError(f"sliding_windows: need a positive image size and stride, got {height}×{width}, "
                         f"stride={stride}")
    windows = []
    for size in sizes:
        for ratio in aspect_ratios:
            if size <= 0 or ratio <= 0:
                raise ValueError(f"sliding_windows: sizes and aspect ratios must be positive, got {size}, {ratio}")
            w = min(width, max(1, round(size * math.sqrt(ratio))))
            h = min(height, max(1, round(size / math.sqrt(ratio))))
            step = max(1, round(stride * min(w, h)))
            x1 = np.unique(np.r_[np.arange(0, width - w + 1, step), width - w])
            y1 = np.unique(np.r_[np.arange(0, height - h + 1, step), height - h])
            y1, x1 = np.meshgrid(y1, x1, indexing="ij")
            windows.append(np.stack([x1, y1, x1 + w, y1 + h], axis=-1).reshape(-1, 4))
    return np.unique(np.concatenate(windows), axis=0).astype(np.int64)


def _box_sums(table, boxes, width):
    """Sums of every (N, C) image plane over integer boxes (W, 4), from integral images (N, C, (H+1)(W+1))."""
    def corner(x, y):
        return table[:, :, y * (width + 1) + x]  # one flat gather per corner: fast in NumPy
    return corner(boxes[:, 2], boxes[:, 3]) - corner(boxes[:, 2], boxes[:, 1]) - corner(boxes[:, 0], boxes[:, 3]) \
        + corner(boxes[:, 0], boxes[:, 1])


def window_contrast(images, windows, context: float = 0.15):
    """The objectness cue of the proposer: centre–surround colour contrast of every window.

    For a window B and its surround R (the ring between B and B grown by
    m = max(1, round(context · shorter side)) pixels on each side, clipped to the image),

        score(B) = Σ_c (mean_B(I_c) − mean_R(I_c))²

    is large when the window holds a region of one colour that differs from what surrounds
    it: it peaks on windows that fit an object, and drops when the window is too large (the
    mean inside mixes in background) or too small (the ring holds object pixels). With the
    integral image S(y, x) = Σ_{y'<y, x'<x} I(y', x'), any box's sum is four lookups,
    S(y2, x2) − S(y1, x2) − S(y2, x1) + S(y1, x1), so all windows of all images are scored at once.

    Args:
        images: (N, C, H, W) array or Tensor. windows: (W, 4) integer xyxy inside the image.
    Returns: (N, W) scores (NumPy/CuPy, float64).

    >>> window_contrast(np.pad(np.ones((1, 1, 4, 4)), ((0, 0), (0, 0), (2, 2), (2, 2))),
    ...                 np.array([[2, 2, 6, 6], [0, 0, 4, 4]]))
    array([[1.       , 0.0933642]])
    """
    x = as_array(images)
    if x.ndim != 4:
        raise ValueError(f"window_contrast: images must be (N, C, H, W), got {tuple(x.shape)}")
    xp = xp_of(x)
    N, C, H, W = x.shape
    b = xp.asarray(windows).astype(np.int64)
    if b.ndim != 2 or b.shape[1] != 4 or (len(b) and (b.min() < 0 or b[:, 2].max() > W or b[:, 3].max() > H)):
        raise ValueError(f"window_contrast: windows must be (W, 4) integer boxes inside the {H}×{W} image, "
                         f"got shape {tuple(b.shape)}")
    table = xp.zeros((N, C, H + 1, W + 1))
    table[:, :, 1:, 1:] = x.astype(np.float64).cumsum(axis=2).cumsum(axis=3)
    table = table.reshape(N, C, -1)
    m = xp.maximum(1, xp.round(context * xp.minimum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]))).astype(np.int64)
    outer = xp.stack([xp.maximum(b[:, 0] - m, 0), xp.maximum(b[:, 1] - m, 0), xp.minimum(b[:, 2] + m, W),
                      xp.minimum(b[:, 3] + m, H)], axis=1)
    area_in = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    area_ring = (outer[:, 2] - outer[:, 0]) * (outer[:, 3] - outer[:, 1]) - area_in
    inside, total = _box_sums(table, b, W), _box_sums(table, outer, W)
    ring = (total - inside) / xp.maximum(area_ring, 1)  # a window as large as the image has no ring: mean 0
    return ((inside / xp.maximum(area_in, 1) - ring) ** 2).sum(axis=1)


def nms_per_image(boxes, valid, iou_threshold: float, max_keep: int):
    """Greedy non-max suppression in each image of a batch at once: (N, max_keep) kept indices, −1 padded.

    ``boxes`` (N, K, 4) must be sorted by decreasing score within each image and ``valid``
    (N, K) marks the candidates. Step r keeps, in every image, the first candidate still alive
    and kills the candidates whose IoU with it is above ``iou_threshold`` — ``nms``'s result
    per image, cut at ``max_keep``; the loop runs over the ``max_keep`` ranks, not over images.

    >>> b = np.array([[[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]]])
    >>> nms_per_image(b, np.ones((1, 3), bool), 0.5, 3)
    array([[ 0,  2, -1]])
    """
    b, alive = as_array(boxes), as_array(valid).astype(bool).copy()
    xp = xp_of(b)
    N = b.shape[0]
    keep = xp.full((N, max_keep), -1, dtype=np.int64)
    images = xp.arange(N)
    x1, y1, x2, y2 = (xp.ascontiguousarray(b[..., i]) for i in range(4))  # contiguous planes: the loop's hot data
    area = (x2 - x1) * (y2 - y1)
    for r in range(max_keep):
        found = alive.any(axis=1)
        if not found.any():
            break
        first = alive.argmax(axis=1)
        keep[found, r] = first[found]
        i = (images, first)
        w = xp.clip(xp.minimum(x2, x2[i][:, None]) - xp.maximum(x1, x1[i][:, None]), 0, None)
        h = xp.clip(xp.minimum(y2, y2[i][:, None]) - xp.maximum(y1, y1[i][:, None]), 0, None)
        inter = w * h
        with np.errstate(divide="ignore", invalid="ignore"):
            alive &= ~(inter / (area + area[i][:, None] - inter) > iou_threshold)  # NaN (empty boxes) kills nothing
        alive[i] = False
    return keep


def _gather(values, index, fill):
    """values (N, K, ...) at index (N, L) per image; −1 entries become ``fill``."""
    xp = xp_of(values)
    out = values[xp.arange(len(values))[:, None], xp.maximum(index, 0)]
    return xp.where((index >= 0).reshape(index.shape + (1,) * (values.ndim - 2)), out, fill)


def propose_regions(images, num_proposals: int = 100, sizes=None, aspect_ratios=(1.0,), stride: float = 0.125,
                    context: float = 0.15, iou_threshold: float = 0.6, pre_nms_top_n: int = 2000):
    """Region proposals: the top windows by centre–surround contrast, after non-max suppression.

    Scores every sliding window (``sliding_windows``) of every image with ``window_contrast``,
    keeps each image's ``pre_nms_top_n`` best, suppresses overlaps above ``iou_threshold``
    (``nms_per_image``) and returns the first ``num_proposals`` survivors. No learning: the cue
    suits objects of one colour on a contrasting background (it is what Selective Search and
    EdgeBoxes refine with colour segments and edge contours).

    Args:
        images: (N, C, H, W) array or Tensor.
        num_proposals: proposals per image, P.
        sizes: window sides in pixels (default: 12 sizes spaced geometrically from 10% to 50%
            of the shorter image side). aspect_ratios: width/height of the windows.
        stride: window step as a fraction of the window's shorter side.
        context: the surround's width as a fraction of the window's shorter side.
    Returns: (boxes (N, P, 4) float32 xyxy, scores (N, P)), by decreasing score; when fewer
    than P windows survive, the last slots hold empty boxes (zeros) with score −inf.

    >>> boxes, scores = propose_regions(make_shapes(4).images, num_proposals=50)
    >>> boxes.shape, scores.shape
    ((4, 50, 4), (4, 50))
    """
    x = as_array(images)
    if x.ndim != 4 or num_proposals < 1:
        raise ValueError(f"propose_regions: need images (N, C, H, W) and num_proposals ≥ 1, got "
                         f"{tuple(x.shape)} and {num_proposals}")
    xp = xp_of(x)
    H, W = x.shape[-2:]
    if sizes is None:
        sizes = np.geomspace(0.1 * min(H, W), 0.5 * min(H, W), 12)
    windows = xp.asarray(sliding_windows(H, W, sizes, aspect_ratios, stride))
    # chunks of images bound the memory of the (images × windows) score arrays
    parts = [_propose(x[i:i + CHUNK], windows, num_proposals, context, iou_threshold, pre_nms_top_n)
             for i in range(0, max(len(x), 1), CHUNK)]
    return xp.concatenate([b for b, _ in parts]), xp.concatenate([s for _, s in parts])


def _propose(x, windows, num_proposals, context, iou_threshold, pre_nms_top_n):
    """``propose_regions`` on one chunk of images, given the windows."""
    xp = xp_of(x)
    scores = window_contrast(x, windows, context)
    top = min(pre_nms_top_n, scores.shape[1])
    best = xp.argpartition(-scores, top - 1, axis=1)[:, :top] if top < scores.shape[1] else \
        xp.broadcast_to(xp.arange(top), scores.shape)
    order = xp.take_along_axis(best, xp.argsort(-xp.take_along_axis(scores, best, axis=1), axis=1), axis=1)
    candidates, ranked = windows[order].astype(np.float32), xp.take_along_axis(scores, order, axis=1)
    keep = nms_per_image(candidates, xp.ones(order.shape, dtype=bool), iou_threshold, num_proposals)
    return _gather(candidates, keep, 0.0), _gather(ranked[..., None], keep, -np.inf)[..., 0]


def proposal_recall(proposals, gt_boxes, gt_labels, iou_threshold: float = 0.5) -> float:
    """The fraction of ground-truth boxes covered by a proposal with IoU ≥ ``iou_threshold``.

    Args: proposals (N, P, 4); gt_boxes (N, M, 4); gt_labels (N, M), −1 in unused slots.

    >>> proposal_recall(np.array([[[0., 0., 4., 4.]]]), np.array([[[0., 0., 4., 5.], [9, 9, 12, 12]]]),
    ...                 np.array([[0, 1]]))
    0.5
    """
    p, g, labels = as_array(proposals), as_array(gt_boxes), as_array(gt_labels)
    _check_last("proposal_recall", "proposals", p)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = xp_of(p).nan_to_num(batched_box_iou(g.astype(np.float64), p.astype(np.float64)), nan=0.0)
    best = iou.max(axis=-1) if p.shape[-2] else xp_of(p).zeros(labels.shape)
    present = labels >= 0
    return float((best[present] >= iou_threshold).mean()) if present.any() else float("nan")


# -- training targets ------------------------------------------------------------------------------
def _valid_boxes(boxes):
    return (boxes[..., 2] > boxes[..., 0]) & (boxes[..., 3] > boxes[..., 1])


def assign_targets(proposals, gt_boxes, gt_labels, fg_iou_threshold: float = 0.5, bg_iou_threshold: float = 0.0,
                   weights=(1.0, 1.0, 1.0, 1.0)):
    """Match proposals to ground truth by IoU: their class targets and box-regression targets.

    Each proposal is matched to the ground-truth box it overlaps most. Its class target is
    1 + that box's label when IoU ≥ ``fg_iou_threshold`` (foreground), 0 (background) when
    ``bg_iou_threshold`` ≤ IoU < ``fg_iou_threshold``, and −1 (ignored: neither clearly an
    object nor clearly background, e.g. Fast R-CNN's [0, 0.1)) below that; empty proposals are
    ignored too. Its regression target is ``encode_boxes(matched box, proposal, weights)``
    (zeros where the proposal is not foreground).

    Args:
        proposals: (N, P, 4). gt_boxes: (N, M, 4). gt_labels: (N, M) in 0..C−1, −1 in unused slots.
    Returns: (labels (N, P) int64 in {−1, 0, 1..C}, deltas (N, P, 4) float32).

    >>> labels, deltas = assign_targets(np.array([[[0., 0., 10., 10.], [30., 30., 40., 40.]]]),
    ...                                 np.array([[[0., 0., 10., 12.]]]), np.array([[2]]))
    >>> labels
    array([[3, 0]])
    """
    p, g, c = (as_array(v) for v in (proposals, gt_boxes, gt_labels))
    _check_last("assign_targets", "proposals", p)
    _check_last("assign_targets", "gt_boxes", g)
    if p.ndim != 3 or g.ndim != 3 or c.shape != g.shape[:2] or len(p) != len(g):
        raise ValueError(f"assign_targets: need proposals (N, P, 4), gt_boxes (N, M, 4) and gt_labels (N, M); got "
                         f"{tuple(p.shape)}, {tuple(g.shape)}, {tuple(c.shape)}")
    xp = xp_of(p)
    p64 = p.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = xp.nan_to_num(batched_box_iou(p64, g.astype(np.float64)), nan=0.0)  # (N, P, M)
    iou = xp.where((c >= 0)[:, None, :], iou, 0.0)  # unused slots overlap nothing
    match = iou.argmax(axis=-1) if g.shape[1] else xp.zeros(p.shape[:2], dtype=np.int64)
    best = xp.take_along_axis(iou, match[..., None], axis=-1)[..., 0] if g.shape[1] else xp.zeros(p.shape[:2])
    matched_labels = xp.take_along_axis(c, match, axis=1) if g.shape[1] else match
    labels = xp.where(best >= fg_iou_threshold, matched_labels + 1, xp.where(best >= bg_iou_threshold, 0, -1))
    labels = xp.where(_valid_boxes(p), labels, -1).astype(np.int64)
    matched = g[xp.arange(len(g))[:, None], match].astype(np.float64) if g.shape[1] else p64
    foreground = (labels > 0)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        deltas = encode_boxes(xp.where(foreground, matched, p64), xp.where(foreground, p64, 1.0), weights)
    return labels, xp.where(foreground, deltas, 0.0).astype(np.float32)


def sample_rois(labels, batch_size_per_image: int = 64, positive_fraction: float = 0.25, rng=None):
    """Choose each image's training RoIs: at most ``positive_fraction`` of them foreground.

    Per image: up to ⌊batch_size_per_image · positive_fraction⌋ foreground RoIs (label > 0),
    then background RoIs (label 0) up to ``batch_size_per_image`` in all, each set drawn
    uniformly at random; ignored ones (−1) never. Vectorised over images: every RoI gets a random
    key, and its rank among the RoIs of its kind decides whether it is taken.

    Args: labels (N, P) from ``assign_targets``; rng a ``numpy.random.Generator`` (default: seed 0).
    Returns: (N, P) bool mask of the chosen RoIs.

    >>> sample_rois(np.array([[1, 1, 1, 0, 0, -1]]), batch_size_per_image=4, positive_fraction=0.5).sum()
    4
    """
    c = as_array(labels)
    xp = xp_of(c)
    rng = np.random.default_rng(0) if rng is None else rng
    key = xp.asarray(rng.random(c.shape))

    def rank(mask):  # the rank of each RoI among those of mask in its image, in random order (inf elsewhere)
        order = xp.argsort(xp.where(mask, key, xp.inf), axis=1)
        ranks = xp.empty_like(order)
        xp.put_along_axis(ranks, order, xp.broadcast_to(xp.arange(c.shape[1]), c.shape), axis=1)
        return xp.where(mask, ranks, c.shape[1])

    positive, negative = c > 0, c == 0
    num_pos = xp.minimum(positive.sum(axis=1), int(batch_size_per_image * positive_fraction))
    num_neg = xp.minimum(negative.sum(axis=1), batch_size_per_image - num_pos)
    return (rank(positive) < num_pos[:, None]) | (rank(negative) < num_neg[:, None])


def fast_rcnn_loss(class_logits, box_deltas, labels, targets, beta: float = 1.0 / 9):
    """Fast R-CNN's multi-task loss over K sampled RoIs: (loss, classifier loss, box loss).

    L = (1/K) Σ_k −log softmax(s_k)[u_k] + (1/K) Σ_{k: u_k > 0} Σ_{i ∈ x,y,w,h} smooth_L1_β(t_k,i^{u_k} − v_k,i)

    where u_k is RoI k's class target (0 = background), t^{u} the deltas predicted for class u
    and v the regression target; smooth_L1_β(d) = ½d²/β for |d| < β, else |d| − ½β (β = 1/9 and
    the sum over positives divided by K, as torchvision's ``fastrcnn_loss``).

    Args:
        class_logits: (K, C + 1) Tensor. box_deltas: (K, 4(C + 1)) Tensor.
        labels: (K,) int in 0..C. targets: (K, 4) regression targets.

    >>> loss, cls, box = fast_rcnn_loss(em.randn(8, 4), em.randn(8, 16), np.array([0, 1, 2, 3] * 2), np.zeros((8, 4)))
    """
    c, t = as_array(labels), as_array(targets)
    K, classes = class_logits.shape
    if box_deltas.shape != (K, 4 * classes) or c.shape != (K,) or t.shape != (K, 4):
        raise ValueError(f"fast_rcnn_loss: need class_logits (K, C+1), box_deltas (K, 4(C+1)), labels (K,), targets "
                         f"(K, 4); got {tuple(class_logits.shape)}, {tuple(box_deltas.shape)}, {tuple(c.shape)}, "
                         f"{tuple(t.shape)}")
    xp = xp_of(c)
    classifier = cross_entropy(class_logits, Tensor(c.astype(np.int64)))
    # the deltas of each RoI's own class, zeroed for background RoIs (so their box loss is 0)
    pick = (c[:, None] == xp.arange(classes)) & (c[:, None] > 0)
    chosen = (box_deltas.reshape(K, classes, 4) * Tensor(pick[..., None].astype(box_deltas.dtype))).sum(axis=1)
    target = Tensor(xp.where((c > 0)[:, None], t, 0).astype(box_deltas.dtype))
    box = smooth_l1_loss(chosen, target, reduction="sum", beta=beta) / max(K, 1)
    return classifier + box, classifier, box


# -- the detector ----------------------------------------------------------------------------------
def _conv_bn_relu(in_channels: int, out_channels: int, stride: int) -> list[Module]:
    return [Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False), BatchNorm2d(out_channels),
            ReLU()]


def _rois(boxes, mask):
    """(K, 5) [batch_index, x1, y1, x2, y2] of the boxes (N, P, 4) where mask (N, P) is true, image by image."""
    xp = xp_of(boxes)
    image = xp.broadcast_to(xp.arange(len(boxes))[:, None], mask.shape)[mask]
    return xp.concatenate([image[:, None].astype(boxes.dtype), boxes[mask]], axis=1)


class TwoStageDetector(Module):
    """A small Fast R-CNN: the backbone runs once per image, RoIAlign cuts out each proposal.

    backbone: four 3 × 3 conv–BN–ReLU layers (``width``, 2·width, 4·width, 4·width channels;
    the first and third of stride 2), a feature map of stride 4. ``roi_align``: RoIAlign to
    ``roi_size`` × ``roi_size`` bins (spatial scale 1/4, 2 × 2 samples per bin, aligned).
    ``box_head``: flatten → linear → ReLU → linear → ReLU (``representation_size``). Then
    ``cls_score`` (C + 1 logits, index 0 = background) and ``bbox_pred`` (4 deltas per class,
    ``encode_boxes`` with ``box_weights``), initialised N(0, 0.01²) and N(0, 0.001²) with zero
    biases as in Fast R-CNN.

    Args:
        num_classes: C object classes (labels 0..C−1 outside the model; 1..C inside).
        in_channels, width, roi_size, representation_size: sizes as above.
        box_weights: (w_x, w_y, w_w, w_h) of the box parameterisation (Faster R-CNN's (10, 10, 5, 5)).

    forward(images (N, in_channels, H, W), rois (K, 5) [batch_index, x1, y1, x2, y2] or a list
    of (L_i, 4)) → (class_logits (K, C + 1), box_deltas (K, 4(C + 1))).

    >>> model = TwoStageDetector(3)
    >>> logits, deltas = model(em.randn(2, 3, 64, 64), em.tensor([[0., 4, 4, 30, 30], [1., 10, 20, 40, 60]]))
    >>> logits.shape, deltas.shape
    ((2, 4), (2, 16))
    """

    def __init__(self, num_classes: int, in_channels: int = 3, width: int = 16, roi_size: int = 7,
                 representation_size: int = 128, box_weights=(10.0, 10.0, 5.0, 5.0)):
        super().__init__()
        if min(num_classes, in_channels, width, roi_size, representation_size) < 1:
            raise ValueError(f"TwoStageDetector: sizes must be positive, got num_classes={num_classes}, "
                             f"in_channels={in_channels}, width={width}, roi_size={roi_size}, "
                             f"representation_size={representation_size}")
        if len(box_weights) != 4 or min(box_weights) <= 0:
            raise ValueError(f"TwoStageDetector: box_weights must be 4 positive numbers, got {box_weights}")
        self.num_classes, self.box_weights = num_classes, tuple(float(w) for w in box_weights)
        self.backbone = Sequential(*_conv_bn_relu(in_channels, width, 2), *_conv_bn_relu(width, 2 * width, 1),
                                   *_conv_bn_relu(2 * width, 4 * width, 2), *_conv_bn_relu(4 * width, 4 * width, 1))
        self.roi_align = RoIAlign(roi_size, spatial_scale=0.25, sampling_ratio=2, aligned=True)
        self.box_head = Sequential(Flatten(), Linear(4 * width * roi_size ** 2, representation_size), ReLU(),
                                   Linear(representation_size, representation_size), ReLU())
        self.cls_score = Linear(representation_size, num_classes + 1)
        self.bbox_pred = Linear(representation_size, 4 * (num_classes + 1))
        self._init_predictors()

    def _init_predictors(self) -> None:
        init.normal_(self.cls_score.weight, std=0.01)
        init.normal_(self.bbox_pred.weight, std=0.001)
        init.zeros_(self.cls_score.bias)
        init.zeros_(self.bbox_pred.bias)

    def forward(self, images, rois):
        x = self.box_head(self.roi_align(self.backbone(images), rois))
        return self.cls_score(x), self.bbox_pred(x)

    def _input(self, images):
        return images if isinstance(images, Tensor) else Tensor(images, device=self.cls_score.weight.device)

    def loss(self, images, proposals, gt_boxes, gt_labels, rng=None, batch_size_per_image: int = 64,
             positive_fraction: float = 0.25, fg_iou_threshold: float = 0.5, bg_iou_threshold: float = 0.0,
             add_ground_truth: bool = True) -> dict:
        """Fast R-CNN's training loss on a batch: {'loss', 'classifier', 'box'} (Tensors).

        The ground-truth boxes join the proposals (``add_ground_truth``, as torchvision does, so
        that every object has a perfect positive early on); ``assign_targets`` labels them,
        ``sample_rois`` picks ``batch_size_per_image`` per image with at most
        ``positive_fraction`` foreground, and ``fast_rcnn_loss`` scores the picked RoIs.

        Args: images (N, C, H, W); proposals (N, P, 4); gt_boxes (N, M, 4); gt_labels (N, M)
        in 0..C−1 with −1 in unused slots; rng a ``numpy.random.Generator``.
        """
        p, g, c = as_array(proposals), as_array(gt_boxes), as_array(gt_labels)
        if add_ground_truth:
            xp = xp_of(p)
            p = xp.concatenate([p.astype(np.float32), xp.where((c >= 0)[..., None], g, 0).astype(np.float32)], axis=1)
        labels, deltas = assign_targets(p, g, c, fg_iou_threshold, bg_iou_threshold, self.box_weights)
        chosen = sample_rois(labels, batch_size_per_image, positive_fraction, rng)
        logits, box_deltas = self(self._input(images), _rois(p.astype(np.float32), chosen))
        total, classifier, box = fast_rcnn_loss(logits, box_deltas, labels[chosen], deltas[chosen])
        return {"loss": total, "classifier": classifier, "box": box}

    def detect(self, images, proposals, score_threshold: float = 0.05, iou_threshold: float = 0.5,
               max_detections: int = 100) -> list[dict]:
        """Detections of a batch of images (eval mode, no gradient).

        Every non-empty proposal k gives, for each class u, the box ``decode_boxes(t_k^u,
        proposal_k)`` clipped to the image, scored softmax(s_k)[u]; boxes scoring at most
        ``score_threshold`` are dropped, the rest are cleaned by non-max suppression within
        each class (IoU > ``iou_threshold``), and the ``max_detections`` best are kept.

        Args: images (N, C, H, W); proposals (N, P, 4), empty boxes in unused slots.
        Returns: one dict per image with 'boxes' (D, 4), 'scores' (D,) and 'labels' (D,) in
        0..C−1, by decreasing score (NumPy/CuPy arrays).
        """
        x, p = self._input(images), as_array(proposals).astype(np.float32)
        xp = xp_of(p)
        N, P, C = p.shape[0], p.shape[1], self.num_classes
        H, W = x.shape[-2:]
        valid = _valid_boxes(p)
        was_training = self.training
        self.eval()
        with no_grad():
            logits, deltas = self(x, _rois(p, valid))
        self.train(was_training)
        probs = xp.zeros((N, P, C), dtype=np.float32)
        probs[valid] = softmax(logits, dim=1).array[:, 1:]
        boxes = xp.zeros((N, P, C, 4), dtype=np.float32)
        decoded = decode_boxes(deltas.array.reshape(-1, C + 1, 4)[:, 1:], p[valid][:, None], self.box_weights)
        boxes[valid] = xp.clip(decoded, 0, xp.asarray([W, H, W, H], dtype=np.float32))
        return _select(boxes.reshape(N, P * C, 4), probs.reshape(N, P * C), xp.tile(xp.arange(C), P),
                       score_threshold, iou_threshold, max_detections, max(H, W) + 1)

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, box_weights={self.box_weights}"


def _select(boxes, scores, labels, score_threshold, iou_threshold, max_detections, offset):
    """Per-class NMS and the best ``max_detections`` of each image: candidates (N, L, 4), (N, L), labels (L,)."""
    xp = xp_of(boxes)
    order = xp.argsort(-scores, axis=1, kind="stable")
    boxes, scores = boxes[xp.arange(len(boxes))[:, None], order], xp.take_along_axis(scores, order, axis=1)
    labels = labels[order]
    keep_candidate = (scores > score_threshold) & _valid_boxes(boxes)
    # shifting each class's boxes apart makes one NMS act within classes only (torchvision's batched_nms trick)
    keep = nms_per_image(boxes + (labels * offset)[..., None].astype(boxes.dtype), keep_candidate, iou_threshold,
                         max_detections)
    found = keep >= 0
    out_boxes, out_scores = _gather(boxes, keep, 0.0), _gather(scores[..., None], keep, 0.0)[..., 0]
    out_labels = xp.take_along_axis(labels, xp.maximum(keep, 0), axis=1)
    return [{"boxes": b[f], "scores": s[f], "labels": c[f].astype(np.int64)}
            for b, s, c, f in zip(out_boxes, out_scores, out_labels, found, strict=True)]
