"""PyTorch's ``torch.nn.modules.padding``: the padding layers."""
from ember.nn import padding
from ember.nn.modules._reexport import layers

_LAYERS = layers(padding)
globals().update(_LAYERS)
__all__ = sorted(_LAYERS)
