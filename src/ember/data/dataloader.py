"""``DataLoader``: a plain, seeded iterator over mini-batches, in this process or in worker processes.

Determinism (so that a training run resumed from a checkpoint sees exactly the batches it
would have seen): with ``seed`` given, the order of epoch ``e`` is a permutation drawn from
a generator seeded by ``(seed, e)``; the loader counts the epochs it completed, and
``set_epoch(e)`` jumps to any epoch. Without a seed the order comes from ``generator``, else
from ember's global generator, so ``em.manual_seed`` fixes it (and the RNG state in a
checkpoint restores it). The order is drawn in the main process, so it is the same for any
``num_workers``.

Samplers and batch samplers are consumed lazily, one batch at a time (a sampler of 10¹⁰
indices starts at once); the loader's own order (``shuffle``, or none) is one array.
"""
from __future__ import annotations

import itertools
import math
import multiprocessing
from collections.abc import Mapping

import numpy as np

from ember.autograd.tensor import Tensor
from ember.data.collate import default_collate, default_convert
from ember.data.dataset import IterableDataset
from ember.data.sampler import _batched, _chunks, numpy_generator
from ember.data.worker import MultiProcessIterator, WorkerPool, fetcher_for

__all__ = ["DataLoader", "default_collate", "default_convert"]


