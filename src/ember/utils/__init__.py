"""PyTorch's ``torch.utils`` import paths: ``ember.utils.data`` is ``ember.data``; ``ember.utils.checkpoint``
recomputes activations in backward.

>>> from ember.utils.data import DataLoader, TensorDataset
"""
from ember.utils import checkpoint, data

__all__ = ["checkpoint", "data"]
