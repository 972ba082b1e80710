"""train_dev_test_split and Normalizer."""
import numpy as np
import pytest

import ember as em
from ember.data import Subset, TensorDataset
from ember.serialization import load, save
from ember.train import Normalizer, train_dev_test_split

# -- splits -------------------------------------------------------------------------------


@pytest.mark.parametrize("n, fractions, sizes", [
    (100, (0.6, 0.2, 0.2), [60, 20, 20]),
    (10, (0.7, 0.3), [7, 3]),
    (1797, (0.7, 0.3), [1258, 539]),  # floor(1257.9) + the remainder to the first part
    (1000, (0.98, 0.01, 0.01), [980, 10, 10]),
    (50, (40, 5, 5), [40, 5, 5]),  # absolute sizes
])
def test_part_sizes_cover_everything_once(n, fractions, sizes):
    parts = train_dev_test_split(np.arange(n), fractions=fractions, seed=0)
    assert [len(p) for p in parts] == sizes
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(n))


def test_seeded_split_is_deterministic_and_seed_dependent():
    a = train_dev_test_split(np.arange(100), seed=3)
    b = train_dev_test_split(np.arange(100), seed=3)
    c = train_dev_test_split(np.arange(100), seed=4)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])
    em.manual_seed(1)
    d = train_dev_test_split(np.arange(100))  # no seed: ember's global generator
    em.manual_seed(1)
    np.testing.assert_array_equal(train_dev_test_split(np.arange(100))[0], d[0])


def test_several_arrays_stay_aligned_and_tensors_stay_tensors():
    X = em.tensor(np.arange(40, dtype=np.float32).reshape(20, 2))
    y = np.arange(20) * 10
    (X_tr, y_tr), (X_te, y_te) = train_dev_test_split(X, y, fractions=(0.75, 0.25), seed=0)
    assert isinstance(X_tr, em.Tensor) and X_tr.shape == (15, 2) and isinstance(y_tr, np.ndarray)
    np.testing.assert_array_equal(X_tr.numpy()[:, 0] / 2 * 10, y_tr)
    np.testing.assert_array_equal(X_te.numpy()[:, 0] / 2 * 10, y_te)


def test_unshuffled_split_cuts_contiguous_blocks():
    train, dev, test = train_dev_test_split(np.arange(10), fractions=(0.6, 0.2, 0.2), shuffle=False)
    np.testing.assert_array_equal(train, np.arange(6))
    np.testing.assert_array_equal(dev, [6, 7])
    np.testing.assert_array_equal(test, [8, 9])


def test_dataset_split_gives_subsets():
    ds = TensorDataset(np.arange(30, dtype=np.float32), np.arange(30))
    parts = train_dev_test_split(ds, fractions=(0.5, 0.5), seed=0)
    assert all(isinstance(p, Subset) for p in parts) and [len(p) for p in parts] == [15, 15]
    assert set(parts[0].indices) | set(parts[1].indices) == set(range(30))


def test_stratified_split_keeps_class_proportions():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    rng = np.random.default_rng(0)
    y = y[rng.permutation(100)]
    parts = train_dev_test_split(np.arange(100), fractions=(0.6, 0.2, 0.2), seed=0, stratify=y)
    for idx, share in zip(parts, (0.6, 0.2, 0.2), strict=True):
        np.testing.assert_array_equal(np.bincount(y[idx], minlength=3), np.array([50, 30, 20]) * share)
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(100))
    as_tensor = train_dev_test_split(np.arange(100), fractions=(0.6, 0.2, 0.2), seed=0, stratify=em.tensor(y))
    for a, b in zip(parts, as_tensor, strict=True):  # labels given as a tensor split the same way
        np.testing.assert_array_equal(a, b)


def test_split_errors():
    with pytest.raises(ValueError, match="different numbers of samples"):
        train_dev_test_split(np.zeros(5), np.zeros(6))
    with pytest.raises(ValueError, match="sum"):
        train_dev_test_split(np.zeros(10), fractions=(0.5, 0.2))
    with pytest.raises(ValueError, match="stratify has 3 labels for 10 samples"):
        train_dev_test_split(np.zeros(10), stratify=[0, 1, 0])
    with pytest.raises(TypeError, match="exactly one dataset"):
        train_dev_test_split(np.zeros(4), [1, 2, 3, 4])
    with pytest.raises(ValueError, match="nothing to split"):
        train_dev_test_split()


# -- normalisation -------------------------------------------------------------------------------


def test_normalizer_fits_train_statistics_and_applies_them_everywhere():
    rng = np.random.default_rng(0)
    train = rng.normal(3.0, 2.0, (500, 4)).astype(np.float32)
    test = rng.normal(3.0, 2.0, (100, 4)).astype(np.float32)
    norm = Normalizer().fit(train)
    z = norm.transform(train)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(0), 1, atol=1e-5)
    expected = (test - train.mean(0, dtype=np.float64)) / train.std(0, dtype=np.float64)
    np.testing.assert_allclose(norm(test), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(norm.inverse_transform(norm(test)), test, rtol=1e-5, atol=1e-5)


def test_normalizer_per_channel_tensors_constant_features_and_single_samples():
    rng = np.random.default_rng(1)
    scale = np.array([1, 2, 3], np.float32)[:, None, None]
    images = em.tensor(rng.normal(0, 1, (16, 3, 4, 4)).astype(np.float32) * scale)
    norm = Normalizer(axis=(0, 2, 3)).fit(images)
    assert norm.mean.shape == (3, 1, 1)
    out = norm(images)
    assert isinstance(out, em.Tensor) and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy().std(axis=(0, 2, 3)), 1, atol=1e-5)
    np.testing.assert_allclose(norm(images[0]).numpy(), out.numpy()[0], atol=1e-6)  # one sample broadcasts too
    flat = Normalizer().fit_transform(np.array([[1.0, 5.0], [3.0, 5.0]]))
    np.testing.assert_array_equal(flat, [[-1.0, 0.0], [1.0, 0.0]])  # a constant feature is only centred


def test_normalizer_state_round_trips_and_errors(tmp_path):
    norm = Normalizer().fit(np.random.default_rng(2).normal(size=(50, 3)))
    save(norm.state_dict(), tmp_path / "norm.safetensors")
    other = Normalizer()
    other.load_state_dict(load(tmp_path / "norm.safetensors"))
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(other(x), norm(x))
    with pytest.raises(RuntimeError, match="call fit"):
        Normalizer().transform(x)
    with pytest.raises(ValueError, match=r"fitted for samples of shape \(3,\), got input of shape \(2, 4\)"):
        norm(np.ones((2, 4)))
    with pytest.raises(ValueError, match="sample axis 0"):
        Normalizer(axis=1)
