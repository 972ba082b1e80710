"""word2vec with gensim's interface: ``Word2Vec`` trains, ``KeyedVectors`` holds and queries the vectors.

``KeyedVectors`` lives in ``ember.text.keyed_vectors`` and is re-exported here, where gensim users look for it.

Skip-gram (the centre word w predicts each context word c) and CBOW (the sum or mean of the
context vectors predicts w), trained by negative sampling — maximise log σ(u_w·v) + Σ_k log σ(−u_k·v)
over k negatives drawn from the unigram^0.75 table — or, with ``hs=0, negative=0``, by the full
softmax over the vocabulary (O(V) per pair, for small vocabularies). Frequent words are subsampled,
the window is dynamic (drawn in 1..window per centre word) and the learning rate decays linearly
from ``alpha`` to ``min_alpha`` over all words of all epochs.

Training is vectorised mini-batch SGD over runs of ``batch_words`` consecutive tokens: the rows of
the run (plus a halo of ``window`` tokens either side) are gathered once, every (centre, offset)
pair is scored with batched matrix products, the input-side gradients are shift-added back per
token position (a loop over the 2·window offsets, never over pairs) and finally scatter-added into
the two matrices with ``scatter_add_rows``. All pairs of a batch read the vectors as they were at
its start (Hogwild-style staleness, as gensim's threads have); with ``workers`` > 1, forked processes
train interleaved batches into shared matrices. Skip-gram works on the live
(centre, context) pairs only. On the NumPy path every 16 consecutive pairs share one draw of k
negatives (BlazingText shares them per centre): each pair still sees k unigram^0.75 negatives,
and the output rows are gathered and scattered once per group instead of once per pair. With
numba installed the same batch update runs as one compiled loop (``word2vec_compiled``) that
draws negatives per pair, as gensim does.
"""
from __future__ import annotations

import mmap
import multiprocessing as mp
from itertools import chain

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ember.backend import compiled_kernels
from ember.ops.activation import sigmoid_array
from ember.ops.embedding import scatter_add_rows
from ember.text.keyed_vectors import KeyedVectors

__all__ = ["AliasSampler", "KeyedVectors", "Word2Vec", "keep_probability", "linear_alpha"]


# ---------------------------------------------------------------- schedules and sampling

def keep_probability(counts, sample, total=None):
    """word2vec's subsampling keep probability, min(1, (√(f/t) + 1)·t/f) with t = sample·total.

    ``counts`` holds each word's corpus frequency f; ``total`` defaults to their sum; ``sample=0``
    keeps every word.

    >>> keep_probability(np.array([1000, 10]), 1e-3).round(3)
    array([0.033, 1.   ])
    """
    counts = np.asarray(counts, dtype=np.float64)
    if not sample:
        return np.ones_like(counts)
    t = sample * (counts.sum() if total is None else total)
    return np.minimum(1.0, (np.sqrt(counts / t) + 1.0) * t / counts)


def linear_alpha(alpha, min_alpha, progress):
    """The learning rate after a fraction ``progress`` ∈ [0, 1] of all training words:
    alpha − (alpha − min_alpha)·progress (never below min_alpha).

    >>> linear_alpha(0.025, 0.0001, 1.0)
    0.0001
    """
    return max(min_alpha, alpha - (alpha - min_alpha) * progress)


class AliasSampler:
    """Draws from a discrete distribution in O(1) per draw by Walker's alias method.

    The n outcomes are n equal columns: column i keeps outcome i with probability ``keep[i]`` and
    otherwise gives its ``alias[i]`` (Vose's construction fills them). One uniform u per draw picks
    the column floor(u·n) and decides with the fraction left, u·n − floor(u·n). word2vec draws its
    negatives so: a table lookup per draw, where a binary search over the cumulative table (the
    C tool's and gensim's way) cost 70 ns a draw and, with a draw per pair, half of training.

    >>> sampler = AliasSampler(np.array([0.5, 0.25, 0.25]))
    >>> sampler.draw(np.array([0.1, 0.5, 0.9]))
    array([0, 1, 2])
    """

    def __init__(self, weights):
        weights = np.asarray(weights, dtype=np.float64)
        n = len(weights)
        scaled = weights * (n / weights.sum())  # each column holds mass 1
        self.keep, self.alias = np.ones(n), np.arange(n)
        small, large = [i for i in range(n) if scaled[i] < 1.0], [i for i in range(n) if scaled[i] >= 1.0]
        while small and large:  # top up a light column with mass from a heavy one, which may become light
            s, g = small.pop(), large[-1]
            self.keep[s], self.alias[s] = scaled[s], g
            scaled[g] -= 1.0 - scaled[s]
            if scaled[g] < 1.0:
                small.append(large.pop())
        # columns left in either list hold mass 1 up to rounding: they keep their own outcome

    def draw(self, uniforms):
        """One outcome per uniform in [0, 1), in the uniforms' shape."""
        column = uniforms * len(self.keep)
        index = np.minimum(column.astype(np.int64), len(self.keep) - 1)  # u·n rounds to n for u near 1
        return np.where(column - index < self.keep[index], index, self.alias[index])


