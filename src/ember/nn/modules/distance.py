"""PyTorch's ``torch.nn.modules.distance``: PairwiseDistance and CosineSimilarity."""
from ember.nn import loss
from ember.nn.modules._reexport import layers

_LAYERS = layers(loss, lambda name: name in ("PairwiseDistance", "CosineSimilarity"))
globals().update(_LAYERS)
__all__ = sorted(_LAYERS)
