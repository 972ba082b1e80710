"""pad_sequence (against PyTorch), collate_padded with the DataLoader, BPTTBatcher, detach_state."""
import functools

import numpy as np
import pytest
import torch

import ember as em
from ember.data.dataloader import DataLoader
from ember.text.batching import BPTTBatcher, collate_padded, detach_state, pad_sequence, sequence_mask


def _sequences(rng, lengths, trailing=(), dtype=np.float64):
    return [rng.standard_normal((n, *trailing)).astype(dtype) for n in lengths]


# -- pad_sequence ----------------------------------------------------------------------------
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_value", [0.0, -1.5])
@pytest.mark.parametrize("trailing", [(), (3,), (2, 2)])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_matches_torch(batch_first, padding_value, trailing, padding_side):
    rng = np.random.default_rng(0)
    arrays = _sequences(rng, [3, 5, 1, 5, 2], trailing)
    ours = [em.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = pad_sequence(ours, batch_first=batch_first, padding_value=padding_value, padding_side=padding_side)
    ty = torch.nn.utils.rnn.pad_sequence(theirs, batch_first=batch_first, padding_value=padding_value,
                                         padding_side=padding_side)
    assert y.shape == tuple(ty.shape) and y.dtype == np.float64
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    gy = rng.standard_normal(y.shape)
    y.backward(em.tensor(gy))
    ty.backward(torch.tensor(gy))
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())


def test_pad_sequence_accepts_lists_and_arrays():
    y = pad_sequence([[1, 2, 3], np.array([4]), em.tensor([5, 6])], batch_first=True, padding_value=9)
    assert y.dtype == np.int64
    assert y.tolist() == [[1, 2, 3], [4, 9, 9], [5, 6, 9]]
    assert pad_sequence([[1, 2], [3]]).tolist() == [[1, 3], [2, 0]]  # (T, N) by default, as in PyTorch
    assert pad_sequence([np.ones(2, np.float32), [0.5]]).dtype == np.float32


def test_pad_sequence_errors():
    with pytest.raises(ValueError, match="non-empty"):
        pad_sequence([])
    with pytest.raises(ValueError, match="trailing shape"):
        pad_sequence([np.zeros((2, 3)), np.zeros((2, 4))])
    with pytest.raises(ValueError, match="padding_side"):
        pad_sequence([[1]], padding_side="middle")


def test_sequence_mask():
    mask = sequence_mask(em.tensor([2, 0, 3]))
    assert mask.dtype == np.bool_
    np.testing.assert_array_equal(mask.numpy(), np.arange(3)[None, :] < np.array([2, 0, 3])[:, None])
    assert sequence_mask([1], max_len=3).tolist() == [[True, False, False]]


# -- collate_padded ----------------------------------------------------------------------
def test_collate_padded_with_dataloader():
    rng = np.random.default_rng(1)
    lengths = rng.integers(1, 9, size=11)
    samples = [(rng.integers(4, 50, size=n), int(n % 3)) for n in lengths]
    loader = DataLoader(samples, batch_size=4, shuffle=True, seed=3,
                        collate_fn=functools.partial(collate_padded, padding_value=0))
    seen = 0
    for batch_index, (x, lens, y) in zip(range(len(loader)), loader, strict=True):
        order = np.random.default_rng([3, 0]).permutation(len(samples))[batch_index * 4:batch_index * 4 + 4]
        expected = torch.nn.utils.rnn.pad_sequence([torch.tensor(samples[i][0]) for i in order], batch_first=True)
        np.testing.assert_array_equal(x.numpy(), expected.numpy())
        assert lens.dtype == np.int64 and lens.tolist() == [len(samples[i][0]) for i in order]
        assert y.tolist() == [samples[i][1] for i in order]
        seen += len(order)
    assert seen == len(samples)


def test_collate_padded_bare_sequences_and_errors():
    x, lens = collate_padded([np.array([1, 2]), np.array([3])], padding_value=7, batch_first=False)
    assert x.tolist() == [[1, 3], [2, 7]] and lens.tolist() == [2, 1]
    with pytest.raises(ValueError, match="empty"):
        collate_padded([])


