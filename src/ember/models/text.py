"""Sequence models of the course: text classifiers, a character language model, a time-series regressor.

Inputs are batches of token ids (N, T) padded with ``padding_idx`` (see ``ember.text``), with
the true ``lengths`` (N,) where padding must not count.

- ``BagOfEmbeddings``: the average of a sentence's word vectors, then a softmax classifier.
- ``LSTMClassifier``: an LSTM (or GRU) reads the sentence; its last real state classifies it (many-to-one).
- ``TextCNN`` (Kim, 2014): 1-D convolutions of several widths over the embeddings, max over time.
- ``CharLM``: a recurrent language model over characters (many-to-many), with sampling (one-to-many).
- ``RNNRegressor``: forecasts the next value(s) of a series from a window (many-to-one).
"""
from __future__ import annotations

import math

import numpy as np

from ember import nn
from ember.autograd.grad_mode import no_grad
from ember.autograd.tensor import Tensor
from ember.models import register
from ember.nn import functional as F
from ember.ops import cat, softmax

__all__ = ["BagOfEmbeddings", "CharLM", "LSTMClassifier", "RNNRegressor", "TextCNN"]

_CELLS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


def _recurrent(cell: str, *args, **kwargs):
    """nn.RNN, nn.LSTM or nn.GRU by name (case-insensitive)."""
    name = _CELLS.get(cell.lower())
    if name is None:
        raise ValueError(f"unknown recurrent cell {cell!r}; choose from {sorted(_CELLS)}")
    return getattr(nn, name)(*args, **kwargs)


def _final_hidden(h_n, bidirectional: bool):
    """The last layer's final state (N, H), both directions concatenated (N, 2H) when bidirectional."""
    if isinstance(h_n, tuple):  # LSTM: (h_n, c_n)
        h_n = h_n[0]
    return cat([h_n[-2], h_n[-1]], dim=1) if bidirectional else h_n[-1]


@register("bag_of_embeddings")
class BagOfEmbeddings(nn.Module):
    """Averaged word embeddings + a linear softmax classifier: logits = W · mean_t E[x_t] + b.

    The mean runs over the real tokens only (padding_idx positions are left out), so padding a
    sentence never changes its prediction.

    >>> model = BagOfEmbeddings(vocab_size=1000, embed_dim=50, num_classes=2)
    >>> model(em.randint(1, 1000, (8, 12))).shape
    (8, 2)
    """

    def __init__(self, vocab_size: int, embed_dim: int, num_classes: int, padding_idx: int | None = 0):
        super().__init__()
        self.padding_idx = padding_idx
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
        self.fc = nn.Linear(embed_dim, num_classes)

    def forward(self, tokens, lengths=None):
        vectors = self.embedding(tokens)  # (N, T, E)
        if self.padding_idx is None:
            return self.fc(vectors.mean(dim=1))
        real = (tokens != self.padding_idx).astype(vectors.dtype)  # (N, T): 1 for a real token
        total = (vectors * real.unsqueeze(-1)).sum(dim=1)
        return self.fc(total / real.sum(dim=1, keepdim=True).clamp(min=1.0))


@register("lstm_classifier")
class LSTMClassifier(nn.Module):
    """An LSTM (or GRU/RNN) reads the embedded sentence; its final state of the last real token
    feeds a linear classifier (many-to-one). ``lengths`` keeps padding out of the final state.

    >>> model = LSTMClassifier(vocab_size=1000, embed_dim=50, hidden_size=64, num_classes=2)
    >>> model(em.randint(1, 1000, (8, 12)), lengths=em.tensor([12] * 8)).shape
    (8, 2)
    """

    def __init__(self, vocab_size: int, embed_dim: int, hidden_size: int, num_classes: int, num_layers: int = 1,
                 bidirectional: bool = False, dropout: float = 0.0, cell: str = "lstm", padding_idx: int | None = 0):
        super().__init__()
        self.bidirectional = bidirectional
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
        self.rnn = _recurrent(cell, embed_dim, hidden_size, num_layers=num_layers, batch_first=True,
                              dropout=dropout, bidirectional=bidirectional)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden_size * (2 if bidirectional else 1), num_classes)

    def forward(self, tokens, lengths=None):
        _, h_n = self.rnn(self.embedding(tokens), lengths=lengths)
        return self.fc(self.dropout(_final_hidden(h_n, self.bidirectional)))


