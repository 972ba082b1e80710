"""RNN / LSTM / GRU / JordanRNN and the cells: PyTorch parity, fused = stepped cell, padded batches, errors."""
import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import ember as em
from ember.nn.recurrent import GRU, LSTM, RNN, GRUCell, JordanRNN, LSTMCell, RNNCell
from ember.testing import gradcheck
from torch_parity import assert_close, copy_weights

I, H, T, N = 3, 4, 5, 2
PAIRS = {"RNN": (RNN, torch.nn.RNN), "LSTM": (LSTM, torch.nn.LSTM), "GRU": (GRU, torch.nn.GRU)}


def _pair(name, dtype=torch.float64, **kwargs):
    ours_cls, torch_cls = PAIRS[name]
    theirs = torch_cls(I, H, **kwargs).to(dtype)
    ours = ours_cls(I, H, **kwargs).to(em.float64 if dtype == torch.float64 else em.float32)
    copy_weights(ours, theirs)
    return ours, theirs


def _states(out):
    return list(out) if isinstance(out, tuple) else [out]


def _compare(ours, theirs, x, hx, lengths=None, grad_output=True, seed=0):
    """Run both with hx given, compare outputs, final states and all gradients (random upstream)."""
    ex = em.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    ehx = [em.tensor(h, requires_grad=True) for h in hx]
    thx = [torch.tensor(h, requires_grad=True) for h in hx]
    pack = (lambda s: tuple(s)) if len(hx) == 2 else (lambda s: s[0])
    ey, efinal = ours(ex, pack(ehx), lengths=lengths)
    ty, tfinal = theirs(tx, pack(thx))
    efinal, tfinal = _states(efinal), _states(tfinal)
    assert_close(ey, ty, name="output")
    for e, t in zip(efinal, tfinal, strict=True):
        assert_close(e, t, name="final state")
    rng = np.random.default_rng(seed)
    ups = [rng.standard_normal(t.shape) * (grad_output or k > 0) for k, t in enumerate([ty, *tfinal])]
    torch.autograd.backward([ty, *tfinal], [torch.tensor(u) for u in ups])
    sum((e * em.tensor(u)).sum() for e, u in zip([ey, *efinal], ups, strict=True)).backward()
    assert_close(ex.grad, tx.grad, name="input grad")
    for e, t in zip(ehx, thx, strict=True):
        assert_close(e.grad, t.grad, name="initial state grad")
    theirs_params = dict(theirs.named_parameters())
    assert [n for n, _ in ours.named_parameters()] == list(theirs_params)
    for name, p in ours.named_parameters():
        assert_close(p.grad, theirs_params[name].grad, name=name)


@pytest.mark.parametrize("name", sorted(PAIRS))
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_matches_torch(name, num_layers, bidirectional, batch_first):
    ours, theirs = _pair(name, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, T, I) if batch_first else (T, N, I))
    hx = [rng.standard_normal((num_layers * (1 + bidirectional), N, H)) for _ in range(2 if name == "LSTM" else 1)]
    _compare(ours, theirs, x, hx)


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_gradient_only_through_final_state(name):
    ours, theirs = _pair(name, num_layers=2, bidirectional=True, bias=False)
    rng = np.random.default_rng(2)
    hx = [rng.standard_normal((4, N, H)) for _ in range(2 if name == "LSTM" else 1)]
    _compare(ours, theirs, rng.standard_normal((T, N, I)), hx, grad_output=False)


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_default_state_unbatched_and_float32(name):
    ours, theirs = _pair(name, dtype=torch.float32, num_layers=2, dropout=0.0)
    x = np.random.default_rng(3).standard_normal((T, I)).astype(np.float32)
    ey, efinal = ours(em.tensor(x))
    ty, tfinal = theirs(torch.tensor(x))
    assert_close(ey, ty)
    for e, t in zip(_states(efinal), _states(tfinal), strict=True):
        assert_close(e, t)


