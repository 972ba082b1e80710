"""YOLO: target encoding, encode → decode round trips, the loss (values, gradients, PyTorch), postprocessing,
the TinyYOLO network, and a loss that falls on a small set."""
import numpy as np
import pytest
import torch

import ember as em
from ember.optim.adam import Adam
from ember.testing import gradcheck
from ember.vision.shapes import make_shapes
from ember.vision.yolo import (
    TinyYOLO,
    YOLOLoss,
    anchors_from_boxes,
    decode,
    encode_targets,
    postprocess,
    yolo_loss,
)

ANCHORS = np.array([[12.0, 12.0], [24.0, 20.0]], dtype=np.float32)


def _logit(p):
    p = np.clip(p.astype(np.float64), 1e-9, 1 - 1e-9)
    return np.log(p) - np.log1p(-p)


# -- encoding ------------------------------------------------------------------------------------
def test_encode_known_values():
    boxes = np.array([[[8.0, 8.0, 24.0, 24.0], [36.0, 40.0, 60.0, 60.0], [0.0, 0.0, 0.0, 0.0]]])
    labels = np.array([[1, 0, -1]])
    t = encode_targets(boxes, labels, ANCHORS, num_classes=2, grid_size=4, image_size=64)
    assert t.shape == (1, 4, 4, 2, 7) and t.dtype == np.float32
    assert t[..., 0].sum() == 2
    # object 0: midpoint (16, 16) → cell (1, 1) at its top-left corner; 16 × 16 is closest to anchor 0
    np.testing.assert_allclose(t[0, 1, 1, 0], [1, 0, 0, np.log(16 / 12), np.log(16 / 12), 0, 1], rtol=1e-6)
    # object 1: midpoint (48, 50) → row 3, column 3, offsets (0, 0.125); 24 wide × 20 high = anchor 1 exactly
    np.testing.assert_allclose(t[0, 3, 3, 1], [1, 0, 0.125, 0, 0, 1, 0], atol=1e-6)


def test_encode_collision_keeps_the_later_object():
    boxes = np.array([[[0.0, 0.0, 12.0, 12.0], [2.0, 2.0, 13.0, 13.0]]])
    t = encode_targets(boxes, np.array([[0, 1]]), ANCHORS, 2, 4, 64)
    assert t[..., 0].sum() == 1
    np.testing.assert_array_equal(t[0, 0, 0, 0, 5:], [0, 1])


def test_encode_errors():
    with pytest.raises(ValueError, match=r"boxes \(N, M, 4\) and labels \(N, M\)"):
        encode_targets(np.zeros((2, 4)), np.zeros(2), ANCHORS, 2, 4, 64)
    with pytest.raises(ValueError, match="labels must be < num_classes"):
        encode_targets(np.ones((1, 1, 4)), np.array([[2]]), ANCHORS, 2, 4, 64)
    with pytest.raises(ValueError, match=r"anchors must be \(A, 2\) positive"):
        encode_targets(np.ones((1, 1, 4)), np.array([[0]]), np.zeros((2, 2)), 2, 4, 64)


def test_anchors_from_boxes_groups_by_area():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 12, 8], [0, 0, 30, 30], [0, 0, 28, 32], [0, 0, 0, 0]])
    np.testing.assert_allclose(anchors_from_boxes(boxes, 2), [[11, 9], [29, 31]])
    with pytest.raises(ValueError, match="need at least 3 non-empty boxes"):
        anchors_from_boxes(boxes[:2], 3)


# -- round trips -------------------------------------------------------------------------------
def _shapes_with_targets(n=40, seed=3):
    data = make_shapes(n, seed=seed)
    anchors = anchors_from_boxes(data.boxes[data.labels >= 0], 2)
    return data, anchors, encode_targets(data.boxes, data.labels, anchors, 3, 8, 64)


def test_encode_then_decode_recovers_every_box_and_label():
    data, anchors, target = _shapes_with_targets()
    assert target[..., 0].sum() == (data.labels >= 0).sum()  # no collisions in this set
    detections = postprocess(target, anchors, 64, conf_threshold=0.5, activated=True)
    for found, truth in zip(detections, data.targets(), strict=True):
        order = np.lexsort(truth["boxes"].T[::-1])
        got = np.lexsort(found["boxes"].T[::-1])
        np.testing.assert_allclose(found["boxes"][got], truth["boxes"][order], atol=1e-4)
        np.testing.assert_array_equal(found["labels"][got], truth["labels"][order])
        np.testing.assert_array_equal(found["scores"], 1.0)


def test_decoding_raw_outputs_inverts_the_activations():
    _, anchors, target = _shapes_with_targets(10)
    raw = target.astype(np.float64)
    raw[..., :3] = _logit(target[..., :3])
    raw[..., 5:] = np.where(target[..., 5:] > 0, 20.0, 0.0)  # softmax → (almost) one-hot
    boxes, conf, probs = decode(em.tensor(raw), anchors, 64)
    boxes_t, conf_t, probs_t = decode(target, anchors, 64, activated=True)
    present = conf_t > 0.5
    np.testing.assert_allclose(boxes[present], boxes_t[present], atol=1e-5)
    np.testing.assert_allclose(conf, conf_t, atol=1e-6)
    np.testing.assert_allclose(probs[present], probs_t[present], atol=1e-6)
    assert boxes.shape == (10, 8 * 8 * 2, 4)


