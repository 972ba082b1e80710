"""Boxes: conversions, IoU, NMS (against hand-made cases and a loop reference of torchvision's algorithm), anchors."""
import numpy as np
import pytest
import torch

import ember as em
from ember.testing import gradcheck
from ember.vision.boxes import (
    assign_to_anchors,
    batched_box_iou,
    batched_nms,
    box_area,
    box_convert,
    box_iou,
    clip_boxes_to_image,
    grid_anchors,
    nms,
    remove_small_boxes,
    wh_iou,
)
from torch_parity import assert_close


# -- references: plain loops following torchvision's documented algorithms ------------------------
def iou_reference(a, b):
    out = np.zeros((len(a), len(b)))
    for i, p in enumerate(a):
        for j, q in enumerate(b):
            w = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
            h = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
            union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - w * h
            out[i, j] = w * h / union
    return out


def nms_reference(boxes, scores, threshold):
    order = sorted(range(len(scores)), key=lambda i: -scores[i])  # Python's sort is stable
    suppressed, keep = set(), []
    for position, i in enumerate(order):
        if i in suppressed:
            continue
        keep.append(i)
        for j in order[position + 1:]:
            if iou_reference(boxes[i:i + 1], boxes[j:j + 1])[0, 0] > threshold:
                suppressed.add(j)
    return keep


def batched_nms_reference(boxes, scores, idxs, threshold):
    keep = []
    for c in np.unique(idxs):
        members = np.nonzero(idxs == c)[0]
        keep += [members[k] for k in nms_reference(boxes[members], scores[members], threshold)]
    return sorted(keep, key=lambda i: (-scores[i], i))


def random_boxes(rng, n, size=50.0):
    xy = rng.uniform(0, size, (n, 2))
    wh = rng.uniform(1, size / 2, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


# -- conversions and areas ----------------------------------------------------------------------
def test_box_convert_known_values_and_round_trips():
    xyxy = np.array([[10.0, 20.0, 30.0, 60.0], [0.0, 0.0, 1.0, 1.0]])
    np.testing.assert_allclose(box_convert(xyxy, "xyxy", "cxcywh"), [[20, 40, 20, 40], [0.5, 0.5, 1, 1]])
    np.testing.assert_allclose(box_convert(xyxy, "xyxy", "xywh"), [[10, 20, 20, 40], [0, 0, 1, 1]])
    rng = np.random.default_rng(0)
    boxes = random_boxes(rng, 20)
    for fmt in ("xywh", "cxcywh"):
        np.testing.assert_allclose(box_convert(box_convert(boxes, "xyxy", fmt), fmt, "xyxy"), boxes)
    np.testing.assert_allclose(box_convert(box_convert(boxes, "xyxy", "xywh"), "xywh", "cxcywh"),
                               box_convert(boxes, "xyxy", "cxcywh"))
    assert box_convert(boxes, "xyxy", "xyxy") is boxes


def test_box_convert_on_tensors_is_differentiable():
    rng = np.random.default_rng(1)
    x = em.tensor(random_boxes(rng, 5), requires_grad=True)
    assert isinstance(box_convert(x, "xyxy", "cxcywh"), em.Tensor)
    for a, b in (("xyxy", "cxcywh"), ("cxcywh", "xywh"), ("xywh", "xyxy")):
        assert gradcheck(lambda t, a=a, b=b: box_convert(t, a, b), [x])
    boxes = em.tensor(random_boxes(rng, 3).reshape(3, 4), requires_grad=True)
    assert gradcheck(lambda t: box_area(t), [boxes])


def test_box_convert_and_area_errors():
    with pytest.raises(ValueError, match="format must be one of"):
        box_convert(np.zeros((2, 4)), "xyxy", "yxyx")
    with pytest.raises(ValueError, match=r"box_convert: boxes must be \(\.\.\., 4\), got \(2, 5\)"):
        box_convert(np.zeros((2, 5)), "xyxy", "xywh")
    with pytest.raises(ValueError, match=r"box_area: boxes must be \(N, 4\)"):
        box_area(np.zeros(4))


# -- IoU ---------------------------------------------------------------------------------------
def test_box_iou_hand_made_cases():
    a = np.array([[0.0, 0.0, 2.0, 2.0]])
    b = np.array([
        [0.0, 0.0, 2.0, 2.0],    # identical → 1
        [2.0, 0.0, 4.0, 2.0],    # touching along an edge → 0
        [2.0, 2.0, 3.0, 3.0],    # touching at a corner → 0
        [5.0, 5.0, 6.0, 6.0],    # disjoint → 0
        [0.5, 0.5, 1.5, 1.5],    # nested inside: 1 / 4
        [-1.0, -1.0, 3.0, 3.0],  # containing: 4 / 16
        [1.0, 0.0, 3.0, 2.0],    # half overlap: 2 / 6
    ])
    np.testing.assert_allclose(box_iou(a, b), [[1, 0, 0, 0, 0.25, 0.25, 1 / 3]])
    np.testing.assert_allclose(box_iou(b, a), box_iou(a, b).T)


def test_box_iou_matches_reference_and_returns_the_input_kind():
    rng = np.random.default_rng(2)
    a, b = random_boxes(rng, 7), random_boxes(rng, 11)
    np.testing.assert_allclose(box_iou(a, b), iou_reference(a, b), rtol=1e-12)
    t = box_iou(em.tensor(a.astype(np.float32)), em.tensor(b.astype(np.float32)))
    assert isinstance(t, em.Tensor) and t.shape == (7, 11) and t.dtype == np.float32
    assert_close(t.numpy(), iou_reference(a, b), rtol=1e-5, atol=1e-6, check_dtype=False)
    assert box_iou(a, np.zeros((0, 4))).shape == (7, 0)


def test_box_iou_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"box_iou: boxes2 must be \(N, 4\), got \(3, 5\)"):
        box_iou(np.zeros((2, 4)), np.zeros((3, 5)))


