"""Array kernels for scattered and segmented reductions, written once for NumPy and CuPy.

``ufunc.at`` (an unbuffered scatter) and ``ufunc.reduceat`` (a reduction over runs of rows) are
the fastest NumPy spellings, but CuPy implements only some of them. These helpers try the fast
one and fall back to plain fancy-index updates, which every array module has.
"""
from __future__ import annotations

import numpy as np


def ufunc_at(xp, name, a, positions, values):
    """``a[positions] = ufunc(a[positions], values)`` unbuffered: every repeat of a position counts.

    NOTE: CuPy implements ``ufunc.at`` for add, maximum and minimum but not for multiply (it
    raises NotImplementedError); there the update runs in rounds (``ufunc_at_in_rounds``).
    """
    ufunc = getattr(xp, name)
    try:
        ufunc.at(a, positions, values)
    except NotImplementedError:
        ufunc_at_in_rounds(xp, ufunc, a, positions, values)


def ufunc_at_in_rounds(xp, ufunc, a, positions, values):
    """``ufunc.at`` from plain fancy-index updates: round r applies the r-th occurrence of each
    position, so no round repeats one (rounds = the largest multiplicity; one host read)."""
    positions = positions.reshape(-1)
    values = xp.broadcast_to(values, positions.shape + a.shape[1:]) if a.ndim > 1 else values.reshape(-1)
    order = xp.argsort(positions)  # any order within a run will do: ranks only need to differ
    ranked = positions[order]
    new_run = xp.concatenate([xp.ones(1, bool), ranked[1:] != ranked[:-1]]) if ranked.size else ranked.astype(bool)
    run_first = xp.nonzero(new_run)[0]
    rank = xp.arange(ranked.size) - run_first[xp.cumsum(new_run) - 1]
    for r in range(int(rank.max()) + 1 if rank.size else 0):
        chosen = order[rank == r]
        a[positions[chosen]] = ufunc(a[positions[chosen]], values[chosen])


def segment_reduce(xp, name, x, starts):
    """``ufunc.reduceat(x, starts, axis=0)`` for non-empty runs of rows starting at ``starts``.

    NOTE: CuPy has no ``maximum.reduceat``/``minimum.reduceat``; there each row is sent to its
    run's slot with ``ufunc_at``, from the ufunc's identity (−inf, or the integer extreme).
    """
    try:
        return getattr(xp, name).reduceat(x, starts, axis=0)
    except NotImplementedError:
        return segment_reduce_by_at(xp, name, x, starts)


def segment_reduce_by_at(xp, name, x, starts):
    """``segment_reduce`` without ``reduceat``: a run index per row, then an unbuffered ``ufunc_at``."""
    flags = xp.zeros(x.shape[0], np.int64)
    flags[starts] = 1
    run = xp.cumsum(flags) - 1
    info = np.finfo(x.dtype) if x.dtype.kind == "f" else np.iinfo(x.dtype)
    start = {"maximum": -np.inf if x.dtype.kind == "f" else info.min, "minimum": np.inf if x.dtype.kind == "f"
             else info.max, "add": 0, "multiply": 1}[name]
    out = xp.full((len(starts),) + x.shape[1:], start, dtype=x.dtype)
    ufunc_at(xp, name, out, run, x)
    return out
