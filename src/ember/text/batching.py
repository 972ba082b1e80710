"""Batching sequences: padding variable-length ones, and streaming one long one for truncated BPTT.

- ``pad_sequence`` / ``collate_padded``: a list of sequences of lengths L_i → one (N, T, *)
  tensor (T = max L_i) plus the lengths; ``sequence_mask`` turns lengths into a mask.
- ``BPTTBatcher``: a token stream laid out as ``batch_size`` parallel columns, cut into
  consecutive chunks of ``seq_len`` steps; ``detach_state`` carries a hidden state from
  one chunk to the next while cutting the graph, so backward stops at the chunk border.
"""
from __future__ import annotations

import numpy as np

from ember import backend
from ember import random as _random
from ember.autograd.tensor import Tensor
from ember.data.dataloader import default_collate
from ember.nn.rnn_utils import pad_sequence

__all__ = ["BPTTBatcher", "collate_padded", "detach_state", "pad_sequence", "sequence_mask"]


# -- padding ---------------------------------------------------------------------------
def sequence_mask(lengths, max_len: int | None = None) -> Tensor:
    """A bool (N, T) mask, True at the real steps: ``mask[n, t] = t < lengths[n]``.

    >>> sequence_mask([2, 0, 3]).tolist()
    [[True, True, False], [False, False, False], [True, True, True]]
    """
    lengths = lengths.array if isinstance(lengths, Tensor) else np.asarray(lengths, dtype=np.int64)
    xp = backend.get_array_module(lengths)
    T = int(lengths.max()) if max_len is None and lengths.size else int(max_len or 0)
    return Tensor(xp.arange(T)[None, :] < lengths[:, None])


def collate_padded(batch, padding_value=0, batch_first: bool = True):
    """A ``collate_fn`` for variable-length samples: ``(sequence, label)`` pairs →
    ``(padded (N, T, *), lengths (N,) int64, labels collated as by default_collate)``.

    Samples that are bare sequences give ``(padded, lengths)``. For another padding value,
    pass ``functools.partial(collate_padded, padding_value=vocab.pad_index)``.

    >>> loader = DataLoader(pairs, batch_size=32, shuffle=True, collate_fn=collate_padded)  # doctest: +SKIP
    >>> x, lengths, y = next(iter(loader))  # doctest: +SKIP
    """
    if len(batch) == 0:
        raise ValueError("collate_padded: cannot collate an empty batch")
    paired = isinstance(batch[0], tuple) and len(batch[0]) == 2
    sequences = [sample[0] for sample in batch] if paired else list(batch)
    padded = pad_sequence(sequences, batch_first=batch_first, padding_value=padding_value)
    lengths = Tensor(np.asarray([len(s) for s in sequences], dtype=np.int64), device=padded.device)
    if not paired:
        return padded, lengths
    return padded, lengths, default_collate([sample[1] for sample in batch])


# -- truncated BPTT --------------------------------------------------------------------
def detach_state(state):
    """The hidden state cut from the graph: a Tensor detached, a tuple/list (``(h, c)``) item by item.

    ``None`` stays ``None`` (the first chunk). Call it on the state carried into each new
    chunk so that backward stops at the chunk border instead of running to the stream's start.
    """
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    raise TypeError(f"detach_state: expected a Tensor, a tuple/list of them or None, got {type(state).__name__}")