@pytest.mark.parametrize("name", sorted(PAIRS))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_lengths_match_packed_sequence_and_running_alone(name, bidirectional):
    ours, theirs = _pair(name, num_layers=2, bidirectional=bidirectional, batch_first=True)
    lengths = [3, 5, 1]
    x = np.random.default_rng(4).standard_normal((3, T, I))
    ey, efinal = ours(em.tensor(x), lengths=lengths)
    packed = pack_padded_sequence(torch.tensor(x), torch.tensor(lengths), batch_first=True, enforce_sorted=False)
    ty, tfinal = theirs(packed)
    ty, _ = pad_packed_sequence(ty, batch_first=True, total_length=T)
    assert_close(ey, ty, name="padded output")
    for e, t in zip(_states(efinal), _states(tfinal), strict=True):
        assert_close(e, t, name="final state")
    for n, length in enumerate(lengths):
        ay, afinal = ours(em.tensor(x[n:n + 1, :length]))
        assert_close(ey[n:n + 1, :length], ay, name="alone output")
        for e, a in zip(_states(efinal), _states(afinal), strict=True):
            assert_close(e[:, n:n + 1], a, name="alone final state")


def test_lengths_gradients_match_packed_sequence():
    ours, theirs = _pair("LSTM", bidirectional=True)
    lengths = [2, 5]
    x = np.random.default_rng(5).standard_normal((T, N, I))
    ex, tx = em.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ey, (eh, ec) = ours(ex, lengths=lengths)
    ty, (th, tc) = theirs(pack_padded_sequence(tx, torch.tensor(lengths), enforce_sorted=False))
    ty, _ = pad_packed_sequence(ty, total_length=T)
    rng = np.random.default_rng(6)
    ups = [rng.standard_normal(t.shape) for t in (ty, th, tc)]
    torch.autograd.backward([ty, th, tc], [torch.tensor(u) for u in ups])
    sum((e * em.tensor(u)).sum() for e, u in zip((ey, eh, ec), ups, strict=True)).backward()
    assert_close(ex.grad, tx.grad, name="input grad")
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, theirs_params[name].grad, name=name)


CELLS = {"RNNCell": (RNNCell, torch.nn.RNNCell, RNN), "LSTMCell": (LSTMCell, torch.nn.LSTMCell, LSTM),
         "GRUCell": (GRUCell, torch.nn.GRUCell, GRU)}


@pytest.mark.parametrize("name", sorted(CELLS))
@pytest.mark.parametrize("bias", [True, False])
def test_cell_matches_torch(name, bias):
    ours_cls, torch_cls, _ = CELLS[name]
    theirs = torch_cls(I, H, bias=bias).double()
    ours = ours_cls(I, H, bias=bias).to(em.float64)
    copy_weights(ours, theirs)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((N, I))
    states = [rng.standard_normal((N, H)) for _ in range(2 if name == "LSTMCell" else 1)]
    ex, tx = em.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    es = [em.tensor(s, requires_grad=True) for s in states]
    ts = [torch.tensor(s, requires_grad=True) for s in states]
    pack = (lambda s: tuple(s)) if len(states) == 2 else (lambda s: s[0])
    eo, to = _states(ours(ex, pack(es))), _states(theirs(tx, pack(ts)))
    ups = [rng.standard_normal(t.shape) for t in to]
    torch.autograd.backward(to, [torch.tensor(u) for u in ups])
    sum((e * em.tensor(u)).sum() for e, u in zip(eo, ups, strict=True)).backward()
    for e, t in zip(eo, to, strict=True):
        assert_close(e, t, name="output")
    for e, t in zip([ex, *es], [tx, *ts], strict=True):
        assert_close(e.grad, t.grad, name="input or state grad")
    theirs_params = dict(theirs.named_parameters())
    for pname, p in ours.named_parameters():
        assert_close(p.grad, theirs_params[pname].grad, name=pname)
    unbatched = _states(ours(em.tensor(x[0])))
    expected = _states(theirs(torch.tensor(x[0])))
    for e, t in zip(unbatched, expected, strict=True):
        assert_close(e, t, name="unbatched")


