"""PyTorch's ``torch.nn.modules.rnn``: RNN, LSTM, GRU and the cells."""
from ember.nn import recurrent
from ember.nn.modules._reexport import layers

_LAYERS = layers(recurrent)
globals().update(_LAYERS)
__all__ = sorted(_LAYERS)
