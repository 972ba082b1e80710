"""PyTorch's ``torch.nn.modules.instancenorm``: the instance normalisations."""
from ember.nn import normalization
from ember.nn.modules._reexport import layers

_LAYERS = layers(normalization, lambda name: "InstanceNorm" in name)
globals().update(_LAYERS)
__all__ = sorted(_LAYERS)
