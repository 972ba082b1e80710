"""PyTorch's ``torch.nn.modules.loss``: the loss layers."""
from ember.nn import loss
from ember.nn.modules._reexport import layers

_LAYERS = layers(loss, lambda name: name.endswith("Loss"))
globals().update(_LAYERS)
__all__ = sorted(_LAYERS)
