"""The fused recurrent ops: finite differences, PyTorch parity per layer-direction, lengths, errors."""
import numpy as np
import pytest
import torch

import ember as em
from ember.ops.recurrent import GRULayer, LSTMLayer, RNNLayer, gru_layer, lstm_layer, rnn_layer
from ember.testing import gradcheck, gradgradcheck
from torch_parity import assert_close, check_second_order, copy_weights

T, N, I, H = 4, 3, 2, 3
GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


def _tensors(kind, bias, seed=0, sizes=(T, N, I, H)):
    rng = np.random.default_rng(seed)
    T_, N_, I_, H_ = sizes
    G = GATES[kind] * H_
    shapes = [(T_, N_, I_), (N_, H_)] + [(N_, H_)] * (kind == "lstm") + [(G, I_), (G, H_)] + [(G,), (G,)] * bias
    return [em.tensor(rng.standard_normal(s) * 0.8, requires_grad=True) for s in shapes]


def _op(kind, lengths=None, reverse=False):
    if kind == "lstm":
        return lambda x, h, c, *w: lstm_layer(x, h, c, *w, lengths=lengths, reverse=reverse)
    if kind == "gru":
        return lambda x, h, *w: gru_layer(x, h, *w, lengths=lengths, reverse=reverse)
    act = kind.split("_")[1]
    return lambda x, h, *w: rnn_layer(x, h, *w, nonlinearity=act, lengths=lengths, reverse=reverse)


def _function(kind, lengths=None, reverse=False):
    """The layer op's Function itself, whose ``composed`` twin runs the cell formulas step by step."""
    if kind == "lstm":
        return LSTMLayer(lengths, reverse)
    if kind == "gru":
        return GRULayer(lengths, reverse)
    return RNNLayer(kind.split("_")[1], lengths, reverse)


@pytest.mark.parametrize("kind", sorted(GATES))
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("lengths", [None, [4, 1, 3]])
def test_fused_op_gradcheck(kind, bias, reverse, lengths):
    inputs = _tensors(kind, bias)
    assert gradcheck(_op(kind, lengths, reverse), inputs)


_TORCH = {"rnn_tanh": lambda: torch.nn.RNN(I, H), "rnn_relu": lambda: torch.nn.RNN(I, H, nonlinearity="relu"),
          "lstm": lambda: torch.nn.LSTM(I, H), "gru": lambda: torch.nn.GRU(I, H)}


