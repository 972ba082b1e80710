"""``torch.nn.utils.stateless``: run a module with other tensors in place of its parameters and buffers."""
from ember.func import functional_call

__all__ = ["functional_call"]
