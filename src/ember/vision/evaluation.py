"""Detection metrics: average precision per class and mean average precision at an IoU threshold.

Matching (PASCAL VOC's rule): within each image and class, detections are taken by decreasing
score; each is compared with the ground-truth box it overlaps most; it is a true positive when
that IoU is ≥ ``iou_threshold`` and the ground truth is not yet matched, otherwise a false
positive (so each ground truth is matched at most once, by its highest-scoring detection).

Interpolation: all-point, as PASCAL VOC 2010 onward — precision is replaced by its running
maximum from the right (the precision envelope) and AP is the exact area under that step curve,
AP = Σ_i (r_i − r_{i−1}) · max_{r ≥ r_i} p(r). (VOC 2007 used 11 recall points and COCO uses
101; neither is used here.) mAP is the mean of AP over the classes that have ground truth.

>>> predictions = [{"boxes": np.array([[0., 0., 10., 10.]]), "scores": np.array([0.9]), "labels": np.array([0])}]
>>> targets = [{"boxes": np.array([[1., 1., 10., 10.]]), "labels": np.array([0])}]
>>> mean_average_precision(predictions, targets)["map"]
1.0
"""
from __future__ import annotations

import numpy as np

from ember.backend import as_numpy
from ember.vision.boxes import batched_box_iou

__all__ = ["average_precision", "match_detections", "mean_average_precision"]


def _np(x, dtype=None):
    """``x`` (a Tensor, a NumPy/CuPy array or a list) as a NumPy array."""
    x = as_numpy(x)
    return x if dtype is None else x.astype(dtype, copy=False)


def average_precision(recall, precision) -> float:
    """Area under the interpolated precision–recall curve (all-point interpolation, VOC 2010+).

    ``recall`` (ascending) and ``precision`` are the values after each detection, in order of
    decreasing score. AP = Σ_i (r_i − r_{i−1}) · max_{k ≥ i} p_k, with r_0 = 0.

    >>> average_precision(np.array([0.5, 0.5, 1.0]), np.array([1.0, 0.5, 0.667]))
    0.8335
    """
    recall, precision = _np(recall, np.float64), _np(precision, np.float64)
    if recall.shape != precision.shape or recall.ndim != 1:
        raise ValueError(f"average_precision: recall and precision must be equal-length vectors, got "
                         f"{recall.shape} and {precision.shape}")
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]  # the precision envelope
    step = np.nonzero(r[1:] != r[:-1])[0]
    return float(np.sum((r[step + 1] - r[step]) * p[step + 1]))


def _pad(values, image, n_images, fill):
    """Scatter rows ``values`` (K, ...) grouped by ``image`` (K,), sorted by image, into (n_images, L, ...)."""
    counts = np.bincount(image, minlength=n_images)
    slot = np.arange(len(image)) - np.repeat(np.cumsum(counts) - counts, counts)
    out = np.full((n_images, max(int(counts.max(initial=0)), 1)) + values.shape[1:], fill, dtype=values.dtype)
    out[image, slot] = values
    return out


