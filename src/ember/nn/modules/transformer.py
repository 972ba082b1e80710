"""PyTorch's ``torch.nn.modules.transformer``: Transformer, its encoder and decoder stacks and layers."""
from ember.nn import transformer
from ember.nn.modules._reexport import layers

_LAYERS = layers(transformer)
globals().update(_LAYERS)
__all__ = sorted(_LAYERS)
