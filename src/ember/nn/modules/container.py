"""PyTorch's ``torch.nn.modules.container``: Sequential, ModuleList, ModuleDict and the parameter containers."""
from ember.nn import containers
from ember.nn.modules._reexport import layers

_LAYERS = layers(containers, lambda name: name not in ("Identity", "Flatten", "Unflatten"))
globals().update(_LAYERS)
__all__ = sorted(_LAYERS)
