"""PyTorch's ``torch.nn.modules.flatten``: Flatten and Unflatten."""
from ember.nn import containers
from ember.nn.modules._reexport import layers

_LAYERS = layers(containers, lambda name: name in ("Flatten", "Unflatten"))
globals().update(_LAYERS)
__all__ = sorted(_LAYERS)