def _to_device(batch, device):
    if isinstance(batch, Tensor):
        return batch.to(device)
    if isinstance(batch, Mapping):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(_to_device(v, device) for v in batch))
    if isinstance(batch, (tuple, list)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


class DataLoader:
    """Iterate over ``dataset`` in mini-batches of ``batch_size`` samples (PyTorch's arguments, in its order).

    Args:
        dataset: a map-style dataset (``__len__`` and ``__getitem__``) or an ``IterableDataset``.
        batch_size: samples per batch; ``None`` yields the samples one by one, uncollated.
        shuffle: visit the samples in a fresh random order every epoch.
        sampler: an iterable of indices giving the order (excludes ``shuffle``); one with
            ``set_epoch`` (``DistributedSampler``) is told the loader's epoch before each pass.
        batch_sampler: an iterable of index lists, one per batch (excludes ``batch_size``,
            ``shuffle``, ``sampler`` and ``drop_last``).
        num_workers: worker processes that fetch and collate batches ahead (0: in this process).
        collate_fn: merges a list of samples into a batch (default: ``default_collate``;
            ``default_convert`` when ``batch_size`` is ``None``).
        pin_memory, pin_memory_device: accepted; batches are host arrays (see ``device``).
        drop_last: drop the last incomplete batch.
        timeout: seconds to wait for a worker's batch before raising (0: no limit).
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker after its seeding.
        multiprocessing_context: ``'fork'`` (the default where available), ``'spawn'``,
            ``'forkserver'`` or a context object.
        generator: where the order (and the workers' base seed) is drawn from: a NumPy
            ``Generator`` or an object holding one (an ember ``Generator``).
        prefetch_factor: batches in flight per worker (default 2 with workers).
        persistent_workers: keep the workers across epochs.
        in_order: yield the batches in order; ``False`` yields them as they arrive.
        seed: the order of epoch ``e`` is drawn from a generator seeded by ``(seed, e)``
            (overridden by ``generator``).
        device: move every batch to this device (``'cpu'``/``'cuda'``) before yielding it.

    Workers: each holds the dataset; the main process draws the indices and gathers the
    batches in order. Worker ``i`` seeds ember's, NumPy's and Python's global generators
    with ``base_seed + i`` (``base_seed`` drawn per iteration, or once for persistent workers).

    Fast path: when ``collate_fn`` is not given and the dataset defines ``get_batch``
    (``TensorDataset``, and ``Subset`` of one), a batch is gathered with one fancy-index
    per tensor instead of a Python loop over its samples; the result is the same.

    >>> ds = TensorDataset(em.randn(10, 3), em.arange(10))
    >>> loader = DataLoader(ds, batch_size=4, shuffle=True, seed=0)
    >>> [tuple(x.shape) for x, y in loader], len(loader)
    ([(4, 3), (4, 3), (2, 3)], 3)
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", in_order=True, seed=None, device=None):
        self._iterable = isinstance(dataset, IterableDataset)
        _check_options(batch_size, shuffle, sampler, batch_sampler, drop_last, seed)
        _check_iterable(self._iterable, shuffle, sampler, batch_sampler)
        _check_workers(num_workers, timeout, prefetch_factor, persistent_workers, multiprocessing_context)
        self.dataset = dataset
        self.batch_size = None if batch_sampler is not None else batch_size
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self._auto_collation = batch_sampler is not None or batch_size is not None
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if self._auto_collation else default_convert)
        self.num_workers, self.timeout, self.worker_init_fn = int(num_workers), timeout, worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.prefetch_factor = (2 if prefetch_factor is None else prefetch_factor) if num_workers > 0 else None
        self.persistent_workers, self.in_order = bool(persistent_workers), bool(in_order)
        self.pin_memory, self.pin_memory_device = pin_memory, pin_memory_device
        self.generator, self.seed, self.device = generator, seed, device
        self.epoch = 0
        self._fast = collate_fn is None and self._auto_collation and callable(getattr(dataset, "get_batch", None))
        self._pool = None  # the persistent workers, once started

    # -- epochs ------------------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration produce the order of epoch ``epoch`` (with ``seed``)."""
        self.epoch = int(epoch)

    def state_dict(self) -> dict:
        """What a checkpoint needs to resume the batch order: the epoch counter."""
        return {"epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        self.epoch = int(state["epoch"])

    # -- the order -----------------------------------------------------------------------
    def _order(self):
        """The coming epoch's sample indices: an iterator over the sampler, or the loader's own order (an array)."""
        if self.sampler is not None:
            if hasattr(self.sampler, "set_epoch"):
                self.sampler.set_epoch(self.epoch)  # a DistributedSampler reshuffles with the loader's epoch
            return iter(self.sampler)
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n, dtype=np.int64)
        rng = np.random.default_rng([self.seed, self.epoch]) if self.seed is not None and self.generator is None \
            else numpy_generator(self.generator)
        return rng.permutation(n).astype(np.int64, copy=False)

    def _index_batches(self):
        """An iterator over the epoch's batches of indices (single indices when not batching), drawn as consumed."""
        if self.batch_sampler is not None:
            return iter(self.batch_sampler)
        order, bs = self._order(), self.batch_size
        if bs is None:  # single indices, as Python ints
            return _chunks(order) if isinstance(order, np.ndarray) else order
        if isinstance(order, np.ndarray):
            stop = len(order) - len(order) % bs if self.drop_last else len(order)
            return (order[i:i + bs] for i in range(0, stop, bs))
        return _batched(order, bs, self.drop_last)

    # -- iteration ---------------------------------------------------------------------
    def __iter__(self):
        # The order is drawn here, not at the first batch, so that the draw from the global
        # generator happens at a predictable point of the training loop.
        batches = None if self._iterable else self._index_batches()
        if self.num_workers == 0:
            return self._serial(fetcher_for(self), batches)
        return MultiProcessIterator(self, self._workers(), batches)

    def _serial(self, fetcher, batches):
        for indices in itertools.repeat(None) if batches is None else batches:  # a stream: until it is spent
            try:
                batch = fetcher.fetch(indices)
            except StopIteration:
                if not self._iterable:
                    raise
                break
            yield self._place(batch)
        self.epoch += 1

    def _workers(self) -> WorkerPool:
        """This epoch's worker pool: a fresh one, or the persistent one (restarted for a new epoch)."""
        if self._pool is not None and self._pool.alive:
            if self._iterable:
                self._pool.reset()
            return self._pool
        pool = WorkerPool(self, self._base_seed())
        if self.persistent_workers:
            self._pool = pool
        return pool

    def _base_seed(self) -> int:
        """The workers' base seed: a function of ``(seed, epoch)`` for a seeded loader, else a draw."""
        if self.seed is not None and self.generator is None:
            return int(np.random.SeedSequence([self.seed, self.epoch, 1]).generate_state(1, np.uint64)[0] >> 2)
        return int(numpy_generator(self.generator).integers(2**62))

    def _place(self, batch):
        return batch if self.device is None else _to_device(batch, self.device)

    def __len__(self) -> int:
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __repr__(self):
        return (f"DataLoader(dataset={self.dataset!r}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"num_workers={self.num_workers}, drop_last={self.drop_last}, seed={self.seed})")


# -- argument checks --------------------------------------------------------------------------
def _check_options(batch_size, shuffle, sampler, batch_sampler, drop_last, seed):
    if batch_sampler is not None:
        if batch_size != 1 or shuffle or sampler is not None or drop_last:
            raise ValueError("DataLoader: batch_sampler option is mutually exclusive with "
                             "batch_size, shuffle, sampler, and drop_last")
        return
    if batch_size is None:
        if drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
    elif isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"DataLoader: batch_size should be a positive integer, got {batch_size!r}")
    if sampler is not None and shuffle:
        raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
    if seed is not None and (not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ValueError(f"DataLoader: seed should be a non-negative integer or None, got {seed!r}")


def _check_iterable(iterable, shuffle, sampler, batch_sampler):
    """An iterable dataset sets its own order: no shuffle, no sampler."""
    for name, value in (("shuffle", shuffle), ("sampler", sampler), ("batch_sampler", batch_sampler)):
        if iterable and value is not None and value is not False:
            raise ValueError(f"DataLoader with IterableDataset: expected unspecified {name} option, "
                             f"but got {name}={value!r}")


def _check_workers(num_workers, timeout, prefetch_factor, persistent_workers, multiprocessing_context):
    if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)) or num_workers < 0:
        raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable multiprocessing.")
    if timeout < 0:
        raise ValueError("timeout option should be non-negative")
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError("prefetch_factor option could only be specified in multiprocessing. let num_workers > 0 "
                         "to enable multiprocessing, otherwise set prefetch_factor to None.")
    if prefetch_factor is not None and (not isinstance(prefetch_factor, (int, np.integer)) or prefetch_factor < 1):
        raise ValueError(f"prefetch_factor option should be a positive integer, got {prefetch_factor!r}")
    if persistent_workers and num_workers == 0:
        raise ValueError("persistent_workers option needs num_workers > 0")
    if multiprocessing_context is not None:
        if num_workers == 0:
            raise ValueError("multiprocessing_context can only be used with multi-process loading "
                             f"(num_workers > 0), but got num_workers={num_workers}")
        methods = multiprocessing.get_all_start_methods()
        if isinstance(multiprocessing_context, str) and multiprocessing_context not in methods:
            raise ValueError(f"multiprocessing_context option should specify a valid start method in {methods!r}, "
                             f"but got multiprocessing_context={multiprocessing_context!r}")
