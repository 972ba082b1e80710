"""mAP@0.5: all-point interpolated AP and VOC matching, by hand-made cases and a loop reference."""
import numpy as np
import pytest

from ember.vision.evaluation import average_precision, match_detections, mean_average_precision


# -- reference: PASCAL VOC's evaluation written as plain loops -----------------------------------
def _iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return w * h / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h)


def ap_reference(recall, precision):
    r, p = [0.0, *recall, 1.0], [0.0, *precision, 0.0]
    for i in range(len(p) - 2, -1, -1):
        p[i] = max(p[i], p[i + 1])
    return sum((r[i + 1] - r[i]) * p[i + 1] for i in range(len(r) - 1) if r[i + 1] != r[i])


def map_reference(predictions, targets, num_classes, threshold=0.5):
    aps = []
    for c in range(num_classes):
        gts = {i: [b for b, l in zip(t["boxes"], t["labels"], strict=True) if l == c] for i, t in enumerate(targets)}
        n_gt = sum(len(g) for g in gts.values())
        if n_gt == 0:
            continue
        dets = [(s, i, b) for i, p in enumerate(predictions)
                for b, s, l in zip(p["boxes"], p["scores"], p["labels"], strict=True) if l == c]
        dets = sorted(dets, key=lambda d: -d[0])  # stable
        used = {i: [False] * len(g) for i, g in gts.items()}
        tp = []
        for _, i, box in dets:
            ious = [_iou(box, g) for g in gts[i]]
            j = int(np.argmax(ious)) if ious else -1
            hit = j >= 0 and ious[j] >= threshold and not used[i][j]
            if hit:
                used[i][j] = True
            tp.append(hit)
        hits = np.cumsum(tp) if tp else np.zeros(0)
        aps.append(ap_reference(list(hits / n_gt), list(hits / np.arange(1, len(tp) + 1))) if tp else 0.0)
    return float(np.mean(aps))


def det(boxes, scores, labels):
    return {"boxes": np.array(boxes, dtype=float).reshape(-1, 4), "scores": np.array(scores, dtype=float),
            "labels": np.array(labels, dtype=np.int64)}


def gt(boxes, labels):
    return {"boxes": np.array(boxes, dtype=float).reshape(-1, 4), "labels": np.array(labels, dtype=np.int64)}


# -- average precision -------------------------------------------------------------------------
def test_average_precision_all_point_interpolation():
    # envelope of precision [1, .5, .667] is [1, .667, .667]: AP = .5·1 + .5·.667
    assert average_precision(np.array([0.5, 0.5, 1.0]), np.array([1.0, 0.5, 0.667])) == pytest.approx(0.8335)
    assert average_precision(np.array([0.25, 0.5]), np.array([1.0, 1.0])) == pytest.approx(0.5)
    assert average_precision(np.zeros(0), np.zeros(0)) == 0.0
    rng = np.random.default_rng(0)
    for _ in range(5):
        recall = np.sort(rng.random(12))
        precision = rng.random(12)
        assert average_precision(recall, precision) == pytest.approx(ap_reference(recall, precision))


# -- hand-made detection cases -----------------------------------------------------------------
def test_perfect_detections_give_map_one():
    targets = [gt([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 1]), gt([[5, 5, 15, 25]], [2])]
    predictions = [det([[0, 0, 10, 10], [20, 20, 30, 30]], [0.9, 0.8], [0, 1]), det([[5, 5, 15, 25]], [0.7], [2])]
    result = mean_average_precision(predictions, targets)
    assert result["map"] == 1.0
    np.testing.assert_array_equal(result["num_gt"], [1, 1, 1])


def test_duplicate_below_the_true_positive_costs_nothing():
    targets = [gt([[0, 0, 10, 10]], [0])]
    predictions = [det([[0, 0, 10, 10], [1, 1, 10, 10]], [0.9, 0.8], [0])]
    predictions[0]["labels"] = np.array([0, 0])
    assert mean_average_precision(predictions, targets)["map"] == 1.0


