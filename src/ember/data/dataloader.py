"""``DataLoader``: a plain, seeded iterator over mini-batches, and ``default_collate``.

Determinism (so that a training run resumed from a checkpoint sees exactly the batches it
would have seen): with ``seed`` given, the order of epoch ``e`` is a permutation drawn from
a generator seeded by ``(seed, e)``; the loader counts the epochs it completed, and
``set_epoch(e)`` jumps to any epoch. Without a seed the order comes from ember's global
generator, so ``em.manual_seed`` fixes it (and the RNG state in a checkpoint restores it).
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ember import backend
from ember import random as _random
from ember.autograd.tensor import DEFAULT_DTYPE, Tensor

__all__ = ["DataLoader", "default_collate"]


# -- collation -------------------------------------------------------------------------
def _stack(batch) -> Tensor:
    """Tensors or arrays (dtype kept) stacked on a new first axis."""
    arrays = [b.array if isinstance(b, Tensor) else b for b in batch]
    shapes = {tuple(a.shape) for a in arrays}
    if len(shapes) > 1:
        raise RuntimeError(f"default_collate: cannot stack samples of different shapes {sorted(shapes)}; "
                           "pad them to one shape or pass a collate_fn")
    return Tensor(backend.get_array_module(arrays[0]).stack(arrays))


def _collate_numbers(batch) -> Tensor:
    """Python numbers: bools stay bool, ints become int64, floats float32 (ember's rule)."""
    array = np.asarray(batch)
    if array.dtype.kind == "f":
        array = array.astype(DEFAULT_DTYPE)
    elif array.dtype.kind in "iu":
        array = array.astype(np.int64)
    return Tensor(array)


def default_collate(batch):
    """Merge a list of samples into one batch, stacking along a new first dimension.

    Tensors and arrays are stacked (dtype kept); Python numbers become tensors (bool →
    bool, int → int64, float → float32); strings stay a list; tuples, lists and dicts are
    collated field by field and keep their type (a namedtuple stays that namedtuple).

    >>> x, y = default_collate([(np.zeros(3), 1), (np.ones(3), 0)])
    >>> x.shape, y.tolist()
    ((2, 3), [1, 0])
    """
    if len(batch) == 0:
        raise ValueError("default_collate: cannot collate an empty batch")
    elem = batch[0]
    if isinstance(elem, Tensor) or (hasattr(elem, "shape") and hasattr(elem, "dtype")):  # and NumPy scalars
        return _stack(batch)
    if isinstance(elem, (bool, int, float)):
        return _collate_numbers(batch)
    if isinstance(elem, (str, bytes)) or elem is None:
        return list(batch)
    if isinstance(elem, Mapping):
        return {key: default_collate([sample[key] for sample in batch]) for key in elem}
    if isinstance(elem, (tuple, list)):
        return _collate_sequences(batch)
    raise TypeError(
        f"default_collate: samples must hold tensors, arrays, numbers, strings, dicts, tuples or lists; "
        f"found {type(elem).__name__}"
    )


def _collate_sequences(batch):
    elem = batch[0]
    if any(len(sample) != len(elem) for sample in batch):
        raise RuntimeError(
            f"default_collate: each sample in the batch should have the same number of fields, "
            f"got {sorted({len(s) for s in batch})}"
        )
    fields = [default_collate(list(samples)) for samples in zip(*batch, strict=True)]
    if hasattr(elem, "_fields"):  # a namedtuple
        return type(elem)(*fields)
    return tuple(fields) if isinstance(elem, tuple) else fields


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


# -- the loader ------------------------------------------------------------------------
class DataLoader:
    """Iterate over ``dataset`` in mini-batches of ``batch_size`` samples.

    Args:
        dataset: anything with ``__len__`` and ``__getitem__`` (a ``Dataset``).
        batch_size: samples per batch; the last batch is smaller unless ``drop_last``.
        shuffle: visit the samples in a fresh random order every epoch.
        sampler: an iterable of indices giving the order (excludes ``shuffle``); one with
            ``set_epoch`` (``DistributedSampler``) is told the loader's epoch before each pass.
        batch_sampler: an iterable of index lists, one per batch (excludes the four above).
        num_workers, pin_memory: accepted for PyTorch compatibility; loading runs in this
            process (batching is vectorised, see below).
        collate_fn: merges a list of samples into a batch (default: ``default_collate``).
        drop_last: drop the last incomplete batch.
        generator: a NumPy ``Generator`` to draw the permutations from (overrides ``seed``).
        seed: the order of epoch ``e`` is drawn from a generator seeded by ``(seed, e)``;
            ``None`` draws from ember's global generator (fixed by ``em.manual_seed``).
        device: move every batch to this device (``'cpu'``/``'cuda'``) before yielding it.

    Fast path: when ``collate_fn`` is not given and the dataset defines ``get_batch``
    (``TensorDataset``, and ``Subset`` of one), a batch is gathered with one fancy-index
    per tensor instead of a Python loop over its samples; the result is the same.

    >>> ds = TensorDataset(em.randn(10, 3), em.arange(10))
    >>> loader = DataLoader(ds, batch_size=4, shuffle=True, seed=0)
    >>> [tuple(x.shape) for x, y in loader], len(loader)
    ([(4, 3), (4, 3), (2, 3)], 3)
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, *, generator=None, seed=None, device=None):
        _check_options(batch_size, shuffle, sampler, batch_sampler, drop_last, seed)
        self.dataset = dataset
        self.batch_size = None if batch_sampler is not None else int(batch_size)
        self.shuffle = bool(shuffle)
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.num_workers, self.pin_memory = num_workers, pin_memory
        self.collate_fn = default_collate if collate_fn is None else collate_fn
        self.drop_last = bool(drop_last)
        self.generator, self.seed, self.device = generator, seed, device
        self.epoch = 0
        self._fast = collate_fn is None and callable(getattr(dataset, "get_batch", None))

    # -- epochs ------------------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration produce the order of epoch ``epoch`` (with ``seed``)."""
        self.epoch = int(epoch)

    def state_dict(self) -> dict:
        """What a checkpoint needs to resume the batch order: the epoch counter."""
        return {"epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        self.epoch = int(state["epoch"])

    # -- iteration ---------------------------------------------------------------------
    def _order(self) -> np.ndarray:
        """The sample indices of the coming epoch, drawn now."""
        if self.sampler is not None:
            if hasattr(self.sampler, "set_epoch"):
                self.sampler.set_epoch(self.epoch)  # a DistributedSampler reshuffles with the loader's epoch
            return np.fromiter((int(i) for i in self.sampler), dtype=np.int64)
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n, dtype=np.int64)
        if self.generator is not None:
            rng = self.generator
        elif self.seed is not None:
            rng = np.random.default_rng([self.seed, self.epoch])
        else:
            rng = _random.generator()
        return rng.permutation(n).astype(np.int64, copy=False)

    def _index_batches(self) -> list:
        if self.batch_sampler is not None:
            return [np.asarray(list(b), dtype=np.int64) for b in self.batch_sampler]
        order, bs = self._order(), self.batch_size
        stop = len(order) - len(order) % bs if self.drop_last else len(order)
        return [order[i:i + bs] for i in range(0, stop, bs)]

    def _fetch(self, indices):
        batch = self.dataset.get_batch(indices) if self._fast else None
        if batch is None:
            batch = self.collate_fn([self.dataset[int(i)] for i in indices])
        return batch if self.device is None else _to_device(batch, self.device)

    def __iter__(self):
        # The order is drawn here, not lazily at the first batch, so the draw from the
        # global generator happens at a predictable point of the training loop.
        return self._batches(self._index_batches())

    def _batches(self, index_batches):
        for indices in index_batches:
            yield self._fetch(indices)
        self.epoch += 1

    def __len__(self) -> int:
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __repr__(self):
        return (f"DataLoader(dataset={self.dataset!r}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}, seed={self.seed})")


def _check_options(batch_size, shuffle, sampler, batch_sampler, drop_last, seed):
    if batch_sampler is not None:
        if batch_size != 1 or shuffle or sampler is not None or drop_last:
            raise ValueError("DataLoader: batch_sampler option is mutually exclusive with "
                             "batch_size, shuffle, sampler, and drop_last")
        return
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"DataLoader: batch_size should be a positive integer, got {batch_size!r}")
    if sampler is not None and shuffle:
        raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
    if seed is not None and (not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ValueError(f"DataLoader: seed should be a non-negative integer or None, got {seed!r}")