@pytest.mark.parametrize("name", sorted(CELLS))
def test_fused_layer_equals_stepping_the_cell(name):
    cell_cls, _, layer_cls = CELLS[name]
    cell = cell_cls(I, H).to(em.float64)
    layer = layer_cls(I, H).to(em.float64)
    layer.load_state_dict({f"{k}_l0": v for k, v in cell.state_dict().items()})
    x = em.tensor(np.random.default_rng(8).standard_normal((T, N, I)), requires_grad=True)
    y, final = layer(x)
    state = None
    for t in range(T):
        state = cell(x[t], state)
        h = state[0] if isinstance(state, tuple) else state
        assert_close(y[t], h, name=f"step {t}")
    for e, c in zip(_states(final), _states(state), strict=True):
        assert_close(e[0], c)
    y.sum().backward()
    fused = {k: p.grad.numpy().copy() for k, p in layer.named_parameters()}
    gx = x.grad.numpy().copy()
    x.grad = None
    stepped = [cell(x[0], None)]
    for t in range(1, T):
        stepped.append(cell(x[t], stepped[-1]))
    sum((s[0] if isinstance(s, tuple) else s).sum() for s in stepped).backward()
    assert_close(gx, x.grad, name="input grad")
    for k, p in cell.named_parameters():
        assert_close(fused[f"{k}_l0"], p.grad, name=k)


def test_dropout_between_layers_only_in_training():
    ours = LSTM(I, H, num_layers=2, dropout=0.5)
    x = em.randn(T, N, I)
    em.manual_seed(0)
    a, _ = ours(x)
    ours.eval()
    b, _ = ours(x)
    c, _ = ours(x)
    assert not np.allclose(a.detach().numpy(), b.detach().numpy())
    assert_close(b, c)


@pytest.mark.parametrize("kwargs", [{}, {"num_layers": 2, "bias": False, "batch_first": True, "dropout": 0.25,
                                         "bidirectional": True}])
def test_extra_repr_matches_torch(kwargs):
    for name, (ours_cls, torch_cls) in PAIRS.items():
        assert repr(ours_cls(I, H, **kwargs)) == repr(torch_cls(I, H, **kwargs)), name
    assert repr(RNN(I, H, nonlinearity="relu")) == repr(torch.nn.RNN(I, H, nonlinearity="relu"))  # not shown
    for ours_cls, torch_cls, _ in CELLS.values():
        assert repr(ours_cls(I, H, bias=False)) == repr(torch_cls(I, H, bias=False))
    assert repr(RNNCell(I, H, nonlinearity="relu")) == repr(torch.nn.RNNCell(I, H, nonlinearity="relu"))


def test_init_is_uniform_within_one_over_sqrt_hidden():
    for p in LSTM(I, 100, num_layers=2).parameters():
        assert 0.09 < np.abs(p.detach().numpy()).max() <= 0.1


def test_errors_name_the_layer_and_shapes():
    lstm = LSTM(I, H, num_layers=2)
    with pytest.raises(ValueError, match=r"LSTM\(input_size=3\).*got \(5, 2, 7\)"):
        lstm(em.randn(T, N, 7))
    with pytest.raises(ValueError, match=r"LSTM: expected h_0 of shape \(2, 2, 4\)"):
        lstm(em.randn(T, N, I), (em.zeros(1, N, H), em.zeros(2, N, H)))
    with pytest.raises(ValueError, match=r"GRU: expected 2 lengths"):
        GRU(I, H)(em.randn(T, N, I), lengths=[1, 2, 3])
    with pytest.raises(ValueError, match=r"RNN: lengths must be integers in \[1, 5\]"):
        RNN(I, H)(em.randn(T, N, I), lengths=[6, 2])
    with pytest.raises(ValueError, match=r"RNN: lengths must be integers in \[1, 5\]"):
        RNN(I, H)(em.randn(T, N, I), lengths=[0, 2])
    with pytest.raises(ValueError, match="GRUCell.*expected a hidden state of shape"):
        GRUCell(I, H)(em.randn(N, I), em.zeros(N, H + 1))
    with pytest.raises(ValueError, match="nonlinearity"):
        RNN(I, H, nonlinearity="sigmoid")


