"""YOLOCollate: the detector's batches (stacked images, encoded targets) with flips that move the boxes."""
import numpy as np
import pytest

from ember.data import DataLoader, TensorDataset
from ember.vision.detection_data import YOLOCollate, hflip_boxes
from ember.vision.shapes import make_shapes
from ember.vision.yolo import encode_targets

ANCHORS = np.array([[12.0, 12.0], [24.0, 24.0]])


def samples(n=6):
    data = make_shapes(n, image_size=32, seed=2)
    return data, [(data.images[i], data.boxes[i], data.labels[i]) for i in range(n)]


def test_hflip_boxes_mirrors_and_keeps_corner_order():
    boxes = np.array([[[10.0, 5.0, 20.0, 15.0], [0.0, 0.0, 64.0, 1.0]]])
    np.testing.assert_array_equal(hflip_boxes(boxes, 64), [[[44.0, 5.0, 54.0, 15.0], [0.0, 0.0, 64.0, 1.0]]])
    np.testing.assert_array_equal(hflip_boxes(hflip_boxes(boxes, 64), 64), boxes)


def test_without_flips_the_batch_is_the_stacked_samples_and_their_targets():
    data, batch = samples()
    images, targets = YOLOCollate(ANCHORS, 3, 4, 32, hflip=None)(batch)
    np.testing.assert_array_equal(images.numpy(), data.images)
    np.testing.assert_array_equal(targets.numpy(), encode_targets(data.boxes, data.labels, ANCHORS, 3, 4, 32))


def test_a_certain_flip_mirrors_images_and_boxes_and_leaves_empty_slots_empty():
    data, batch = samples()
    assert (data.labels < 0).any()  # some padded slots, which must stay all zero
    images, targets = YOLOCollate(ANCHORS, 3, 4, 32, hflip=1.0)(batch)
    np.testing.assert_array_equal(images.numpy(), data.images[..., ::-1])
    boxes = np.where(data.labels[..., None] >= 0, hflip_boxes(data.boxes, 32), 0.0)
    np.testing.assert_array_equal(targets.numpy(), encode_targets(boxes, data.labels, ANCHORS, 3, 4, 32))


def test_flips_are_drawn_per_image_from_the_generator():
    _, batch = samples(64)
    first = YOLOCollate(ANCHORS, 3, 4, 32, generator=np.random.default_rng(5))(batch)[0].numpy()
    again = YOLOCollate(ANCHORS, 3, 4, 32, generator=np.random.default_rng(5))(batch)[0].numpy()
    np.testing.assert_array_equal(first, again)
    plain = np.stack([s[0] for s in batch])
    flipped = [not np.array_equal(f, p) for f, p in zip(first, plain, strict=True)]
    assert 16 < sum(flipped) < 48  # about half of 64


def test_serves_a_dataloader():
    data = make_shapes(10, image_size=32, seed=1)
    loader = DataLoader(TensorDataset(*data), batch_size=4, collate_fn=YOLOCollate(ANCHORS, 3, 4, 32, hflip=0.5))
    shapes = [(tuple(x.shape), tuple(t.shape)) for x, t in loader]
    assert shapes == [((4, 3, 32, 32), (4, 4, 4, 2, 8))] * 2 + [((2, 3, 32, 32), (2, 4, 4, 2, 8))]


def test_repr_names_the_settings():
    assert repr(YOLOCollate(ANCHORS, 3, 4, 32, hflip=None)) == (
        "YOLOCollate(anchors=[[12.0, 12.0], [24.0, 24.0]], num_classes=3, grid_size=4, image_size=32, hflip=None)")
    with pytest.raises(ValueError):
        YOLOCollate(ANCHORS, 3, 4, 32, hflip=1.5)
