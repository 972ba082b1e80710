"""ember's intra-op threads: PyTorch's ``set_num_threads`` / ``get_num_threads``, and the pool
that runs one large pass in parts.

NumPy runs every ufunc on the calling thread and lets go of the GIL while it runs; its BLAS has
a pool of its own. So a pass over a large array (a softmax over a 10k-word vocabulary) can be cut
into contiguous parts that run at once on several threads, as PyTorch's intra-op pool does.
``parallel_for`` does that, and only above ``PARALLEL_MIN_ELEMENTS``: below it, handing a part to
a thread costs more than it saves.

``set_num_threads(n)`` sets both pools: ember's, and NumPy's BLAS through threadpoolctl.

NOTE: OpenBLAS's idle threads spin for about 0.1 s after each GEMM before they sleep (its
``OPENBLAS_THREAD_TIMEOUT``, read once when NumPy loads it, 2^28 cycles by default). A part handed
to a thread in that window shares its core with a spinning one, so a pass right after a GEMM
gains little from threads; what it gains is that its rows go through in cache-sized blocks. With
the variable at 20 (2^20 cycles) set before NumPy is imported, a softmax after a GEMM ran in 17 ms
instead of 26 (1120 × 10,000 logits, 2 cores), at some cost to models of many small GEMMs
(LeNet-5's training step 10–20% slower), so ember leaves the default alone.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

# NOTE: measured on a 2-core machine, a 2-thread pass is faster than one thread from about 2^18
# float32 elements (a softmax over 1120 × 10,000 logits: 28 ms on one thread, 13.5 on two); below
# that the hand-off to the pool (~20 µs) eats the gain.
PARALLEL_MIN_ELEMENTS = 1 << 18


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_state = {"threads": _available_cores(), "interop": _available_cores(), "pool": None}
_inside = threading.local()  # set while a thread runs a part: a nested parallel_for runs inline


def get_num_threads() -> int:
    """The number of threads an op may use (ember's pool and, once set, NumPy's BLAS)."""
    return _state["threads"]


def set_num_threads(num: int) -> None:
    """Use ``num`` threads within an op: ember's own passes and NumPy's BLAS, whose pool
    threadpoolctl resizes (PyTorch's ``torch.set_num_threads``)."""
    _check_count("set_num_threads", num)
    if num != _state["threads"] and _state["pool"] is not None:
        _state["pool"].shutdown(wait=True)
        _state["pool"] = None
    _state["threads"] = num
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=num, user_api="blas")


def get_num_interop_threads() -> int:
    """PyTorch's inter-op thread count: stored; ember runs one op at a time."""
    return _state["interop"]


def set_num_interop_threads(num: int) -> None:
    """Store PyTorch's inter-op thread count (ember runs one op at a time, so it changes nothing)."""
    _check_count("set_num_interop_threads", num)
    _state["interop"] = num


def _check_count(name, num):
    if isinstance(num, bool) or not isinstance(num, int):
        raise RuntimeError(f"{name} expects an int, but got {type(num).__name__}")
    if num < 1:
        raise RuntimeError(f"{name} expects a positive integer")


def parallel_for(body, size: int, work: int | None = None) -> None:
    """Run ``body(start, stop)`` over contiguous parts of ``range(size)``, at once on the pool's
    threads; ``work`` (the number of elements the whole pass touches, default ``size``) decides
    whether threads pay: below ``PARALLEL_MIN_ELEMENTS``, on one thread, or inside another part,
    ``body(0, size)`` runs here. ``body`` must only write to its own part.
    """
    parts = min(_state["threads"], size)
    if parts <= 1 or (size if work is None else work) < PARALLEL_MIN_ELEMENTS or getattr(_inside, "active", False):
        body(0, size)
        return
    bounds = [size * k // parts for k in range(parts + 1)]
    futures = [_pool().submit(_run_part, body, bounds[k], bounds[k + 1]) for k in range(1, parts)]
    try:
        _run_part(body, bounds[0], bounds[1])  # the caller takes the first part itself
    finally:
        wait(futures)  # no part may still be writing when this returns or raises
    for future in futures:
        future.result()


def parallel_blocks(body, size: int, block: int, work: int | None = None) -> None:
    """``parallel_for`` whose parts are cut again into blocks of at most ``block`` (say rows of a
    matrix that together fit a core's cache): ``body(start, stop)`` runs once per block, so a pass
    of several steps (max, subtract, exp, sum) finds its block in cache after the first step."""
    def blocks(start, stop):
        for low in range(start, stop, block):
            body(low, min(low + block, stop))

    parallel_for(blocks, size, work)


def rowwise(ufunc, a, b):
    """``ufunc(a, b)`` for NumPy arrays whose first axes agree (b may broadcast along the others),
    in parts of rows on the intra-op threads when the result is large."""
    if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)) or a.ndim == 0 or a.ndim != b.ndim \
            or a.shape[0] != b.shape[0] or a.size < PARALLEL_MIN_ELEMENTS:
        return ufunc(a, b)
    out = np.empty(np.broadcast_shapes(a.shape, b.shape), ufunc.resolve_dtypes((a.dtype, b.dtype, None))[-1])
    parallel_for(lambda start, stop: ufunc(a[start:stop], b[start:stop], out=out[start:stop]), len(a), out.size)
    return out


def _run_part(body, start, stop):
    _inside.active = True
    try:
        body(start, stop)
    finally:
        _inside.active = False


def _pool() -> ThreadPoolExecutor:
    if _state["pool"] is None:
        _state["pool"] = ThreadPoolExecutor(_state["threads"] - 1, thread_name_prefix="ember-intra-op")
    return _state["pool"]


def _forget_pool_after_fork():
    """A forked child (a DataLoader worker, a word2vec worker) has none of the pool's threads:
    it starts its own on first use."""
    _state["pool"] = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)
