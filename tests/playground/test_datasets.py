"""The playground's 2-D data sets and input features: shapes, labels, noise, split, determinism."""
import numpy as np
import pytest

from ember.playground.datasets2d import DATASETS, FEATURES, RADIUS, features, grid, make_dataset


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_shapes_split_and_range(name):
    data = make_dataset(name, n=301, noise=0.3, train_fraction=0.7, seed=3)
    assert data.x_train.shape == (211, 2) and data.x_test.shape == (90, 2)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.float32
    labels = np.concatenate([data.y_train, data.y_test])
    assert set(np.unique(labels)) == {0.0, 1.0} and 0.3 < labels.mean() < 0.7
    points = np.concatenate([data.x_train, data.x_test])
    assert np.abs(points).max() <= RADIUS
    assert len(np.unique(points, axis=0)) == 301  # the split partitions the points: none repeated or lost


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_seeded_and_noise_moves_points(name):
    a, b = make_dataset(name, seed=5), make_dataset(name, seed=5)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(make_dataset(name, seed=6).x_train, a.x_train)
    noisy = make_dataset(name, noise=0.5, seed=5)
    np.testing.assert_array_equal(noisy.y_train, a.y_train)
    assert np.abs(noisy.x_train - a.x_train).mean() > 0.1


def test_labels_follow_each_rule_without_noise():
    d = make_dataset("circle", 400)
    x, y = d.x_train, d.y_train
    r = np.hypot(x[:, 0], x[:, 1])
    assert np.all(r[y == 1] <= 2.5 + 1e-5) and np.all(r[y == 0] >= 3.5 - 1e-5)
    d = make_dataset("xor", 400)
    assert np.array_equal(d.y_train == 1, d.x_train[:, 0] * d.x_train[:, 1] > 0)
    d = make_dataset("gauss", 400)
    assert d.x_train[d.y_train == 1].mean(axis=0) == pytest.approx([2, 2], abs=0.2)
    assert d.x_train[d.y_train == 0].mean(axis=0) == pytest.approx([-2, -2], abs=0.2)
    d = make_dataset("spiral", 400)
    x, y = np.concatenate([d.x_train, d.x_test]), np.concatenate([d.y_train, d.y_test])
    # the second arm is the first rotated by π: mirrored points, equal radii
    assert np.hypot(*x[y == 0].T).mean() == pytest.approx(np.hypot(*x[y == 1].T).mean(), rel=0.1)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"name": "moons"}, "unknown data set"), ({"n": 1}, "at least 2"), ({"noise": 1.5}, "noise"),
    ({"train_fraction": 1.0}, "train_fraction"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_dataset(**{"name": "circle", **kwargs})


def test_features_and_grid():
    points = np.array([[1.0, -2.0], [0.5, 3.0]])
    out = features(points, list(FEATURES))
    expected = np.array([[1, -2, 1, 4, -2, np.sin(1), np.sin(-2)], [0.5, 3, 0.25, 9, 1.5, np.sin(0.5), np.sin(3)]])
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    with pytest.raises(ValueError, match="unknown or no features"):
        features(points, ["x3"])
    g = grid(4)
    assert g.shape == (16, 2) and g[0].tolist() == [-4.5, 4.5] and g[-1].tolist() == [4.5, -4.5]
