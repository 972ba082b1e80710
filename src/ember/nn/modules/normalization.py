"""PyTorch's ``torch.nn.modules.normalization``: LayerNorm, GroupNorm and the other non-batch normalisations."""
from ember.nn import normalization
from ember.nn.modules._reexport import layers

_LAYERS = layers(normalization, lambda name: "BatchNorm" not in name and "InstanceNorm" not in name)
globals().update(_LAYERS)
__all__ = sorted(_LAYERS)
