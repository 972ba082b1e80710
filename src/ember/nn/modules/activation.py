"""PyTorch's ``torch.nn.modules.activation``: the activation layers, and MultiheadAttention as PyTorch files it."""
from ember.nn import activation
from ember.nn.attention import MultiheadAttention
from ember.nn.modules._reexport import layers

_LAYERS = {**layers(activation), "MultiheadAttention": MultiheadAttention}
globals().update(_LAYERS)
__all__ = sorted(_LAYERS)
