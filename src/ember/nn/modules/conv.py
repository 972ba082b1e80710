"""PyTorch's ``torch.nn.modules.conv``: the convolutions and their lazy forms."""
from ember.nn import conv, lazy
from ember.nn.modules._reexport import layers

_LAYERS = {**layers(conv), **layers(lazy, lambda name: name.startswith("LazyConv"))}
globals().update(_LAYERS)
__all__ = sorted(_LAYERS)