class BPTTBatcher:
    """Stream a long token sequence in chunks for truncated backpropagation through time.

    The stream x_0 … x_{L-1} is trimmed to ``batch_size × n`` tokens (n = L // batch_size;
    the tail is dropped) and laid out as ``batch_size`` rows, row b holding x_{bn} … x_{bn+n-1}
    — the classic PTB language-model recipe. Chunk k is columns [kT, kT + T) of the rows
    (T = ``seq_len``), and its targets are the same columns shifted by one step:

        inputs[b, t] = x_{bn + kT + t},   targets[b, t] = x_{bn + kT + t + 1}

    So row b of chunk k + 1 continues row b of chunk k, and a hidden state carried from one
    chunk to the next sees each row as one uninterrupted sequence. The last column of each
    row only ever serves as a target, so there are ⌈(n − 1)/T⌉ chunks; the last one is
    shorter when T does not divide n − 1 (``drop_last=True`` drops it).

    Args:
        token_ids: the stream, a 1-D int array, list or Tensor.
        batch_size: N, the number of parallel rows.
        seq_len: T, the steps per chunk (the truncation length of BPTT).
        batch_first: yield (N, T) tensors (default); False yields (T, N).
        variable_length: draw each chunk's length at random (AWD-LSTM's trick, so that the
            chunk borders move between epochs): T with probability 0.95 else T/2, plus
            Gaussian noise of std 5, at least 5 steps (and at most 2T). Off by default;
            ``len()`` is then the number of chunks of length T.
        seed: the seed of those draws (epoch e uses ``(seed, e)``); ``None``: ember's generator.
        drop_last: drop a final chunk shorter than the others.
        device: put the chunks on this device.

    The training pattern — carry the state, cut the graph every chunk::

        state = None
        for x, y in BPTTBatcher(ids, batch_size=20, seq_len=35):
            state = detach_state(state)              # keep the values, drop the history
            logits, state = model(x, state)          # (N, T, V), and (h, c) for an LSTM
            loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
            optimizer.zero_grad(); loss.backward(); optimizer.step()

    >>> batches = BPTTBatcher(np.arange(10), batch_size=2, seq_len=3)
    >>> [(x.tolist(), y.tolist()) for x, y in batches]
    [([[0, 1, 2], [5, 6, 7]], [[1, 2, 3], [6, 7, 8]]), ([[3], [8]], [[4], [9]])]
    """

    def __init__(self, token_ids, batch_size: int, seq_len: int, batch_first: bool = True,
                 variable_length: bool = False, seed: int | None = None, drop_last: bool = False, device=None):
        for name, value in (("batch_size", batch_size), ("seq_len", seq_len)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"BPTTBatcher: {name} should be a positive integer, got {value!r}")
        ids = backend.to_numpy(token_ids.array) if isinstance(token_ids, Tensor) else np.asarray(token_ids)
        if ids.ndim != 1 or ids.dtype.kind not in "iu":
            raise ValueError(f"BPTTBatcher: token_ids should be a 1-D integer sequence, got shape {ids.shape} "
                             f"and dtype {ids.dtype}")
        n = ids.size // batch_size
        if n < 2:
            raise ValueError(f"BPTTBatcher: a stream of {ids.size} tokens is too short for batch_size={batch_size}: "
                             "each row needs at least 2 tokens (an input and its target)")
        self.data = ids[:n * batch_size].astype(np.int64).reshape(batch_size, n)
        self.batch_size, self.seq_len, self.batch_first = int(batch_size), int(seq_len), batch_first
        self.variable_length, self.seed, self.drop_last, self.device = variable_length, seed, drop_last, device
        self.epoch = 0

    @property
    def steps(self) -> int:
        """n − 1: the number of input steps in each row."""
        return self.data.shape[1] - 1

    def __len__(self) -> int:
        full, rest = divmod(self.steps, self.seq_len)
        return full + (1 if rest and not self.drop_last else 0)

    def _lengths(self) -> list[int]:
        """The chunk lengths of the coming epoch, summing to ``steps`` (less a dropped tail)."""
        if not self.variable_length:
            lengths = [self.seq_len] * (self.steps // self.seq_len)
            rest = self.steps % self.seq_len
        else:
            lengths, rest = self._random_lengths()
        return lengths + ([rest] if rest and not self.drop_last else [])

    def _random_lengths(self):
        rng = np.random.default_rng([self.seed, self.epoch]) if self.seed is not None else _random.generator()
        lengths, done, T = [], 0, self.seq_len
        while True:
            base = T if rng.random() < 0.95 else T / 2
            length = int(min(max(5, round(rng.normal(base, 5))), 2 * T))
            if done + length > self.steps:
                return lengths, self.steps - done
            lengths.append(length)
            done += length

    def __iter__(self):
        lengths = self._lengths()
        return self._chunks(lengths)

    def _chunks(self, lengths):
        start = 0
        for length in lengths:
            x = self.data[:, start:start + length]
            y = self.data[:, start + 1:start + 1 + length]
            if not self.batch_first:
                x, y = x.T, y.T
            yield (Tensor(np.ascontiguousarray(x), device=self.device),
                   Tensor(np.ascontiguousarray(y), device=self.device))
            start += length
        self.epoch += 1

    def __repr__(self) -> str:
        return (f"BPTTBatcher(tokens={self.data.size}, batch_size={self.batch_size}, seq_len={self.seq_len}, "
                f"chunks={len(self)})")

