"""Loading in worker processes: ``DataLoader(num_workers=k)`` and ``get_worker_info``.

The main process draws the batches' indices from its sampler (so the order is the same
for any ``num_workers``) and hands them out round-robin; each of the k processes holds
the dataset, fetches and collates its batches, and sends them back through a queue,
while the main process keeps up to ``prefetch_factor · k`` batches in flight and yields
them in order. An ``IterableDataset`` is iterated whole in every worker (it shards itself
by ``get_worker_info()``); its batches come back round-robin from the workers not yet
exhausted.

Tensors travel as NumPy arrays (pickled over a pipe) and are tensors again on arrival.
A worker's exception is re-raised in the main process naming the worker; a worker that
dies is noticed within a fraction of a second; the workers stop when the iteration ends
(or, with ``persistent_workers``, when the loader is collected), and a worker whose main
process has gone stops by itself.
"""
from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import random
import sys
import time
import traceback
import weakref
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import islice

import numpy as np

from ember import backend
from ember import random as _random
from ember.autograd.tensor import Tensor

__all__ = ["WorkerInfo", "get_worker_info"]

_POLL_S = 0.2  # how often a waiting process checks that the other side is alive
_JOIN_S = 5.0  # how long a stopping worker may take before it is terminated


# -- what a worker knows about itself -------------------------------------------------------
@dataclass(frozen=True)
class WorkerInfo:
    """What ``get_worker_info()`` tells code running in a worker process.

    ``id`` (0 … num_workers − 1), ``num_workers``, ``seed`` (= base seed + id: ember's, NumPy's
    and Python's global generators are seeded with it) and ``dataset`` (this worker's copy).
    """

    id: int
    num_workers: int
    seed: int
    dataset: object


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """This worker's ``WorkerInfo`` inside a ``DataLoader`` worker process; ``None`` in the main process.

    >>> get_worker_info() is None
    True
    """
    return _worker_info


def _seed_worker(seed: int) -> None:
    """Fresh, distinct streams per worker: ember's, NumPy's legacy and Python's global generators."""
    if backend._cupy is None:
        _random.manual_seed(seed)
    else:  # manual_seed would seed CuPy too, and a forked worker must never touch the GPU
        _random.set_rng_state(np.random.default_rng(seed).bit_generator.state)
    np.random.seed(np.random.SeedSequence(seed).generate_state(4))
    random.seed(seed)


# -- fetching: the same code in the main process and in the workers --------------------------
class _MapFetcher:
    """Batches of a map-style dataset from lists (or arrays) of indices; single samples without batching."""

    def __init__(self, dataset, auto_collation, collate_fn, fast):
        self.dataset, self.auto_collation, self.collate_fn, self.fast = dataset, auto_collation, collate_fn, fast

    def fetch(self, indices):
        if not self.auto_collation:
            return self.collate_fn(self.dataset[indices])
        if self.fast:
            batch = self.dataset.get_batch(np.asarray(indices, dtype=np.int64))
            if batch is not None:
                return batch
        keys = indices.tolist() if isinstance(indices, np.ndarray) else indices
        return self.collate_fn([self.dataset[i] for i in keys])


class _IterableFetcher:
    """Batches of ``batch_size`` samples taken from the stream; ``StopIteration`` once it is spent."""

    def __init__(self, dataset, auto_collation, collate_fn, batch_size, drop_last):
        self.samples, self.auto_collation, self.collate_fn = iter(dataset), auto_collation, collate_fn
        self.batch_size, self.drop_last = batch_size, drop_last

    def fetch(self, _indices=None):
        if not self.auto_collation:
            return self.collate_fn(next(self.samples))
        batch = list(islice(self.samples, self.batch_size))
        if not batch or (self.drop_last and len(batch) < self.batch_size):
            raise StopIteration
        return self.collate_fn(batch)


def fetcher_for(loader):
    """The fetcher of ``loader``'s dataset (a ``DataLoader``, or a worker's ``_WorkerView`` of one)."""
    if loader._iterable:
        return _IterableFetcher(loader.dataset, loader._auto_collation, loader.collate_fn, loader.batch_size,
                                loader.drop_last)
    return _MapFetcher(loader.dataset, loader._auto_collation, loader.collate_fn, loader._fast)


# -- what travels through the queues --------------------------------------------------------
class _Array:
    """A tensor on its way between processes: its array, on the host."""

    def __init__(self, array):
        self.array = array


def _pack(obj):
    """``obj`` with every tensor replaced by its host array, through dicts, tuples and lists."""
    if isinstance(obj, Tensor):
        return _Array(backend.to_numpy(obj.array))
    return _map_structure(obj, _pack)


def _unpack(obj):
    if isinstance(obj, _Array):
        return Tensor(obj.array)
    return _map_structure(obj, _unpack)