def test_wh_iou_is_iou_of_boxes_on_one_centre():
    rng = np.random.default_rng(3)
    wh1, wh2 = rng.uniform(1, 10, (4, 2)), rng.uniform(1, 10, (3, 2))
    centred = lambda wh: np.concatenate([-wh / 2, wh / 2], axis=1)  # noqa: E731
    np.testing.assert_allclose(wh_iou(wh1, wh2), iou_reference(centred(wh1), centred(wh2)))


def test_remove_small_and_clip():
    boxes = np.array([[0.0, 0.0, 1.0, 5.0], [0.0, 0.0, 4.0, 4.0], [1.0, 1.0, 3.0, 2.9]])
    np.testing.assert_array_equal(remove_small_boxes(boxes, 2.0), [1])
    np.testing.assert_array_equal(remove_small_boxes(boxes, 1.0), [0, 1, 2])
    clipped = clip_boxes_to_image(np.array([[-5.0, 2.0, 70.0, 80.0]]), (60, 64))
    np.testing.assert_array_equal(clipped, [[0, 2, 64, 60]])


# -- NMS ---------------------------------------------------------------------------------------
def test_nms_hand_made_cases():
    boxes = np.array([
        [0.0, 0.0, 10.0, 10.0],
        [1.0, 1.0, 11.0, 11.0],    # IoU 81/119 = 0.68 with box 0
        [10.0, 0.0, 20.0, 10.0],   # touches box 0
        [2.0, 2.0, 8.0, 8.0],      # nested in box 0: IoU 0.36
        [50.0, 50.0, 60.0, 60.0],  # disjoint
    ])
    scores = np.array([0.9, 0.95, 0.8, 0.7, 0.1])
    np.testing.assert_array_equal(nms(boxes, scores, 0.5), [1, 2, 3, 4])
    np.testing.assert_array_equal(nms(boxes, scores, 0.3), [1, 2, 4])    # the nested box goes too
    np.testing.assert_array_equal(nms(boxes, scores, 0.7), [1, 0, 2, 3, 4])
    # the threshold is strict: IoU exactly at the threshold is kept
    np.testing.assert_array_equal(nms(boxes[[0, 3]], np.array([0.9, 0.8]), 0.36), [0, 1])
    out = nms(boxes, scores, 0.5)
    assert out.dtype == np.int64
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).shape == (0,)


