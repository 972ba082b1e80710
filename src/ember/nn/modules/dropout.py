"""PyTorch's ``torch.nn.modules.dropout``: the dropout layers."""
from ember.nn import dropout
from ember.nn.modules._reexport import layers

_LAYERS = layers(dropout)
globals().update(_LAYERS)
__all__ = sorted(_LAYERS)
