"""BLEU: corpus and sentence scores against sacrebleu (tokenize='none'), hand examples, errors."""
import math
import random

import pytest
import sacrebleu

from ember.text.bleu import BLEUScore, corpus_bleu, sentence_bleu

SMOOTHS = ["none", "exp", "floor", "add-k"]


# -- helpers -------------------------------------------------------------------------------
def random_corpus(seed: int, n: int = 40, vocab: int = 30, max_len: int = 14):
    """Hypotheses that copy, drop and replace tokens of a reference (so 3- and 4-grams match),
    1–3 references of varying length each, and some empty or very short hypotheses."""
    rng = random.Random(seed)
    words = [f"w{k}" for k in range(vocab)]
    hyps, refs = [], []
    for _ in range(n):
        rs = [[rng.choice(words) for _ in range(rng.randint(1, max_len))] for _ in range(rng.randint(1, 3))]
        kind = rng.random()
        if kind < 0.1:
            hyp = []
        elif kind < 0.25:
            hyp = [rng.choice(words) for _ in range(rng.randint(1, 3))]
        else:
            hyp = [t if rng.random() < 0.7 else rng.choice(words) for t in rng.choice(rs) if rng.random() < 0.9]
            hyp += [rng.choice(words) for _ in range(rng.randint(0, 3))]
        hyps.append(hyp)
        refs.append(rs)
    return hyps, refs


def sacre_corpus(hyps, refs, smooth, smooth_value=None, effective_order=False, max_n=4):
    """sacrebleu on the space-joined tokens; our per-hypothesis layout transposed into its
    reference streams, padded with None where a hypothesis has fewer references."""
    k = max(len(rs) for rs in refs)
    streams = [[" ".join(rs[j]) if j < len(rs) else None for rs in refs] for j in range(k)]
    metric = sacrebleu.BLEU(tokenize="none", smooth_method=smooth, smooth_value=smooth_value,
                            effective_order=effective_order, max_ngram_order=max_n, force=True)
    return metric.corpus_score([" ".join(h) for h in hyps], streams)


def assert_same(ours: BLEUScore, theirs):
    assert ours.score == pytest.approx(theirs.score, rel=1e-12, abs=1e-12)
    assert float(ours) == ours.score
    assert list(ours.precisions) == pytest.approx(list(theirs.precisions), rel=1e-12, abs=1e-12)
    assert list(ours.counts) == list(theirs.counts)
    assert list(ours.totals) == list(theirs.totals)
    assert ours.bp == pytest.approx(theirs.bp, rel=1e-12, abs=0)
    assert (ours.sys_len, ours.ref_len) == (theirs.sys_len, theirs.ref_len)
    assert str(ours) == repr(theirs)


# -- against sacrebleu ---------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("smooth", SMOOTHS)
@pytest.mark.parametrize("effective_order", [False, True])
def test_corpus_bleu_matches_sacrebleu_on_random_corpora(seed, smooth, effective_order):
    hyps, refs = random_corpus(seed)
    ours = corpus_bleu(hyps, refs, smooth=smooth, effective_order=effective_order)
    theirs = sacre_corpus(hyps, refs, smooth, effective_order=effective_order)
    assert 0 < theirs.score < 100   # a case that exercises every term
    assert_same(ours, theirs)


@pytest.mark.parametrize("max_n", [1, 2, 3, 5])
def test_corpus_bleu_other_orders_match_sacrebleu(max_n):
    hyps, refs = random_corpus(100 + max_n)
    assert_same(corpus_bleu(hyps, refs, max_n=max_n, smooth="none"),
                sacre_corpus(hyps, refs, "none", max_n=max_n))


@pytest.mark.parametrize("smooth, value", [("floor", 0.01), ("floor", 0.5), ("add-k", 2), ("add-k", 0.5)])
def test_smooth_values_match_sacrebleu(smooth, value):
    # short hypotheses only, so that some orders have no match and the smoothing matters
    hyps, refs = random_corpus(7, n=6, max_len=5)
    ours = corpus_bleu(hyps, refs, smooth=smooth, smooth_value=value, effective_order=True)
    assert_same(ours, sacre_corpus(hyps, refs, smooth, smooth_value=value, effective_order=True))


