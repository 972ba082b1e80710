"""Seq2seq: shapes, attention masks, teacher forcing, step/forward agreement, gradients, and learning a toy task."""

import numpy as np
import pytest

import ember as em
from ember.autograd.tensor import Tensor
from ember.optim import Adam
from ember.testing import gradcheck
from ember.text.seq2seq import Decoder, Encoder, Seq2Seq

CELLS = ("gru", "lstm", "rnn")
ATTENTIONS = (None, "bahdanau", "luong_dot", "luong_general")
V_SRC, V_TGT, E, H = 11, 13, 5, 6
LENGTHS = [7, 3, 5, 1]


def _model(cell="gru", attention="bahdanau", bidirectional=False, num_layers=2, seed=0):
    em.manual_seed(seed)
    enc = Encoder(V_SRC, E, H, num_layers=num_layers, cell=cell, bidirectional=bidirectional)
    dec = Decoder(V_TGT, E, H, num_layers=num_layers, cell=cell, attention=attention, encoder_size=enc.output_size)
    return Seq2Seq(enc, dec, bos=2, eos=3).eval()


def _batch(seed=1, T=5):
    rng = np.random.default_rng(seed)
    src = rng.integers(4, V_SRC, (len(LENGTHS), max(LENGTHS)))
    src[np.arange(src.shape[1])[None, :] >= np.array(LENGTHS)[:, None]] = 0
    tgt = rng.integers(4, V_TGT, (len(LENGTHS), T))
    tgt[:, 0] = 2
    return Tensor(src), Tensor(np.array(LENGTHS)), Tensor(tgt)


def _log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _combos():
    return [(c, a, b) for c in CELLS for a in ATTENTIONS for b in (False, True) if not (a == "luong_dot" and b)]


# -- shapes and the encoder's bridge ----------------------------------------------------------------
@pytest.mark.parametrize("cell,attention,bidirectional", _combos())
def test_shapes(cell, attention, bidirectional):
    model = _model(cell, attention, bidirectional)
    src, lengths, tgt = _batch()
    outputs, state = model.encoder(src, lengths)
    assert outputs.shape == (4, 7, H * (2 if bidirectional else 1))
    for s in (state if cell == "lstm" else (state,)):
        assert s.shape == (2, 4, H)
    for ratio in (1.0, 0.5, 0.0):
        logits, weights = model(src, lengths, tgt, ratio, return_attention=True)
        assert logits.shape == (4, 5, V_TGT)
        assert weights is None if attention is None else weights.shape == (4, 5, 7)
    tokens = model.greedy_decode(src, lengths, max_len=6)
    assert tokens.dtype == np.int64 and tokens.shape[0] == 4 and 1 <= tokens.shape[1] <= 6


@pytest.mark.parametrize("cell", CELLS)
def test_bidirectional_bridge_sums_directions(cell):
    model = _model(cell, None, bidirectional=True)
    src, lengths, _ = _batch()
    _, state = model.encoder(src, lengths)
    _, raw = model.encoder.rnn(model.encoder.embedding(src), lengths=lengths)
    for s, r in zip(state if cell == "lstm" else (state,), raw if cell == "lstm" else (raw,), strict=True):
        r = r.detach().numpy()
        np.testing.assert_allclose(s.detach().numpy(), r[0::2] + r[1::2], rtol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="cell"):
        Encoder(5, 4, 4, cell="transformer")
    with pytest.raises(ValueError, match="attention"):
        Decoder(5, 4, 4, attention="multiplicative")
    with pytest.raises(ValueError, match="luong_dot"):
        Decoder(5, 4, 4, attention="luong_dot", encoder_size=8)
    with pytest.raises(ValueError, match="hidden_size"):
        Seq2Seq(Encoder(5, 4, 4), Decoder(5, 4, 6), 2, 3)
    with pytest.raises(ValueError, match="encoder_size"):
        Seq2Seq(Encoder(5, 4, 4, bidirectional=True), Decoder(5, 4, 4, attention="bahdanau"), 2, 3)
    model = _model()
    src, lengths, tgt = _batch()
    with pytest.raises(ValueError, match="encoder_outputs"):
        model.decoder(tgt, model.encoder(src)[1], None)
    with pytest.raises(ValueError, match="teacher_forcing_ratio"):
        model(src, lengths, tgt, 1.5)


