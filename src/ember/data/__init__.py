"""Data: datasets, batching and the bundled/standard dataset loaders.

>>> from ember.data import DataLoader, TensorDataset, random_split
>>> from ember.data.datasets import digits
>>> train, test = digits(train=True), digits(train=False)
>>> for x, y in DataLoader(train, batch_size=64, shuffle=True, seed=0):
...     pass
"""
from ember.data import datasets
from ember.data.dataloader import DataLoader, default_collate
from ember.data.dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split

__all__ = [
    "ConcatDataset", "DataLoader", "Dataset", "Subset", "TensorDataset", "datasets", "default_collate",
    "random_split",
]
