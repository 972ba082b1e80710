"""PyTorch's ``torch.nn.modules.module``: ``Module``."""
from ember.nn.module import Module

__all__ = ["Module"]
