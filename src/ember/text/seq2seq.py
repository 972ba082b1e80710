"""Sequence to sequence: a recurrent ``Encoder``, a ``Decoder`` with or without attention, and ``Seq2Seq``.

The encoder reads the source x_1 … x_S into outputs h^enc_1 … h^enc_S and a final state; the
final state (the "context vector") initialises the decoder, which then predicts the target one
token at a time from the previous token:

    s_0 = bridge(encoder's last state),  s_t = cell(s_{t−1}, input_t),  p(y_t | y_<t, x) = softmax(logits_t)

Without attention, input_t = E[y_{t−1}] and logits_t = W_o s_t + b_o: the whole source reaches
the decoder only through s_0. With attention the decoder looks back at every encoder output
at every step (weights a_t over the S source positions, padded positions getting exactly 0):

- ``'bahdanau'`` (Bahdanau et al. 2015): the score uses the previous state, before the step:
  e_ts = vᵀ tanh(W_q s_{t−1} + W_k h^enc_s), a_t = softmax(e_t), c_t = Σ_s a_ts h^enc_s,
  input_t = [E[y_{t−1}]; c_t], logits_t = W_o [s_t; c_t] + b_o  (s_{t−1}: the top layer's h).
- ``'luong_dot'`` / ``'luong_general'`` (Luong et al. 2015): the score uses the current output:
  input_t = E[y_{t−1}], e_ts = s_tᵀ h^enc_s (dot, needs equal sizes) or s_tᵀ W h^enc_s (general),
  c_t = Σ_s a_ts h^enc_s, h̃_t = tanh(W_c [s_t; c_t]), logits_t = W_o h̃_t + b_o.
  (No input feeding, so with full teacher forcing all steps run at once.)

Teacher forcing: during training input_t uses the ground-truth y_{t−1} (``tgt_in[:, t]``) with
probability ``teacher_forcing_ratio``, and the model's own previous argmax otherwise (drawn per
sequence and step from ``ember.random``, so ``em.manual_seed`` makes it repeat).

Masks: ``src_mask`` (N, S) is True at the real source tokens, as ``sequence_mask(lengths, S)``
returns; None means no padding.

>>> enc = Encoder(100, 32, 64, cell="lstm", bidirectional=True)
>>> dec = Decoder(120, 32, 64, cell="lstm", attention="bahdanau", encoder_size=enc.output_size)
>>> model = Seq2Seq(enc, dec, bos=2, eos=3)
>>> logits = model(src, src_lengths, tgt_in, teacher_forcing_ratio=0.5)   # (N, T, 120)  # doctest: +SKIP
>>> tokens = model.greedy_decode(src, src_lengths, max_len=20)              # (N, ≤20)     # doctest: +SKIP
"""
from __future__ import annotations

import numpy as np

from ember import random as _random
from ember.autograd.grad_mode import no_grad
from ember.autograd.tensor import Tensor
from ember.backend import get_array_module as xp_of
from ember.nn.attention import AdditiveAttention, DotProductAttention, GeneralAttention
from ember.nn.embedding import Embedding
from ember.nn.linear import Linear
from ember.nn.module import Module
from ember.nn.recurrent import GRU, LSTM, RNN
from ember.ops.activation import log_softmax, tanh
from ember.ops.dropout import dropout as _dropout
from ember.ops.shape import cat, reshape, transpose, unsqueeze
from ember.text.batching import sequence_mask

__all__ = ["Decoder", "Encoder", "Seq2Seq"]

_CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
_ATTENTIONS = (None, "bahdanau", "luong_dot", "luong_general")


def _rnn_class(layer, cell):
    if cell not in _CELLS:
        raise ValueError(f"{layer}: cell must be one of {sorted(_CELLS)}, got {cell!r}")
    return _CELLS[cell]


def _map_state(fn, state):
    """``fn`` applied to a hidden state: a Tensor, or each of an LSTM's (h, c)."""
    return tuple(fn(s) for s in state) if isinstance(state, tuple) else fn(state)


