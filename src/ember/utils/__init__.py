"""PyTorch's ``torch.utils`` import paths: ``ember.utils.data`` is ``ember.data``.

>>> from ember.utils.data import DataLoader, TensorDataset
"""
from ember.utils import data

__all__ = ["data"]
