"""PyTorch's ``torch.nn.modules.lazy``: LazyModuleMixin."""
from ember.nn.lazy import LazyModuleMixin

__all__ = ["LazyModuleMixin"]
