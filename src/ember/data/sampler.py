"""Samplers: the order in which a ``DataLoader`` visits the indices of a map-style dataset.

A sampler is an iterable of indices (``SequentialSampler``, ``RandomSampler``,
``SubsetRandomSampler``, ``WeightedRandomSampler``); a ``BatchSampler`` groups one into
lists of indices, one list per batch, and a ``BucketBatchSampler`` groups samples of
similar lengths so that little of a padded batch is padding. All are consumed lazily: the random ones draw in
chunks as they are iterated, so a sampler of 10¹⁰ draws yields its first index at once.
Each draws at the start of an iteration (when ``iter(sampler)`` is called), from its
``generator`` if given, else from ember's global generator (fixed by ``em.manual_seed``).

``generator`` may be a NumPy ``Generator`` or any object holding one (an ember
``Generator``): see ``numpy_generator``.
"""
from __future__ import annotations

import math
from itertools import islice

import numpy as np

from ember import random as _random
from ember.autograd.tensor import Tensor

__all__ = [
    "BatchSampler", "BucketBatchSampler", "RandomSampler", "Sampler", "SequentialSampler", "SubsetRandomSampler",
    "WeightedRandomSampler", "numpy_generator",
]

_CHUNK = 1 << 16  # indices drawn at a time by the samplers that need not know them all in advance


def numpy_generator(generator=None) -> np.random.Generator:
    """The NumPy generator behind ``generator``: itself, the one an object (an ember ``Generator``)
    holds as an attribute, or, for ``None``, ember's global generator.

    Looked up at each draw, so that an object that swaps its generator on ``manual_seed`` is followed.

    >>> numpy_generator(np.random.default_rng(0)).integers(10)
    8
    """
    if generator is None:
        return _random.generator()
    if isinstance(generator, np.random.Generator):
        return generator
    for value in _attribute_values(generator):
        if isinstance(value, np.random.Generator):
            return value
    raise TypeError(f"generator should be a NumPy Generator or an object holding one, got {type(generator).__name__}")


def _attribute_values(obj):
    yield from getattr(obj, "__dict__", {}).values()
    for cls in type(obj).__mro__:
        for name in getattr(cls, "__slots__", ()):
            if hasattr(obj, name):
                yield getattr(obj, name)


def _check_count(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} should be a positive integer value, but got {name}={value}")
    return int(value)


def _chunks(array):
    """The elements of ``array`` as Python ints, converted a chunk at a time."""
    for start in range(0, len(array), _CHUNK):
        yield from array[start:start + _CHUNK].tolist()


# -- the base class and the plain order ---------------------------------------------------
class Sampler:
    """An iterable of dataset indices; subclasses define ``__iter__`` (and ``__len__`` when known).

    >>> class Reverse(Sampler):
    ...     def __init__(self, n):
    ...         self.n = n
    ...     def __iter__(self):
    ...         return iter(range(self.n - 1, -1, -1))
    >>> list(Reverse(3))
    [2, 1, 0]
    """

    def __init__(self, data_source=None) -> None:
        pass  # PyTorch's (deprecated) argument, accepted and unused

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} should implement __iter__")

    def __class_getitem__(cls, item):  # ``Sampler[int]`` in type-annotated code
        return cls


class SequentialSampler(Sampler):
    """The indices ``0, 1, …, len(data_source) − 1`` in order.

    >>> list(SequentialSampler(range(3)))
    [0, 1, 2]
    """

    def __init__(self, data_source) -> None:
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


