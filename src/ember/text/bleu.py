"""BLEU (Papineni et al., 2002) on token lists, computed exactly as sacrebleu computes it.

    BLEU = BP · exp( (1/N) Σ_{n=1..N} log p_n ),      BP = 1 if c ≥ r else exp(1 − r/c)

p_n is the clipped n-gram precision: every hypothesis n-gram counts at most as often as it
occurs in the reference that contains it most often, summed over the corpus and divided by
the number of hypothesis n-grams. c is the total hypothesis length and r the sum, over the
hypotheses, of the reference length closest to each hypothesis's length (ties → the shorter
reference). Scores and precisions are on sacrebleu's 0–100 scale.

Layout of the references: ``references[i]`` is the list of references of hypothesis ``i``
(one or more token lists, and their number may vary from one hypothesis to the next).
sacrebleu takes the transposed layout — reference *streams*, ``refs[k][i]`` = k-th reference
of hypothesis i, padded with ``None`` where a hypothesis has fewer references; convert with
``[[r for r in rs if r is not None] for rs in zip(*streams)]``.

Smoothing (Chen & Cherry, 2014), applied only to orders with no match, as sacrebleu does:
``"none"``; ``"floor"`` p_n = smooth_value / total_n (default 0.1); ``"add-k"`` adds
smooth_value (default 1) to the matches and totals of the orders n ≥ 2; ``"exp"`` (NIST,
sacrebleu's default) p_n = 1 / (2^k · total_n) for the k-th order without a match.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["BLEUScore", "corpus_bleu", "sentence_bleu"]

SMOOTH_DEFAULTS = {"none": None, "floor": 0.1, "add-k": 1, "exp": None}
_LOG_ZERO = -9999999999  # sacrebleu's floor for log(0): a zero precision sends the score to 0


# -- the result ----------------------------------------------------------------------------
@dataclass(frozen=True)
class BLEUScore:
    """A BLEU result, field for field like sacrebleu's ``BLEUScore``; ``float(result)`` is the score.

    ``score`` (0–100), ``counts[n-1]`` clipped matches and ``totals[n-1]`` hypothesis n-grams
    of order n (as used in the formula, so including any add-k), ``precisions`` (0–100),
    ``bp`` the brevity penalty, ``sys_len`` c and ``ref_len`` r.

    >>> r = corpus_bleu([["a", "b", "c", "d"]], [[["a", "b", "c", "d"]]])
    >>> round(float(r), 6), r.precisions, r.bp
    (100.0, (100.0, 100.0, 100.0, 100.0), 1.0)
    """

    score: float
    counts: tuple
    totals: tuple
    precisions: tuple
    bp: float
    sys_len: int
    ref_len: int

    @property
    def brevity_penalty(self) -> float:
        """The brevity penalty, exp(1 − r/c) when c < r, else 1 (an alias of ``bp``)."""
        return self.bp

    @property
    def ratio(self) -> float:
        """sys_len / ref_len (0 when there is no reference token)."""
        return self.sys_len / self.ref_len if self.ref_len else 0

    def __float__(self) -> float:
        return float(self.score)

    def __str__(self) -> str:
        precisions = "/".join(f"{p:.1f}" for p in self.precisions)
        return (f"BLEU = {self.score:.2f} {precisions} (BP = {self.bp:.3f} ratio = {self.ratio:.3f} "
                f"hyp_len = {self.sys_len:d} ref_len = {self.ref_len:d})")


# -- sufficient statistics -----------------------------------------------------------------
def _ngrams(tokens: list, max_n: int) -> Counter:
    """Counts of every n-gram (as a tuple) of orders 1..max_n: O(len · max_n)."""
    return Counter(tuple(tokens[i:i + n]) for n in range(1, max_n + 1) for i in range(len(tokens) - n + 1))


def _closest_ref_len(hyp_len: int, ref_lens: list) -> int:
    """The reference length closest to the hypothesis length; on a tie the shorter (as sacrebleu)."""
    return min(ref_lens, key=lambda r: (abs(hyp_len - r), r))


def _segment_stats(hyp: list, refs: list, max_n: int) -> tuple:
    """(hyp_len, closest ref_len, clipped matches per order, hypothesis n-grams per order)."""
    ref_max = Counter()
    for ref in refs:
        ref_max |= _ngrams(ref, max_n)   # `|` keeps the max count over the references: the clip
    correct, total = [0] * max_n, [0] * max_n
    for gram, count in _ngrams(hyp, max_n).items():
        total[len(gram) - 1] += count
        correct[len(gram) - 1] += min(count, ref_max[gram])
    return len(hyp), _closest_ref_len(len(hyp), [len(r) for r in refs]), correct, total


def _compute_bleu(correct: list, total: list, sys_len: int, ref_len: int, smooth: str, smooth_value,
                  effective_order: bool) -> BLEUScore:
    """The score from corpus statistics, step for step as sacrebleu's ``BLEU.compute_bleu``.

    The operations and their order match sacrebleu's so that the floats agree to the last bit.
    """
    max_n = len(correct)
    bp = 1.0
    if sys_len < ref_len:
        bp = math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0
    precisions = [0.0] * max_n
    if not any(correct):
        return BLEUScore(0.0, tuple(correct), tuple(total), tuple(precisions), bp, sys_len, ref_len)

    mteval, eff_order = 1.0, max_n
    for n in range(1, max_n + 1):
        if smooth == "add-k" and n > 1:
            correct[n - 1] += smooth_value
            total[n - 1] += smooth_value
        if total[n - 1] == 0:   # no hypothesis n-grams of this order or higher
            break
        if effective_order:
            eff_order = n
        if correct[n - 1] == 0:
            if smooth == "exp":
                mteval *= 2
                precisions[n - 1] = 100.0 / (mteval * total[n - 1])
            elif smooth == "floor":
                precisions[n - 1] = 100.0 * smooth_value / total[n - 1]
        else:
            precisions[n - 1] = 100.0 * correct[n - 1] / total[n - 1]

    log_sum = sum(math.log(p) if p != 0.0 else _LOG_ZERO for p in precisions[:eff_order])
    score = bp * math.exp(log_sum / eff_order)
    return BLEUScore(score, tuple(correct), tuple(total), tuple(precisions), bp, sys_len, ref_len)


# -- validation ----------------------------------------------------------------------------
def _tokens(x, what: str) -> list:
    if isinstance(x, str) or not isinstance(x, Sequence):
        raise TypeError(f"{what}: expected a list of tokens, got {type(x).__name__} {x!r:.60}; "
                        f"tokenise first (e.g. text.split())")
    return list(x)


def _reference_list(refs, what: str) -> list:
    if isinstance(refs, str) or not isinstance(refs, Sequence):
        raise TypeError(f"{what}: expected a list of reference token lists, got {type(refs).__name__}")
    if len(refs) == 0:
        raise ValueError(f"{what}: every hypothesis needs at least one reference, got none")
    if isinstance(refs[0], str):
        raise TypeError(f"{what}: expected a list of reference token lists, got a token list {refs!r:.60}; "
                        f"wrap a single reference in a list: [ref]")
    return [_tokens(r, f"{what}[{k}]") for k, r in enumerate(refs)]


def _check_options(name: str, max_n: int, smooth: str, smooth_value):
    if isinstance(max_n, bool) or not isinstance(max_n, int) or max_n < 1:
        raise ValueError(f"{name}: max_n must be a positive integer, got {max_n!r}")
    if smooth not in SMOOTH_DEFAULTS:
        raise ValueError(f"{name}: unknown smooth {smooth!r}; expected one of {sorted(SMOOTH_DEFAULTS)}")
    if smooth_value is None:
        return SMOOTH_DEFAULTS[smooth]
    if smooth_value < 0:
        raise ValueError(f"{name}: smooth_value must be non-negative, got {smooth_value!r}")
    return smooth_value


# -- the public functions ------------------------------------------------------------------
def corpus_bleu(hypotheses, references, max_n: int = 4, smooth: str = "exp", smooth_value=None,
                effective_order: bool = False) -> BLEUScore:
    """Corpus BLEU of token-list hypotheses against one or more references each (0–100).

    Statistics (clipped matches, n-gram totals, c and r) are summed over the corpus before the
    geometric mean and the brevity penalty are taken — the corpus score is not a mean of
    sentence scores. Equal to ``sacrebleu.BLEU(tokenize="none", smooth_method=smooth,
    smooth_value=smooth_value, max_ngram_order=max_n, effective_order=effective_order)``
    on the space-joined tokens (whose defaults, "exp" and no effective order, are also ours).

    Args:
        hypotheses: N token lists (tokens: any hashable — strings or integer ids).
        references: N lists; ``references[i]`` holds the reference token lists of hypothesis i
            (1 or more, the number may vary). sacrebleu's streams are the transpose (see the module).
        max_n: highest n-gram order N.
        smooth: "none", "floor", "add-k" or "exp" (see the module docstring).
        smooth_value: the floor / k (None: 0.1 for floor, 1 for add-k).
        effective_order: average only over the orders for which the hypotheses have n-grams.

    >>> hyps = [["the", "cat", "sat", "on", "the", "mat"]]
    >>> refs = [[["the", "cat", "sat", "on", "a", "mat"], ["a", "cat", "was", "on", "the", "mat"]]]
    >>> round(float(corpus_bleu(hyps, refs)), 2)
    67.56
    """
    smooth_value = _check_options("corpus_bleu", max_n, smooth, smooth_value)
    if isinstance(hypotheses, str) or not isinstance(hypotheses, Sequence):
        raise TypeError(f"corpus_bleu: hypotheses must be a list of token lists, got {type(hypotheses).__name__}")
    if isinstance(references, str) or not isinstance(references, Sequence):
        raise TypeError(f"corpus_bleu: references must be a list (one entry per hypothesis) of lists of "
                        f"reference token lists, got {type(references).__name__}")
    if len(hypotheses) != len(references):
        raise ValueError(f"corpus_bleu: {len(hypotheses)} hypotheses but {len(references)} reference lists; "
                         f"references[i] must hold the references of hypothesis i (sacrebleu's reference "
                         f"streams must be transposed)")
    if len(hypotheses) == 0:
        raise ValueError("corpus_bleu: BLEU of an empty corpus is undefined; got no hypotheses")

    sys_len = ref_len = 0
    correct, total = [0] * max_n, [0] * max_n
    for i, (hyp, refs) in enumerate(zip(hypotheses, references, strict=True)):
        c, r, matches, grams = _segment_stats(_tokens(hyp, f"corpus_bleu: hypotheses[{i}]"),
                                              _reference_list(refs, f"corpus_bleu: references[{i}]"), max_n)
        sys_len, ref_len = sys_len + c, ref_len + r
        correct = [a + b for a, b in zip(correct, matches, strict=True)]
        total = [a + b for a, b in zip(total, grams, strict=True)]
    return _compute_bleu(correct, total, sys_len, ref_len, smooth, smooth_value, effective_order)


def sentence_bleu(hypothesis, references, max_n: int = 4, smooth: str = "exp", smooth_value=None,
                  effective_order: bool = True) -> BLEUScore:
    """BLEU of one token-list hypothesis against its reference token lists (0–100).

    The corpus formula on a corpus of one sentence, with sacrebleu's ``sentence_bleu`` defaults:
    "exp" smoothing and the effective order (a hypothesis shorter than N is averaged over the
    orders it has, instead of scoring 0). Equal to ``sacrebleu.sentence_bleu(" ".join(hyp),
    [" ".join(r) for r in refs], tokenize="none", ...)``.

    Args:
        hypothesis: a token list.
        references: a list of one or more reference token lists.
        max_n, smooth, smooth_value, effective_order: as in :func:`corpus_bleu`.

    >>> round(float(sentence_bleu(["a", "cat", "sat"], [["a", "cat", "sat", "down"]])), 2)
    71.65
    """
    smooth_value = _check_options("sentence_bleu", max_n, smooth, smooth_value)
    hyp = _tokens(hypothesis, "sentence_bleu: hypothesis")
    refs = _reference_list(references, "sentence_bleu: references")
    c, r, correct, total = _segment_stats(hyp, refs, max_n)
    return _compute_bleu(correct, total, c, r, smooth, smooth_value, effective_order)