@register("textcnn")
class TextCNN(nn.Module):
    """TextCNN (Kim, 2014): Conv1d filters of several widths slide over the embedded sentence
    (N, E, T); each feature map is max-pooled over time, the maxima are concatenated, dropped
    out and classified. Sentences shorter than the widest filter are padded up to it.

    >>> model = TextCNN(vocab_size=1000, embed_dim=50, num_classes=2, kernel_sizes=(3, 4, 5), num_filters=16)
    >>> model(em.randint(1, 1000, (8, 12))).shape
    (8, 2)
    """

    def __init__(self, vocab_size: int, embed_dim: int, num_classes: int, kernel_sizes=(3, 4, 5),
                 num_filters: int = 100, dropout: float = 0.5, padding_idx: int | None = 0):
        super().__init__()
        self.kernel_sizes, self.padding_idx = tuple(kernel_sizes), padding_idx
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
        self.convs = nn.ModuleList([nn.Conv1d(embed_dim, num_filters, k) for k in self.kernel_sizes])
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(num_filters * len(self.kernel_sizes), num_classes)

    def forward(self, tokens, lengths=None):
        x = self.embedding(tokens).transpose(1, 2)  # (N, E, T): channels are embedding dimensions
        short = max(self.kernel_sizes) - x.shape[2]
        if short > 0:
            x = F.pad(x, (0, short))
        pooled = [F.relu(conv(x)).max(dim=2).values for conv in self.convs]  # max over time: (N, num_filters)
        return self.fc(self.dropout(cat(pooled, dim=1)))


@register("charlm")
class CharLM(nn.Module):
    """A character-level language model: embed → LSTM/GRU/RNN → linear over the vocabulary.

    ``forward(tokens, state)`` gives next-token logits (N, T, V) and the carried state
    (many-to-many); ``sample`` generates text one character at a time (one-to-many), drawing
    from softmax(logits / temperature), optionally among the ``top_k`` likeliest only.
    Perplexity = exp(mean cross-entropy per character).

    >>> model = CharLM(vocab_size=60, embed_dim=32, hidden_size=128)
    >>> logits, state = model(em.randint(0, 60, (4, 20)))
    >>> logits.shape
    (4, 20, 60)
    """

    def __init__(self, vocab_size: int, embed_dim: int = 64, hidden_size: int = 256, num_layers: int = 1,
                 dropout: float = 0.0, cell: str = "lstm"):
        super().__init__()
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.rnn = _recurrent(cell, embed_dim, hidden_size, num_layers=num_layers, batch_first=True, dropout=dropout)
        self.dropout = nn.Dropout(dropout)
        self.decoder = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens, state=None):
        output, state = self.rnn(self.embedding(tokens), state)
        return self.decoder(self.dropout(output)), state

    def sample(self, prefix, length: int, temperature: float = 1.0, top_k: int | None = None,
               generator: np.random.Generator | None = None) -> list[int]:
        """Extend the token ids ``prefix`` by ``length`` sampled tokens; returns prefix + samples.

        temperature → 0 approaches greedy decoding; larger values flatten the distribution.
        """
        if temperature <= 0:
            raise ValueError(f"CharLM.sample: temperature must be positive, got {temperature}")
        if len(prefix) == 0:
            raise ValueError("CharLM.sample: prefix must hold at least one token")
        rng = generator if generator is not None else np.random.default_rng()
        tokens, was_training = list(prefix), self.training
        self.eval()
        with no_grad():
            logits, state = self(Tensor(np.asarray([tokens], dtype=np.int64)))
            for _ in range(length):
                scores = logits.numpy()[0, -1].astype(np.float64) / temperature
                if top_k is not None and top_k < scores.size:
                    scores[scores < np.partition(scores, -top_k)[-top_k]] = -np.inf
                probs = softmax(Tensor(scores), dim=0).numpy()
                tokens.append(int(rng.choice(scores.size, p=probs / probs.sum())))
                logits, state = self(Tensor(np.asarray([[tokens[-1]]], dtype=np.int64)), state)
        self.train(was_training)
        return tokens

    @staticmethod
    def perplexity(mean_cross_entropy: float) -> float:
        """exp(H): the effective number of equally likely next characters."""
        return math.exp(mean_cross_entropy)


@register("rnn_regressor")
class RNNRegressor(nn.Module):
    """Forecast the next ``horizon`` values of a series from a window (many-to-one):
    a recurrent layer reads the window (N, T, input_size); its last state feeds a linear head.

    >>> model = RNNRegressor(input_size=1, hidden_size=32, horizon=1)
    >>> model(em.randn(16, 20, 1)).shape
    (16, 1)
    """

    def __init__(self, input_size: int = 1, hidden_size: int = 32, horizon: int = 1, num_layers: int = 1,
                 cell: str = "gru"):
        super().__init__()
        self.rnn = _recurrent(cell, input_size, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, horizon)

    def forward(self, window):
        if window.ndim == 2:  # (N, T) univariate series
            window = window.unsqueeze(-1)
        _, h_n = self.rnn(window)
        return self.head(_final_hidden(h_n, False))
