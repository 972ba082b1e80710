"""Region-based detection: box deltas, the contrast proposer, target assignment, the Fast R-CNN head."""
import time

import numpy as np
import pytest
import torch

import ember as em
from ember.optim.adam import Adam
from ember.vision.boxes import box_iou, nms
from ember.vision.rcnn import (
    TwoStageDetector,
    _select,
    assign_targets,
    decode_boxes,
    encode_boxes,
    fast_rcnn_loss,
    nms_per_image,
    proposal_recall,
    propose_regions,
    sample_rois,
    sliding_windows,
    window_contrast,
)
from ember.vision.shapes import make_shapes
from example_scripts import load_example


def random_boxes(rng, n, size=64.0):
    xy = rng.uniform(0, size * 0.7, (n, 2))
    wh = rng.uniform(2, size * 0.3, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


# -- box deltas ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weights", [(1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0)])
def test_encode_decode_round_trip(dtype, weights):
    rng = np.random.default_rng(0)
    boxes, reference = random_boxes(rng, 50).astype(dtype), random_boxes(rng, 50).astype(dtype)
    deltas = encode_boxes(boxes, reference, weights)
    assert deltas.shape == (50, 4) and deltas.dtype == dtype
    np.testing.assert_allclose(decode_boxes(deltas, reference, weights), boxes, rtol=1e-4, atol=1e-3)
    t = rng.normal(0, 0.5, (3, 50, 4)).astype(dtype)  # and deltas → boxes → deltas, broadcasting the reference
    np.testing.assert_allclose(encode_boxes(decode_boxes(t, reference, weights), reference, weights), t, atol=1e-4)


def test_encode_known_answer_and_decode_cap():
    # box centre (4, 6), 4 × 8; reference centre (2, 2), 4 × 4
    got = encode_boxes(np.array([[2.0, 2.0, 6.0, 10.0]]), np.array([[0.0, 0.0, 4.0, 4.0]]), (10, 10, 5, 5))
    np.testing.assert_allclose(got, [[5.0, 10.0, 0.0, 5 * np.log(2)]])
    huge = decode_boxes(np.array([[0.0, 0.0, 100.0, 0.0]]), np.array([[0.0, 0.0, 4.0, 4.0]]))
    np.testing.assert_allclose(huge[0, 2] - huge[0, 0], 4 * 1000 / 16)  # exp capped at log(1000/16)
    with pytest.raises(ValueError, match="encode_boxes: boxes must be"):
        encode_boxes(np.zeros((3, 5)), np.zeros((3, 4)))


# -- proposals -------------------------------------------------------------------------------------
def test_sliding_windows_cover_the_image_at_each_size():
    windows = sliding_windows(20, 30, sizes=[6, 10], aspect_ratios=(1.0, 2.0), stride=0.25)
    assert windows.dtype == np.int64 and windows.ndim == 2 and windows.shape[1] == 4
    assert windows[:, :2].min() == 0 and windows[:, 2].max() == 30 and windows[:, 3].max() == 20
    sides = {tuple(s) for s in (windows[:, 2:] - windows[:, :2]).tolist()}
    assert sides == {(6, 6), (10, 10), (8, 4), (14, 7)}  # w = round(s√a), h = round(s/√a)
    assert len(np.unique(windows, axis=0)) == len(windows)
    assert np.array_equal(sliding_windows(4, 4, [2], stride=1.0),
                          [[0, 0, 2, 2], [0, 2, 2, 4], [2, 0, 4, 2], [2, 2, 4, 4]])


def test_window_contrast_matches_a_direct_computation():
    rng = np.random.default_rng(1)
    images = rng.random((2, 3, 12, 10))
    windows = sliding_windows(12, 10, sizes=[3, 5, 9], stride=0.5)
    got = window_contrast(images, windows, context=0.3)
    for n in range(2):
        for k, (x1, y1, x2, y2) in enumerate(windows):
            m = max(1, round(0.3 * min(x2 - x1, y2 - y1)))
            X1, Y1, X2, Y2 = max(x1 - m, 0), max(y1 - m, 0), min(x2 + m, 10), min(y2 + m, 12)
            outer = images[n, :, Y1:Y2, X1:X2].sum(axis=(1, 2))
            inner = images[n, :, y1:y2, x1:x2].sum(axis=(1, 2))
            ring_area = max((Y2 - Y1) * (X2 - X1) - (y2 - y1) * (x2 - x1), 1)
            expected = ((inner / ((y2 - y1) * (x2 - x1)) - (outer - inner) / ring_area) ** 2).sum()
            np.testing.assert_allclose(got[n, k], expected, rtol=1e-9, atol=1e-12)


def test_nms_per_image_equals_nms_image_by_image():
    rng = np.random.default_rng(2)
    boxes = np.stack([random_boxes(rng, 60) for _ in range(5)]).astype(np.float32)
    valid = rng.random((5, 60)) < 0.8
    keep = nms_per_image(boxes, valid, 0.4, max_keep=60)
    for b, v, k in zip(boxes, valid, keep, strict=True):
        index = np.nonzero(v)[0]
        expected = index[nms(b[index], np.arange(len(index), 0, -1, dtype=np.float32), 0.4)]  # sorted = score order
        np.testing.assert_array_equal(k[k >= 0], expected)
        assert np.all(k[len(expected):] == -1)
    np.testing.assert_array_equal(nms_per_image(boxes, valid, 0.4, max_keep=3), keep[:, :3])


def test_proposals_shapes_sorted_and_inside_the_image():
    data = make_shapes(6, image_size=48, seed=3)
    boxes, scores = propose_regions(data.images, num_proposals=40)
    assert boxes.shape == (6, 40, 4) and scores.shape == (6, 40) and boxes.dtype == np.float32
    assert np.all(np.diff(scores, axis=1) <= 0)
    assert boxes.min() >= 0 and boxes.max() <= 48
    assert np.all(boxes[..., 2:] > boxes[..., :2])
    iou = box_iou(boxes[0], boxes[0])
    assert np.all(iou[~np.eye(40, dtype=bool)] <= 0.6 + 1e-6)  # suppressed at the default IoU 0.6


def test_a_bright_square_on_a_dark_background_is_the_top_proposal():
    image = np.full((1, 3, 64, 64), 0.1, dtype=np.float32)
    image[:, :, 20:38, 30:48] = 0.9  # x 30..48, y 20..38
    boxes, _ = propose_regions(image, num_proposals=10)
    iou = box_iou(boxes[0], np.array([[30.0, 20.0, 48.0, 38.0]]))[:, 0]
    assert iou[0] > 0.7 and iou.argmax() == 0


def test_fewer_windows_than_proposals_pads_with_empty_boxes():
    boxes, scores = propose_regions(np.random.default_rng(0).random((2, 1, 8, 8)), num_proposals=500, sizes=[4])
    found = np.isfinite(scores)
    assert found.all(axis=0).sum() == found.sum(axis=1).min() > 0 and not found[:, -1].any()
    assert np.all(boxes[~found] == 0) and np.all(np.isneginf(scores[~found]))


def test_proposal_recall_on_shapes_beats_random_windows():
    data = make_shapes(60, seed=4)
    boxes, _ = propose_regions(data.images, num_proposals=100)
    assert proposal_recall(boxes, data.boxes, data.labels) >= 0.9
    rng = np.random.default_rng(0)
    windows = sliding_windows(64, 64, np.geomspace(6.4, 32, 12)).astype(np.float32)
    random = windows[rng.integers(0, len(windows), (60, 10))]
    assert proposal_recall(boxes[:, :10], data.boxes, data.labels) > proposal_recall(random, data.boxes,
                                                                                     data.labels) + 0.3


def test_proposal_recall_known_answer():
    gt = np.array([[[0.0, 0.0, 4.0, 5.0], [9, 9, 12, 12], [0, 0, 0, 0]]])
    labels = np.array([[0, 1, -1]])
    assert proposal_recall(np.array([[[0.0, 0.0, 4.0, 4.0]]]), gt, labels) == 0.5  # IoU 0.8 and 0
    assert proposal_recall(np.array([[[0.0, 0.0, 4.0, 4.0]]]), gt, labels, iou_threshold=0.9) == 0.0


# -- training targets ------------------------------------------------------------------------------
def test_assign_targets_hand_made():
    gt = np.array([[[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0], [0, 0, 0, 0]]])
    gt_labels = np.array([[2, 0, -1]])
    proposals = np.array([[[0.0, 0.0, 10.0, 12.0],     # IoU 10/12 with gt 0 → class 2 + 1
                           [20.0, 20.0, 30.0, 30.0],   # exactly gt 1 → class 0 + 1
                           [0.0, 0.0, 10.0, 30.0],     # IoU 1/3 with gt 0 → background
                           [9.0, 9.0, 19.0, 19.0],     # IoU 1/199 → below 0.1: ignored
                           [40.0, 40.0, 50.0, 50.0],   # no overlap → ignored
                           [0.0, 0.0, 0.0, 0.0],       # an empty (padding) proposal → ignored
                           [14.0, 14.0, 30.0, 30.0]]])  # IoU 100/256 with gt 1 → background
    labels, deltas = assign_targets(proposals, gt, gt_labels, bg_iou_threshold=0.1, weights=(10, 10, 5, 5))
    np.testing.assert_array_equal(labels, [[3, 1, 0, -1, -1, -1, 0]])
    assert deltas.shape == (1, 7, 4) and deltas.dtype == np.float32
    np.testing.assert_allclose(deltas[0, 0], encode_boxes(gt[0, 0], proposals[0, 0], (10, 10, 5, 5)), atol=1e-6)
    np.testing.assert_allclose(deltas[0, 1], 0.0, atol=1e-7)
    assert np.all(deltas[0, 2:] == 0)
    labels, _ = assign_targets(proposals, gt, gt_labels)  # default: everything below 0.5 is background
    np.testing.assert_array_equal(labels, [[3, 1, 0, 0, 0, -1, 0]])


def test_assign_targets_matches_the_most_overlapping_box_per_image():
    gt = np.array([[[0.0, 0.0, 10.0, 10.0], [2.0, 0.0, 12.0, 10.0]], [[0, 0, 0, 0], [0, 0, 0, 0]]])
    proposals = np.array([[[2.0, 0.0, 11.0, 10.0]], [[2.0, 0.0, 11.0, 10.0]]])  # IoU 0.8 with gt 0, 0.9 with gt 1
    labels, deltas = assign_targets(proposals, gt, np.array([[0, 1], [-1, -1]]), fg_iou_threshold=0.85)
    np.testing.assert_array_equal(labels, [[2], [0]])  # the second image has no objects: background
    np.testing.assert_allclose(deltas[0, 0], encode_boxes(gt[0, 1], proposals[0, 0]), atol=1e-6)
    with pytest.raises(ValueError, match="assign_targets"):
        assign_targets(proposals, gt, np.array([[0, 1]]))


def test_sample_rois_quota_per_image():
    rng = np.random.default_rng(0)
    labels = np.concatenate([rng.choice([-1, 0, 1, 2], (3, 200), p=[0.2, 0.6, 0.1, 0.1]),
                             np.array([[1, 0, 0, -1] + [-1] * 196])])
    chosen = sample_rois(labels, batch_size_per_image=32, positive_fraction=0.25, rng=rng)
    assert chosen.shape == labels.shape and chosen.dtype == bool
    positives, negatives = (chosen & (labels > 0)).sum(axis=1), (chosen & (labels == 0)).sum(axis=1)
    np.testing.assert_array_equal(positives, [8, 8, 8, 1])
    np.testing.assert_array_equal(negatives, [24, 24, 24, 2])  # the last image has too few: all taken
    assert not (chosen & (labels < 0)).any()
    other = sample_rois(labels, 32, 0.25, rng=np.random.default_rng(1))
    assert not np.array_equal(other, chosen)  # a random draw, not the first ones
    np.testing.assert_array_equal(sample_rois(labels, 32, 0.25, np.random.default_rng(1)), other)


def test_fast_rcnn_loss_matches_pytorch():
    rng = np.random.default_rng(5)
    K, C = 12, 3
    logits, deltas = rng.normal(size=(K, C + 1)), rng.normal(size=(K, 4 * (C + 1)))
    labels, targets = rng.integers(0, C + 1, K), rng.normal(size=(K, 4)) * 0.3
    x, d = em.tensor(logits, requires_grad=True), em.tensor(deltas, requires_grad=True)
    total, cls, box = fast_rcnn_loss(x, d, labels, targets)
    total.backward()
    tx, td = torch.tensor(logits, requires_grad=True), torch.tensor(deltas, requires_grad=True)
    tl = torch.tensor(labels)
    pos = torch.nonzero(tl > 0)[:, 0]
    t_cls = torch.nn.functional.cross_entropy(tx, tl)
    chosen = td.reshape(K, C + 1, 4)[pos, tl[pos]]
    t_box = torch.nn.functional.smooth_l1_loss(chosen, torch.tensor(targets)[pos], beta=1 / 9, reduction="sum") / K
    (t_cls + t_box).backward()
    np.testing.assert_allclose(cls.item(), t_cls.item(), rtol=1e-6)
    np.testing.assert_allclose(box.item(), t_box.item(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(d.grad.numpy(), td.grad.numpy(), rtol=1e-6, atol=1e-9)


# -- the detector ----------------------------------------------------------------------------------
def test_detector_shapes_and_errors():
    model = TwoStageDetector(3, width=4, representation_size=16)
    rois = em.tensor([[0.0, 4, 4, 30, 30], [1.0, 10, 20, 40, 60], [1.0, 0, 0, 64, 64]])
    logits, deltas = model(em.randn(2, 3, 64, 64), rois)
    assert logits.shape == (3, 4) and deltas.shape == (3, 16)
    assert "num_classes=3" in repr(model)
    assert {"cls_score.weight", "bbox_pred.bias", "backbone.1.running_mean"} <= set(model.state_dict())
    with pytest.raises(ValueError, match="TwoStageDetector"):
        TwoStageDetector(0)
    with pytest.raises(ValueError, match="box_weights"):
        TwoStageDetector(3, box_weights=(1, 1, 1))


def test_detector_loss_falls_on_a_small_set():
    em.manual_seed(0)
    data = make_shapes(8, image_size=48, seed=6)
    proposals, _ = propose_regions(data.images, num_proposals=30)
    model = TwoStageDetector(3, width=8, representation_size=32)
    optimizer = Adam(model.parameters(), lr=3e-3)
    started, losses = time.perf_counter(), []
    for _ in range(40):  # the same RoIs every step: a small fixed set to fit
        loss = model.loss(data.images, proposals, data.boxes, data.labels, rng=np.random.default_rng(0),
                          batch_size_per_image=32)
        optimizer.zero_grad()
        loss["loss"].backward()
        optimizer.step()
        losses.append([loss[k].item() for k in ("loss", "classifier", "box")])
    losses = np.array(losses)
    assert losses[-5:, 0].mean() < 0.5 * losses[:3, 0].mean()
    assert losses[-5:, 1].mean() < 0.5 * losses[:3, 1].mean() and losses[-5:, 2].mean() < losses[:3, 2].mean()
    assert time.perf_counter() - started < 30


def test_detect_output_format():
    em.manual_seed(0)
    data = make_shapes(3, image_size=48, seed=7)
    proposals, _ = propose_regions(data.images, num_proposals=20)
    proposals[1, 10:] = 0  # padded slots
    model = TwoStageDetector(3, width=4, representation_size=16)
    model.train()
    detections = model.detect(data.images, proposals, score_threshold=0.0, max_detections=15)
    assert model.training and len(detections) == 3
    for d in detections:
        assert set(d) == {"boxes", "scores", "labels"} and 0 < len(d["boxes"]) <= 15
        assert d["boxes"].shape == (len(d["scores"]), 4) and d["boxes"].min() >= 0 and d["boxes"].max() <= 48
        assert np.all(np.diff(d["scores"]) <= 0) and set(d["labels"].tolist()) <= {0, 1, 2}


def test_select_suppresses_within_classes_only():
    boxes = np.array([[[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 10.0, 10.0], [1.0, 1.0, 10.0, 10.0],
                       [30.0, 30.0, 40.0, 40.0]]], dtype=np.float32)
    scores = np.array([[0.9, 0.8, 0.7, 0.01]], dtype=np.float32)
    (d,) = _select(boxes, scores, np.array([0, 0, 1, 2]), 0.05, 0.5, 10, 65)
    np.testing.assert_array_equal(d["labels"], [0, 1])  # box 1 suppressed by box 0; box 3 below the threshold
    np.testing.assert_allclose(d["scores"], [0.9, 0.7])
    np.testing.assert_allclose(d["boxes"], boxes[0, [0, 2]])


# -- the example -----------------------------------------------------------------------------------
def test_example_runs_with_tiny_settings(tmp_path, capsys):
    module = load_example("two_stage_detector")
    result = module.main(["--out", str(tmp_path), "--train-size", "16", "--test-size", "8", "--epochs", "1",
                          "--batch-size", "8", "--proposals", "30", "--width", "4"])
    assert result["path"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    assert "recall@IoU0.5" in out and "mAP@0.5" in out and "saved" in out
    assert 0 <= result["map50"] <= 1 and set(result["recall"]) == {10, 25, 30}


@pytest.mark.slow
def test_example_default_recipe_detects_the_shapes(tmp_path):
    module = load_example("two_stage_detector")
    result = module.main(["--out", str(tmp_path)])
    assert result["recall"][100] >= 0.95 and result["map50"] >= 0.9