def test_false_positive_ranked_first_halves_ap():
    targets = [gt([[0, 0, 10, 10]], [0])]
    predictions = [det([[6, 6, 16, 16], [0, 0, 10, 10]], [0.9, 0.8], [0, 0])]  # IoU of the first: 16/184
    assert mean_average_precision(predictions, targets)["map"] == pytest.approx(0.5)


def test_missed_object_and_wrong_class():
    targets = [gt([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 0])]
    predictions = [det([[0, 0, 10, 10], [20, 20, 30, 30]], [0.9, 0.8], [0, 1])]  # the second has the wrong class
    result = mean_average_precision(predictions, targets, num_classes=2)
    assert result["map"] == pytest.approx(0.5)  # recall stops at 1/2 with precision 1
    assert np.isnan(result["ap"][1])            # class 1 has no ground truth: left out of the mean
    np.testing.assert_array_equal(result["num_pred"], [1, 1])


def test_iou_threshold_is_inclusive_and_touching_boxes_miss():
    targets = [gt([[0, 0, 10, 10]], [0])]
    half = [det([[0, 0, 10, 5]], [0.9], [0])]    # IoU exactly 0.5
    touching = [det([[10, 0, 20, 10]], [0.9], [0])]
    assert mean_average_precision(half, targets)["map"] == 1.0
    assert mean_average_precision(half, targets, iou_threshold=0.51)["map"] == 0.0
    assert mean_average_precision(touching, targets)["map"] == 0.0


def test_each_ground_truth_matched_once_by_voc_rule():
    # d2's best ground truth is already taken by d1: a false positive even though it overlaps g2 by 0.74
    targets = [gt([[0, 0, 10, 10], [2, 0, 12, 10]], [0, 0])]
    predictions = [det([[0, 0, 10, 10], [0.5, 0, 10.5, 10]], [0.9, 0.8], [0, 0])]
    tp = match_detections(np.zeros(2, dtype=np.int64), predictions[0]["boxes"], predictions[0]["scores"],
                          np.zeros(2, dtype=np.int64), targets[0]["boxes"], 1)
    np.testing.assert_array_equal(tp, [True, False])
    assert mean_average_precision(predictions, targets)["map"] == pytest.approx(0.5)


def test_detections_only_match_their_own_image():
    targets = [gt([[0, 0, 10, 10]], [0]), gt(np.zeros((0, 4)), [])]
    predictions = [det(np.zeros((0, 4)), [], []), det([[0, 0, 10, 10]], [0.9], [0])]
    assert mean_average_precision(predictions, targets)["map"] == 0.0


def test_empty_inputs_and_errors():
    assert np.isnan(mean_average_precision([det(np.zeros((0, 4)), [], [])], [gt(np.zeros((0, 4)), [])])["map"])
    with pytest.raises(ValueError, match="2 predictions for 1 images"):
        mean_average_precision([det([], [], []), det([], [], [])], [gt([], [])])


# -- against the reference on random data -------------------------------------------------------
@pytest.mark.parametrize("seed", range(4))
def test_map_matches_loop_reference(seed):
    rng = np.random.default_rng(seed)
    predictions, targets = [], []
    for _ in range(15):
        k = rng.integers(0, 5)
        xy = rng.uniform(0, 50, (k, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(5, 20, (k, 2))], axis=1)
        labels = rng.integers(0, 3, k)
        targets.append(gt(boxes, labels))
        # noisy copies, some duplicates, some spurious boxes, some wrong labels; scores with ties
        copies = np.concatenate([boxes, boxes[: k // 2]]) + rng.normal(0, 2.5, (k + k // 2, 4))
        spurious = rng.integers(0, 3)
        xy = rng.uniform(0, 50, (spurious, 2))
        pboxes = np.concatenate([copies, np.concatenate([xy, xy + 10], axis=1)])
        plabels = np.concatenate([labels, labels[: k // 2], rng.integers(0, 3, spurious)])
        flip = rng.random(len(plabels)) < 0.15
        plabels[flip] = rng.integers(0, 3, flip.sum())
        predictions.append(det(pboxes, rng.random(len(pboxes)).round(1), plabels))
    expected = map_reference(predictions, targets, 3)
    assert mean_average_precision(predictions, targets, num_classes=3)["map"] == pytest.approx(expected, abs=1e-12)
