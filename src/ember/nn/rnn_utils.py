"""Packed sequences (PyTorch's ``nn.utils.rnn``): a batch of variable-length sequences without padding.

A ``PackedSequence`` holds the sequences sorted by decreasing length and interleaved step by
step: ``data`` (Σ L_i, *) lists step 0 of every sequence, then step 1 of those that have one,
and so on; ``batch_sizes[t]`` counts the sequences still running at step t. ``sorted_indices``
maps sorted position → original batch index and ``unsorted_indices`` back (None when the batch
came sorted). For sequences "abc", "de", "f":

    data = a d f b e c,   batch_sizes = [3, 2, 1]

Packing and unpacking are single gathers (differentiable, no loop over the batch). The
recurrent layers (``RNN``, ``LSTM``, ``GRU``) take a PackedSequence and return one; they run it
as the padded batch with ``lengths``, which gives the same numbers.

>>> x = em.randn(3, 5, 8)                                   # (N, T, *) padded, lengths 5, 3, 2
>>> packed = pack_padded_sequence(x, [5, 3, 2], batch_first=True)
>>> output, h_n = nn.GRU(8, 16, batch_first=True)(packed)
>>> padded, lengths = pad_packed_sequence(output, batch_first=True)   # (3, 5, 16), [5, 3, 2]
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ember.autograd.tensor import Tensor
from ember.backend import to_numpy
from ember.creation import tensor
from ember.ops.shape import concat, getitem, reshape

__all__ = [
    "PackedSequence", "invert_permutation", "pack_padded_sequence", "pack_sequence", "pad_packed_sequence",
    "pad_sequence", "unpack_sequence", "unpad_sequence",
]


class _PackedSequenceFields(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(_PackedSequenceFields):
    """The packed form of a batch of sequences: (data, batch_sizes, sorted_indices, unsorted_indices).

    Build it with ``pack_padded_sequence`` or ``pack_sequence``, never by hand; ``batch_sizes``
    is an int64 tensor on the host, as in PyTorch. A tuple: ``data, batch_sizes, *_ = packed``.
    """

    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs) -> PackedSequence:
        """The same packed sequence with ``data`` moved or cast (``batch_sizes`` stays on the host)."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        device = data.device
        indices = [None if i is None else i.to(device=device) for i in (self.sorted_indices, self.unsorted_indices)]
        return type(self)(data, self.batch_sizes, *indices)

    def double(self) -> PackedSequence:
        return self.to(dtype=np.float64)

    def float(self) -> PackedSequence:
        return self.to(dtype=np.float32)

    @property
    def is_cuda(self) -> bool:
        return self.data.device == "cuda"


def invert_permutation(permutation):
    """The inverse permutation: inverse[permutation[i]] = i (None stays None)."""
    if permutation is None:
        return None
    p, xp = permutation.array, permutation.xp
    inverse = xp.empty_like(p)
    inverse[p] = xp.arange(p.size, dtype=p.dtype)
    return Tensor(inverse)


# -- helpers -----------------------------------------------------------------------------------


def _host_ints(values, what) -> np.ndarray:
    array = np.asarray(to_numpy(values.array) if isinstance(values, Tensor) else values).reshape(-1)
    if array.size and array.dtype.kind not in "iu":
        raise TypeError(f"{what} must hold integers, got dtype {array.dtype}")
    return array.astype(np.int64)


def _steps(batch_sizes: np.ndarray):
    """(t, j) of each packed row: its step and its position among the sorted sequences."""
    t = np.repeat(np.arange(batch_sizes.size), batch_sizes)
    starts = np.concatenate([[0], np.cumsum(batch_sizes)[:-1]])
    return t, np.arange(t.size) - starts[t]


def _original(j, sorted_indices):
    """Original batch indices of sorted positions j."""
    return j if sorted_indices is None else to_numpy(sorted_indices.array)[j]


