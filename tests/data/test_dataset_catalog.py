"""The built-in datasets by name (``datasets.load``), as ``ember train --data`` and ``ember demo`` load them."""
import numpy as np
import pytest

from ember.data import TensorDataset, datasets


def test_names():
    assert datasets.names() == ["digits", "mnist1d"]


def test_load_digits_whole_and_resized():
    dataset = datasets.load("digits")
    assert isinstance(dataset, TensorDataset) and len(dataset) == 1797
    X, y = datasets.load("digits", resize=32).tensors
    assert X.shape == (1797, 1, 32, 32) and y.dtype == np.int64
    np.testing.assert_array_equal(X.numpy(), datasets.digits(resize=32).tensors[0].numpy())


def test_load_mnist1d_is_all_of_it():
    X, y = datasets.load("mnist1d").tensors
    assert X.shape == (5000, 40) and len(y) == 5000


def test_bad_names_and_resizing_signals_raise():
    with pytest.raises(ValueError, match=r"unknown dataset 'cifar'; available: \['digits', 'mnist1d'\]"):
        datasets.load("cifar")
    with pytest.raises(ValueError, match="holds no images to resize"):
        datasets.load("mnist1d", resize=28)