@pytest.mark.parametrize("smooth", SMOOTHS)
def test_sentence_bleu_matches_sacrebleu_sentence_by_sentence(smooth):
    hyps, refs = random_corpus(11, n=60)
    for hyp, rs in zip(hyps, refs, strict=True):
        ours = sentence_bleu(hyp, rs, smooth=smooth)
        theirs = sacrebleu.sentence_bleu(" ".join(hyp), [" ".join(r) for r in rs], smooth_method=smooth,
                                         tokenize="none")
        assert_same(ours, theirs)


@pytest.mark.parametrize("hyp", [[], ["w1"], ["w1", "w2"], ["w1", "w2", "w3"], ["w9", "w9", "w9"]])
@pytest.mark.parametrize("smooth", SMOOTHS)
def test_empty_and_short_hypotheses(hyp, smooth):
    refs = [["w1", "w2", "w3", "w4", "w5"], ["w2", "w3"]]
    theirs = sacrebleu.sentence_bleu(" ".join(hyp), [" ".join(r) for r in refs], smooth_method=smooth,
                                     tokenize="none")
    assert_same(sentence_bleu(hyp, refs, smooth=smooth), theirs)
    assert_same(corpus_bleu([hyp], [refs], smooth=smooth), sacre_corpus([hyp], [refs], smooth))


# -- known answers -------------------------------------------------------------------------
def test_hypothesis_equal_to_a_reference_scores_100():
    hyp = "the quick brown fox jumps over the lazy dog".split()
    refs = [["a", "fox"], hyp, "the slow brown fox".split()]
    for result in (sentence_bleu(hyp, refs), corpus_bleu([hyp, hyp], [refs, refs], smooth="none")):
        assert float(result) == pytest.approx(100.0, rel=1e-12)
        assert result.bp == 1.0 and list(result.precisions) == [100.0] * 4


def test_no_overlap_scores_0():
    hyp, refs = ["x", "y", "z", "u", "v"], [["a", "b", "c", "d", "e"]]
    for smooth in SMOOTHS:
        result = sentence_bleu(hyp, refs, smooth=smooth)
        assert result.score == 0.0 and list(result.counts) == [0, 0, 0, 0]
        assert corpus_bleu([hyp], [refs], smooth=smooth).score == 0.0


def test_hand_computed_clipping_and_brevity_penalty():
    hyp = ["the", "the", "the", "cat"]
    refs = [["the", "cat", "sat", "on", "the", "mat"], ["a", "cat", "sat", "down", "here"]]
    r = corpus_bleu([hyp], [refs], max_n=2, smooth="none")
    # "the" x3 clipped to 2 (its max count in one reference); bigrams: "the cat" matches, "the the" twice not
    assert (list(r.counts), list(r.totals)) == ([3, 1], [4, 3])
    # c = 4, closest reference length 5: BP = exp(1 - 5/4)
    assert (r.sys_len, r.ref_len) == (4, 5)
    assert r.bp == pytest.approx(math.exp(-0.25), rel=1e-15)
    assert r.brevity_penalty == r.bp and r.ratio == pytest.approx(0.8)
    assert r.score == pytest.approx(100 * math.exp(-0.25) * math.sqrt(3 / 4 * 1 / 3), rel=1e-12)


@pytest.mark.parametrize("smooth, p3, p4", [("exp", 1 / (2 * 3), 1 / (4 * 2)), ("floor", 0.1 / 3, 0.1 / 2),
                                              ("add-k", 1 / 4, 1 / 3)])