def test_nms_ties_keep_input_order():
    boxes = np.array([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]])
    np.testing.assert_array_equal(nms(boxes, np.array([0.5, 0.5, 0.5]), 0.5), [0, 2])
    np.testing.assert_array_equal(nms(boxes, np.array([0.5, 0.6, 0.5]), 0.5), [1, 2])


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.7])
def test_nms_matches_reference(seed, threshold):
    rng = np.random.default_rng(seed)
    boxes = random_boxes(rng, 60)
    scores = rng.random(60).round(2)  # rounding makes ties
    np.testing.assert_array_equal(nms(boxes, scores, threshold), nms_reference(boxes, scores, threshold))


def test_nms_on_tensors():
    rng = np.random.default_rng(7)
    boxes, scores = random_boxes(rng, 30).astype(np.float32), rng.random(30).astype(np.float32)
    keep = nms(em.tensor(boxes), em.tensor(scores), 0.4)
    assert isinstance(keep, em.Tensor) and keep.dtype == np.int64
    np.testing.assert_array_equal(keep.numpy(), nms_reference(boxes, scores, 0.4))


def test_nms_errors():
    with pytest.raises(ValueError, match=r"nms: boxes must be \(N, 4\), got \(3, 5\)"):
        nms(np.zeros((3, 5)), np.zeros(3), 0.5)
    with pytest.raises(ValueError, match=r"nms: scores must be \(N,\) = \(3,\)"):
        nms(np.zeros((3, 4)), np.zeros(4), 0.5)
    with pytest.raises(ValueError, match=r"batched_nms: idxs must be"):
        batched_nms(np.zeros((3, 4)), np.zeros(3), np.zeros(2, dtype=np.int64), 0.5)


def test_batched_nms_keeps_other_classes():
    boxes = np.array([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0], [1.0, 1.0, 11.0, 11.0]])
    scores = np.array([0.9, 0.8, 0.7])
    np.testing.assert_array_equal(batched_nms(boxes, scores, np.array([0, 0, 1]), 0.5), [0, 2])
    np.testing.assert_array_equal(batched_nms(boxes, scores, np.array([0, 1, 2]), 0.5), [0, 1, 2])
    assert batched_nms(np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64), 0.5).shape == (0,)


@pytest.mark.parametrize("seed", range(4))
def test_batched_nms_matches_per_class_reference(seed):
    rng = np.random.default_rng(seed)
    boxes, scores, idxs = random_boxes(rng, 80), rng.random(80), rng.integers(0, 4, 80)
    expected = batched_nms_reference(boxes, scores, idxs, 0.4)
    np.testing.assert_array_equal(batched_nms(boxes, scores, idxs, 0.4), expected)
    kept = batched_nms(em.tensor(boxes), em.tensor(scores), em.tensor(idxs), 0.4)
    np.testing.assert_array_equal(kept.numpy(), expected)


