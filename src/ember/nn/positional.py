"""Positional encodings: the order of a sequence, added to its token vectors.

Attention is permutation-invariant, so a Transformer learns word order only from a signal added
to each position's input: a fixed sinusoid (Vaswani et al. 2017) or a learned table (GPT).
"""
from __future__ import annotations

import math

import numpy as np

from ember.autograd.tensor import Tensor
from ember.creation import arange
from ember.nn.dropout import Dropout
from ember.nn.embedding import Embedding
from ember.nn.module import Module

__all__ = ["LearnedPositionalEmbedding", "SinusoidalPositionalEncoding", "sinusoidal_table"]


def sinusoidal_table(max_len: int, d_model: int) -> np.ndarray:
    """The (max_len, d_model) float32 table PE[pos, 2i] = sin(pos / 10000^(2i/d)),
    PE[pos, 2i+1] = cos(pos / 10000^(2i/d)) (an odd ``d_model`` drops the last cosine).

    >>> sinusoidal_table(3, 4)[1, 0] == math.sin(1.0)
    True
    """
    position = np.arange(max_len, dtype=np.float64)[:, None]
    inv_freq = np.exp(np.arange(0, d_model, 2, dtype=np.float64) * (-math.log(10000.0) / d_model))
    angles = position * inv_freq                     # (max_len, ceil(d/2))
    table = np.empty((max_len, d_model), dtype=np.float64)
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles[:, : d_model // 2])
    return table.astype(np.float32)


def _check_length(layer: str, length: int, max_len: int) -> None:
    if length > max_len:
        raise ValueError(f"{layer}: the sequence has {length} positions but the layer holds only max_len={max_len}; "
                         f"build it with a larger max_len")


class SinusoidalPositionalEncoding(Module):
    """y = dropout(x + PE[:T]) with the fixed sinusoid table of ``sinusoidal_table``.

    Args:
        d_model: the feature size E of the input.
        max_len: the longest sequence it accepts.
        dropout: dropout probability on the sum (training only).
        batch_first: input (N, T, E) when True, (T, N, E) when False.

    The table is a non-persistent buffer: it follows ``.to(device)`` but stays out of
    ``state_dict``, because it is a pure function of (max_len, d_model) — saving it would only
    bloat checkpoints and tie them to one ``max_len``.

    >>> pe = nn.SinusoidalPositionalEncoding(16, max_len=100)
    >>> pe(em.zeros(2, 10, 16)).shape
    (2, 10, 16)
    """

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.0, batch_first: bool = True):
        super().__init__()
        if d_model < 1 or max_len < 1:
            raise ValueError(f"SinusoidalPositionalEncoding: d_model and max_len must be >= 1, "
                             f"got {d_model}, {max_len}")
        self.d_model, self.max_len, self.batch_first = d_model, max_len, batch_first
        self.dropout = Dropout(dropout)
        self.register_buffer("pe", Tensor(sinusoidal_table(max_len, d_model)), persistent=False)

    def forward(self, x):
        if x.ndim != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"SinusoidalPositionalEncoding: expected input ({'N, T' if self.batch_first else 'T, N'}, "
                             f"{self.d_model}), got shape {tuple(x.shape)}")
        length = x.shape[1] if self.batch_first else x.shape[0]
        _check_length("SinusoidalPositionalEncoding", length, self.max_len)
        pe = self.pe[:length]                        # (T, E): broadcasts over N either way
        return self.dropout(x + (pe if self.batch_first else pe.unsqueeze(1)))

    def extra_repr(self) -> str:
        return f"{self.d_model}, max_len={self.max_len}, batch_first={self.batch_first}"


class LearnedPositionalEmbedding(Module):
    """y = x + P[0:T], with P a trained ``Embedding(max_len, d_model)`` over positions (GPT's ``wpe``).

    Input (N, T, d_model) → the same shape. The table starts N(0, 1) as ``nn.Embedding``'s.

    >>> pos = nn.LearnedPositionalEmbedding(128, 16)
    >>> pos(em.zeros(2, 10, 16)).shape
    (2, 10, 16)
    """

    def __init__(self, max_len: int, d_model: int):
        super().__init__()
        self.max_len, self.d_model = max_len, d_model
        self.embedding = Embedding(max_len, d_model)

    def forward(self, x):
        if x.ndim != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"LearnedPositionalEmbedding: expected input (N, T, {self.d_model}), "
                             f"got shape {tuple(x.shape)}")
        _check_length("LearnedPositionalEmbedding", x.shape[1], self.max_len)
        positions = arange(x.shape[1], device=x.device)
        return x + self.embedding(positions)

    def extra_repr(self) -> str:
        return f"{self.max_len}, {self.d_model}"
