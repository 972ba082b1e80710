"""PyTorch's ``torch.nn.modules.linear``: Identity, Linear, Bilinear, LazyLinear."""
from ember.nn import bilinear, linear
from ember.nn.containers import Identity
from ember.nn.lazy import LazyLinear
from ember.nn.modules._reexport import layers

_LAYERS = {**layers(linear), **layers(bilinear), "Identity": Identity, "LazyLinear": LazyLinear}
globals().update(_LAYERS)
__all__ = sorted(_LAYERS)