# -- attention weights ---------------------------------------------------------------------------------
@pytest.mark.parametrize("attention", ATTENTIONS[1:])
@pytest.mark.parametrize("ratio", [1.0, 0.5])
def test_attention_weights_sum_to_one_on_real_positions(attention, ratio):
    model = _model("gru", attention, bidirectional=attention != "luong_dot")
    src, lengths, tgt = _batch()
    _, weights = model(src, lengths, tgt, ratio, return_attention=True)
    w = weights.detach().numpy()
    real = np.arange(7)[None, :] < np.array(LENGTHS)[:, None]
    assert np.all(w[~np.broadcast_to(real[:, None, :], w.shape)] == 0.0)
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-5)
    assert np.all(w[np.broadcast_to(real[:, None, :], w.shape)] > 0)
    _, greedy_weights = model.greedy_decode(src, lengths, max_len=4, return_attention=True)
    g = greedy_weights.detach().numpy()
    assert np.all(g[~np.broadcast_to(real[:, None, :], g.shape)] == 0.0)
    np.testing.assert_allclose(g.sum(-1), 1.0, rtol=1e-5)


# -- teacher forcing ------------------------------------------------------------------------------------
@pytest.mark.parametrize("attention", ATTENTIONS)
def test_ratio_one_feeds_ground_truth(attention):
    """Shifting one output bias flips every prediction; with ratio 1 the logits move by exactly that shift
    (the inputs are the ground truth), with ratio 0 the fed predictions change and so does everything else."""
    model = _model("lstm", attention)
    src, lengths, tgt = _batch()
    before = {r: model(src, lengths, tgt, r).detach().numpy() for r in (1.0, 0.0)}
    shift = np.zeros(V_TGT, np.float32)
    shift[7] = 100.0
    model.decoder.out.bias.array += shift
    after = {r: model(src, lengths, tgt, r).detach().numpy() for r in (1.0, 0.0)}
    assert np.all(after[1.0].argmax(-1) == 7) and not np.all(before[1.0].argmax(-1) == 7)
    np.testing.assert_allclose(after[1.0] - before[1.0], np.broadcast_to(shift, before[1.0].shape), atol=1e-4)
    assert np.abs(after[0.0] - before[0.0] - shift)[:, 1:].max() > 1e-3


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_ratio_one_equals_stepping_on_ground_truth(attention):
    model = _model("gru", attention, bidirectional=True if attention != "luong_dot" else False)
    src, lengths, tgt = _batch()
    logits, weights = model(src, lengths, tgt, 1.0, return_attention=True)
    outputs, state, mask = model.encode(src, lengths)
    for t in range(tgt.shape[1]):
        log_probs, state, w = model.decoder.step(tgt[:, t], state, outputs, mask)
        expected = _log_softmax(logits.detach().numpy()[:, t])
        np.testing.assert_allclose(log_probs.detach().numpy(), expected, rtol=1e-4, atol=1e-5)
        if attention is not None:
            np.testing.assert_allclose(w.detach().numpy(), weights.detach().numpy()[:, t], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("cell,attention", [("gru", None), ("lstm", "bahdanau"), ("rnn", "luong_general")])
def test_ratio_zero_feeds_own_argmax(cell, attention):
    model = _model(cell, attention)
    src, lengths, tgt = _batch()
    logits = model(src, lengths, tgt, 0.0).detach().numpy()
    outputs, state, mask = model.encode(src, lengths)
    tokens = tgt[:, 0]
    for t in range(tgt.shape[1]):
        log_probs, state, _ = model.decoder.step(tokens, state, outputs, mask)
        np.testing.assert_allclose(log_probs.detach().numpy().argmax(-1), logits[:, t].argmax(-1))
        np.testing.assert_allclose(log_probs.detach().numpy(), _log_softmax(logits[:, t]), atol=1e-5)
        tokens = Tensor(log_probs.detach().numpy().argmax(-1))
    # greedy decoding is the same loop, up to each row's end of sequence
    greedy = model.greedy_decode(src, lengths, max_len=tgt.shape[1]).detach().numpy()
    for row, pred in zip(greedy, logits.argmax(-1), strict=True):
        stop = list(pred).index(3) + 1 if 3 in pred else len(pred)
        np.testing.assert_array_equal(row[:stop], pred[:stop])


def test_partial_ratio_repeats_under_a_seed_and_mixes():
    model = _model("gru", "bahdanau")
    src, lengths, tgt = _batch(T=12)
    em.manual_seed(5)
    a = model(src, lengths, tgt, 0.5).detach().numpy()
    em.manual_seed(5)
    b = model(src, lengths, tgt, 0.5).detach().numpy()
    np.testing.assert_array_equal(a, b)
    full, none = model(src, lengths, tgt, 1.0).detach().numpy(), model(src, lengths, tgt, 0.0).detach().numpy()
    assert not np.allclose(a, full) and not np.allclose(a, none)


# -- the search contract ----------------------------------------------------------------------------------
@pytest.mark.parametrize("cell,attention", [("lstm", "luong_dot"), ("gru", "bahdanau"), ("rnn", None)])
def test_step_fn_state_is_batch_first_and_reorderable(cell, attention):
    model = _model(cell, attention, num_layers=3)
    src, lengths, tgt = _batch()
    step, state = model.step_fn(src, lengths)
    assert all(s.shape[0] == 4 for s in state)
    assert state[0].shape == (4, 3, H) and state[-1].dtype == bool
    log_probs, state, _ = step(tgt[:, 0], state)
    order = np.array([2, 0, 3, 3])
    reordered = tuple(s[order] for s in state)
    lp_all, _, w_all = step(tgt[:, 1], state)
    lp_re, new, w_re = step(Tensor(tgt.detach().numpy()[order, 1]), reordered)
    np.testing.assert_allclose(lp_re.detach().numpy(), lp_all.detach().numpy()[order], rtol=1e-5, atol=1e-6)
    assert all(s.shape[0] == 4 for s in new)
    if attention is not None:
        np.testing.assert_allclose(w_re.detach().numpy(), w_all.detach().numpy()[order], rtol=1e-5, atol=1e-7)
    # the step function walks the same path as the teacher-forced forward
    logits = model(src, lengths, tgt, 1.0).detach().numpy()
    np.testing.assert_allclose(lp_all.detach().numpy().argmax(-1), logits[:, 1].argmax(-1))


# -- gradients ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell,attention", [("gru", "bahdanau"), ("lstm", "luong_general"), ("rnn", None)])
def test_gradcheck_decoder(cell, attention):
    em.manual_seed(0)
    dec = Decoder(7, 3, 4, cell=cell, attention=attention, encoder_size=5).double()
    rng = np.random.default_rng(0)
    enc = Tensor(rng.standard_normal((2, 3, 5)), requires_grad=True)
    h0 = Tensor(rng.standard_normal((1, 2, 4)) * 0.5, requires_grad=True)
    tgt = Tensor(rng.integers(1, 7, (2, 4)))
    mask = np.array([[True, True, True], [True, True, False]])
    if cell == "lstm":
        c0 = Tensor(rng.standard_normal((1, 2, 4)) * 0.5, requires_grad=True)
        assert gradcheck(lambda e, h, c: dec(tgt, (h, c), e, mask)[0], [enc, h0, c0])
    else:
        assert gradcheck(lambda e, h: dec(tgt, h, e, mask)[0], [enc, h0])


@pytest.mark.parametrize("cell,attention", [("gru", "bahdanau"), ("lstm", "luong_general"), ("rnn", None)])
def test_every_parameter_gets_a_gradient(cell, attention):
    model = _model(cell, attention, bidirectional=True).train()
    src, lengths, tgt = _batch()
    model(src, lengths, tgt, 0.5).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and np.abs(p.grad.detach().numpy()).max() > 0, name


# -- learning ----------------------------------------------------------------------------------------------------
def _reverse_data(rng, n, L=5):
    """Digits (ids 4..13) of length L; the target is the reversed sequence, then <eos>=3."""
    digits = rng.integers(4, 14, (n, L))
    out = np.concatenate([digits[:, ::-1], np.full((n, 1), 3)], axis=1)
    tgt_in = np.concatenate([np.full((n, 1), 2), out[:, :-1]], axis=1)
    return Tensor(digits), Tensor(np.full(n, L)), Tensor(tgt_in), out


@pytest.mark.parametrize("attention,bound", [(None, 0.8), ("luong_general", 0.95), ("bahdanau", 0.95)])
def test_learns_to_reverse_digits(attention, bound):
    em.manual_seed(0)
    enc = Encoder(14, 16, 48, cell="gru", bidirectional=attention is not None)
    dec = Decoder(14, 16, 48, cell="gru", attention=attention, encoder_size=enc.output_size)
    model = Seq2Seq(enc, dec, bos=2, eos=3)
    opt = Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    for _ in range(200):
        src, lengths, tgt_in, out = _reverse_data(rng, 32)
        logits = model(src, lengths, tgt_in)
        loss = em.nn.functional.cross_entropy(logits.reshape(-1, 14), Tensor(out.reshape(-1)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    src, lengths, _, out = _reverse_data(np.random.default_rng(1), 200)
    tokens = model.greedy_decode(src, lengths, max_len=6).detach().numpy()
    accuracy = (tokens[:, :6] == out[:, :tokens.shape[1]]).mean() if tokens.shape[1] == 6 else 0.0
    assert accuracy > bound, accuracy
