"""nn.utils.rnn: packing and unpacking against PyTorch, and RNN/LSTM/GRU on PackedSequence inputs."""
import numpy as np
import pytest
import torch
import torch.nn.utils.rnn as trnn

import ember as em
from ember import nn
from ember.nn.utils import rnn
from ember.testing import gradcheck
from torch_parity import assert_close, copy_weights, to_numpy

rng = np.random.default_rng(0)
LENGTHS = {"sorted": [5, 3, 3, 1], "unsorted": [2, 5, 1, 4], "ties": [3, 5, 3, 1]}


def _padded(lengths, batch_first, features=(3,)):
    T, N = max(lengths), len(lengths)
    x = rng.standard_normal((N, T, *features) if batch_first else (T, N, *features))
    return x


def _same_packed(ours, theirs):
    assert_close(ours.data, theirs.data, name="data")
    assert np.array_equal(to_numpy(ours.batch_sizes), theirs.batch_sizes.numpy())
    assert ours.batch_sizes.dtype == np.int64
    for name in ("sorted_indices", "unsorted_indices"):
        e, t = getattr(ours, name), getattr(theirs, name)
        assert (e is None) == (t is None), name
        if e is not None:
            assert np.array_equal(to_numpy(e), t.numpy()), name


# -- packing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("case", ["sorted", "unsorted", "ties"])
def test_pack_padded_sequence_matches_torch_with_gradient(case, batch_first):
    lengths = LENGTHS[case]
    x = _padded(lengths, batch_first)
    enforce = case == "sorted"
    ex, tx = em.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours = rnn.pack_padded_sequence(ex, em.tensor(lengths), batch_first, enforce_sorted=enforce)
    theirs = trnn.pack_padded_sequence(tx, torch.tensor(lengths), batch_first, enforce_sorted=enforce)
    assert isinstance(ours, rnn.PackedSequence) and isinstance(ours, tuple) and len(ours) == 4
    _same_packed(ours, theirs)
    upstream = rng.standard_normal(theirs.data.shape)
    theirs.data.backward(torch.tensor(upstream))
    ours.data.backward(em.tensor(upstream))
    assert_close(ex.grad, tx.grad, name="input gradient")


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("case", ["sorted", "unsorted"])
@pytest.mark.parametrize("total_length,padding_value", [(None, 0.0), (7, -1.5)])
def test_pad_packed_sequence_matches_torch_with_gradient(case, batch_first, total_length, padding_value):
    lengths = LENGTHS[case]
    x = _padded(lengths, False, (2, 3))
    packed_t = trnn.pack_padded_sequence(torch.tensor(x), lengths, enforce_sorted=False)
    data = packed_t.data.numpy()
    ed, td = em.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    indices = [None if i is None else em.tensor(i.numpy())
               for i in (packed_t.sorted_indices, packed_t.unsorted_indices)]
    ours = rnn.PackedSequence(ed, em.tensor(packed_t.batch_sizes.numpy()), *indices)
    theirs = trnn.PackedSequence(td, packed_t.batch_sizes, packed_t.sorted_indices, packed_t.unsorted_indices)
    ey, el = rnn.pad_packed_sequence(ours, batch_first, padding_value, total_length)
    ty, tl = trnn.pad_packed_sequence(theirs, batch_first, padding_value, total_length)
    assert_close(ey, ty, name="padded")
    assert el.dtype == np.int64 and np.array_equal(el.numpy(), tl.numpy())
    upstream = rng.standard_normal(ty.shape)
    ty.backward(torch.tensor(upstream))
    ey.backward(em.tensor(upstream))
    assert_close(ed.grad, td.grad, name="data gradient")


def test_packing_round_trip_gradcheck():
    x = em.tensor(_padded([4, 2, 3], True), requires_grad=True)

    def round_trip(t):
        packed = rnn.pack_padded_sequence(t, [4, 2, 3], batch_first=True, enforce_sorted=False)
        return rnn.pad_packed_sequence(packed, batch_first=True, padding_value=0.5)[0] * 2.0

    assert gradcheck(round_trip, [x])


def test_packed_sequence_builds_unsorted_indices_and_moves():
    packed = rnn.PackedSequence(em.ones(3, 2), em.tensor([2, 1]), em.tensor([1, 0]))
    assert packed.unsorted_indices.tolist() == [1, 0]
    data, batch_sizes, sorted_indices, unsorted_indices = packed
    assert packed.double().data.dtype == np.float64 and packed.double().batch_sizes is batch_sizes
    assert not packed.is_cuda


@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_pack_sequence_and_unpack_sequence_match_torch(enforce_sorted):
    lengths = [4, 3, 1] if enforce_sorted else [2, 4, 1]
    seqs = [rng.standard_normal((n, 2)) for n in lengths]
    ours = rnn.pack_sequence([em.tensor(s) for s in seqs], enforce_sorted)
    theirs = trnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted)
    _same_packed(ours, theirs)
    for e, t in zip(rnn.unpack_sequence(ours), trnn.unpack_sequence(theirs), strict=True):
        assert_close(e, t)


