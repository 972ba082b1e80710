"""``nn.utils.rnn``, as PyTorch spells it: packed sequences and padding (defined in ``ember.nn.rnn_utils``).

>>> from ember.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence
"""
from ember.nn.rnn_utils import (
    PackedSequence,
    invert_permutation,
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
    unpack_sequence,
    unpad_sequence,
)

__all__ = [
    "PackedSequence", "invert_permutation", "pack_padded_sequence", "pack_sequence", "pad_packed_sequence",
    "pad_sequence", "unpack_sequence", "unpad_sequence",
]
