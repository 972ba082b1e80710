"""The synthetic shapes dataset: layout, determinism, annotations that match the drawn pixels."""
import numpy as np
import pytest

from ember.vision.boxes import box_iou
from ember.vision.shapes import CLASSES, Shapes, make_shapes


def test_layout_dtypes_and_ranges():
    data = make_shapes(50, image_size=64, max_objects=3, seed=0)
    assert isinstance(data, Shapes)
    assert data.images.shape == (50, 3, 64, 64) and data.images.dtype == np.float32
    assert data.boxes.shape == (50, 3, 4) and data.boxes.dtype == np.float32
    assert data.labels.shape == (50, 3) and data.labels.dtype == np.int64
    assert data.images.min() >= 0 and data.images.max() <= 1
    assert set(np.unique(data.labels)) <= {-1, 0, 1, 2}
    counts = (data.labels >= 0).sum(axis=1)
    assert counts.min() >= 1 and counts.max() == 3 and len(set(counts)) == 3
    assert np.all(data.boxes[data.labels < 0] == 0)
    assert len(CLASSES) == 3


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = make_shapes(10, seed=4), make_shapes(10, seed=4), make_shapes(10, seed=5)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.images, c.images)


def test_boxes_inside_the_image_sized_and_apart():
    data = make_shapes(200, image_size=48, max_objects=4, seed=1, size_range=(0.2, 0.3), max_iou=0.1)
    present = data.labels >= 0
    boxes = data.boxes[present]
    assert boxes.min() >= 0 and boxes.max() <= 48
    sides = boxes[:, 2:] - boxes[:, :2]
    np.testing.assert_allclose(sides[:, 0], sides[:, 1], rtol=1e-5)  # square boxes
    assert sides.min() >= 0.2 * 48 - 1e-4 and sides.max() <= 0.3 * 48 + 1e-4
    for image_boxes, keep in zip(data.boxes, present, strict=True):
        iou = box_iou(image_boxes[keep], image_boxes[keep])
        assert np.all(iou[~np.eye(len(iou), dtype=bool)] <= 0.1 + 1e-6)


def test_drawn_pixels_fill_the_box_as_each_shape_should():
    # one object, no noise: the pixels that differ from the background are the shape itself
    data = make_shapes(300, image_size=64, max_objects=1, seed=2, noise=0.0, size_range=(0.3, 0.45))
    background = data.images[:, :, :1, :1]
    drawn = np.any(np.abs(data.images - background) > 1e-6, axis=1)
    area = data.boxes[:, 0, 2:] - data.boxes[:, 0, :2]
    fill = drawn.sum(axis=(1, 2)) / area.prod(axis=1)
    labels = data.labels[:, 0]
    # circle π/4, square 1, triangle 1/2 of the box
    for label, expected in ((0, np.pi / 4), (1, 1.0), (2, 0.5)):
        np.testing.assert_allclose(fill[labels == label], expected, atol=0.12)
    ys, xs = np.nonzero(drawn[0])
    box = data.boxes[0, 0]
    assert xs.min() >= np.floor(box[0]) and xs.max() + 1 <= np.ceil(box[2])
    assert ys.min() >= np.floor(box[1]) and ys.max() + 1 <= np.ceil(box[3])
    assert xs.max() + 1 - xs.min() >= box[2] - box[0] - 2  # the shape spans its box


def test_noise_and_targets():
    data = make_shapes(20, seed=3, noise=0.1)
    flat = data.images[:, :, :2, :2].std()
    assert flat > 0.03
    targets = data.targets()
    assert len(targets) == 20
    for t, labels in zip(targets, data.labels, strict=True):
        assert len(t["boxes"]) == len(t["labels"]) == (labels >= 0).sum()


def test_errors():
    with pytest.raises(ValueError, match="min_objects ≤ max_objects"):
        make_shapes(4, min_objects=3, max_objects=2)
    with pytest.raises(ValueError, match="size_range"):
        make_shapes(4, size_range=(0.5, 1.2))
    assert make_shapes(0).images.shape == (0, 3, 64, 64)