@pytest.mark.parametrize("kind", sorted(GATES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_op_matches_torch_layer(kind, dtype):
    """One layer-direction equals torch.nn's single layer: outputs, final states, every gradient."""
    inputs = _tensors(kind, True, seed=3)
    for t in inputs:
        t.array = t.array.astype(dtype)
    net = _TORCH[kind]().to(torch.float64 if dtype == np.float64 else torch.float32)
    states = inputs[1:3] if kind == "lstm" else inputs[1:2]
    with torch.no_grad():
        for p, ours in zip(net.parameters(), inputs[len(states) + 1:], strict=True):
            p.copy_(torch.from_numpy(ours.array))
    tx = torch.from_numpy(inputs[0].array.copy()).requires_grad_()
    tstates = [torch.from_numpy(s.array.copy()[None]).requires_grad_() for s in states]
    ty, tfinal = net(tx, tuple(tstates) if kind == "lstm" else tstates[0])
    tfinal = list(tfinal) if kind == "lstm" else [tfinal]
    ours = _op(kind)(*inputs)
    assert_close(ours[0], ty, name="output")
    for k, (o, t) in enumerate(zip(ours[1:], tfinal, strict=True)):
        assert_close(o, t[0], name=f"final state {k}")
    rng = np.random.default_rng(1)
    ups = [rng.standard_normal(o.shape).astype(dtype) for o in ours]
    torch.autograd.backward([ty, *tfinal], [torch.from_numpy(ups[0])] + [torch.from_numpy(u[None]) for u in ups[1:]])
    sum((o * em.tensor(u)).sum() for o, u in zip(ours, ups, strict=True)).backward()
    assert_close(inputs[0].grad, tx.grad, name="dx")
    for k, (s, t) in enumerate(zip(states, tstates, strict=True)):
        assert_close(s.grad, t.grad[0], name=f"d state {k}")
    for p, ours_p in zip(net.parameters(), inputs[len(states) + 1:], strict=True):
        assert_close(ours_p.grad, p.grad, name="weight grad")


@pytest.mark.parametrize("kind", sorted(GATES))
@pytest.mark.parametrize("reverse", [False, True])
def test_lengths_equal_running_each_sequence_alone(kind, reverse):
    inputs = _tensors(kind, True, seed=5)
    lengths = [2, 4, 1]
    nstates = 2 if kind == "lstm" else 1
    batch = _op(kind, lengths, reverse)(*inputs)
    for n, length in enumerate(lengths):
        alone = [inputs[0][:length, n:n + 1]] + [s[n:n + 1] for s in inputs[1:1 + nstates]] + inputs[1 + nstates:]
        single = _op(kind, reverse=reverse)(*alone)
        assert_close(batch[0][:length, n], single[0][:, 0], name="real steps")
        assert np.all(batch[0].array[length:, n] == 0), "padded steps must output 0"
        for k in range(1, 1 + nstates):
            assert_close(batch[k][n], single[k][0], name="final state")


def test_lengths_all_full_equal_no_lengths():
    inputs = _tensors("lstm", True)
    for a, b in zip(lstm_layer(*inputs, lengths=[T] * N), lstm_layer(*inputs), strict=True):
        assert_close(a, b)


# -- the composed twins and second derivatives ------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(GATES))
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("lengths", [None, [4, 1, 3]])
def test_composed_twin_equals_the_fused_op(kind, bias, reverse, lengths):
    """The step-by-step cell formulas give the fused op's outputs, final states and gradients."""
    inputs = _tensors(kind, bias, seed=2)
    op = _function(kind, lengths, reverse)
    fused, twin = op(*inputs), op.composed(*inputs)
    rng = np.random.default_rng(4)
    ups = [em.tensor(rng.standard_normal(y.shape)) for y in fused]
    for k, (a, b) in enumerate(zip(fused, twin, strict=True)):
        assert_close(a, b, rtol=1e-12, atol=1e-12, name=f"output {k}")
    for a, b in zip(em.autograd.grad(list(fused), inputs, ups), em.autograd.grad(list(twin), inputs, ups), strict=True):
        assert_close(a, b, rtol=1e-10, atol=1e-12, name="gradient")


def _torch_layer(kind):
    """torch.nn's single layer as a function of (x, states..., weights...), like the ember op."""
    net, nstates = _TORCH[kind]().double(), 2 if kind == "lstm" else 1
    names = [name for name, _ in net.named_parameters()]

    def run(x, *rest):
        states = tuple(s[None] for s in rest[:nstates])
        y, final = torch.func.functional_call(net, dict(zip(names, rest[nstates:], strict=True)),
                                              (x, states if kind == "lstm" else states[0]))
        return (y, *(f[0] for f in (final if kind == "lstm" else (final,))))

    return run


@pytest.mark.parametrize("kind", sorted(GATES))
def test_second_derivatives_match_torch_layer(kind):
    inputs = [t.detach().numpy() for t in _tensors(kind, True, seed=3, sizes=(3, 2, 2, 3))]
    check_second_order(_op(kind), _torch_layer(kind), inputs)


@pytest.mark.parametrize("kind", sorted(GATES))
@pytest.mark.parametrize("reverse, lengths", [(False, None), (True, None), (False, [3, 1]), (True, [2, 3])])
def test_gradgradcheck(kind, reverse, lengths):
    inputs = _tensors(kind, True, seed=6, sizes=(3, 2, 2, 2))
    assert gradgradcheck(_op(kind, lengths, reverse), inputs)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_bidirectional_two_layer_second_derivatives_match_torch(kind):
    """The layers built from the one-direction ops: each direction's second derivatives, stacked."""
    ours = getattr(em.nn, kind)(2, 3, num_layers=2, bidirectional=True).double()
    theirs = getattr(torch.nn, kind)(2, 3, num_layers=2, bidirectional=True).double()
    copy_weights(ours, theirs)
    x = np.random.default_rng(7).standard_normal((3, 2, 2))
    check_second_order(lambda t: ours(t)[0], lambda t: theirs(t)[0], [x])


@pytest.mark.parametrize("lengths, match", [([4, 1], "expected 3 lengths"),
                                            ([5, 1, 1], r"lengths must lie in \[1, 4\]"),
                                            ([0, 1, 1], r"lengths must lie in \[1, 4\]")])
def test_bad_lengths_raise(lengths, match):
    inputs = _tensors("gru", True)
    with pytest.raises(ValueError, match=match):
        gru_layer(*inputs, lengths=lengths)


def test_bad_shapes_raise_naming_the_op():
    x, h, c, W_ih, W_hh = _tensors("lstm", False)
    with pytest.raises(ValueError, match="LSTMLayer.*weight_ih"):
        lstm_layer(x, h, c, W_hh, W_hh)
    with pytest.raises(ValueError, match=r"LSTMLayer.*state of shape \(3, 3\)"):
        lstm_layer(x, h[:2], c, W_ih, W_hh)
    with pytest.raises(ValueError, match="time-major"):
        lstm_layer(x[0], h, c, W_ih, W_hh)
    with pytest.raises(ValueError, match="nonlinearity"):
        rnn_layer(x, h, W_ih[:3], W_hh[:3], nonlinearity="sigmoid")