def _check_tokens(layer, tokens, ndim, what):
    if not isinstance(tokens, Tensor) or tokens.ndim != ndim or tokens.dtype.kind not in "iu":
        shape = getattr(tokens, "shape", None)
        raise ValueError(f"{layer}: expected {what} as an integer tensor with {ndim} dims, got {shape} "
                         f"({getattr(tokens, 'dtype', type(tokens).__name__)})")


def _padding_mask(src_mask):
    """The attention's key_padding_mask (True = excluded) from ``src_mask`` (True = real token)."""
    if src_mask is None:
        return None
    data = src_mask.array if isinstance(src_mask, Tensor) else np.asarray(src_mask)
    return ~data.astype(bool)


# -- encoder ---------------------------------------------------------------------------------------
class Encoder(Module):
    """Embedding → (bidirectional) RNN/LSTM/GRU over the source; the final state becomes the decoder's s_0.

    Args:
        vocab_size, embed_dim: the source embedding table (row ``padding_idx`` zero, no gradient).
        hidden_size, num_layers, bidirectional: the recurrent layer's; ``dropout`` is applied to
            the embeddings and between layers (training only).
        cell: ``'gru'``, ``'lstm'`` or ``'rnn'`` (Elman, tanh).

    forward(src (N, S) int64, lengths=None (N,)) → (outputs (N, S, D·H), state) with D = 2 if
    bidirectional else 1. ``state`` is (num_layers, N, H), or (h, c) for an LSTM: for a
    bidirectional encoder the bridge sums the two directions, s_0^l = →h^l + ←h^l (and likewise
    c), so it fits a decoder of the same hidden_size and layers. With ``lengths``, outputs past a
    sequence's end are 0 and the state is taken at its last real token.

    >>> enc = Encoder(100, 32, 64, num_layers=2, bidirectional=True)
    >>> outputs, state = enc(em.randint(1, 100, (4, 9)))     # (4, 9, 128), (2, 4, 64)
    """

    def __init__(self, vocab_size, embed_dim, hidden_size, num_layers=1, cell="gru", bidirectional=False,
                 dropout=0.0, padding_idx=0):
        super().__init__()
        rnn = _rnn_class("Encoder", cell)
        self.vocab_size, self.embed_dim, self.hidden_size, self.num_layers = vocab_size, embed_dim, hidden_size, \
            num_layers
        self.cell, self.bidirectional, self.dropout = cell, bool(bidirectional), float(dropout)
        self.embedding = Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
        self.rnn = rnn(embed_dim, hidden_size, num_layers, batch_first=True, dropout=dropout,
                       bidirectional=bidirectional)

    @property
    def output_size(self) -> int:
        """Features of each encoder output: hidden_size × number of directions."""
        return self.hidden_size * (2 if self.bidirectional else 1)

    def forward(self, src, lengths=None):
        _check_tokens("Encoder", src, 2, "src (N, S)")
        x = _dropout(self.embedding(src), self.dropout, self.training)
        outputs, state = self.rnn(x, lengths=lengths)
        return outputs, _map_state(self._bridge, state)

    def _bridge(self, h):
        """(L·2, N, H) → (L, N, H): the two directions of each layer summed (PyTorch's order l0, l0_rev, …)."""
        if not self.bidirectional:
            return h
        L2, N, H = h.shape
        return reshape(h, (L2 // 2, 2, N, H)).sum(axis=1)

    def extra_repr(self) -> str:
        return (f"cell={self.cell!r}, hidden_size={self.hidden_size}, num_layers={self.num_layers}, "
                f"bidirectional={self.bidirectional}")


# -- decoder ---------------------------------------------------------------------------------------
class Decoder(Module):
    """Embedding → RNN/LSTM/GRU → (attention) → vocabulary logits, one step or a whole target at once.

    Args:
        vocab_size, embed_dim, hidden_size, num_layers, cell, dropout: as ``Encoder`` (the
            hidden_size, layers and cell must match the encoder's, whose state is s_0).
        attention: None, ``'bahdanau'``, ``'luong_dot'`` or ``'luong_general'`` (formulas in
            this module's docstring).
        encoder_size: features of the encoder outputs (``encoder.output_size``); default hidden_size.
        padding_idx: the target embedding's padding row.

    forward(tgt_in (N, T), state, encoder_outputs=None (N, S, De), src_mask=None (N, S) bool True =
    real, teacher_forcing_ratio=1.0) → (logits (N, T, V), attention weights (N, T, S) or None).
    ``tgt_in[:, 0]`` is fed first (the BOS); at t > 0 the input is ``tgt_in[:, t]`` with probability
    ``teacher_forcing_ratio`` and the previous step's argmax otherwise. The context reaches a
    decoder without attention only through ``state`` (it is not fed again at each step).

    step(tokens (B,), state, encoder_outputs, src_mask) → (log_probs (B, V), new_state, weights
    (B, S) or None): one step, the states in the RNN's (L, B, H) layout.

    >>> dec = Decoder(120, 32, 64, attention="luong_general", encoder_size=128)
    >>> logits, weights = dec(tgt_in, state, enc_outputs, src_mask)   # doctest: +SKIP
    """

    def __init__(self, vocab_size, embed_dim, hidden_size, num_layers=1, cell="gru", dropout=0.0, attention=None,
                 encoder_size=None, padding_idx=0):
        super().__init__()
        rnn = _rnn_class("Decoder", cell)
        if attention not in _ATTENTIONS:
            raise ValueError(f"Decoder: attention must be one of {_ATTENTIONS}, got {attention!r}")
        encoder_size = hidden_size if encoder_size is None else encoder_size
        if attention == "luong_dot" and encoder_size != hidden_size:
            raise ValueError(f"Decoder: 'luong_dot' attention needs encoder_size == hidden_size, got {encoder_size} "
                             f"and {hidden_size} (use 'luong_general' or 'bahdanau')")
        self.vocab_size, self.embed_dim, self.hidden_size, self.num_layers = vocab_size, embed_dim, hidden_size, \
            num_layers
        self.cell, self.dropout, self.attention_type, self.encoder_size = cell, float(dropout), attention, encoder_size
        self.padding_idx = padding_idx
        self.embedding = Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
        bahdanau = attention == "bahdanau"
        self.rnn = rnn(embed_dim + (encoder_size if bahdanau else 0), hidden_size, num_layers, batch_first=True,
                       dropout=dropout)
        readout = hidden_size
        if bahdanau:
            self.attention = AdditiveAttention(hidden_size, encoder_size, hidden_size)
            readout = hidden_size + encoder_size
        elif attention is not None:
            self.attention = DotProductAttention() if attention == "luong_dot" else \
                GeneralAttention(hidden_size, encoder_size)
            self.combine = Linear(hidden_size + encoder_size, hidden_size, bias=False)
        self.out = Linear(readout, vocab_size)

    # -- pieces ---------------------------------------------------------------------------------
    def _embed(self, tokens):
        return _dropout(self.embedding(tokens), self.dropout, self.training)

    def _readout(self, outputs, encoder_outputs, padding_mask, contexts=None):
        """Decoder outputs s (N, T, H) → (logits (N, T, V), weights (N, T, S) for Luong, else None)."""
        if self.attention_type is None:
            return self.out(_dropout(outputs, self.dropout, self.training)), None
        if self.attention_type == "bahdanau":
            return self.out(cat([outputs, contexts], dim=2)), None
        contexts, weights = self.attention(outputs, encoder_outputs, key_padding_mask=padding_mask)
        return self.out(tanh(self.combine(cat([outputs, contexts], dim=2)))), weights

    def _step(self, tokens, state, encoder_outputs, padding_mask):
        """One step on tokens (N,) → (logits (N, 1, V), new state, weights (N, 1, S) or None)."""
        x = self._embed(unsqueeze(tokens, 1))
        context = weights = None
        if self.attention_type == "bahdanau":
            top = (state[0] if isinstance(state, tuple) else state)[-1]  # s_{t−1} of the top layer
            context, weights = self.attention(top, encoder_outputs, key_padding_mask=padding_mask)
            context, weights = unsqueeze(context, 1), unsqueeze(weights, 1)
            x = cat([x, context], dim=2)
        output, state = self.rnn(x, state)
        logits, luong_weights = self._readout(output, encoder_outputs, padding_mask, context)
        return logits, state, (weights if luong_weights is None else luong_weights)

    def _check(self, tokens, encoder_outputs, what):
        _check_tokens("Decoder", tokens, 2 if what.startswith("tgt") else 1, what)
        if self.attention_type is None:
            return
        N = tokens.shape[0]
        if encoder_outputs is None or encoder_outputs.ndim != 3 or encoder_outputs.shape[0] != N \
                or encoder_outputs.shape[2] != self.encoder_size:
            raise ValueError(f"Decoder(attention={self.attention_type!r}): expected encoder_outputs of shape "
                             f"({N}, S, {self.encoder_size}), got {getattr(encoder_outputs, 'shape', None)}")

    # -- public ----------------------------------------------------------------------------------
    def forward(self, tgt_in, state, encoder_outputs=None, src_mask=None, teacher_forcing_ratio=1.0):
        self._check(tgt_in, encoder_outputs, "tgt_in (N, T)")
        if not 0.0 <= teacher_forcing_ratio <= 1.0:
            raise ValueError(f"Decoder: teacher_forcing_ratio must be in [0, 1], got {teacher_forcing_ratio}")
        padding_mask = _padding_mask(src_mask)
        if teacher_forcing_ratio == 1.0 and self.attention_type != "bahdanau":
            # every input is known in advance and no score needs the previous state: run all steps at once
            outputs, _ = self.rnn(self._embed(tgt_in), state)
            return self._readout(outputs, encoder_outputs, padding_mask)
        xp = tgt_in.xp
        N, T = tgt_in.shape
        logits, weights, tokens = [], [], tgt_in[:, 0]
        for t in range(T):
            if t > 0 and teacher_forcing_ratio < 1.0:
                predicted = logits[-1].array[:, 0].argmax(-1)
                truth = xp.asarray(_random.generator().random(N) < teacher_forcing_ratio) \
                    if teacher_forcing_ratio > 0.0 else xp.zeros(N, dtype=bool)
                tokens = Tensor(xp.where(truth, tgt_in.array[:, t], predicted).astype(tgt_in.dtype))
            elif t > 0:
                tokens = tgt_in[:, t]
            step_logits, state, step_weights = self._step(tokens, state, encoder_outputs, padding_mask)
            logits.append(step_logits)
            weights.append(step_weights)
        return cat(logits, dim=1), (None if weights[0] is None else cat(weights, dim=1))

    def step(self, tokens, state, encoder_outputs=None, src_mask=None):
        """One decoding step: tokens (B,) → (log_probs (B, V), new_state, weights (B, S) or None)."""
        self._check(tokens, encoder_outputs, "tokens (B,)")
        logits, state, weights = self._step(tokens, state, encoder_outputs, _padding_mask(src_mask))
        return log_softmax(logits[:, 0], -1), state, (None if weights is None else weights[:, 0])

    def extra_repr(self) -> str:
        return (f"cell={self.cell!r}, hidden_size={self.hidden_size}, num_layers={self.num_layers}, "
                f"attention={self.attention_type!r}")


# -- the pair --------------------------------------------------------------------------------------
class Seq2Seq(Module):
    """An ``Encoder`` and a ``Decoder`` joined: training forward, a decoding step function, greedy decoding.

    forward(src (N, S), src_lengths (N,) or None, tgt_in (N, T), teacher_forcing_ratio=1.0,
    return_attention=False) → logits (N, T, V) (and the weights (N, T, S) or None).

    step_fn(src, src_lengths) → (step_fn, initial_state) for search: ``step_fn(tokens (B,), state)
    → (log_probs (B, V), state, weights (B, S) or None)``. The state is a flat tuple of tensors,
    each with the batch FIRST, so a beam search can reorder every one by ``t[index]``:
    (h (B, L, H), [c (B, L, H) for an LSTM], encoder_outputs (B, S, De), src_mask (B, S) bool).

    greedy_decode(src, src_lengths=None, max_len=50) → tokens (N, T ≤ max_len) int64: the argmax at
    every step from ``bos``, each row ending at its first ``eos`` (kept), ``padding_idx`` after.

    >>> model = Seq2Seq(Encoder(20, 16, 32), Decoder(20, 16, 32, attention="luong_dot"), bos=2, eos=3)
    >>> tokens = model.greedy_decode(src, src_lengths, max_len=12)   # doctest: +SKIP
    """

    def __init__(self, encoder, decoder, bos, eos):
        super().__init__()
        for name in ("hidden_size", "num_layers", "cell"):
            if getattr(encoder, name) != getattr(decoder, name):
                raise ValueError(f"Seq2Seq: encoder and decoder must agree on {name}: {getattr(encoder, name)!r} "
                                 f"vs {getattr(decoder, name)!r}")
        if decoder.attention_type is not None and decoder.encoder_size != encoder.output_size:
            raise ValueError(f"Seq2Seq: decoder encoder_size {decoder.encoder_size} != encoder output_size "
                             f"{encoder.output_size}")
        self.encoder, self.decoder, self.bos, self.eos = encoder, decoder, int(bos), int(eos)

    def encode(self, src, src_lengths=None):
        """(encoder outputs (N, S, De), decoder's initial state, src_mask (N, S) True = real, or None)."""
        outputs, state = self.encoder(src, src_lengths)
        mask = None if src_lengths is None else sequence_mask(src_lengths, src.shape[1])
        return outputs, state, mask

    def forward(self, src, src_lengths, tgt_in, teacher_forcing_ratio=1.0, return_attention=False):
        outputs, state, mask = self.encode(src, src_lengths)
        logits, weights = self.decoder(tgt_in, state, outputs, mask, teacher_forcing_ratio)
        return (logits, weights) if return_attention else logits

    def step_fn(self, src, src_lengths=None):
        """(step_fn, initial_state) with every state tensor batch-first; see the class docstring."""
        outputs, state, mask = self.encode(src, src_lengths)
        if mask is None:
            mask = Tensor(xp_of(src.array).ones(src.shape, dtype=bool))
        lstm = isinstance(state, tuple)
        hidden = state if lstm else (state,)
        k = len(hidden)

        def step(tokens, state):
            hidden = tuple(transpose(s, 0, 1) for s in state[:k])
            log_probs, new, weights = self.decoder.step(tokens, hidden if lstm else hidden[0], state[k],
                                                        state[k + 1])
            new = new if lstm else (new,)
            return log_probs, tuple(transpose(s, 0, 1) for s in new) + (state[k], state[k + 1]), weights

        return step, tuple(transpose(s, 0, 1) for s in hidden) + (outputs, mask)

    def greedy_decode(self, src, src_lengths=None, max_len=50, return_attention=False):
        """Batched greedy search in eval mode without gradients; see the class docstring."""
        was_training = self.training
        self.eval()
        with no_grad():
            step, state = self.step_fn(src, src_lengths)
            xp = xp_of(src.array)
            done = xp.zeros(src.shape[0], dtype=bool)
            tokens = xp.full(src.shape[0], self.bos, dtype=np.int64)
            out, attention = [], []
            for _ in range(max_len):
                log_probs, state, weights = step(Tensor(tokens), state)
                tokens = xp.where(done, self.decoder.padding_idx, log_probs.array.argmax(-1)).astype(np.int64)
                out.append(tokens)
                attention.append(weights)
                done = done | (tokens == self.eos)
                if bool(done.all()):
                    break
        self.train(was_training)
        result = Tensor(xp.stack(out, axis=1))
        if not return_attention:
            return result
        return result, (None if attention[0] is None else Tensor(xp.stack([w.array for w in attention], axis=1)))
