"""PyTorch's ``torch.nn.modules.sparse``: Embedding and EmbeddingBag."""
from ember.nn import embedding
from ember.nn.modules._reexport import layers

_LAYERS = layers(embedding)
globals().update(_LAYERS)
__all__ = sorted(_LAYERS)