def match_detections(pred_image, pred_boxes, pred_scores, gt_image, gt_boxes, n_images: int,
                     iou_threshold: float = 0.5):
    """True-positive flags of detections of one class against the ground truth of that class.

    Vectorised over images: detections of every image are ranked by score, and the loop runs
    over ranks (rank r of all images at once), so matching is greedy by score within an image.

    Args:
        pred_image: (D,) image index of each detection; pred_boxes (D, 4) xyxy; pred_scores (D,).
        gt_image: (G,) image index of each ground truth; gt_boxes (G, 4).
    Returns: (D,) bool, True where the detection matches a ground truth (VOC's rule).
    """
    D = len(pred_image)
    tp = np.zeros(D, dtype=bool)
    if D == 0 or len(gt_image) == 0:
        return tp
    order = np.lexsort((-pred_scores, pred_image))  # by image, then decreasing score (stable)
    preds = _pad(order, pred_image[order], n_images, -1)
    g_order = np.argsort(gt_image, kind="stable")
    gts = _pad(gt_boxes[g_order].astype(np.float64), gt_image[g_order], n_images, np.nan)
    boxes = pred_boxes[np.maximum(preds, 0)].astype(np.float64)  # (n_images, L, 4)
    iou = np.nan_to_num(batched_box_iou(boxes, gts), nan=-1.0)  # (n_images, L, G); padded ground truths never match
    matched = np.zeros(gts.shape[:2], dtype=bool)
    images = np.arange(n_images)
    for r in range(preds.shape[1]):
        best = iou[:, r].argmax(axis=1)
        hit = (preds[:, r] >= 0) & (iou[images, r, best] >= iou_threshold) & ~matched[images, best]
        matched[images[hit], best[hit]] = True
        tp[preds[hit, r]] = True
    return tp


def _flatten(items, keys, n_images):
    """Concatenate per-image dicts of arrays into flat arrays plus the image index of each row."""
    arrays = {k: [_np(item[k]) for item in items] for k in keys}
    counts = np.array([len(a) for a in arrays[keys[0]]], dtype=np.int64)
    flat = {k: np.concatenate(v) if v else np.zeros(0) for k, v in arrays.items()}
    flat["boxes"] = flat["boxes"].reshape(-1, 4)
    flat["labels"] = flat["labels"].astype(np.int64)
    flat["image"] = np.repeat(np.arange(n_images), counts)
    return flat


def mean_average_precision(predictions, targets, iou_threshold: float = 0.5, num_classes: int | None = None) -> dict:
    """mAP@``iou_threshold`` of detections over a set of images (all-point interpolated AP, VOC matching).

    Args:
        predictions: one dict per image with 'boxes' (D_i, 4) xyxy, 'scores' (D_i,), 'labels' (D_i,).
        targets: one dict per image with 'boxes' (G_i, 4) and 'labels' (G_i,).
        num_classes: classes 0..C−1 to score (default: 1 + the largest label seen).
    Returns: {'map': mean AP over classes with ground truth (NaN if none), 'ap': (C,) AP per class
    (NaN for a class without ground truth), 'num_gt': (C,), 'num_pred': (C,)}.

    >>> result = mean_average_precision(model_predictions, ground_truth)          # doctest: +SKIP
    >>> result["map"], result["ap"]
    """
    if len(predictions) != len(targets):
        raise ValueError(f"mean_average_precision: {len(predictions)} predictions for {len(targets)} images")
    n = len(targets)
    pred = _flatten(predictions, ("boxes", "scores", "labels"), n)
    gt = _flatten(targets, ("boxes", "labels"), n)
    if num_classes is None:
        num_classes = 1 + int(max(pred["labels"].max(initial=-1), gt["labels"].max(initial=-1)))
    ap = np.full(num_classes, np.nan)
    num_gt = np.bincount(gt["labels"], minlength=num_classes)[:num_classes]
    num_pred = np.bincount(pred["labels"], minlength=num_classes)[:num_classes]
    for c in range(num_classes):
        if num_gt[c] == 0:
            continue
        p, g = pred["labels"] == c, gt["labels"] == c
        tp = match_detections(pred["image"][p], pred["boxes"][p], pred["scores"][p], gt["image"][g], gt["boxes"][g],
                              n, iou_threshold)
        order = np.argsort(-pred["scores"][p], kind="stable")
        hits = np.cumsum(tp[order])
        ranks = np.arange(1, len(order) + 1)
        ap[c] = average_precision(hits / num_gt[c], hits / ranks) if len(order) else 0.0
    valid = num_gt > 0
    return {"map": float(ap[valid].mean()) if valid.any() else float("nan"), "ap": ap, "num_gt": num_gt,
            "num_pred": num_pred}
