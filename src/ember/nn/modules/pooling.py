"""PyTorch's ``torch.nn.modules.pooling``: the pooling layers."""
from ember.nn import pooling
from ember.nn.modules._reexport import layers

_LAYERS = layers(pooling)
globals().update(_LAYERS)
__all__ = sorted(_LAYERS)