def _map_structure(obj, fn):
    if isinstance(obj, Mapping):
        return type(obj)({k: fn(v) for k, v in obj.items()}) if type(obj) is dict else _keep(obj, fn)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(fn(v) for v in obj))
    if type(obj) in (tuple, list):
        return type(obj)(fn(v) for v in obj)
    return obj


def _keep(mapping, fn):
    """A mapping of another type (OrderedDict, defaultdict): converted in a copy of itself."""
    clone = mapping.copy()
    for key, value in mapping.items():
        clone[key] = fn(value)
    return clone


class _Stop:
    """A worker's answer once its iterable dataset is spent (until the next epoch)."""


class _Failure:
    """An exception raised in a worker, carried to the main process to be raised there."""

    def __init__(self, worker_id: int, where: str):
        self.worker_id, self.where, self.text = worker_id, where, traceback.format_exc()
        exc_type = type(sys.exc_info()[1])
        try:
            pickle.dumps(exc_type)
        except Exception:
            exc_type = RuntimeError  # a class defined in a function cannot cross the pipe
        self.exc_type = exc_type

    def reraise(self):
        message = (f"Caught {self.exc_type.__name__} in DataLoader worker process {self.worker_id} {self.where}.\n"
                   f"Original {self.text}")
        try:
            error = self.exc_type(_Message(message))
        except Exception:
            error = RuntimeError(message)
        raise error


class _Message(str):
    """A message that prints as itself even where it is repr'd (``KeyError`` shows its argument's repr)."""

    def __repr__(self):
        return str(self)


# -- the worker process -------------------------------------------------------------------
def _worker_loop(loader, worker_id, num_workers, base_seed, index_queue, result_queue, parent_pid):
    """The body of worker ``worker_id``: answer ``(task, indices)`` with ``(task, batch)`` until told to stop."""
    global _worker_info
    result_queue.cancel_join_thread()  # never wait at exit for results nobody will read
    seed = base_seed + worker_id
    _seed_worker(seed)
    _worker_info = WorkerInfo(worker_id, num_workers, seed, loader.dataset)
    failure, fetcher = None, None
    try:
        if loader.worker_init_fn is not None:
            loader.worker_init_fn(worker_id)
        fetcher = fetcher_for(loader)
    except Exception:
        failure = _Failure(worker_id, "while starting")
    try:
        while (message := _next_message(index_queue, parent_pid)) is not None:
            if message == "reset":
                fetcher, failure = _restart(loader, fetcher, failure, worker_id)
                continue
            task, indices = message
            result_queue.put((task, failure or _answer(fetcher, indices, worker_id)))
    except KeyboardInterrupt:
        pass  # Ctrl-C reaches the whole process group; the main process reports it


def _next_message(index_queue, parent_pid):
    """The next message, or ``None`` to stop (asked to, or the main process is gone)."""
    while True:
        try:
            return index_queue.get(timeout=_POLL_S * 5)
        except queue.Empty:
            if os.getppid() != parent_pid:
                return None


def _restart(loader, fetcher, failure, worker_id):
    """A new epoch of a persistent worker: an iterable dataset starts its stream again."""
    if failure is not None or not loader._iterable:
        return fetcher, failure
    try:
        return fetcher_for(loader), None
    except Exception:
        return None, _Failure(worker_id, "while starting an epoch")


def _answer(fetcher, indices, worker_id):
    """The pickled batch (so that a batch that cannot be pickled fails here, visibly), or why not."""
    try:
        return pickle.dumps(_pack(fetcher.fetch(indices)), protocol=pickle.HIGHEST_PROTOCOL)
    except StopIteration:
        return _Stop()
    except Exception:
        return _Failure(worker_id, "while fetching a batch")


# -- the main process's side ----------------------------------------------------------------
def _context(multiprocessing_context):
    """Fork where the platform has it (workers start at once, sharing the dataset's memory)."""
    if multiprocessing_context is None:
        methods = multiprocessing.get_all_start_methods()
        return multiprocessing.get_context("fork" if "fork" in methods else None)
    if isinstance(multiprocessing_context, str):
        return multiprocessing.get_context(multiprocessing_context)
    return multiprocessing_context


def _stop_workers(workers, index_queues, result_queue):
    """Ask every worker to stop, wait a bounded time, terminate the ones still running."""
    for q in index_queues:
        try:
            q.put(None)
        except (OSError, ValueError):
            pass
    deadline = time.monotonic() + _JOIN_S
    for w in workers:
        w.join(timeout=max(0.0, deadline - time.monotonic()))
    for w in workers:
        if w.is_alive():
            w.terminate()
            w.join(timeout=1.0)
    for q in (*index_queues, result_queue):
        q.cancel_join_thread()
        q.close()