def test_hand_computed_smoothing_of_orders_without_a_match(smooth, p3, p4):
    r = sentence_bleu(["a", "b", "x", "y", "z"], [["a", "b", "c", "d", "e"]], smooth=smooth)
    # matches 2/5, 1/4, 0/3, 0/2; add-k adds k=1 to matches and totals of orders 2..4
    p2 = 2 / 5 if smooth == "add-k" else 1 / 4
    expected = [2 / 5, p2, p3, p4]
    assert list(r.precisions) == pytest.approx([100 * p for p in expected], rel=1e-12)
    assert r.score == pytest.approx(100 * math.prod(expected) ** 0.25, rel=1e-12)


def test_clip_takes_max_over_references_not_sum():
    r = sentence_bleu(["a", "a"], [["a", "b"], ["a", "c"]], max_n=1)
    assert list(r.counts) == [1] and r.precisions[0] == 50.0


def test_closest_reference_length_tie_takes_the_shorter():
    hyp = ["a", "b", "c", "d"]
    for refs in ([["a", "b", "c"], ["a", "b", "c", "d", "e"]], [["a", "b", "c", "d", "e"], ["a", "b", "c"]]):
        r = sentence_bleu(hyp, refs)
        assert r.ref_len == 3 and r.bp == 1.0


def test_corpus_sums_statistics_before_the_mean():
    hyps = [["a", "b", "c", "d"], ["x", "y"]]
    refs = [[["a", "b", "c", "d"]], [["x", "y", "z", "w", "v", "u"]]]
    r = corpus_bleu(hyps, refs, smooth="none")
    assert (r.sys_len, r.ref_len) == (6, 10)
    assert list(r.counts) == [6, 4, 2, 1] and list(r.totals) == [6, 4, 2, 1]
    assert r.score == pytest.approx(100 * math.exp(1 - 10 / 6), rel=1e-12)


def test_integer_token_ids_give_the_same_score_as_strings():
    hyps, refs = random_corpus(3)
    ids = [[int(t[1:]) for t in h] for h in hyps]
    ref_ids = [[[int(t[1:]) for t in r] for r in rs] for rs in refs]
    assert corpus_bleu(ids, ref_ids) == corpus_bleu(hyps, refs)


def test_long_sentences_are_linear_not_quadratic():
    rng = random.Random(0)
    ref = [rng.randrange(50) for _ in range(20000)]
    hyp = [t if rng.random() < 0.8 else -1 for t in ref]
    r = corpus_bleu([hyp] * 5, [[ref, ref[::-1]]] * 5, smooth="none")
    assert r.sys_len == 100000 and 0 < r.score < 100


# -- errors --------------------------------------------------------------------------------
def test_mismatched_lengths_raise():
    with pytest.raises(ValueError, match=r"corpus_bleu: 2 hypotheses but 1 reference lists"):
        corpus_bleu([["a"], ["b"]], [[["a"]]])


@pytest.mark.parametrize("call, err, msg", [
    (lambda: corpus_bleu(["a b c"], [[["a", "b", "c"]]]), TypeError, r"hypotheses\[0\].*list of tokens"),
    (lambda: corpus_bleu([["a", "b"]], [["a", "b"]]), TypeError, r"references\[0\].*wrap a single reference"),
    (lambda: corpus_bleu([["a"]], [[]]), ValueError, r"references\[0\].*at least one reference"),
    (lambda: corpus_bleu([], []), ValueError, "empty corpus"),
    (lambda: corpus_bleu("a b", [[["a"]]]), TypeError, "hypotheses must be a list"),
    (lambda: corpus_bleu([["a"]], [[["a"]]], smooth="add-one"), ValueError, "unknown smooth 'add-one'"),
    (lambda: corpus_bleu([["a"]], [[["a"]]], max_n=0), ValueError, "max_n must be a positive integer, got 0"),
    (lambda: sentence_bleu(["a"], [["a"]], smooth="floor", smooth_value=-1), ValueError, "smooth_value"),
    (lambda: sentence_bleu(["a"], ["a b"]), TypeError, r"sentence_bleu: references.*wrap"),
    (lambda: sentence_bleu("a b", [["a"]]), TypeError, "sentence_bleu: hypothesis"),
])
def test_bad_input_raises_clear_errors(call, err, msg):
    with pytest.raises(err, match=msg):
        call()