# ---------------------------------------------------------------- Word2Vec

# A row read more than this many times in one batch has its summed update scaled down to this many
# reads' worth: summing hundreds of stale updates of a frequent word diverges, where gensim's
# sequential updates would have saturated the sigmoid after a few. With several workers each gets
# its share, so that no more stale updates of a row are in flight than with one (at the full cap per
# worker, 2 workers diverged on a 16-word vocabulary in 3 runs of 30).
_MAX_UPDATES_PER_ROW = 16
# Skip-gram (centre, context) pairs that share one draw of negatives, per path; see
# Word2Vec._skipgram_negative. Sharing keeps the NumPy path's products large (one draw per pair runs
# it 6× slower); the compiled loop pays nothing per draw and draws per pair, as gensim does.
_PAIRS_PER_DRAW = {"numpy": 16, "compiled": 1}
# How much one pair's negative update counts toward its row's damping (_MAX_UPDATES_PER_ROW): at
# 0.5 training is stable on tiny vocabularies and, on the KJV, as accurate as gensim (0.346).
_NEGATIVE_READS_PER_PAIR = 0.5


def _damped_scatter(target, index, rows, cap, reads=None):
    """target[index[i]] += rows[i], each row's sum scaled by min(1, cap / its count).

    ``reads`` weighs each index in the count (a row standing for several updates); default 1.
    """
    index = index.ravel()
    counts = np.bincount(index, weights=None if reads is None else reads.ravel(), minlength=target.shape[0])
    scale = np.minimum(1.0, cap / np.maximum(counts, 1)).astype(target.dtype)
    rows = rows.reshape(len(index), -1) * scale[index][:, None]
    scatter_add_rows(target, index, rows)


def _shared_copy(a):
    """A copy of ``a`` in anonymous shared memory, which forked processes write in place."""
    buffer = mmap.mmap(-1, max(a.nbytes, 1))
    shared = np.frombuffer(buffer, dtype=a.dtype, count=a.size).reshape(a.shape)
    shared[...] = a
    return shared


