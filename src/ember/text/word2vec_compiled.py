"""word2vec's skip-gram negative-sampling batch as one compiled loop (numba, the ``ember[fast]`` extra).

``Word2Vec._skipgram_negative`` (NumPy) is the reference: this kernel performs the same update of
one batch — the same live pairs, the same shared negatives, every score read from the vectors as
they were at the start of the batch, the same damped scatters — and the tests hold the two equal.
It is faster because it never materialises the per-pair rows: NumPy gathers a (pairs, d) copy of
the context rows and of the output rows, and several (pairs, k) temporaries, for every batch;
here each pair's 1 + k dot products and axpys run on the rows in place (d = 100 fits in a few
AVX registers), and only the accumulated updates are buffered.

Only imported when numba is installed; ``Word2Vec(compiled=False)`` keeps the NumPy path.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, fastmath=True, nogil=True)
def _sigmoid(x):
    """σ(x) = ½ tanh(½ x) + ½, the form of ``sigmoid_array``."""
    return 0.5 * np.tanh(0.5 * x) + 0.5


@njit(cache=True, fastmath=True, nogil=True)
def skipgram_negative_batch(vectors, syn1neg, halo_ids, mask, centres, negs, lr, pairs_per_draw,
                            negative_reads_per_pair, max_updates_per_row, row_reads, row_slot, compute_loss):
    """Train one batch of skip-gram with negative sampling in place; returns the batch's loss.

    vectors, syn1neg: (V, d) float32, updated in place. halo_ids: (B + 2W,) the token ids of the
    batch with W tokens either side; mask: (B, 2W + 1) which context offsets are live; centres:
    (B,) the centre ids (halo_ids[W:W + B]); negs: (groups, k) the negatives shared by each run of
    ``pairs_per_draw`` live pairs (row-major over mask); lr the rate. Each row's summed update is
    scaled by min(1, max_updates_per_row / its reads), as in ``word2vec._damped_scatter``; the
    reads are counted in ``row_reads``, a (V,) float64 scratch of zeros, and ``row_slot``, a (V,)
    int64 scratch of −1, maps an output row to its accumulated step; both are returned as given.
    The loss is summed only with ``compute_loss`` (else 0).
    """
    B, m = mask.shape
    d = vectors.shape[1]
    groups, k = negs.shape
    n_halo = halo_ids.shape[0]
    g_input = np.zeros((n_halo, d), dtype=np.float32)  # gradient step per halo token position
    # One accumulated step per distinct output row the batch touches, in slots handed out on first use.
    touched = np.empty(min(syn1neg.shape[0], B + groups * k), dtype=np.int64)
    g_output = np.empty((touched.shape[0], d), dtype=np.float32)
    n_touched = 0
    loss = 0.0
    p = 0
    for b in range(B):
        centre = centres[b]
        out_c = syn1neg[centre]
        for j in range(m):
            if not mask[b, j]:
                continue
            q = p // pairs_per_draw
            p += 1
            x = vectors[halo_ids[b + j]]
            gx = g_input[b + j]
            for i in range(-1, k):  # i = −1: the centre, label 1; then the pair's shared negatives, label 0
                row = centre if i < 0 else negs[q, i]
                if i >= 0 and row == centre:
                    continue
                out = out_c if i < 0 else syn1neg[row]
                score = np.float32(0.0)
                for t in range(d):
                    score += x[t] * out[t]
                sigma = _sigmoid(score)
                if compute_loss:
                    loss -= np.log(sigma + 1e-7) if i < 0 else np.log(1.0 - sigma + 1e-7)
                g = np.float32(((1.0 if i < 0 else 0.0) - sigma) * lr)
                if row_slot[row] < 0:
                    row_slot[row] = n_touched
                    touched[n_touched] = row
                    g_output[n_touched] = 0.0
                    n_touched += 1
                go = g_output[row_slot[row]]
                for t in range(d):
                    go[t] += g * x[t]
                    gx[t] += g * out[t]
    # The output matrix: each centre with a pair counts one read, each shared negative
    # negative_reads_per_pair per pair of its draw (word2vec._NEGATIVE_READS_PER_PAIR).
    for b in range(B):
        for j in range(m):
            if mask[b, j]:
                row_reads[centres[b]] += 1.0
                break
    for q in range(groups):
        for i in range(k):
            row_reads[negs[q, i]] += pairs_per_draw * negative_reads_per_pair
    for s in range(n_touched):
        _add_damped(syn1neg, touched[s], g_output[s], row_reads, max_updates_per_row)
        row_slot[touched[s]] = -1
    _clear(row_reads, centres)
    for q in range(groups):
        _clear(row_reads, negs[q])
    # The input matrix: every halo position counts one read of its row (padding included, as in NumPy).
    for h in range(n_halo):
        row_reads[halo_ids[h]] += 1.0
    for h in range(n_halo):
        _add_damped(vectors, halo_ids[h], g_input[h], row_reads, max_updates_per_row)
    _clear(row_reads, halo_ids)
    return loss


@njit(cache=True, fastmath=True, nogil=True)
def _add_damped(target, row, step, row_reads, max_updates_per_row):
    """target[row] += step · min(1, max_updates_per_row / reads[row])."""
    scale = np.float32(min(1.0, max_updates_per_row / max(row_reads[row], 1.0)))
    out = target[row]
    for t in range(step.shape[0]):
        out[t] += step[t] * scale


@njit(cache=True, nogil=True)
def _clear(row_reads, rows):
    for r in rows:
        row_reads[r] = 0.0