class WorkerPool:
    """``loader.num_workers`` processes serving batches, read one epoch at a time by a ``MultiProcessIterator``."""

    def __init__(self, loader, base_seed: int):
        ctx, n = _context(loader.multiprocessing_context), loader.num_workers
        self.num_workers, self.timeout = n, loader.timeout
        self.result_queue = ctx.Queue()
        self.index_queues = [ctx.Queue() for _ in range(n)]
        view = _WorkerView(loader)
        self.workers = [ctx.Process(target=_worker_loop, daemon=True, name=f"DataLoader worker {i}",
                                    args=(view, i, n, base_seed, self.index_queues[i], self.result_queue,
                                          os.getpid())) for i in range(n)]
        for w in self.workers:
            w.start()
        self.next_task = 0
        self._finalizer = weakref.finalize(self, _stop_workers, self.workers, self.index_queues, self.result_queue)

    @property
    def alive(self) -> bool:
        return self._finalizer.alive

    def shutdown(self) -> None:
        self._finalizer()

    def send(self, worker_id: int, indices) -> int:
        task, self.next_task = self.next_task, self.next_task + 1
        self.index_queues[worker_id].put((task, indices))
        return task

    def reset(self) -> None:
        """A new epoch: every worker restarts its stream (its answers to older tasks are dropped)."""
        for q in self.index_queues:
            q.put("reset")

    def receive(self, pending_workers):
        """The next ``(task, answer)`` to arrive; a worker of ``pending_workers`` that died raises."""
        start = time.monotonic()
        while True:
            try:
                return self.result_queue.get(timeout=_POLL_S)
            except queue.Empty:
                pass
            dead = [w for i, w in enumerate(self.workers) if i in pending_workers and w.exitcode is not None]
            if dead:
                pids = ", ".join(f"{w.name} (pid {w.pid}, exit code {w.exitcode})" for w in dead)
                raise RuntimeError(f"DataLoader worker exited unexpectedly: {pids}")
            if self.timeout > 0 and time.monotonic() - start > self.timeout:
                raise RuntimeError(f"DataLoader timed out after {self.timeout} seconds")


class _WorkerView:
    """The loader's settings a worker needs, without its pool (which cannot, and need not, travel)."""

    def __init__(self, loader):
        names = ("dataset", "batch_size", "collate_fn", "drop_last", "worker_init_fn", "_iterable", "_fast",
                 "_auto_collation")
        self.__dict__.update({name: getattr(loader, name) for name in names})


class MultiProcessIterator:
    """One epoch of batches from a ``WorkerPool``, in the order of ``batches`` (or round-robin for a stream)."""

    def __init__(self, loader, pool: WorkerPool, batches):
        self.loader, self.pool, self.batches = loader, pool, batches
        self.owns_pool = not loader.persistent_workers
        self.first_task = pool.next_task
        self.active = list(range(pool.num_workers))  # workers with batches left (a stream's may run out)
        self.turn = 0
        self.pending, self.owner, self.arrived = deque(), {}, {}
        self.in_order = loader.in_order
        for _ in range(loader.prefetch_factor * pool.num_workers):
            self._dispatch()

    def _dispatch(self) -> None:
        if not self.active:
            return
        if self.batches is None:
            indices = None
        elif (indices := next(self.batches, None)) is None:
            return
        worker = self.active[self.turn % len(self.active)]
        self.turn += 1
        task = self.pool.send(worker, indices)
        self.pending.append(task)
        self.owner[task] = worker

    def __iter__(self):
        return self

    def __next__(self):
        try:
            while self.pending:
                answer = self._take()
                self._dispatch()
                if isinstance(answer, _Stop):
                    continue
                if isinstance(answer, _Failure):
                    answer.reraise()
                return self.loader._place(_unpack(pickle.loads(answer)))
        except BaseException:
            self._close()
            raise
        self.loader.epoch += 1
        if self.owns_pool:
            self.pool.shutdown()
        raise StopIteration

    def _take(self):
        """The answer of the oldest task (or, not ``in_order``, of any that has arrived)."""
        while True:
            ready = self.pending[0] if self.in_order or not self.arrived else next(iter(self.arrived))
            if ready in self.arrived:
                self.pending.remove(ready)
                worker = self.owner.pop(ready)
                answer = self.arrived.pop(ready)
                if isinstance(answer, _Stop) and worker in self.active:
                    self.active.remove(worker)
                return answer
            task, answer = self.pool.receive({self.owner[t] for t in self.pending})
            if task >= self.first_task:  # older ones belong to an epoch left unfinished
                self.arrived[task] = answer

    def _close(self) -> None:
        """After an error: these workers stop (a persistent pool too; the next epoch starts a fresh one)."""
        self.pool.shutdown()
        if self.loader._pool is self.pool:
            self.loader._pool = None

    def __del__(self):
        if self.owns_pool:  # an epoch left unfinished
            self.pool.shutdown()
