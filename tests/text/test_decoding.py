"""Greedy and beam search on toy decoders whose best sequences are known by brute force."""
import itertools
from collections import namedtuple

import numpy as np
import pytest

import ember as em
from ember.text.decoding import beam_search, greedy_search, reorder_state

EOS, BOS = 0, 1


def log_normalize(p):
    p = np.asarray(p, dtype=np.float64)
    return np.log(p / p.sum(axis=-1, keepdims=True))


class ToyDecoder:
    """step_fn over fixed second-order tables: log p(next | item, position, the two previous tokens)
    = table[item, pos, prev2, prev].

    The state is (item ids, positions, the token before the previous one), (B,) int64 Tensors: prev
    comes in as ``tokens``, prev2 only through the state, so a search that fails to reorder the
    state along the surviving beams reads the wrong row. The extra is a fingerprint of
    (item, position, previous token), to check that extras follow the chosen hypotheses.
    """

    def __init__(self, tables, with_extra=True):
        self.tables = np.asarray(tables)  # (items, L, V, V, V); BOS < V is fed first, never a good output
        self.with_extra = with_extra

    def state(self, items):
        items = np.asarray(items, dtype=np.int64)
        return (em.Tensor(items), em.Tensor(np.zeros_like(items)), em.Tensor(np.full_like(items, BOS)))

    def __call__(self, tokens, state):
        item, pos, prev2 = state
        assert isinstance(tokens, em.Tensor) and tokens.dtype == np.int64
        i, p, prev = item.numpy(), np.minimum(pos.numpy(), self.tables.shape[1] - 1), tokens.numpy()
        log_probs = em.Tensor(self.tables[i, p, prev2.numpy(), prev])
        new_state = (item, pos + 1, tokens)
        if not self.with_extra:
            return log_probs, new_state
        return log_probs, new_state, self.fingerprint(i, pos.numpy(), prev)

    @staticmethod
    def fingerprint(item, pos, prev):
        return np.stack([item, pos, prev], axis=-1).astype(np.float64)


def random_tables(rng, items=3, length=6, V=4, sharp=2.0):
    logits = rng.normal(size=(items, length, V, V, V)) * sharp
    logits[..., BOS] = -30.0  # BOS is never worth emitting
    return log_normalize(np.exp(logits))


def brute_force(tables, item, max_len, alpha):
    """The best eos-terminated sequence by score / length^alpha over all sequences of ≤ max_len tokens."""
    V, best = tables.shape[-1], None
    for n in range(max_len):
        for body in itertools.product(range(1, V), repeat=n):  # eos only at the end
            score = sequence_score(tables, item, (*body, EOS))
            seq = (*body, EOS)
            norm = score / len(seq) ** alpha
            if best is None or norm > best[0]:
                best = (norm, list(body), score)
    return best


def sequence_score(tables, item, seq):
    prev2, prev, score = BOS, BOS, 0.0
    for t, tok in enumerate(seq):
        score += tables[item, min(t, tables.shape[1] - 1), prev2, prev, tok]
        prev2, prev = prev, tok
    return score


def expected_extra(item, tokens, finished):
    prev = [BOS, *tokens][:len(tokens) + finished]
    return ToyDecoder.fingerprint(np.full(len(prev), item), np.arange(len(prev)), np.asarray(prev))


# -- reorder_state ---------------------------------------------------------------------------
def test_reorder_state_nested():
    Pair = namedtuple("Pair", "h c")
    h = em.Tensor(np.arange(12.0).reshape(3, 4))
    state = {"rnn": [Pair(h, em.Tensor(np.arange(3)))], "memory": (em.Tensor(np.arange(6.0).reshape(3, 2)), None)}
    out = reorder_state(state, [2, 0, 0, 1])
    assert isinstance(out, dict) and isinstance(out["rnn"], list) and isinstance(out["rnn"][0], Pair)
    np.testing.assert_array_equal(out["rnn"][0].h.numpy(), np.arange(12.0).reshape(3, 4)[[2, 0, 0, 1]])
    np.testing.assert_array_equal(out["rnn"][0].c.numpy(), [2, 0, 0, 1])
    np.testing.assert_array_equal(out["memory"][0].numpy(), np.arange(6.0).reshape(3, 2)[[2, 0, 0, 1]])
    assert out["memory"][1] is None and reorder_state(None, [0]) is None
    np.testing.assert_array_equal(reorder_state(h, em.Tensor(np.array([1]))).numpy(), h.numpy()[[1]])


