"""PyTorch's ``torch.nn.modules.loss``: the loss layers, and the bases custom losses subclass."""
from ember.nn import loss
from ember.nn.loss import _Loss, _WeightedLoss  # noqa: F401 - PyTorch's base classes of a loss
from ember.nn.modules._reexport import layers

_LAYERS = layers(loss, lambda name: name.endswith("Loss"))
globals().update(_LAYERS)
__all__ = sorted(_LAYERS)
