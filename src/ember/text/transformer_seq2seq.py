"""An encoder–decoder Transformer for sequence to sequence: token embeddings, positions, ``nn.Transformer``.

The source tokens (N, S) and the shifted target ``tgt_in`` (N, T) (BOS first) are embedded,
given their positions (a fixed sinusoid or a learned table) and passed through ``nn.Transformer``
(batch first); a linear layer maps the decoder's output to vocabulary logits:

    memory = Encoder(E_src[x] + P[:S]),   h = Decoder(E_tgt[y_in] + P[:T], memory),   logits = W h + b

Padded source positions are hidden from every attention over the source by a key-padding mask
(True = padding); the decoder's self-attention is causal (``generate_square_subsequent_mask``),
so position t sees the targets ≤ t only. Teacher forcing in training is therefore the whole
shifted target in one call, every position predicting its next token at once.

Decoding goes through ``step_fn`` with the interface of ``ember.text.Seq2Seq`` (so
``greedy_search``, ``beam_search`` and the apps built on them work unchanged). With ``cache=True``
(the default) each decoder layer keeps its inputs at the earlier positions: a step computes the
new position only, its self-attention reading the cached prefix, which is what the causal mask
lets the full forward see (O(t) per step instead of re-decoding the prefix, O(t²)).

>>> model = TransformerSeq2Seq(40, 15, d_model=32, nhead=4, num_encoder_layers=1, num_decoder_layers=1,
...                            dim_feedforward=64, bos=2, eos=3)
>>> logits = model(src, src_lengths, tgt_in)                     # (N, T, 15)      # doctest: +SKIP
>>> step, state = model.step_fn(src, src_lengths)                # for greedy/beam_search  # doctest: +SKIP
"""
from __future__ import annotations

import numpy as np

from ember.autograd.tensor import Tensor
from ember.creation import arange
from ember.nn.dropout import Dropout
from ember.nn.embedding import Embedding
from ember.nn.linear import Linear
from ember.nn.module import Module
from ember.nn.positional import LearnedPositionalEmbedding, SinusoidalPositionalEncoding
from ember.nn.transformer import Transformer
from ember.ops.activation import log_softmax
from ember.ops.shape import cat
from ember.text.batching import sequence_mask

__all__ = ["TransformerSeq2Seq"]

_POSITIONAL = ("sinusoidal", "learned")


def _decoder_layer_step(layer, x, past, memory, memory_key_padding_mask, need_weights):
    """One new position through a ``TransformerDecoderLayer``: x (B, 1, E) attends to ``past`` (B, t, E)
    (this layer's inputs at the earlier positions) and to itself, exactly as the causal full forward.

    Returns (output (B, 1, E), cross-attention weights (B, 1, S) averaged over heads, or None).
    """
    keys = cat([past, x], dim=1)

    def self_attention(q, kv):
        return layer.dropout1(layer.self_attn(q, kv, kv, need_weights=False)[0])

    def cross_attention(q):
        out, weights = layer.multihead_attn(q, memory, memory, key_padding_mask=memory_key_padding_mask,
                                            need_weights=need_weights)
        return layer.dropout2(out), weights

    def feed_forward(h):
        return layer.dropout3(layer.linear2(layer.dropout(layer.activation(layer.linear1(h)))))

    if layer.norm_first:
        x = x + self_attention(layer.norm1(x), layer.norm1(keys))
        context, weights = cross_attention(layer.norm2(x))
        x = x + context
        return x + feed_forward(layer.norm3(x)), weights
    x = layer.norm1(x + self_attention(x, keys))
    context, weights = cross_attention(x)
    x = layer.norm2(x + context)
    return layer.norm3(x + feed_forward(x)), weights


