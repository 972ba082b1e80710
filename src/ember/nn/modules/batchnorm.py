"""PyTorch's ``torch.nn.modules.batchnorm``: BatchNorm1d/2d/3d and their lazy forms."""
from ember.nn import lazy, normalization
from ember.nn.modules._reexport import layers

_LAYERS = {**layers(normalization, lambda name: "BatchNorm" in name),
           **layers(lazy, lambda name: name.startswith("LazyBatchNorm"))}
globals().update(_LAYERS)
__all__ = sorted(_LAYERS)