def _gather_packed(padded, batch_sizes, sorted_indices, batch_first):
    """The packed rows of a padded (T, N, *) — (N, T, *) with ``batch_first`` — batch: one gather."""
    t, j = _steps(batch_sizes)
    n = _original(j, sorted_indices)
    T, N = (padded.shape[1], padded.shape[0]) if batch_first else padded.shape[:2]
    rows = n * T + t if batch_first else t * N + n
    flat = reshape(padded, (T * N, *padded.shape[2:]))
    return getitem(flat, padded.xp.asarray(rows))


# -- packing -------------------------------------------------------------------------------------


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True) -> PackedSequence:
    """Pack a padded batch (T, N, *) — (N, T, *) with ``batch_first`` — of sequences of ``lengths``.

    ``lengths`` (N,) on the host; with ``enforce_sorted`` (default) they must be decreasing,
    otherwise the batch is sorted here and ``sorted_indices`` records how. Differentiable
    with respect to ``input``.

    >>> packed = pack_padded_sequence(em.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 0.0]]), [3, 2], batch_first=True)
    >>> packed.data, packed.batch_sizes
    (tensor([1., 4., 2., 5., 3.]), tensor([2, 2, 1]))
    """
    lengths = _host_ints(lengths, "pack_padded_sequence: lengths")
    N, T = (input.shape[0], input.shape[1]) if batch_first else (input.shape[1], input.shape[0])
    if lengths.size != N:
        raise ValueError(f"pack_padded_sequence: expected {N} lengths (the batch size), got {lengths.size}")
    sorted_indices = None
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise RuntimeError("pack_padded_sequence: `lengths` array must be sorted in decreasing order when "
                               "`enforce_sorted` is True; pass enforce_sorted=False to sort the batch here")
    else:
        order = np.argsort(-lengths, kind="stable")
        sorted_indices, lengths = Tensor(input.xp.asarray(order)), lengths[order]
    if N and (lengths.min() <= 0 or lengths.max() > T):
        raise RuntimeError(f"pack_padded_sequence: every length must lie in [1, {T}] (the padded length), got "
                           f"{lengths.tolist()}")
    batch_sizes = (lengths[None, :] > np.arange(int(lengths.max(initial=0)))[:, None]).sum(axis=1)
    data = _gather_packed(input, batch_sizes, sorted_indices, batch_first)
    return PackedSequence(data, Tensor(batch_sizes.astype(np.int64)), sorted_indices)


