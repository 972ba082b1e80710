"""Shared pieces of the ember.train tests: a tiny separable 3-class problem and a small model."""
import pytest
from train_problem import make_blobs, make_model

from ember import optim
from ember.data import DataLoader, TensorDataset


@pytest.fixture
def blobs():
    x, y = make_blobs()
    return TensorDataset(x[:180], y[:180]), TensorDataset(x[180:], y[180:])


@pytest.fixture
def loaders(blobs):
    train, dev = blobs
    return DataLoader(train, batch_size=30, shuffle=True, seed=0), DataLoader(dev, batch_size=60)


@pytest.fixture
def model():
    return make_model()


@pytest.fixture
def sgd(model):
    return optim.SGD(model.parameters(), lr=0.1)