# -- random orders -------------------------------------------------------------------------
class RandomSampler(Sampler):
    """A random order of the indices of ``data_source``.

    Without ``replacement``: a fresh permutation of the N indices (``num_samples`` > N chains
    permutations, each drawn only when reached, the last one cut). With ``replacement``:
    ``num_samples`` independent uniform draws from ``0 … N − 1``, drawn in chunks as consumed.

    Args:
        data_source: the dataset (anything with ``__len__``).
        replacement: draw with replacement.
        num_samples: how many indices to yield (default N).
        generator: where to draw from (default: ember's global generator).

    >>> sampler = RandomSampler(range(5), generator=np.random.default_rng(0))
    >>> sorted(sampler)
    [0, 1, 2, 3, 4]
    """

    def __init__(self, data_source, replacement: bool = False, num_samples=None, generator=None) -> None:
        if not isinstance(replacement, bool):  # a TypeError here, a ValueError in WeightedRandomSampler: PyTorch's
            raise TypeError(f"replacement should be a boolean value, but got replacement={replacement}")
        self.data_source, self.replacement, self.generator = data_source, replacement, generator
        self._num_samples = num_samples
        _check_count("num_samples", self.num_samples)

    @property
    def num_samples(self) -> int:
        """N unless given: the dataset may change its size after the sampler is made."""
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        # The first draw happens here, not at the first ``next``, so that an epoch's order is
        # fixed when its iteration begins (a later reseed does not change it).
        n, rng, total = len(self.data_source), numpy_generator(self.generator), self.num_samples
        if self.replacement:
            return self._with_replacement(rng, n, total, rng.integers(n, size=min(total, _CHUNK)))
        return self._without_replacement(rng, n, total, rng.permutation(n))

    @staticmethod
    def _with_replacement(rng, n, total, first):
        yield from first.tolist()
        for start in range(len(first), total, _CHUNK):
            yield from rng.integers(n, size=min(_CHUNK, total - start)).tolist()

    @staticmethod
    def _without_replacement(rng, n, total, first):
        yield from _chunks(first[:total])
        for start in range(n, total, n):
            yield from _chunks(rng.permutation(n)[:total - start])

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The elements of ``indices`` in a random order (a fresh permutation every iteration).

    >>> sorted(SubsetRandomSampler([4, 8, 15], generator=np.random.default_rng(0)))
    [4, 8, 15]
    """

    def __init__(self, indices, generator=None) -> None:
        self.indices, self.generator = indices, generator

    def __iter__(self):
        order = numpy_generator(self.generator).permutation(len(self.indices))
        return (self.indices[i] for i in _chunks(order))

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices from ``0 … len(weights) − 1``, index i drawn with probability wᵢ / Σw.

    With ``replacement`` the draws are independent (and drawn in chunks as consumed);
    without, no index repeats: an exponential race, index i finishing at time Eᵢ / wᵢ with
    Eᵢ ~ Exp(1), taken in finishing order (zero weights come last, as in PyTorch).

    >>> sampler = WeightedRandomSampler([0.0, 1.0, 3.0], 4, generator=np.random.default_rng(0))
    >>> set(sampler) <= {1, 2}
    True
    """

    def __init__(self, weights, num_samples: int, replacement: bool = True, generator=None) -> None:
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got replacement={replacement}")
        self.num_samples = _check_count("num_samples", num_samples)
        w = weights.numpy() if isinstance(weights, Tensor) else np.asarray(weights)
        self.weights = w.astype(np.float64)
        if self.weights.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape {self.weights.shape}")
        self.replacement, self.generator = replacement, generator

    def _probabilities(self) -> np.ndarray:
        w = self.weights
        if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise RuntimeError("invalid multinomial distribution: weights must be finite, non-negative, "
                               "with a positive sum")
        if not self.replacement and self.num_samples > len(w):
            raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
        return w / w.sum()

    def __iter__(self):
        p, rng, total = self._probabilities(), numpy_generator(self.generator), self.num_samples
        if not self.replacement:
            with np.errstate(divide="ignore"):
                finish = rng.exponential(size=len(p)) / p
            return _chunks(np.argsort(finish, kind="stable")[:total])
        return self._draws(rng, p, total, rng.choice(len(p), size=min(total, _CHUNK), p=p))

    @staticmethod
    def _draws(rng, p, total, first):
        yield from first.tolist()
        for start in range(len(first), total, _CHUNK):
            yield from rng.choice(len(p), size=min(_CHUNK, total - start), p=p).tolist()

    def __len__(self) -> int:
        return self.num_samples