class _Plan:
    """The batches of a training run: per epoch the subsampled token positions (each token kept
    with probability ``keep_prob``), cut into runs of ``batch_words``, each with its linearly
    decayed rate. Drawn once, so that every worker process trains its share of the same batches."""

    def __init__(self, ids, epochs, batch_words, alpha0, alpha1, keep_prob, rng):
        self.n_ids, self.epochs, self.batch_words, self.alphas = len(ids), epochs, batch_words, (alpha0, alpha1)
        self.keeps = [rng.random(len(ids)) < keep_prob[ids] for _ in range(epochs)]
        self.trained_words = int(sum(k.sum() for k in self.keeps))
        self.n_batches = sum(-(-int(k.sum()) // batch_words) for k in self.keeps)

    def _spans(self, epoch):
        """(start, end, progress) of the batches of ``epoch``: runs of ``batch_words`` kept tokens,
        progress being the fraction of the whole run done at the batch's first raw position."""
        raw_pos = np.flatnonzero(self.keeps[epoch])
        for s in range(0, len(raw_pos), self.batch_words):
            yield s, min(s + self.batch_words, len(raw_pos)), (epoch + raw_pos[s] / max(self.n_ids, 1)) / self.epochs

    def schedule(self):
        """(progress, learning rate) of every batch."""
        return [(p, linear_alpha(*self.alphas, p)) for epoch in range(self.epochs) for _, _, p in self._spans(epoch)]

    def batches(self, ids, sent):
        """(kept token ids, their sentence ids, start, end, rate) of every batch, in order."""
        for epoch, keep in enumerate(self.keeps):
            kept_ids, kept_sent = ids[keep], sent[keep]
            for s, e, progress in self._spans(epoch):
                yield kept_ids, kept_sent, s, e, linear_alpha(*self.alphas, progress)


def _compiled_kernels(compiled):
    """The numba kernels module for ``compiled`` (None: when ember's compiled kernels are in use,
    see ``ember.backend.compiled_kernels``; True: required; False: never), else None."""
    if compiled is False or (compiled is None and not compiled_kernels()):
        return None
    try:
        return _import_kernels()
    except ImportError as error:
        if compiled:
            raise ImportError("Word2Vec(compiled=True) needs numba: pip install 'ember[fast]'") from error
        return None


def _import_kernels():
    from ember.text import word2vec_compiled

    return word2vec_compiled


class Word2Vec:
    """word2vec trained by vectorised mini-batch SGD, with gensim's constructor and defaults.

    sg=1 skip-gram, sg=0 CBOW (``cbow_mean=1`` the mean of the context vectors, 0 their sum);
    ``negative`` > 0 negative sampling from counts^``ns_exponent``; ``hs=0, negative=0`` the full
    softmax; ``sample`` the subsampling threshold; ``window`` the largest dynamic window; the rate
    decays linearly from ``alpha`` to ``min_alpha``. ``batch_words`` consecutive tokens are trained
    as one vectorised batch, every update in it computed from the vectors at its start: smaller
    batches are closer to sequential SGD (better vectors), larger ones faster. The default 2000
    (gensim's 10000 sizes its worker jobs, not an update) keeps the analogy accuracy on the KJV
    Bible within 0.005 of gensim's; larger batches lose accuracy fast (10000 gave 0.26, 50000
    0.06; see benchmarks/word2vec.py). ``workers`` > 1 trains in that many forked processes sharing the
    two matrices (Hogwild, as gensim's threads), each on batches of batch_words / workers so that
    as many stale words are in flight as with one process; where the platform cannot fork, one
    process trains. As in gensim, only ``workers=1`` makes a seeded run reproducible.
    Hierarchical softmax (``hs=1``) is not implemented.
    ``compiled``: skip-gram with negative sampling runs its batch update as one numba loop when
    numba is installed (``pip install 'ember[fast]'``), the same update as the NumPy path, which
    ``compiled=False`` forces and the tests hold it equal to; ``compiled=True`` fails without
    numba; by default it is on unless the environment sets EMBER_COMPILED=0. CBOW and the full
    softmax always run on NumPy. The compiled loop draws each pair's negatives afresh, the NumPy
    path shares a draw among 16 pairs to keep its products large; on the KJV Bible
    (benchmarks/word2vec.py, one worker) the first trains 1.6× faster than the second, at analogy
    accuracy 0.350 against 0.324 (gensim: 0.353).
    As gensim does, CBOW with ``cbow_mean=0`` divides the error passed back to each context word
    by the context size, and ``cbow_mean=1`` does not.

    After training, ``wv`` holds the input vectors; ``syn1neg`` (negative sampling) or ``syn1``
    (softmax) the output vectors.

    >>> model = Word2Vec([["the", "cat", "sat"], ["the", "dog", "ran"]], vector_size=16, min_count=1)
    >>> model.wv.most_similar("cat", topn=2)
    """

    def __init__(self, sentences=None, vector_size=100, alpha=0.025, window=5, min_count=5, max_vocab_size=None,
                 sample=1e-3, seed=1, workers=3, min_alpha=0.0001, sg=0, hs=0, negative=5, ns_exponent=0.75,
                 cbow_mean=1, epochs=5, batch_words=2000, shrink_windows=True, compute_loss=False, compiled=None):
        if hs:
            raise NotImplementedError("Word2Vec: hierarchical softmax (hs=1) is not implemented; use negative > 0 "
                                      "or hs=0, negative=0 for the full softmax")
        for name, value in (("vector_size", vector_size), ("window", window), ("epochs", epochs),
                            ("batch_words", batch_words)):
            if int(value) < 1:
                raise ValueError(f"Word2Vec: {name} must be a positive integer, got {value}")
        self.vector_size, self.alpha, self.window, self.min_count = int(vector_size), alpha, int(window), min_count
        self.max_vocab_size, self.sample, self.seed, self.workers = max_vocab_size, sample, seed, workers
        self.min_alpha, self.sg, self.hs, self.negative = min_alpha, int(sg), hs, int(negative)
        self.ns_exponent, self.cbow_mean, self.epochs = ns_exponent, int(cbow_mean), int(epochs)
        self.batch_words, self.shrink_windows, self.compute_loss = int(batch_words), shrink_windows, compute_loss
        self._kernels = _compiled_kernels(compiled)
        self._kernel_scratch = None  # the compiled kernel's per-row arrays, made on first use
        self._pairs_per_draw = _PAIRS_PER_DRAW["compiled" if self.compiled else "numpy"]
        self._max_updates_per_row = _MAX_UPDATES_PER_ROW  # per worker; train() sets it
        self.wv = KeyedVectors(self.vector_size)
        self.random = np.random.default_rng(seed)
        self.alpha_schedule: list[tuple[float, float]] = []
        self.running_training_loss = 0.0
        if sentences is not None:
            sentences = [list(s) for s in sentences]
            self.build_vocab(sentences)
            self.train(sentences, total_examples=len(sentences), epochs=self.epochs)

    @property
    def compiled(self) -> bool:
        """Whether skip-gram with negative sampling runs the compiled (numba) kernel."""
        return self._kernels is not None

    def __repr__(self):
        return f"Word2Vec<vocab={len(self.wv)}, vector_size={self.vector_size}, alpha={self.alpha}>"

    # ------------------------------------------------------------ vocabulary

    def build_vocab(self, corpus_iterable):
        """Count the words, keep those seen ≥ min_count times (the max_vocab_size most frequent at
        most), sort by count (ties in first-seen order), and initialise the weights as gensim does:
        input rows uniform in ±0.5/vector_size, output rows zero."""
        counts: dict[str, int] = {}
        for sentence in corpus_iterable:
            for w in sentence:
                counts[w] = counts.get(w, 0) + 1
        self.corpus_count = sum(counts.values())
        words = sorted((w for w, c in counts.items() if c >= self.min_count), key=counts.get, reverse=True)
        words = words[:self.max_vocab_size] if self.max_vocab_size else words
        if not words:
            raise ValueError(f"Word2Vec: no word occurs min_count={self.min_count} times; the vocabulary is empty")
        self.counts = np.array([counts[w] for w in words], dtype=np.int64)
        V, d = len(words), self.vector_size
        self.wv = KeyedVectors(d)
        self.wv.add_vectors(words, (self.random.random((V, d), dtype=np.float32) - 0.5) / d)
        self.keep_prob = keep_probability(self.counts, self.sample, self.counts.sum())
        self.noise = AliasSampler(self.counts.astype(np.float64) ** self.ns_exponent)
        if self.negative:
            self.syn1neg = np.zeros((V, d), dtype=np.float32)
        else:
            self.syn1 = np.zeros((V, d), dtype=np.float32)

    def _encode(self, sentences):
        """(token ids, sentence ids) of the in-vocabulary words of all sentences, concatenated."""
        index = self.wv.key_to_index
        ids = [[index[w] for w in s if w in index] for s in sentences]
        lengths = [len(s) for s in ids]
        flat = np.fromiter(chain.from_iterable(ids), dtype=np.int64, count=sum(lengths))
        return flat, np.repeat(np.arange(len(ids)), lengths)

    # ------------------------------------------------------------ training

    def train(self, corpus_iterable, total_examples=None, total_words=None, epochs=None, start_alpha=None,
              end_alpha=None, compute_loss=None):
        """Train ``epochs`` passes over the corpus, the rate falling linearly from ``start_alpha``
        (default ``alpha``) to ``end_alpha`` (default ``min_alpha``) over all its words.
        ``total_examples``/``total_words`` are accepted as in gensim; the corpus is counted here.
        Returns (words trained after subsampling, raw words)."""
        if epochs is None:
            raise ValueError("Word2Vec.train: you must specify an explicit epochs count, as in gensim")
        if not len(self.wv):
            raise RuntimeError("Word2Vec.train: call build_vocab(sentences) before train()")
        alpha0 = self.alpha if start_alpha is None else start_alpha
        alpha1 = self.min_alpha if end_alpha is None else end_alpha
        self.compute_loss = self.compute_loss if compute_loss is None else compute_loss
        ids, sent = self._encode(corpus_iterable)
        workers = max(1, int(self.workers or 1)) if "fork" in mp.get_all_start_methods() else 1
        # With several workers each trains batches of batch_words / workers: as many words are in
        # flight at once, reading stale vectors, as in one batch of batch_words.
        batch_words = max(1, self.batch_words // workers)
        self._max_updates_per_row = _MAX_UPDATES_PER_ROW / workers
        plan = _Plan(ids, int(epochs), batch_words, alpha0, alpha1, self.keep_prob, self.random)
        self.alpha_schedule += plan.schedule()
        self.running_training_loss = 0.0
        workers = min(workers, plan.n_batches)
        if workers > 1:
            self._train_in_processes(ids, sent, plan, workers)
        else:
            for kept_ids, kept_sent, s, e, lr in plan.batches(ids, sent):
                self._train_batch(kept_ids, kept_sent, s, e, lr)
        return plan.trained_words, len(ids) * int(epochs)

    def _train_in_processes(self, ids, sent, plan, workers):
        """Hogwild over ``workers`` forked processes: batch b goes to worker b mod ``workers``, and every
        worker adds its updates straight into the weight matrices, held in shared memory.

        NOTE: NumPy holds the GIL through most of a batch's indexing and scattering, so threads run
        barely faster than one (1.3× measured); processes share nothing but the two matrices.
        Interleaving the batches keeps the workers at neighbouring corpus positions and rates, as
        gensim's job queue does. Runs are not reproducible bit for bit (nor are gensim's with
        workers > 1): the order in which updates land depends on timing.
        """
        slots = [(self.wv, "vectors"), (self, "syn1neg" if self.negative else "syn1")]
        for owner, name in slots:
            setattr(owner, name, _shared_copy(getattr(owner, name)))
        losses = _shared_copy(np.zeros(workers))
        seeds = np.random.SeedSequence(self.seed).spawn(workers)
        context = mp.get_context("fork")
        procs = [context.Process(target=self._worker, args=(plan, ids, sent, w, workers, seeds[w], losses))
                 for w in range(workers)]
        try:
            for p in procs:
                p.start()
            for p in procs:
                p.join()
        finally:
            for p in procs:
                if p.is_alive():  # an interrupt (Ctrl-C) or an error in this process: stop the workers
                    p.kill()
            for owner, name in slots:
                setattr(owner, name, np.array(getattr(owner, name)))
        failed = [p.exitcode for p in procs if p.exitcode]
        if failed:
            raise RuntimeError(f"Word2Vec.train: a worker process failed (exit codes {failed})")
        self.running_training_loss = float(losses.sum())

    def _worker(self, plan, ids, sent, w, workers, seed, losses):
        self.random = np.random.default_rng(seed)
        for b, (kept_ids, kept_sent, s, e, lr) in enumerate(plan.batches(ids, sent)):
            if b % workers == w:
                self._train_batch(kept_ids, kept_sent, s, e, lr)
        losses[w] = self.running_training_loss

    def _scratch(self):
        """The compiled kernel's (V,) scratch arrays, restored by every batch: per-row read
        counts (zeros) and the slot of each output row's accumulated step (−1)."""
        if self._kernel_scratch is None or len(self._kernel_scratch[0]) != len(self.wv):
            self._kernel_scratch = np.zeros(len(self.wv)), np.full(len(self.wv), -1, dtype=np.int64)
        return self._kernel_scratch

    def get_latest_training_loss(self):
        """The summed loss of the last ``train`` call (when compute_loss=True)."""
        return self.running_training_loss

    def _window(self, ids, sent, s, e):
        """Token ids of positions s−W..e+W (halo padded) and the (B, 2W+1) mask of valid context offsets."""
        W, B = self.window, e - s
        lo, hi = max(s - W, 0), min(e + W, len(ids))
        halo_ids = np.zeros(B + 2 * W, dtype=np.int64)
        halo_sent = np.full(B + 2 * W, -1, dtype=np.int64)
        halo_ids[lo - s + W:hi - s + W], halo_sent[lo - s + W:hi - s + W] = ids[lo:hi], sent[lo:hi]
        span = self.random.integers(1, W + 1, size=B) if self.shrink_windows else np.full(B, W)
        offsets = np.arange(-W, W + 1)
        pos = np.arange(B)[:, None] + offsets + W
        mask = (halo_sent[pos] == sent[s:e, None]) & (np.abs(offsets) <= span[:, None]) & (offsets != 0)
        return halo_ids, pos, mask

    def _train_batch(self, ids, sent, s, e, lr):
        halo_ids, pos, mask = self._window(ids, sent, s, e)
        centres = ids[s:e]
        if self.sg and self.negative:
            return self._skipgram_negative(halo_ids, pos, mask, centres, lr)
        E = self.wv.vectors[halo_ids]  # each token's input row, gathered once
        X = E[pos]  # (B, 2W+1, d): the context rows around each centre
        if not self.sg:  # CBOW: one hidden vector per centre
            count = mask.sum(axis=1, keepdims=True)
            X = (mask[:, None, :].astype(np.float32) @ X)  # (B, 1, d) sum of the context rows
            X = X / np.maximum(count, 1)[:, :, None] if self.cbow_mean else X
        live = mask if self.sg else (mask.any(axis=1, keepdims=True))
        gX = self._output_step(X, centres, live.astype(np.float32), lr)  # (B, m, d)
        if not self.sg:
            gX = gX / np.maximum(count, 1)[:, :, None] if not self.cbow_mean else gX
            gX = gX * mask[:, :, None]
        self._backpropagate(E, gX, pos.shape[1], len(centres), halo_ids)

    def _backpropagate(self, E, gX, m, B, halo_ids):
        """Add the context-row gradients gX (B, m, d) into the input vectors, summed by token position."""
        gE = np.zeros_like(E)
        for j in range(m):  # shift-add per offset: each token's gradient summed by position
            gE[j:j + B] += gX[:, j]
        _damped_scatter(self.wv.vectors, halo_ids, gE, self._max_updates_per_row)

    def _skipgram_negative(self, halo_ids, pos, mask, centres, lr):
        """Skip-gram with negative sampling over the live (centre, context) pairs only.

        NOTE: the dynamic window leaves about half of the (B, 2W+1) slots empty, so the pairs are
        compacted first (row-major, hence grouped by centre) and every ``_pairs_per_draw``
        consecutive pairs share one draw of k negatives: one GEMM per group, (P_g, d) @ (d, k).
        Measured on the KJV Bible (benchmarks/word2vec.py): 16 pairs per draw ran the NumPy path
        6× faster than one, at analogy accuracy 0.324 against 0.35 (48 pairs lost 4 more points).
        The context gradients go back in the dense (B, 2W+1, d) layout for the shift-add.

        With ``compiled`` the same update runs as one numba loop (``word2vec_compiled``), where a
        draw per pair costs nothing extra, so it draws per pair (``_PAIRS_PER_DRAW``).
        """
        B, m = mask.shape
        d, g = self.vector_size, self._pairs_per_draw
        live = np.flatnonzero(mask.ravel())
        P = len(live)
        n_groups = max(1, -(-P // g))
        negs = self.noise.draw(self.random.random((n_groups, self.negative)))
        if self.compiled:
            loss = self._kernels.skipgram_negative_batch(
                self.wv.vectors, self.syn1neg, halo_ids, mask, centres, negs, lr, g, _NEGATIVE_READS_PER_PAIR,
                self._max_updates_per_row, *self._scratch(), self.compute_loss)
            self.running_training_loss += loss
            return
        E = self.wv.vectors[halo_ids]  # each token's input row, gathered once
        slot = np.zeros(n_groups * g, dtype=np.int64)
        slot[:P] = live
        weight = np.zeros(n_groups * g, dtype=np.float32)
        weight[:P] = lr
        owner = slot // m  # the centre of each pair
        X = E[pos.ravel()[slot]]  # (P', d): each pair's context row
        O_centres = self.syn1neg[centres]
        O_pos = O_centres[owner]
        O_neg = self.syn1neg[negs]  # (n_groups, k, d)
        Xg = X.reshape(n_groups, g, d)
        s_pos = np.einsum("pd,pd->p", X, O_pos)
        s_neg = Xg @ O_neg.transpose(0, 2, 1)  # (n_groups, g, k)
        valid = negs[:, None, :] != centres[owner].reshape(n_groups, g, 1)  # a negative ≠ the pair's centre
        g_pos = (1.0 - sigmoid_array(s_pos)) * weight  # label 1
        g_neg = -sigmoid_array(s_neg) * (weight.reshape(n_groups, g, 1) * valid)  # label 0
        if self.compute_loss:
            self.running_training_loss -= float((np.log(sigmoid_array(s_pos[:P]) + 1e-7)).sum()
                                                + (np.log(1.0 - sigmoid_array(s_neg) + 1e-7) * (g_neg != 0)).sum())
        # Each centre's positive update Σ_j g[b, j]·E[b + j] is one small product per centre over the
        # (m, d) window of E that its context rows come from (a strided view): 10× faster than
        # add.reduceat over the compacted pairs.
        G = np.zeros(B * m, dtype=E.dtype)
        G[live] = g_pos[:P]
        windows = sliding_window_view(E, (m, d))[:, 0]  # (B, m, d), windows[b, j] = E[b + j]
        has_pair = np.flatnonzero(mask.any(axis=1))
        pos_rows = (G.reshape(B, 1, m) @ windows)[has_pair, 0]
        rows = np.concatenate([pos_rows, (g_neg.transpose(0, 2, 1) @ Xg).reshape(-1, d)])
        index = np.concatenate([centres[has_pair], negs.ravel()])
        reads = np.concatenate([np.ones(len(has_pair)), np.full(negs.size, g * _NEGATIVE_READS_PER_PAIR)])
        _damped_scatter(self.syn1neg, index, rows, self._max_updates_per_row, reads)
        gXp = g_pos[:, None] * O_pos + (g_neg @ O_neg).reshape(-1, d)
        gX = np.zeros((B * m, d), dtype=E.dtype)
        gX[live] = gXp[:P]
        self._backpropagate(E, gX.reshape(B, m, d), m, B, halo_ids)

    def _negative_step(self, X, centres, live, lr):
        """CBOW with negative sampling: each centre's hidden row X (B, 1, d) scores the centre's
        output row (label 1) and k negatives of its own (label 0); returns the step for X.
        Skip-gram has its own pair-compacted step, ``_skipgram_negative``.
        """
        B, m, d = X.shape
        negs = self.noise.draw(self.random.random((B, self.negative)))
        O_pos, O_neg = self.syn1neg[centres], self.syn1neg[negs]  # (B, d), (B, k, d)
        s_pos = np.einsum("bmd,bd->bm", X, O_pos)
        s_neg = X @ O_neg.transpose(0, 2, 1)  # (B, m, k)
        weight = lr * live
        g_pos = (1.0 - sigmoid_array(s_pos)) * weight  # label 1
        g_neg = -sigmoid_array(s_neg) * (weight[:, :, None] * (negs != centres[:, None])[:, None, :])  # label 0
        if self.compute_loss:
            self.running_training_loss -= float((np.log(sigmoid_array(s_pos) + 1e-7) * live).sum()
                                                + (np.log(1.0 - sigmoid_array(s_neg) + 1e-7) * (g_neg != 0)).sum())
        rows = np.concatenate([np.einsum("bm,bmd->bd", g_pos, X), (g_neg.transpose(0, 2, 1) @ X).reshape(-1, d)])
        _damped_scatter(self.syn1neg, np.concatenate([centres, negs.ravel()]), rows, self._max_updates_per_row)
        return g_pos[:, :, None] * O_pos[:, None, :] + g_neg @ O_neg

    def _output_step(self, X, centres, live, lr):
        """Score X (B, m, d) against the centre's output row and the negatives (or all words), apply
        the output-matrix update and return the gradient step for X."""
        if self.negative:
            return self._negative_step(X, centres, live, lr)
        B, m, d = X.shape
        S = X.reshape(B * m, d) @ self.syn1.T
        P = np.exp(S - S.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        rows = np.arange(B * m)
        target = np.repeat(centres, m)
        if self.compute_loss:
            self.running_training_loss -= float((np.log(P[rows, target] + 1e-7) * live.ravel()).sum())
        # each output row's expected number of reads: Σ p over the pairs plus its count as the target
        reads = P.T @ live.ravel() + np.bincount(target, weights=live.ravel(), minlength=len(P[0]))
        P[rows, target] -= 1.0
        G = -P * (lr * live.reshape(-1, 1))
        gX = (G @ self.syn1).reshape(B, m, d)
        damp = np.minimum(1.0, self._max_updates_per_row / np.maximum(reads, 1e-12)).astype(np.float32)
        self.syn1 += (G.T @ X.reshape(B * m, d)) * damp[:, None]
        return gX