# -- JordanRNN ------------------------------------------------------------------------------
def _jordan_numpy(net, x, y0, layer=0, suffix=""):
    """One layer-direction by hand: h_t = tanh(W_ih x_t + b_ih + W_oh y_{t−1} + b_oh), y_t = W_ho h_t + b_ho."""
    p = {k: v.detach().numpy() for k, v in net.named_parameters()}
    tag = f"_l{layer}{suffix}"
    y, outs = y0, []
    for t in range(x.shape[0]):
        h = np.tanh(x[t] @ p["weight_ih" + tag].T + p["bias_ih" + tag] + y @ p["weight_oh" + tag].T
                    + p["bias_oh" + tag])
        y = h @ p["weight_ho" + tag].T + p["bias_ho" + tag]
        outs.append(y)
    return np.stack(outs), y


def test_jordan_matches_its_formula():
    net = JordanRNN(I, H, 2).to(em.float64)
    rng = np.random.default_rng(9)
    x, y0 = rng.standard_normal((T, N, I)), rng.standard_normal((1, N, 2))
    out, y_n = net(em.tensor(x), em.tensor(y0))
    expected, expected_n = _jordan_numpy(net, x, y0[0])
    assert_close(out, expected)
    assert_close(y_n, expected_n[None])


def test_jordan_stacks_layers_and_directions_by_the_formula():
    """Layer 2 reads both directions of layer 1; the backward direction runs over reversed time."""
    net = JordanRNN(I, H, 2, num_layers=2, bidirectional=True).to(em.float64)
    assert [name for name, _ in net.named_parameters()][:6] == [
        "weight_ih_l0", "weight_oh_l0", "weight_ho_l0", "bias_ih_l0", "bias_oh_l0", "bias_ho_l0"]
    rng = np.random.default_rng(11)
    x, y0 = rng.standard_normal((T, N, I)), rng.standard_normal((4, N, 2))
    out, y_n = net(em.tensor(x), em.tensor(y0))
    f0, f0_n = _jordan_numpy(net, x, y0[0])
    b0, b0_n = _jordan_numpy(net, x[::-1], y0[1], suffix="_reverse")
    layer1_in = np.concatenate([f0, b0[::-1]], axis=2)
    f1, f1_n = _jordan_numpy(net, layer1_in, y0[2], layer=1)
    b1, b1_n = _jordan_numpy(net, layer1_in[::-1], y0[3], layer=1, suffix="_reverse")
    assert_close(out, np.concatenate([f1, b1[::-1]], axis=2))
    assert_close(y_n, np.stack([f0_n, b0_n, f1_n, b1_n]))
    assert repr(net) == "JordanRNN(3, 4, 2, num_layers=2, bidirectional=True)"


def test_jordan_gradcheck_and_lengths():
    net = JordanRNN(I, H, 2, output_nonlinearity="tanh").to(em.float64)
    rng = np.random.default_rng(10)
    x = em.tensor(rng.standard_normal((T, N, I)), requires_grad=True)
    y0 = em.tensor(rng.standard_normal((1, N, 2)), requires_grad=True)
    params = list(net.parameters())

    # the parameters themselves are perturbed in place by gradcheck, so the net sees each change
    assert gradcheck(lambda x, y0, *_: net(x, y0, lengths=[5, 2]), [x, y0, *params])
    assert gradcheck(lambda x, y0, *_: net(x, y0), [x, y0, *params])
    out, y_n = net(x, y0, lengths=[5, 2])
    alone, alone_n = net(x[:2, 1:2], y0[:, 1:2])
    assert_close(out[:2, 1:2], alone)
    assert_close(y_n[:, 1:2], alone_n)
    assert np.all(out.detach().numpy()[2:, 1] == 0)
    out.sum().backward()
    assert all(p.grad is not None and np.isfinite(p.grad.numpy()).all() for p in params)
    assert repr(net) == "JordanRNN(3, 4, 2, output_nonlinearity=tanh)"


def test_bidirectional_jordan_with_lengths_equals_each_sequence_alone():
    net = JordanRNN(I, H, 2, num_layers=2, bidirectional=True, batch_first=True).to(em.float64)
    rng = np.random.default_rng(12)
    x = em.tensor(rng.standard_normal((N, T, I)), requires_grad=True)
    out, y_n = net(x, lengths=[T, 3])
    alone, alone_n = net(x[1:2, :3])
    assert_close(out[1:2, :3], alone)
    assert_close(y_n[:, 1:2], alone_n)
    assert gradcheck(lambda x, *_: net(x, lengths=[T, 3]), [x, *net.parameters()])
