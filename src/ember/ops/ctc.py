"""Connectionist temporal classification loss (Graves et al. 2006), PyTorch's ``ctc_loss``.

A label sequence l = (l_1 … l_L) is read from T frames of class log-probabilities through every
alignment that, after merging repeats and removing blanks, gives l. Over the extended sequence
l' = (b, l_1, b, l_2, …, b, l_L, b) of length 2L + 1 (b the blank), the forward variables

    α_t(s) = y_t(l'_s) · (α_{t−1}(s) + α_{t−1}(s−1) + [l'_s ≠ b and l'_s ≠ l'_{s−2}] α_{t−1}(s−2))

sum the alignments of l'_{1..s} ending in frame t, and the backward variables β_t(s) (the
mirror recursion from the last frame) those of l'_{s..} starting there. Both include y_t(l'_s),
so p(l|x) = α_{T−1}(2L) + α_{T−1}(2L−1) and, for every t, p(l|x) = Σ_s α_t(s) β_t(s) / y_t(l'_s).
The loss is −log p(l|x), and its gradient wrt the log-probability of class c at frame t is
minus the posterior occupancy

    γ_t(c) = Σ_{s: l'_s = c} α_t(s) β_t(s) / (y_t(c) · p(l|x)),

the expected number of alignments through (t, c). Everything runs in log space; the recursions
loop over the frames only, vectorised over the batch and the positions s.
"""
from __future__ import annotations

import numpy as np

from ember.autograd.function import Function
from ember.autograd.tensor import Tensor, as_tensor
from ember.backend import get_array_module as xp_of
from ember.ops.loss import REDUCTIONS
from ember.ops.reduction import mean, sum


def _shift(a, k, fill):
    """a moved k places right (k > 0) or left (k < 0) along the last axis, ``fill`` coming in."""
    xp = xp_of(a)
    out = xp.full_like(a, fill)
    if k > 0:
        out[..., k:] = a[..., :-k]
    else:
        out[..., :k] = a[..., -k:]
    return out


def _lse3(a, b, c):
    """log(e^a + e^b + e^c), exact for −inf entries (no NaN from −inf − −inf)."""
    xp = xp_of(a)
    return xp.logaddexp(xp.logaddexp(a, b), c)


class CTC(Function):
    # NOTE: a dedicated op: the loss is a sum over exponentially many alignments, computed by
    # the α recursion; the gradient is read off the α and β tables in one pass instead of
    # being differentiated through T steps of log-sum-exp. It has no vjp: like PyTorch's, the
    # loss is differentiable once, and a second derivative reaching it raises an error naming it.
    def __init__(self, ext, skip, input_lengths, label_lengths, num_classes, zero_infinity):
        self.ext, self.skip = ext, skip  # (N, 2S + 1) extended labels; where the s − 2 jump is allowed
        self.T_n, self.L_n, self.C, self.zero_infinity = input_lengths, label_lengths, num_classes, zero_infinity

    def forward(self, lp):
        xp = xp_of(lp)
        T, N, _ = lp.shape
        lp_ext = xp.take_along_axis(lp, xp.broadcast_to(self.ext[None], (T,) + self.ext.shape), axis=2)
        alpha = self._alpha(lp_ext)
        rows, last = xp.arange(N), self.T_n - 1
        end = alpha[last, rows, 2 * self.L_n]
        before = xp.where(self.L_n > 0, alpha[last, rows, xp.maximum(2 * self.L_n - 1, 0)], -xp.inf)
        nll = -xp.logaddexp(end, before)
        self.infinite = xp.isinf(nll)
        self.save_for_backward(lp_ext, alpha, nll)
        return xp.where(self.infinite, 0, nll).astype(lp.dtype) if self.zero_infinity else nll

    def _alpha(self, lp_ext):
        xp = xp_of(lp_ext)
        alpha = xp.full_like(lp_ext, -xp.inf)
        alpha[0, :, :2] = lp_ext[0, :, :2]  # start in the first blank or the first label
        for t in range(1, lp_ext.shape[0]):
            prev = alpha[t - 1]
            jump = xp.where(self.skip, _shift(prev, 2, -xp.inf), -xp.inf)
            alpha[t] = _lse3(prev, _shift(prev, 1, -xp.inf), jump) + lp_ext[t]
        return alpha

    def _beta(self, lp_ext):
        xp = xp_of(lp_ext)
        T, N, S = lp_ext.shape
        beta = xp.full_like(lp_ext, -xp.inf)
        ends = xp.arange(S) >= 2 * self.L_n[:, None] - 1  # the last label and the last blank …
        ends &= xp.arange(S) <= 2 * self.L_n[:, None]  # … where each sequence may end
        skip_next = _shift(self.skip, -2, False)  # β_t(s) may jump to s + 2 where α may jump from s
        after_end = xp.full_like(beta[0], -xp.inf)
        for t in range(T - 1, -1, -1):
            nxt = beta[t + 1] if t < T - 1 else after_end
            jump = xp.where(skip_next, _shift(nxt, -2, -xp.inf), -xp.inf)
            step = _lse3(nxt, _shift(nxt, -1, -xp.inf), jump) + lp_ext[t]
            first = xp.where(ends, lp_ext[t], -xp.inf)
            here = (t == self.T_n - 1)[:, None]
            beta[t] = xp.where(here, first, xp.where((t < self.T_n - 1)[:, None], step, -xp.inf))
        return beta

    def backward(self, gy):
        lp_ext, alpha, nll = self.saved
        xp = xp_of(lp_ext)
        T, N, _ = lp_ext.shape
        with np.errstate(invalid="ignore"):  # −inf − −inf where a label has probability 0
            log_gamma = alpha + self._beta(lp_ext) - lp_ext + nll[None, :, None]
        gamma = xp.where(xp.isnan(log_gamma), 0, xp.exp(log_gamma))
        C = self.C
        flat = ((xp.arange(T)[:, None, None] * N + xp.arange(N)[None, :, None]) * C + self.ext[None]).ravel()
        occupancy = xp.bincount(flat, weights=gamma.ravel(), minlength=T * N * C).reshape(T, N, C)
        scale = xp.where(self.infinite, 0, gy) if self.zero_infinity else gy
        return (-occupancy * scale[None, :, None]).astype(lp_ext.dtype)