def test_postprocess_per_class_nms_threshold_and_limit():
    target = np.zeros((1, 4, 4, 2, 7), dtype=np.float32)
    # the same object seen by both anchors of cell (1, 1) with class 0, and by cell (1, 2) as class 1
    target[0, 1, 1, 0] = [0.9, 0.5, 0.5, 0, 0, 1, 0]
    target[0, 1, 1, 1] = [0.8, 0.5, 0.5, np.log(12 / 24), np.log(12 / 20), 1, 0]
    target[0, 1, 2, 0] = [0.7, 0.0, 0.5, 0, 0, 0, 1]
    target[0, 3, 3, 0] = [0.2, 0.5, 0.5, 0, 0, 1, 0]  # below the threshold
    found = postprocess(target, ANCHORS, 64, conf_threshold=0.25, iou_threshold=0.5, activated=True)[0]
    np.testing.assert_allclose(found["scores"], [0.9, 0.7])
    np.testing.assert_array_equal(found["labels"], [0, 1])
    np.testing.assert_allclose(found["boxes"][0], [18, 18, 30, 30])
    limited = postprocess(target, ANCHORS, 64, conf_threshold=0.1, max_detections=2, activated=True)
    assert len(limited[0]["scores"]) == 2
    boxes = postprocess(target, ANCHORS, 64, conf_threshold=0.1, activated=True, iou_threshold=1.0)[0]["boxes"]
    assert boxes.min() >= 0 and boxes.max() <= 64


# -- the loss ----------------------------------------------------------------------------------
def _torch_yolo_loss(out, target, lambda_coord=5.0, lambda_noobj=0.5):
    obj = target[..., 0]
    pred = torch.cat([torch.sigmoid(out[..., :3]), out[..., 3:5], torch.softmax(out[..., 5:], dim=-1)], dim=-1)
    sq = (pred - target) ** 2
    loss = (obj + lambda_noobj * (1 - obj)) * sq[..., 0] + lambda_coord * obj * sq[..., 1:5].sum(-1)
    loss = loss + obj * sq[..., 5:].sum(-1)
    return loss.sum() / out.shape[0]


def test_loss_matches_torch_and_finite_differences():
    _, anchors, target = _shapes_with_targets(3, seed=5)
    target = target.astype(np.float64)
    raw = np.random.default_rng(0).normal(size=target.shape)
    assert gradcheck(lambda t: yolo_loss(t, target), [em.tensor(raw, requires_grad=True)])
    x = em.tensor(raw, requires_grad=True)
    loss = YOLOLoss(lambda_coord=3.0, lambda_noobj=0.25)(x, em.tensor(target))
    loss.backward()
    tx = torch.tensor(raw, requires_grad=True)
    expected = _torch_yolo_loss(tx, torch.tensor(target), 3.0, 0.25)
    expected.backward()
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_loss_known_value_of_one_anchor():
    target = np.zeros((1, 1, 1, 1, 6), dtype=np.float64)
    out = np.zeros_like(target)  # σ(0) = 0.5, softmax of one class = 1
    assert yolo_loss(em.tensor(out), target).item() == pytest.approx(0.5 * 0.25)   # λ_noobj · 0.5²
    target[..., :6] = [1, 0.25, 0.5, 0.1, -0.2, 1]
    expected = 0.25 + 5 * (0.25 ** 2 + 0 + 0.1 ** 2 + 0.2 ** 2)
    assert yolo_loss(em.tensor(out), target).item() == pytest.approx(expected)
    with pytest.raises(ValueError, match=r"\(N, S, S, A, 5 \+ C\)"):
        yolo_loss(em.zeros(1, 2, 2, 1, 6), np.zeros((1, 2, 2, 2, 6)))
    assert "lambda_coord=5.0, lambda_noobj=0.5" in repr(YOLOLoss())


# -- the network -------------------------------------------------------------------------------
def test_tiny_yolo_shapes_buffers_and_errors():
    model = TinyYOLO(3, num_anchors=3, grid_size=8, image_size=64, width=8)
    out = model(em.randn(2, 3, 64, 64))
    assert out.shape == (2, 8, 8, 3, 8)
    assert model.anchors.shape == (3, 2) and "anchors" in model.state_dict()
    assert np.all(model.head.bias.array.reshape(3, 8)[:, 0] == -4.0)
    assert TinyYOLO(2, grid_size=4, image_size=32, width=4)(em.randn(1, 3, 32, 32)).shape == (1, 4, 4, 2, 7)
    with pytest.raises(ValueError, match="power of two"):
        TinyYOLO(3, grid_size=7, image_size=64)
    copy = TinyYOLO(3, num_anchors=3, width=8, anchors=np.ones((3, 2)))
    copy.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(copy.anchors.numpy(), model.anchors.numpy())
    detections = model.detect(em.randn(2, 3, 64, 64).numpy(), conf_threshold=0.0)
    assert len(detections) == 2 and model.training
    assert np.all(np.diff(detections[0]["scores"]) <= 0)


def test_loss_falls_on_a_small_set():
    data = make_shapes(16, seed=11)
    anchors = anchors_from_boxes(data.boxes[data.labels >= 0], 2)
    model = TinyYOLO(3, anchors=anchors, width=8)
    target = encode_targets(data.boxes, data.labels, anchors, 3, 8, 64)
    optimizer = Adam(model.parameters(), lr=3e-3)
    images = em.tensor(data.images)
    losses = []
    for _ in range(40):
        loss = yolo_loss(model(images), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0], losses