# -- BPTTBatcher ---------------------------------------------------------------------------
@pytest.mark.parametrize("length, batch_size, seq_len", [(103, 4, 7), (100, 5, 19), (64, 4, 3), (40, 3, 100)])
def test_bptt_chunks_tile_the_stream(length, batch_size, seq_len):
    stream = np.random.default_rng(2).integers(0, 1000, size=length)
    batcher = BPTTBatcher(stream, batch_size, seq_len)
    chunks = list(batcher)
    n = length // batch_size
    rows = stream[:n * batch_size].reshape(batch_size, n)
    assert len(chunks) == len(batcher) == -(-(n - 1) // seq_len)
    inputs = np.concatenate([x.numpy() for x, _ in chunks], axis=1)
    targets = np.concatenate([y.numpy() for _, y in chunks], axis=1)
    np.testing.assert_array_equal(inputs, rows[:, :-1])  # each column a contiguous piece of the stream
    np.testing.assert_array_equal(targets, rows[:, 1:])  # targets = inputs shifted by one
    for x, y in chunks:
        assert x.shape == y.shape and x.shape[0] == batch_size and x.dtype == np.int64
        np.testing.assert_array_equal(x.numpy()[:, 1:], y.numpy()[:, :-1])
    assert all(x.shape[1] == seq_len for x, _ in chunks[:-1])
    assert chunks[-1][0].shape[1] == (n - 1) - seq_len * (len(chunks) - 1)


def test_bptt_last_partial_chunk_and_drop_last():
    stream = np.arange(22)  # 2 rows of 11 tokens: 10 input steps each
    sizes = [x.shape[1] for x, _ in BPTTBatcher(stream, 2, 4)]
    assert sizes == [4, 4, 2]
    dropped = BPTTBatcher(stream, 2, 4, drop_last=True)
    assert [x.shape[1] for x, _ in dropped] == [4, 4] and len(dropped) == 2
    assert len(BPTTBatcher(stream, 2, 5)) == 2 and len(BPTTBatcher(stream, 2, 5, drop_last=True)) == 2


def test_bptt_time_major_layout():
    stream = np.arange(20)
    for (x, y), (xb, yb) in zip(BPTTBatcher(stream, 4, 2, batch_first=False), BPTTBatcher(stream, 4, 2),
                                strict=True):
        np.testing.assert_array_equal(x.numpy(), xb.numpy().T)
        np.testing.assert_array_equal(y.numpy(), yb.numpy().T)
    assert x.shape == (2, 4)


def test_bptt_variable_length_still_tiles_and_is_seeded():
    stream = np.arange(3 * 400)
    batcher = BPTTBatcher(stream, 3, 20, variable_length=True, seed=5)
    first = [x.numpy() for x, _ in batcher]
    second = [x.numpy() for x, _ in batcher]  # the next epoch: other borders
    again = [x.numpy() for x, _ in BPTTBatcher(stream, 3, 20, variable_length=True, seed=5)]
    for chunks in (first, second):
        np.testing.assert_array_equal(np.concatenate(chunks, axis=1), stream.reshape(3, 400)[:, :-1])
        assert all(5 <= c.shape[1] <= 40 for c in chunks[:-1])
    assert [c.shape for c in first] == [c.shape for c in again]
    assert [c.shape for c in first] != [c.shape for c in second]
    assert len({c.shape[1] for c in first}) > 1


def test_bptt_errors():
    with pytest.raises(ValueError, match="seq_len"):
        BPTTBatcher(np.arange(10), 2, 0)
    with pytest.raises(ValueError, match="batch_size"):
        BPTTBatcher(np.arange(10), 0, 2)
    with pytest.raises(ValueError, match="1-D integer"):
        BPTTBatcher(np.zeros(10), 2, 2)
    with pytest.raises(ValueError, match="too short"):
        BPTTBatcher(np.arange(5), 3, 2)


# -- detach_state ----------------------------------------------------------------------------
def test_detach_state_structures():
    h = em.randn(2, 3, requires_grad=True) * 2
    c = em.randn(2, 3, requires_grad=True) * 3
    assert detach_state(None) is None
    dh = detach_state(h)
    assert dh.creator is None and not dh.requires_grad
    np.testing.assert_array_equal(dh.numpy(), h.detach().numpy())
    pair = detach_state((h, c))
    assert isinstance(pair, tuple) and all(t.creator is None for t in pair)
    assert isinstance(detach_state([h]), list)
    with pytest.raises(TypeError, match="detach_state"):
        detach_state(3.0)


@pytest.mark.parametrize("detach", [True, False])
def test_detach_state_cuts_the_graph_between_chunks(detach):
    # h_t = tanh(W h_{t-1} + x_t) over two chunks; the loss of chunk 2 reaches chunk 1's inputs
    # only when the carried state is not detached.
    rng = np.random.default_rng(4)
    W = em.tensor(rng.standard_normal((3, 3)) * 0.5, requires_grad=True)
    chunks = [em.tensor(rng.standard_normal((2, 3)), requires_grad=True) for _ in range(2)]
    state = em.zeros(3, dtype=np.float64)
    for x in chunks:
        if detach:
            state = detach_state(state)
        for t in range(2):
            state = (W @ state + x[t]).tanh()
    state.sum().backward()
    if detach:
        assert chunks[0].grad is None
    else:
        assert np.abs(chunks[0].grad.numpy()).sum() > 0
    assert np.abs(chunks[1].grad.numpy()).sum() > 0