def _lengths(values, name, N):
    array = np.asarray(values.tolist() if isinstance(values, Tensor) else values, dtype=np.int64).reshape(-1)
    if array.shape != (N,):
        raise RuntimeError(f"ctc_loss: {name} must have one entry per sequence ({N}), got shape {array.shape}")
    return array


def _padded_targets(targets, target_lengths, N, blank):
    """(N, S) label rows from padded (N, S) or concatenated 1-D targets; entries past a length become blank."""
    t = np.asarray(as_tensor(targets).tolist(), dtype=np.int64)
    S = int(target_lengths.max()) if N else 0
    if t.ndim == 2:
        if t.shape[1] < S:
            raise RuntimeError(f"Expected tensor to have size at least {S} at dimension 1, but got size {t.shape[1]}")
        t = t[:, :S]
    else:
        if t.size != target_lengths.sum():
            raise RuntimeError(f"ctc_loss: concatenated targets hold {t.size} labels, target_lengths add up to "
                               f"{target_lengths.sum()}")
        inside = np.arange(S) < target_lengths[:, None]
        t = t[np.where(inside, (np.cumsum(target_lengths) - target_lengths)[:, None] + np.arange(S), 0)]
    return np.where(np.arange(S) < target_lengths[:, None], t, blank)


def _extended(labels, blank):
    """l' = (b, l_1, b, …, l_S, b) per row, and where l'_s may be reached from l'_{s−2}."""
    N, S = labels.shape
    ext = np.full((N, 2 * S + 1), blank, dtype=np.int64)
    ext[:, 1::2] = labels
    skip = np.zeros(ext.shape, dtype=bool)
    skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    return ext, skip


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """The CTC loss −log p(targets | log_probs), summed over all alignments (PyTorch's ``F.ctc_loss``).

    log_probs (T, N, C) (or (T, C) unbatched): log-softmax outputs per frame; targets (N, S) padded
    or 1-D concatenated, with no blank inside; input_lengths and target_lengths (N,) ints.
    'mean' divides each loss by its target length (at least 1) and averages over the batch; 'sum'
    adds; 'none' gives (N,). ``zero_infinity`` turns impossible alignments (loss ∞) into 0 with
    zero gradient.

    NOTE: the gradient is the exact derivative wrt ``log_probs`` (−γ, the occupancies). PyTorch's
    kernel returns e^{log_probs} − γ instead, the derivative for logits under a log_softmax; after
    a log_softmax (which CTC expects) both give the same gradient upstream.

    >>> lp = em.randn(50, 4, 20).log_softmax(2)
    >>> ctc_loss(lp, em.randint(1, 20, (4, 10)), [50] * 4, [10, 8, 6, 9]).shape
    ()
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    unbatched = log_probs.ndim == 2
    if unbatched:
        log_probs = log_probs.reshape(log_probs.shape[0], 1, log_probs.shape[1])
        targets = as_tensor(targets).reshape(1, -1)
    if log_probs.ndim != 3:
        raise RuntimeError(f"ctc_loss: log_probs must be (T, N, C) or (T, C), got shape {log_probs.shape}")
    T, N, C = log_probs.shape
    T_n, L_n = _lengths(input_lengths, "input_lengths", N), _lengths(target_lengths, "target_lengths", N)
    if N and (T_n.max() > T or T_n.min() < 1):
        raise RuntimeError(f"Expected input_lengths to have value at most {T} (and at least 1), got {T_n.tolist()}")
    ext, skip = _extended(_padded_targets(targets, L_n, N, blank), blank)
    xp = log_probs.xp
    nll = CTC(xp.asarray(ext), xp.asarray(skip), xp.asarray(T_n), xp.asarray(L_n), C, zero_infinity)(log_probs)
    if reduction == "mean":
        return mean(nll / xp.asarray(np.maximum(L_n, 1)).astype(nll.dtype))
    if reduction == "sum":
        return sum(nll)
    return nll.reshape(()) if unbatched else nll
