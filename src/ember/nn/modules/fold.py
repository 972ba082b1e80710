"""PyTorch's ``torch.nn.modules.fold``: Fold and Unfold."""
from ember.nn import fold
from ember.nn.modules._reexport import layers

_LAYERS = layers(fold)
globals().update(_LAYERS)
__all__ = sorted(_LAYERS)