# -- batches of indices ----------------------------------------------------------------------
class BatchSampler(Sampler):
    """Lists of ``batch_size`` consecutive indices of ``sampler`` (the last one shorter unless ``drop_last``).

    >>> list(BatchSampler(SequentialSampler(range(5)), batch_size=2, drop_last=False))
    [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler, batch_size: int, drop_last: bool) -> None:
        self.batch_size = _check_count("batch_size", batch_size)
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler, self.drop_last = sampler, drop_last

    def __iter__(self):
        return _batched(iter(self.sampler), self.batch_size, self.drop_last)

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)


def _batched(indices, batch_size: int, drop_last: bool):
    """Lists of ``batch_size`` items taken from the iterator ``indices`` as they are needed."""
    while batch := list(islice(indices, batch_size)):
        if drop_last and len(batch) < batch_size:
            return
        yield batch


class BucketBatchSampler(Sampler):
    """Batches of indices of samples of similar lengths, for sequences padded per batch.

    Each epoch: a random order of the N indices (``shuffle``) or 0 … N − 1, cut into pools of
    ``bucket_size × batch_size`` consecutive indices; each pool is sorted by length (stably)
    and cut into batches of ``batch_size``; with ``shuffle`` the batches are then visited in a
    random order. A batch thus holds lengths from one pool's narrow band, and its padded width
    ``max_{i∈B} L_i`` is close to its mean length, while the pools keep the batches random.
    Only the last pool may end on a short batch; ``drop_last`` drops it, as ``BatchSampler`` does.

    Args:
        lengths: L_i, the length of sample i (a list, an array or a 1-D Tensor of N ints).
        batch_size: indices per batch.
        drop_last: drop the one batch shorter than ``batch_size``.
        shuffle: a fresh random order every epoch (``False``: the same batches, in order).
        bucket_size: batches per pool (larger: less padding, less random batches).
        generator: where to draw from (default: ember's global generator), as for ``RandomSampler``.
        seed: instead of a generator, draw epoch e from a generator seeded by ``(seed, e)``; the
            sampler counts its iterations, and ``set_epoch(e)`` jumps to epoch e.

    >>> sampler = BucketBatchSampler([5, 1, 4, 2, 3, 1], batch_size=2, shuffle=False)
    >>> list(sampler)
    [[1, 5], [3, 4], [2, 0]]
    """

    def __init__(self, lengths, batch_size: int, drop_last: bool = False, shuffle: bool = True, bucket_size: int = 50,
                 generator=None, seed=None) -> None:
        self.batch_size = _check_count("batch_size", batch_size)
        self.bucket_size = _check_count("bucket_size", bucket_size)
        for name, value in (("drop_last", drop_last), ("shuffle", shuffle)):
            if not isinstance(value, bool):
                raise ValueError(f"{name} should be a boolean value, but got {name}={value}")
        lengths = lengths.numpy() if isinstance(lengths, Tensor) else np.asarray(lengths)
        if lengths.ndim != 1 or (lengths.size and lengths.dtype.kind not in "iu"):
            raise ValueError(f"lengths should be a 1-D sequence of integers, got shape {lengths.shape} "
                             f"and dtype {lengths.dtype}")
        self.lengths = lengths.astype(np.int64)
        self.drop_last, self.shuffle, self.generator, self.seed = drop_last, shuffle, generator, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration produce the batches of epoch ``epoch`` (with ``seed``)."""
        self.epoch = int(epoch)

    def _rng(self) -> np.random.Generator:
        if self.seed is not None and self.generator is None:
            return np.random.default_rng([self.seed, self.epoch])
        return numpy_generator(self.generator)

    def __iter__(self):
        # Drawn in full here, when the iteration begins (the rule of every sampler in this module).
        rng, bs, n = self._rng() if self.shuffle else None, self.batch_size, len(self.lengths)
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        batches, pool = [], self.bucket_size * bs
        for start in range(0, n, pool):
            chunk = order[start:start + pool]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches += [chunk[i:i + bs] for i in range(0, len(chunk), bs)]
        if self.drop_last and batches and len(batches[-1]) < bs:
            batches.pop()
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        self.epoch += 1
        return iter([b.tolist() for b in batches])

    def __len__(self) -> int:
        n = len(self.lengths)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