def test_pad_sequence_is_the_text_batching_one_and_matches_torch():
    from ember.text import batching

    seqs = [rng.standard_normal((n, 3)) for n in (2, 5, 1)]
    for kwargs in (dict(), dict(batch_first=True, padding_value=-1.0), dict(batch_first=True, padding_side="left")):
        assert_close(rnn.pad_sequence([em.tensor(s) for s in seqs], **kwargs),
                     trnn.pad_sequence([torch.tensor(s) for s in seqs], **kwargs))
        assert_close(rnn.pad_sequence([em.tensor(s) for s in seqs], **kwargs),
                     batching.pad_sequence([em.tensor(s) for s in seqs], **kwargs))
    padded = rnn.pad_sequence([em.tensor(s) for s in seqs], batch_first=True)
    for e, s in zip(rnn.unpad_sequence(padded, em.tensor([2, 5, 1]), batch_first=True), seqs, strict=True):
        assert_close(e, s)


def test_packing_errors_match_torch():
    x = em.tensor(_padded([2, 3], False))
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        rnn.pack_padded_sequence(x, [2, 3])
    with pytest.raises(RuntimeError, match="lie in"):
        rnn.pack_padded_sequence(x, [3, 0])
    with pytest.raises(ValueError, match="expected 2 lengths"):
        rnn.pack_padded_sequence(x, [3, 2, 1])
    packed = rnn.pack_padded_sequence(x, [3, 2])
    with pytest.raises(ValueError, match="total_length"):
        rnn.pad_packed_sequence(packed, total_length=2)


def test_import_paths_follow_torch():
    from ember.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence, pad_sequence  # noqa

    assert nn.utils.rnn.pack_sequence is rnn.pack_sequence
    assert callable(nn.utils.clip_grad_norm_)


# -- recurrent layers on packed input ------------------------------------------------------------

PAIRS = {"RNN": (nn.RNN, torch.nn.RNN), "LSTM": (nn.LSTM, torch.nn.LSTM), "GRU": (nn.GRU, torch.nn.GRU)}


def _states(out):
    return list(out) if isinstance(out, tuple) else [out]


@pytest.mark.parametrize("name", sorted(PAIRS))
@pytest.mark.parametrize("num_layers,bidirectional,batch_first,with_hx", [
    (1, False, False, False), (2, True, True, True), (1, True, False, True), (2, False, True, False),
])
def test_recurrent_layers_take_and_return_packed_sequences_as_torch(name, num_layers, bidirectional, batch_first,
                                                                   with_hx):
    ours_cls, torch_cls = PAIRS[name]
    kwargs = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first)
    theirs = torch_cls(3, 4, **kwargs).double()
    ours = ours_cls(3, 4, **kwargs).double()
    copy_weights(ours, theirs)
    ours.flatten_parameters()
    lengths = LENGTHS["unsorted"]
    x = _padded(lengths, batch_first)
    ex, tx = em.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    e_in = rnn.pack_padded_sequence(ex, lengths, batch_first, enforce_sorted=False)
    t_in = trnn.pack_padded_sequence(tx, lengths, batch_first, enforce_sorted=False)
    n_states = 2 if name == "LSTM" else 1
    hx = [rng.standard_normal((num_layers * (1 + bidirectional), len(lengths), 4)) for _ in range(n_states)]
    e_hx = [em.tensor(h, requires_grad=True) for h in hx]
    t_hx = [torch.tensor(h, requires_grad=True) for h in hx]
    pack = (lambda s: tuple(s)) if name == "LSTM" else (lambda s: s[0])
    e_out, e_final = ours(e_in, pack(e_hx)) if with_hx else ours(e_in)
    t_out, t_final = theirs(t_in, pack(t_hx)) if with_hx else theirs(t_in)
    assert isinstance(e_out, rnn.PackedSequence)
    _same_packed(e_out, t_out)
    e_final, t_final = _states(e_final), _states(t_final)
    for e, t in zip(e_final, t_final, strict=True):
        assert_close(e, t, name="final state")
    ups = [rng.standard_normal(t.shape) for t in (t_out.data, *t_final)]
    torch.autograd.backward([t_out.data, *t_final], [torch.tensor(u) for u in ups])
    sum((e * em.tensor(u)).sum() for e, u in zip([e_out.data, *e_final], ups, strict=True)).backward()
    assert_close(ex.grad, tx.grad, name="input gradient")
    if with_hx:
        for e, t in zip(e_hx, t_hx, strict=True):
            assert_close(e.grad, t.grad, name="initial state gradient")
    theirs_params = dict(theirs.named_parameters())
    for pname, p in ours.named_parameters():
        assert_close(p.grad, theirs_params[pname].grad, name=pname)


def test_packed_output_unpacks_to_the_padded_run():
    gru = nn.GRU(3, 5, batch_first=True)
    x = em.tensor(_padded([4, 2, 3], True).astype(np.float32))
    packed_out, h_packed = gru(rnn.pack_padded_sequence(x, [4, 2, 3], batch_first=True, enforce_sorted=False))
    padded_out, h_padded = gru(x, lengths=[4, 2, 3])
    unpacked, lengths = rnn.pad_packed_sequence(packed_out, batch_first=True)
    assert lengths.tolist() == [4, 2, 3]
    assert_close(unpacked, padded_out)
    assert_close(h_packed, h_padded)