def test_box_iou_agrees_with_torch_composition():
    # torchvision's box_iou written out in torch ops (torchvision itself is not importable here)
    rng = np.random.default_rng(9)
    a, b = random_boxes(rng, 6), random_boxes(rng, 5)
    ta, tb = torch.tensor(a), torch.tensor(b)
    area = lambda t: (t[:, 2] - t[:, 0]) * (t[:, 3] - t[:, 1])  # noqa: E731
    lt, rb = torch.max(ta[:, None, :2], tb[:, :2]), torch.min(ta[:, None, 2:], tb[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(dim=2)
    expected = inter / (area(ta)[:, None] + area(tb) - inter)
    np.testing.assert_allclose(box_iou(a, b), expected.numpy(), rtol=1e-12)


# -- anchors -----------------------------------------------------------------------------------
def test_grid_anchors_centres_and_shapes():
    anchors = np.array([[4.0, 2.0], [8.0, 8.0]])
    grid = grid_anchors(4, anchors, 32)
    assert grid.shape == (4, 4, 2, 4)
    np.testing.assert_allclose(grid[0, 0, 0], [2, 3, 6, 5])         # cell (0, 0) centred at (4, 4)
    np.testing.assert_allclose(grid[2, 1, 1], [8, 16, 16, 24])      # row 2, column 1: centre (12, 20)
    centres = (grid[..., :2] + grid[..., 2:]) / 2
    np.testing.assert_allclose(centres[..., 0, 0], centres[..., 1, 0])


def test_assign_to_anchors_cells_and_anchors():
    anchors = np.array([[8.0, 8.0], [24.0, 12.0], [12.0, 24.0]])
    boxes = np.array([
        [0.0, 0.0, 8.0, 8.0],       # midpoint (4, 4): cell (0, 0), small square anchor
        [40.0, 8.0, 60.0, 20.0],    # midpoint (50, 14): row 0, column 3 (cell 16 px); wide → anchor 1
        [20.0, 30.0, 30.0, 60.0],   # midpoint (25, 45): row 2, column 1; tall → anchor 2
        [12.0, 12.0, 20.0, 20.0],   # midpoint (16, 16) on a corner of cells: belongs to the cell right/below
        [56.0, 56.0, 64.0, 64.0],   # midpoint (60, 60): last cell
    ])
    row, col, anchor = assign_to_anchors(boxes, anchors, grid_size=4, image_size=64)
    np.testing.assert_array_equal(row, [0, 0, 2, 1, 3])
    np.testing.assert_array_equal(col, [0, 3, 1, 1, 3])
    np.testing.assert_array_equal(anchor, [0, 1, 2, 0, 0])
    assert row.dtype == col.dtype == anchor.dtype == np.int64


def test_assign_to_anchors_picks_highest_iou_and_clamps_edges():
    rng = np.random.default_rng(4)
    anchors = rng.uniform(4, 30, (5, 2))
    boxes = random_boxes(rng, 40, size=64)
    _, _, anchor = assign_to_anchors(boxes, anchors, 8, 64)
    wh = boxes[:, 2:] - boxes[:, :2]
    expected = [int(np.argmax([min(w, aw) * min(h, ah) / (w * h + aw * ah - min(w, aw) * min(h, ah))
                               for aw, ah in anchors])) for w, h in wh]
    np.testing.assert_array_equal(anchor, expected)
    row, col, _ = assign_to_anchors(np.array([[60.0, 60.0, 68.0, 68.0]]), anchors, 8, 64)  # midpoint 64: the edge
    assert (row[0], col[0]) == (7, 7)


def test_assign_to_anchors_ties_go_to_the_first_anchor():
    anchors = np.array([[10.0, 10.0], [10.0, 10.0]])
    assert assign_to_anchors(np.array([[0.0, 0.0, 10.0, 10.0]]), anchors, 2, 20)[2][0] == 0
    with pytest.raises(ValueError, match=r"anchors must be \(A, 2\)"):
        assign_to_anchors(np.zeros((1, 4)), np.zeros(3), 2, 20)


def test_batched_box_iou_equals_box_iou_image_by_image():
    rng = np.random.default_rng(3)
    corners = rng.uniform(0, 50, (4, 6, 2))
    b1 = np.concatenate([corners, corners + rng.uniform(1, 20, (4, 6, 2))], axis=-1)
    b2 = np.concatenate([b1[:, :3, :2] + 2, b1[:, :3, 2:] + 5], axis=-1)
    batched = batched_box_iou(b1, b2)
    assert batched.shape == (4, 6, 3)
    for i in range(4):
        np.testing.assert_allclose(batched[i], box_iou(b1[i], b2[i]))
