"""Decoding a seq2seq model: greedy search and beam search over a generic step function.

A decoder is seen through one function, called once per output step for the whole batch::

    step_fn(tokens, state) -> (log_probs, state)  or  (log_probs, state, extra)

- ``tokens``: int64 Tensor (B,), the previous token of each row (``bos`` at the first step);
- ``log_probs``: Tensor or array (B, V), log-probabilities of the next token (all ≤ 0);
- ``state``: None, a Tensor, or a nested tuple/list/dict of Tensors, each with the batch dimension
  first (an RNN's h is (num_layers, B, H) in PyTorch's layout: move B first inside the step function);
- ``extra`` (optional): an array (B, *), e.g. the attention weights (B, S) of the step. It is
  collected per step and returned along the chosen hypotheses, for attention heatmaps.

Conventions of both searches:

- ``tokens`` exclude ``bos`` and the final ``eos``; a hypothesis either ends with ``eos``
  (``finished``) or is cut after ``max_len`` generated tokens.
- ``score`` = Σ log p of every generated token, the final ``eos`` included.
- ``length`` = the number of generated tokens, ``eos`` included (len(tokens) + finished).
- ``extra`` of a hypothesis: one row per generated token, ``eos`` included: (length, *).

>>> result = beam_search(model.step, model.init_state(src), bos=2, eos=3, beam_width=5)  # doctest: +SKIP
>>> result.tokens[0], result.scores[0], result.extras[0].shape                          # doctest: +SKIP
([7, 4, 9], -1.73, (4, 12))
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ember import backend
from ember.autograd.grad_mode import no_grad
from ember.autograd.tensor import Tensor
from ember.backend import as_numpy

__all__ = ["DecodeResult", "Hypothesis", "beam_search", "greedy_search", "reorder_state"]


@dataclass
class Hypothesis:
    """One decoded sequence: ``tokens`` (no bos/eos), ``score`` (summed log-probabilities, eos
    included), ``normalized_score`` = score / length^α, ``finished`` (ended by eos) and ``extra``
    (the per-step extras, (length, *), or None)."""

    tokens: list
    score: float
    normalized_score: float
    finished: bool
    extra: np.ndarray | None = None

    @property
    def length(self) -> int:
        """Generated tokens, the final eos included."""
        return len(self.tokens) + int(self.finished)


@dataclass
class DecodeResult:
    """The outcome of decoding a batch of B items.

    ``tokens[i]``, ``scores[i]`` (float64 array (B,)), ``finished[i]`` (bool array (B,)) and
    ``extras[i]`` ((length_i, *) array; ``extras`` is None when step_fn gives no extra) describe
    item i's best hypothesis; ``hypotheses[i]`` lists its ``n_best`` best, best first.
    """

    tokens: list
    scores: np.ndarray
    finished: np.ndarray
    extras: list | None
    hypotheses: list

    @classmethod
    def from_hypotheses(cls, hypotheses) -> DecodeResult:
        best = [h[0] for h in hypotheses]
        extras = None if best[0].extra is None else [h.extra for h in best]
        return cls([h.tokens for h in best], np.array([h.score for h in best], dtype=np.float64),
                   np.array([h.finished for h in best], dtype=bool), extras, hypotheses)


# -- state handling ----------------------------------------------------------------------
def reorder_state(state, indices):
    """The decoder state with its batch rows picked by ``indices``: every tensor t becomes
    ``t.index_select(0, indices)``, through any nesting of tuples (named ones too), lists and dicts.

    Beam search calls it to replicate the state per beam and to follow the surviving beams.
    ``indices``: int array, list or Tensor (N,); None stays None.

    >>> h, c = Tensor(np.arange(6.).reshape(3, 2)), Tensor(np.arange(3.))
    >>> new = reorder_state({"rnn": (h, c), "memory": None}, [2, 2, 0])
    >>> new["rnn"][1].tolist(), new["memory"]
    ([2.0, 2.0, 0.0], None)
    """
    if state is None:
        return None
    if isinstance(state, Tensor):
        index = backend.xp_for(state.device).asarray(as_numpy(indices), dtype=np.int64)
        return state.index_select(0, index)
    if isinstance(state, dict):
        return type(state)((key, reorder_state(value, indices)) for key, value in state.items())
    if isinstance(state, tuple) and hasattr(state, "_fields"):
        return type(state)(*(reorder_state(s, indices) for s in state))
    if isinstance(state, (tuple, list)):
        return type(state)(reorder_state(s, indices) for s in state)
    if hasattr(state, "shape") and hasattr(state, "ndim"):  # a bare ndarray / CuPy array
        return state[backend.get_array_module(state).asarray(as_numpy(indices), dtype=np.int64)]
    raise TypeError(f"reorder_state: expected Tensors in nested tuples/lists/dicts (or None), "
                    f"got {type(state).__name__}")


def _first_tensor(state):
    if isinstance(state, Tensor):
        return state
    items = state.values() if isinstance(state, dict) else state if isinstance(state, (tuple, list)) else ()
    for item in items:
        found = _first_tensor(item)
        if found is not None:
            return found
    return None


def _batch_and_device(name, state, batch_size):
    first = _first_tensor(state)
    if batch_size is None:
        if first is None or first.ndim == 0:
            raise ValueError(f"{name}: pass batch_size when the state holds no tensor with a batch dimension")
        batch_size = first.shape[0]
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"{name}: batch_size should be a positive integer, got {batch_size!r}")
    return int(batch_size), (first.device if first is not None else "cpu")


# -- one step ----------------------------------------------------------------------------
def _step(name, step_fn, tokens, state, device, rows):
    """Call step_fn; return log-probs as a float64 device array (rows, V), the state and the extra."""
    out = step_fn(Tensor(tokens, device=device), state)
    if not isinstance(out, tuple) or len(out) not in (2, 3):
        raise TypeError(f"{name}: step_fn should return (log_probs, state) or (log_probs, state, extra), "
                        f"got {type(out).__name__}")
    log_probs, state = out[0], out[1]
    log_probs = log_probs.array if isinstance(log_probs, Tensor) else log_probs
    if getattr(log_probs, "ndim", None) != 2 or log_probs.shape[0] != rows:
        raise ValueError(f"{name}: step_fn's log_probs should have shape ({rows}, V), "
                         f"got {getattr(log_probs, 'shape', type(log_probs).__name__)}")
    extra = None if len(out) == 2 or out[2] is None else as_numpy(out[2])
    return log_probs.astype(np.float64), state, extra


def _topk(scores, k):
    """The k best entries of each row of a (B, N) device array, best first (ties: lower index
    first): host arrays (indices (B, k), values (B, k))."""
    xp = backend.get_array_module(scores)
    if k == 1:
        index = xp.argmax(scores, axis=1)[:, None]  # argmax's first-max rule = greedy's choice
    else:
        index = xp.argpartition(-scores, k - 1, axis=1)[:, :k]
    values = backend.to_numpy(xp.take_along_axis(scores, index, axis=1))
    index = backend.to_numpy(index)
    order = np.lexsort((index, -values), axis=-1) if k > 1 else np.zeros_like(index)
    return np.take_along_axis(index, order, axis=1), np.take_along_axis(values, order, axis=1)


def _check_common(name, max_len):
    if isinstance(max_len, bool) or not isinstance(max_len, (int, np.integer)) or max_len < 1:
        raise ValueError(f"{name}: max_len should be a positive integer, got {max_len!r}")


# -- greedy ------------------------------------------------------------------------------
def greedy_search(step_fn, state, bos: int, eos: int, max_len: int = 50, batch_size: int | None = None):
    """Decode each item by taking the most likely token at every step: y_t = argmax_v log p(v | y_<t).

    The whole batch advances together; an item that has emitted ``eos`` stops growing (its
    score is frozen, it is fed ``eos``) and decoding ends when all have, or after ``max_len``
    tokens. See the module docstring for ``step_fn``, the score, and the extras.

    Returns a ``DecodeResult``: ``tokens`` (B lists, no bos/eos), ``scores`` (summed log-probs,
    eos included), ``finished``, ``extras`` ((len(tokens) + finished, *) arrays, or None).

    >>> result = greedy_search(decoder.step, decoder.init_state(src), bos=2, eos=3, max_len=20)  # doctest: +SKIP
    """
    _check_common("greedy_search", max_len)
    B, device = _batch_and_device("greedy_search", state, batch_size)
    rows = np.arange(B)
    tokens, done = np.full(B, bos, dtype=np.int64), np.zeros(B, dtype=bool)
    scores, steps, extras = np.zeros(B), [], []
    with no_grad():
        for _ in range(max_len):
            log_probs, state, extra = _step("greedy_search", step_fn, tokens, state, device, B)
            xp = backend.get_array_module(log_probs)
            index, best = _topk(log_probs + xp.asarray(scores)[:, None], 1)
            scores = np.where(done, scores, best[:, 0])
            tokens = np.where(done, eos, index[:, 0])
            steps.append(tokens)
            extras.append(extra)
            done = done | (tokens == eos)
            if done.all():
                break
    out = np.stack(steps, axis=1)  # (B, T)
    ended = out == eos
    finished = ended.any(axis=1)
    lengths = np.where(finished, ended.argmax(axis=1), out.shape[1])  # tokens before the first eos
    stacked = None if extras[0] is None else np.stack(extras, axis=1)  # (B, T, *)
    hypotheses = [[Hypothesis(out[i, :lengths[i]].tolist(), float(scores[i]), float(scores[i]), bool(finished[i]),
                              None if stacked is None else stacked[i, :lengths[i] + finished[i]])] for i in rows]
    return DecodeResult.from_hypotheses(hypotheses)


# -- beam --------------------------------------------------------------------------------
def beam_search(step_fn, state, bos: int, eos: int, beam_width: int = 5, max_len: int = 50,
                length_penalty: float = 0.0, batch_size: int | None = None, n_best: int = 1):
    """Decode each item by beam search: keep the ``beam_width`` (k) best partial hypotheses by
    summed log-probability, expand all B·k of them in one ``step_fn`` call, and rank the
    finished ones by the length-normalised score

        score(y) / length(y)^α,   score = Σ_t log p(y_t | y_<t),   α = ``length_penalty`` (0: none)

    where length counts the generated tokens, eos included.

    The state is replicated k times per item (row b·k + j is beam j of item b) and follows the
    surviving beams through ``reorder_state``. Each step takes, per item, the top k of its k·V
    continuations; of those within the item's budget (k minus its finished count), the ones
    ending in eos move to the item's finished list and the rest form the next beam, so the beam
    shrinks as hypotheses finish. An item is done when k have finished or when its n_best-th best
    normalised score cannot be beaten by any live beam (log-probs ≤ 0 bound a live beam's final
    normalised score by score/max_len^α, or score when α = 0). Width 1 is exactly greedy search.

    After ``max_len`` steps, live beams of unfinished items join as unfinished hypotheses, ranked
    after every finished one. Returns a ``DecodeResult`` whose ``hypotheses[i]`` holds item i's
    ``n_best`` best; ``scores`` are the raw summed log-probabilities.

    >>> result = beam_search(decoder.step, state, bos=2, eos=3, beam_width=5, length_penalty=0.7)  # doctest: +SKIP
    """
    _check_common("beam_search", max_len)
    k = _check_beam(beam_width, n_best, length_penalty)
    B, device = _batch_and_device("beam_search", state, batch_size)
    search = _BeamState(B, k, eos, max_len, float(length_penalty), n_best)
    tokens = np.full(B * k, bos, dtype=np.int64)
    with no_grad():
        state = reorder_state(state, np.repeat(np.arange(B), k))
        for _ in range(max_len):
            log_probs, state, extra = _step("beam_search", step_fn, tokens, state, device, B * k)
            rows, tokens = search.advance(log_probs, extra)
            if search.all_done():
                break
            state = reorder_state(state, rows)
    return DecodeResult.from_hypotheses(search.results())


def _check_beam(beam_width, n_best, length_penalty) -> int:
    if isinstance(beam_width, bool) or not isinstance(beam_width, (int, np.integer)) or beam_width < 1:
        raise ValueError(f"beam_search: beam_width should be a positive integer, got {beam_width!r}")
    if isinstance(n_best, bool) or not isinstance(n_best, (int, np.integer)) or not 1 <= n_best <= beam_width:
        raise ValueError(f"beam_search: n_best should be an integer in [1, beam_width={beam_width}], got {n_best!r}")
    if not np.isfinite(length_penalty) or length_penalty < 0:
        raise ValueError(f"beam_search: length_penalty should be a finite α ≥ 0, got {length_penalty!r}")
    return int(beam_width)


class _BeamState:
    """The host-side bookkeeping of a batched beam search: live scores (B, k), histories
    (B·k, t), extras (B·k, t, *), each item's budget and finished hypotheses."""

    def __init__(self, B, k, eos, max_len, alpha, n_best):
        self.B, self.k, self.eos, self.max_len, self.alpha, self.n_best = B, k, eos, max_len, alpha, n_best
        self.scores = np.full((B, k), -np.inf)
        self.scores[:, 0] = 0.0  # the k copies are identical: expand one, or the beam fills with duplicates
        self.history, self.extras = np.zeros((B * k, 0), dtype=np.int64), None
        self.budget = np.full(B, k)
        self.finished = [[] for _ in range(B)]

    def advance(self, log_probs, extra):
        """One step: choose the continuations; return the parent rows (B·k,) and next tokens (B·k,)."""
        B, k = self.B, self.k
        V = log_probs.shape[1]
        xp = backend.get_array_module(log_probs)
        totals = (xp.asarray(self.scores)[:, :, None] + log_probs.reshape(B, k, V)).reshape(B, k * V)
        index, top = _topk(totals, k)
        parent, token = index // V, index % V
        keep = (np.arange(k)[None, :] < self.budget[:, None]) & np.isfinite(top)
        ended = keep & (token == self.eos)
        rows = (np.arange(B)[:, None] * k + parent).reshape(-1)
        self.history = np.concatenate([self.history[rows], token.reshape(-1, 1)], axis=1)
        if extra is not None:
            step = extra[rows][:, None]
            self.extras = step if self.extras is None else np.concatenate([self.extras[rows], step], axis=1)
        self._collect(ended, top)
        self.scores = np.where(keep & ~ended, top, -np.inf)
        self._retire()
        return rows, token.reshape(-1)

    def _collect(self, ended, top):
        self.budget = self.budget - ended.sum(axis=1)
        for b, j in zip(*np.nonzero(ended), strict=True):
            self.finished[b].append(self._hypothesis(b * self.k + j, float(top[b, j]), True))

    def _hypothesis(self, row, score, finished):
        tokens = self.history[row]
        length = tokens.size
        extra = None if self.extras is None else self.extras[row]
        return Hypothesis(tokens[:length - 1 if finished else length].tolist(), score,
                          score / length ** self.alpha, finished, extra)

    def _retire(self):
        """Mark done the items whose n_best-th finished hypothesis no live beam can beat."""
        best_live = self.scores.max(axis=1)
        bound = best_live / self.max_len ** self.alpha if self.alpha else best_live
        for b in np.nonzero(self.budget > 0)[0]:
            ranked = sorted((h.normalized_score for h in self.finished[b]), reverse=True)
            if not np.isfinite(bound[b]) or (len(ranked) >= self.n_best and ranked[self.n_best - 1] >= bound[b]):
                self.budget[b] = 0
        self.scores[self.budget == 0] = -np.inf

    def _impossible(self, b):
        """Every continuation had log-probability -inf from the first step: an empty, impossible hypothesis."""
        extra = None if self.extras is None else self.extras[b * self.k, :0]
        return Hypothesis([], -np.inf, -np.inf, False, extra)

    def all_done(self) -> bool:
        return not (self.budget > 0).any()

    def results(self):
        """Per item its n_best hypotheses: finished first by normalised score, then live ones cut at max_len."""
        out = []
        for b in range(self.B):
            live = [self._hypothesis(b * self.k + j, float(self.scores[b, j]), False)
                    for j in np.nonzero(np.isfinite(self.scores[b]))[0]]
            ranked = [sorted(group, key=lambda h: -h.normalized_score) for group in (self.finished[b], live)]
            out.append((ranked[0] + ranked[1])[:self.n_best] or [self._impossible(b)])
        return out