def test_reorder_state_rejects_other_types():
    with pytest.raises(TypeError, match="reorder_state"):
        reorder_state({"a": "text"}, [0])


# -- greedy ----------------------------------------------------------------------------------
def test_greedy_follows_argmax_and_stops_at_eos():
    rng = np.random.default_rng(0)
    tables = random_tables(rng)
    decoder = ToyDecoder(tables)
    result = greedy_search(decoder, decoder.state([0, 1, 2]), BOS, EOS, max_len=6)
    for i in range(3):
        prev2, prev, score, tokens = BOS, BOS, 0.0, []
        for t in range(6):
            tok = int(np.argmax(tables[i, t, prev2, prev]))
            score += tables[i, t, prev2, prev, tok]
            if tok == EOS:
                break
            tokens.append(tok)
            prev2, prev = prev, tok
        assert result.tokens[i] == tokens
        assert result.finished[i] == (tok == EOS)
        np.testing.assert_allclose(result.scores[i], score, rtol=1e-12)
        np.testing.assert_array_equal(result.extras[i], expected_extra(i, tokens, tok == EOS))


def test_eos_handling_and_max_len_cut():
    V = 4
    tables = np.full((2, 5, V, V, V), np.log(0.1))
    tables[0, :, :, :, 2] = np.log(0.7)           # item 0 never ends: cut at max_len
    tables[1, :2, :, :, 3] = np.log(0.7)          # item 1: 3, 3, then eos
    tables[1, 2:, :, :, EOS] = np.log(0.7)
    decoder = ToyDecoder(tables)
    for search in (greedy_search, lambda *a, **kw: beam_search(*a, beam_width=1, **kw)):
        result = search(decoder, decoder.state([0, 1]), BOS, EOS, max_len=5)
        assert result.tokens == [[2] * 5, [3, 3]]
        assert result.finished.tolist() == [False, True]
        np.testing.assert_allclose(result.scores, [5 * np.log(0.7), 3 * np.log(0.7)])
        assert [e.shape for e in result.extras] == [(5, 3), (3, 3)]


def test_greedy_without_extra_and_stateless():
    table = log_normalize(np.array([[1.0, 2.0, 3.0], [2.0, 1.0, 5.0], [1.0, 1.0, 5.0]]))

    def step(tokens, state):
        return table[tokens.numpy()], None

    result = greedy_search(step, None, bos=1, eos=0, max_len=4, batch_size=2)
    assert result.extras is None and result.tokens == [[2, 2, 2, 2]] * 2
    with pytest.raises(ValueError, match="batch_size"):
        greedy_search(step, None, bos=1, eos=0, max_len=4)