class TransformerSeq2Seq(Module):
    """Embeddings, positions and ``nn.Transformer`` (batch first) with a vocabulary readout.

    Args:
        src_vocab_size, tgt_vocab_size: the two vocabularies' sizes.
        d_model, nhead, num_encoder_layers, num_decoder_layers, dim_feedforward, dropout,
            norm_first: as ``nn.Transformer`` (``norm_first=True``, pre-norm, trains without a
            learning-rate warm-up).
        max_len: the longest source or target it accepts (the positional table's length).
        positional: ``'sinusoidal'`` (``nn.SinusoidalPositionalEncoding``, fixed) or
            ``'learned'`` (``nn.LearnedPositionalEmbedding``).
        src_padding_idx, tgt_padding_idx: the embeddings' padding rows; without ``src_lengths``
            the source positions holding ``src_padding_idx`` are the padding.
        bos, eos: the target's begin and end tokens (for decoding).

    forward(src (N, S), src_lengths (N,) or None, tgt_in (N, T)) → logits (N, T, V_tgt): position t
    of ``tgt_in`` (BOS, y_1, …, y_{T−1}) predicts y_{t+1}.

    step_fn(src, src_lengths=None, cache=True) → (step, state) for ``greedy_search``/``beam_search``:
    ``step(tokens (B,), state) → (log_probs (B, V), state, weights (B, S))`` with the weights the
    last decoder layer's cross-attention averaged over heads (None without the cache). The state
    is a flat tuple of batch-first tensors: (memory (B, S, E), source padding (B, S) bool, then
    each decoder layer's past inputs (B, t, E)), or, with ``cache=False``, the prefix (B, t) int64.

    >>> model = TransformerSeq2Seq(40, 15, d_model=32, nhead=4, bos=2, eos=3)
    >>> model(em.randint(4, 40, (2, 9)), None, em.randint(4, 15, (2, 11))).shape
    (2, 11, 15)
    """

    def __init__(self, src_vocab_size, tgt_vocab_size, d_model=64, nhead=4, num_encoder_layers=2,
                 num_decoder_layers=2, dim_feedforward=256, dropout=0.1, max_len=128, positional="sinusoidal",
                 norm_first=True, src_padding_idx=0, tgt_padding_idx=0, bos=2, eos=3):
        super().__init__()
        if positional not in _POSITIONAL:
            raise ValueError(f"TransformerSeq2Seq: positional must be one of {_POSITIONAL}, got {positional!r}")
        self.d_model, self.max_len, self.positional_kind = d_model, int(max_len), positional
        self.src_padding_idx, self.tgt_padding_idx, self.bos, self.eos = src_padding_idx, tgt_padding_idx, int(bos), \
            int(eos)
        self.padding_idx = tgt_padding_idx
        self.src_embedding = Embedding(src_vocab_size, d_model, padding_idx=src_padding_idx)
        self.tgt_embedding = Embedding(tgt_vocab_size, d_model, padding_idx=tgt_padding_idx)
        # the tables only: positions are added at an offset while decoding step by step
        self.positional = SinusoidalPositionalEncoding(d_model, max_len) if positional == "sinusoidal" else \
            LearnedPositionalEmbedding(max_len, d_model)
        self.dropout = Dropout(dropout)
        self.transformer = Transformer(d_model, nhead, num_encoder_layers, num_decoder_layers, dim_feedforward,
                                       dropout, batch_first=True, norm_first=norm_first)
        self.generator = Linear(d_model, tgt_vocab_size)

    # -- pieces -----------------------------------------------------------------------------------
    def _embed(self, embedding, tokens, offset=0):
        """tokens (N, T) → dropout(E[tokens] + P[offset:offset+T]) (N, T, d_model)."""
        T = tokens.shape[1]
        if offset + T > self.max_len:
            raise ValueError(f"TransformerSeq2Seq: position {offset + T - 1} is beyond max_len={self.max_len}; "
                             "build the model with a larger max_len")
        if self.positional_kind == "sinusoidal":
            positions = self.positional.pe[offset:offset + T]
        else:
            positions = self.positional.embedding(arange(offset, offset + T, device=tokens.device))
        return self.dropout(embedding(tokens) + positions)

    def _check(self, tokens, ndim, what):
        if not isinstance(tokens, Tensor) or tokens.ndim != ndim or tokens.dtype.kind not in "iu":
            raise ValueError(f"TransformerSeq2Seq: expected {what} integer token ids, got "
                             f"{getattr(tokens, 'shape', type(tokens).__name__)}")

    def source_padding_mask(self, src, src_lengths=None) -> Tensor:
        """(N, S) bool, True at the padded source positions (from the lengths, else the padding id)."""
        if src_lengths is None:
            return Tensor(src.array == self.src_padding_idx)
        return Tensor(~sequence_mask(src_lengths, src.shape[1]).array)

    def encode(self, src, src_lengths=None):
        """(memory (N, S, d_model), source padding mask (N, S) bool True = padding)."""
        self._check(src, 2, "src (N, S)")
        padding = self.source_padding_mask(src, src_lengths)
        memory = self.transformer.encoder(self._embed(self.src_embedding, src), src_key_padding_mask=padding)
        return memory, padding

    def decode(self, tgt_in, memory, padding):
        """Logits (N, T, V) of the whole shifted target against ``memory``, under the causal mask."""
        self._check(tgt_in, 2, "tgt_in (N, T)")
        T = tgt_in.shape[1]
        causal = Transformer.generate_square_subsequent_mask(T, device=tgt_in.device)
        h = self.transformer.decoder(self._embed(self.tgt_embedding, tgt_in), memory, tgt_mask=causal,
                                     memory_key_padding_mask=padding, tgt_is_causal=True)
        return self.generator(h)

    # -- public -----------------------------------------------------------------------------------
    def forward(self, src, src_lengths, tgt_in):
        memory, padding = self.encode(src, src_lengths)
        return self.decode(tgt_in, memory, padding)

    def step_fn(self, src, src_lengths=None, cache=True):
        """(step, initial state) for ``greedy_search``/``beam_search``; see the class docstring."""
        memory, padding = self.encode(src, src_lengths)
        N = src.shape[0]
        if not cache:
            def full_step(tokens, state):
                memory, padding, prefix = state
                prefix = cat([prefix, tokens.reshape(-1, 1)], dim=1)
                logits = self.decode(prefix, memory, padding)
                return log_softmax(logits[:, -1], -1), (memory, padding, prefix), None

            empty = Tensor(np.zeros((N, 0), dtype=np.int64), device=src.device)
            return full_step, (memory, padding, empty)

        decoder = self.transformer.decoder
        last = len(decoder.layers) - 1

        def cached_step(tokens, state):
            memory, padding, past = state[0], state[1], state[2:]
            x = self._embed(self.tgt_embedding, tokens.reshape(-1, 1), offset=past[0].shape[1] if past else 0)
            new_past, weights = [], None
            for i, layer in enumerate(decoder.layers):
                new_past.append(cat([past[i], x], dim=1))
                x, weights = _decoder_layer_step(layer, x, past[i], memory, padding, need_weights=i == last)
            if decoder.norm is not None:
                x = decoder.norm(x)
            log_probs = log_softmax(self.generator(x)[:, 0], -1)
            return log_probs, (memory, padding, *new_past), (None if weights is None else weights[:, 0])

        empty = Tensor(np.zeros((N, 0, self.d_model), dtype=memory.array.dtype), device=src.device)
        return cached_step, (memory, padding, *([empty] * len(decoder.layers)))

    def extra_repr(self) -> str:
        layers = (len(self.transformer.encoder.layers), len(self.transformer.decoder.layers))
        return f"d_model={self.d_model}, layers={layers}, positional={self.positional_kind!r}, max_len={self.max_len}"