def pack_like(padded, packed: PackedSequence, batch_first=False) -> PackedSequence:
    """Pack a padded batch in the layout of ``packed`` (its batch_sizes and order): an RNN's output
    for a packed input, whose lengths and order are the input's."""
    batch_sizes = _host_ints(packed.batch_sizes, "pack_like: batch_sizes")
    data = _gather_packed(padded, batch_sizes, packed.sorted_indices, batch_first)
    return PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Unpack into a padded batch: (padded (T, N, *) — (N, T, *) with ``batch_first`` —, lengths (N,)).

    The inverse of ``pack_padded_sequence``, in the original batch order; T is the longest
    length, or ``total_length`` (at least that). Differentiable with respect to ``sequence.data``.

    >>> padded, lengths = pad_packed_sequence(packed, batch_first=True)
    """
    data, batch_sizes = sequence.data, _host_ints(sequence.batch_sizes, "pad_packed_sequence: batch_sizes")
    T, N = batch_sizes.size, int(batch_sizes[0]) if batch_sizes.size else 0
    if total_length is not None:
        if total_length < T:
            raise ValueError(f"pad_packed_sequence: expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max sequence length "
                             f"being {T}")
        T = total_length
    # index[t, j]: the packed row of sorted sequence j at step t, or the padding row (one past the data)
    starts = np.concatenate([[0], np.cumsum(batch_sizes)])
    j = np.arange(N)
    real = j[None, :] < np.pad(batch_sizes, (0, T - batch_sizes.size))[:, None]
    index = np.where(real, starts[np.minimum(np.arange(T), batch_sizes.size)][:, None] + j, starts[-1])
    lengths = real.sum(axis=0)
    if sequence.unsorted_indices is not None:
        unsorted = to_numpy(sequence.unsorted_indices.array)
        index, lengths = index[:, unsorted], lengths[unsorted]
    filler = Tensor(data.xp.full((1, *data.shape[1:]), padding_value, dtype=data.dtype))
    padded = getitem(concat([data, filler], 0), data.xp.asarray(index.T if batch_first else index))
    return padded, Tensor(lengths.astype(np.int64))


def _as_tensors(sequences) -> list[Tensor]:
    tensors = [s if isinstance(s, Tensor) else tensor(s) for s in sequences]  # lists: em.tensor's dtype rule
    if not tensors:
        raise ValueError("pad_sequence: expected a non-empty list of sequences")
    trailing = {tuple(t.shape[1:]) for t in tensors}
    if any(t.ndim == 0 for t in tensors) or len(trailing) > 1:
        shapes = [tuple(t.shape) for t in tensors]
        raise ValueError(f"pad_sequence: sequences must have shape (L_i, *) with one trailing shape, got {shapes}")
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) > 1:
        dtype = np.result_type(*dtypes)
        tensors = [t if t.dtype == dtype else t.to(dtype=dtype) for t in tensors]
    return tensors


def pad_sequence(sequences, batch_first: bool = False, padding_value=0.0, padding_side: str = "right") -> Tensor:
    """Stack sequences of shapes (L_i, *) into one (T, N, *) tensor — (N, T, *) with ``batch_first`` —
    where T = max L_i and the missing steps hold ``padding_value`` (PyTorch's ``pad_sequence``).

    The sequences may be Tensors, arrays or lists; the dtype is their common one. The result
    is differentiable with respect to the input tensors (one gather, no loop over sequences).

    >>> pad_sequence([[1, 2, 3], [4]], batch_first=True).tolist()
    [[1, 2, 3], [4, 0, 0]]
    """
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side should be 'right' or 'left', got {padding_side!r}")
    tensors = _as_tensors(sequences)
    xp = tensors[0].xp
    lengths = xp.asarray([t.shape[0] for t in tensors], dtype=np.int64)
    T, total = int(lengths.max()), int(lengths.sum())
    filler = Tensor(xp.full((1, *tensors[0].shape[1:]), padding_value, dtype=tensors[0].dtype))
    flat = concat([*tensors, filler], dim=0)  # the filler row sits at index `total`
    # index[n, t] points into `flat`: the step's row for a real step, `total` for padding.
    steps = xp.arange(T, dtype=np.int64)[None, :]
    if padding_side == "left":
        steps = steps - (T - lengths)[:, None]
    starts = xp.concatenate([xp.zeros(1, np.int64), xp.cumsum(lengths)[:-1]])
    real = (steps >= 0) & (steps < lengths[:, None])
    index = xp.where(real, starts[:, None] + steps, total)
    return getitem(flat, index if batch_first else index.T)


def pack_sequence(sequences, enforce_sorted=True) -> PackedSequence:
    """Pack a list of sequences (L_i, *): ``pack_padded_sequence(pad_sequence(sequences), lengths)``.

    >>> pack_sequence([em.tensor([1, 2, 3]), em.tensor([4, 5]), em.tensor([6])]).data
    tensor([1, 4, 6, 2, 5, 3])
    """
    lengths = [len(s) for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of sequences (L_i, *) inside a padded batch: the inverse of ``pad_sequence``."""
    lengths = _host_ints(lengths, "unpad_sequence: lengths")
    x = padded_sequences
    return [getitem(x, (n, slice(0, int(L))) if batch_first else (slice(0, int(L)), n)) for n, L in enumerate(lengths)]


def unpack_sequence(packed_sequences):
    """The list of sequences (L_i, *) inside a PackedSequence, in the original batch order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