# -- beam ------------------------------------------------------------------------------------
@pytest.mark.parametrize("alpha", [0.0, 0.7])
@pytest.mark.parametrize("seed", range(4))
def test_beam_width_one_equals_greedy(seed, alpha):
    rng = np.random.default_rng(seed)
    decoder = ToyDecoder(random_tables(rng, items=5, length=8, V=5, sharp=1.0))
    greedy = greedy_search(decoder, decoder.state(range(5)), BOS, EOS, max_len=8)
    beam = beam_search(decoder, decoder.state(range(5)), BOS, EOS, beam_width=1, max_len=8, length_penalty=alpha)
    assert beam.tokens == greedy.tokens
    np.testing.assert_array_equal(beam.scores, greedy.scores)
    np.testing.assert_array_equal(beam.finished, greedy.finished)
    for a, b in zip(beam.extras, greedy.extras, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("alpha", [0.0, 1.0])
@pytest.mark.parametrize("seed", range(3))
def test_wide_beam_finds_the_exhaustive_best(seed, alpha):
    rng = np.random.default_rng(10 + seed)
    tables = random_tables(rng, items=3, length=5, V=4, sharp=1.0)
    decoder = ToyDecoder(tables)
    max_len = 5
    result = beam_search(decoder, decoder.state(range(3)), BOS, EOS, beam_width=4 ** max_len, max_len=max_len,
                         length_penalty=alpha)
    for i in range(3):
        norm, tokens, score = brute_force(tables, i, max_len, alpha)
        assert result.tokens[i] == tokens and result.finished[i]
        np.testing.assert_allclose(result.scores[i], score, rtol=1e-12)
        np.testing.assert_allclose(result.hypotheses[i][0].normalized_score, norm, rtol=1e-12)


def constructed(cases):
    """One item's position-free table from {previous token: {next token: probability}} (V = 4)."""
    table = np.full((4, 4), 1e-9)
    for prev, row in cases.items():
        for tok, p in row.items():
            table[prev, tok] = p
    return ToyDecoder(np.broadcast_to(log_normalize(table), (1, 1, 4, 4, 4)))


def test_beam_beats_greedy_when_greedy_is_suboptimal():
    # greedy takes 2 (0.6) then must end at 0.34: 0.204; beam finds 3 (0.4) then eos at 0.99: 0.396
    decoder = constructed({BOS: {2: 0.6, 3: 0.4}, 2: {EOS: 0.34, 2: 0.33, 3: 0.33}, 3: {EOS: 0.99, 2: 0.01}})
    greedy = greedy_search(decoder, decoder.state([0]), BOS, EOS, max_len=4)
    beam = beam_search(decoder, decoder.state([0]), BOS, EOS, beam_width=2, max_len=4)
    assert greedy.tokens == [[2]] and beam.tokens == [[3]]
    assert beam.scores[0] > greedy.scores[0]
    np.testing.assert_allclose(beam.scores[0], np.log(0.4 * 0.99), rtol=1e-6)


def test_length_normalisation_changes_the_choice():
    # [] eos: 0.5 (length 1);  [2, 3] eos: 0.5 * 0.9 * 0.9 = 0.405 (length 3): raw prefers the short one,
    # per-token (alpha = 1: -0.693 vs -0.301) the long one
    decoder = constructed({BOS: {EOS: 0.5, 2: 0.5}, 2: {3: 0.9, EOS: 0.05, 2: 0.05}, 3: {EOS: 0.9, 2: 0.05, 3: 0.05}})
    plain = beam_search(decoder, decoder.state([0]), BOS, EOS, beam_width=3, max_len=6, length_penalty=0.0)
    normed = beam_search(decoder, decoder.state([0]), BOS, EOS, beam_width=3, max_len=6, length_penalty=1.0)
    assert plain.tokens == [[]] and normed.tokens == [[2, 3]]
    np.testing.assert_allclose(plain.scores[0], np.log(0.5), rtol=1e-6)
    np.testing.assert_allclose(normed.scores[0], np.log(0.405), rtol=1e-6)
    np.testing.assert_allclose(normed.hypotheses[0][0].normalized_score, np.log(0.405) / 3, rtol=1e-6)


@pytest.mark.parametrize("alpha", [0.0, 0.8])
def test_batch_decoding_equals_one_item_at_a_time(alpha):
    rng = np.random.default_rng(5)
    decoder = ToyDecoder(random_tables(rng, items=4, length=7, V=6, sharp=1.0))
    batch = beam_search(decoder, decoder.state(range(4)), BOS, EOS, beam_width=3, max_len=7, length_penalty=alpha,
                        n_best=3)
    for i in range(4):
        alone = beam_search(decoder, decoder.state([i]), BOS, EOS, beam_width=3, max_len=7, length_penalty=alpha,
                            n_best=3)
        assert [h.tokens for h in batch.hypotheses[i]] == [h.tokens for h in alone.hypotheses[0]]
        assert [h.score for h in batch.hypotheses[i]] == [h.score for h in alone.hypotheses[0]]
        np.testing.assert_array_equal(batch.extras[i], alone.extras[0])


def test_n_best_are_ranked_and_extras_follow_each_hypothesis():
    rng = np.random.default_rng(7)
    tables = random_tables(rng, items=3, length=6, V=5, sharp=1.0)
    decoder = ToyDecoder(tables)
    result = beam_search(decoder, decoder.state(range(3)), BOS, EOS, beam_width=4, max_len=6, length_penalty=0.5,
                         n_best=4)
    for i, hypotheses in enumerate(result.hypotheses):
        assert len(hypotheses) == 4 and hypotheses[0].tokens == result.tokens[i]
        finished = [h.normalized_score for h in hypotheses if h.finished]
        assert finished == sorted(finished, reverse=True)
        assert len({tuple(h.tokens) for h in hypotheses}) == 4
        for h in hypotheses:
            np.testing.assert_array_equal(h.extra, expected_extra(i, h.tokens, h.finished))
            assert h.length == len(h.tokens) + h.finished
            score = sequence_score(tables, i, [*h.tokens, EOS][:h.length])
            np.testing.assert_allclose(h.score, score, rtol=1e-12)
            np.testing.assert_allclose(h.normalized_score, score / h.length ** 0.5, rtol=1e-12)


def test_beam_reorders_a_real_recurrent_state():
    em.manual_seed(0)
    V, H = 7, 8
    embed, cell, out = em.nn.Embedding(V, H), em.nn.GRUCell(H, H), em.nn.Linear(H, V)

    def step(tokens, state):
        h = cell(embed(tokens), state["h"])
        return em.nn.functional.log_softmax(out(h), dim=-1), {"h": h}

    h0 = em.randn(3, H)
    batch = beam_search(step, {"h": h0}, bos=1, eos=0, beam_width=3, max_len=6, length_penalty=0.6)
    for i in range(3):
        alone = beam_search(step, {"h": h0[i:i + 1]}, bos=1, eos=0, beam_width=3, max_len=6, length_penalty=0.6)
        assert batch.tokens[i] == alone.tokens[0]
        np.testing.assert_allclose(batch.scores[i], alone.scores[0], rtol=1e-5)
    assert batch.extras is None


def test_beam_search_runs_without_grad():
    seen = []

    def step(tokens, state):
        seen.append(em.is_grad_enabled())
        return np.log(np.full((tokens.shape[0], 3), 1 / 3)), state

    beam_search(step, em.Tensor(np.zeros((2, 1)), requires_grad=True), bos=1, eos=0, beam_width=2, max_len=3)
    greedy_search(step, em.Tensor(np.zeros((2, 1)), requires_grad=True), bos=1, eos=0, max_len=3)
    assert seen and not any(seen)


def test_bad_arguments_are_named():
    decoder = ToyDecoder(random_tables(np.random.default_rng(0)))
    state = decoder.state([0])
    with pytest.raises(ValueError, match="beam_width"):
        beam_search(decoder, state, BOS, EOS, beam_width=0)
    with pytest.raises(ValueError, match="n_best"):
        beam_search(decoder, state, BOS, EOS, beam_width=2, n_best=3)
    with pytest.raises(ValueError, match="length_penalty"):
        beam_search(decoder, state, BOS, EOS, length_penalty=-1.0)
    with pytest.raises(ValueError, match="max_len"):
        greedy_search(decoder, state, BOS, EOS, max_len=0)
    with pytest.raises(ValueError, match=r"log_probs should have shape \(2, V\)"):
        beam_search(lambda t, s: (np.zeros(3), s), state, BOS, EOS, beam_width=2)


def test_no_premature_stop_under_length_normalisation():
    # step 1: eos at 0.6 finishes with -0.51; the live beams (0.2 each) would look beaten by their
    # current score / length, yet [2, 2, 2, 2] eos (0.2 · 0.999^4, length 5) reaches -0.32
    tables = np.full((1, 6, 4, 4, 4), 1e-4)
    tables[0, 0, :, :, EOS] = 0.6
    tables[0, 0, :, :, 2:] = 0.2
    tables[0, 1:4, :, :, 2] = 1.0
    tables[0, 4:, :, :, EOS] = 1.0
    tables = log_normalize(tables)
    decoder = ToyDecoder(tables)
    result = beam_search(decoder, decoder.state([0]), BOS, EOS, beam_width=2, max_len=6, length_penalty=1.0)
    norm, tokens, score = brute_force(tables, 0, 6, 1.0)
    assert result.tokens == [tokens] and len(tokens) == 4
    np.testing.assert_allclose(result.hypotheses[0][0].normalized_score, norm, rtol=1e-12)
