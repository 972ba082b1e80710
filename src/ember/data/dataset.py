"""Datasets: indexable collections of samples, and ways to combine and split them.

A ``Dataset`` maps an index ``0 <= i < len(ds)`` to one sample (a tensor, a tuple
``(x, y)``, a dict, ...); an ``IterableDataset`` is a stream of samples instead.
``TensorDataset`` wraps arrays that share their first dimension; ``StackDataset`` zips
datasets; ``Subset``, ``ConcatDataset`` and ``ChainDataset`` select and chain;
``random_split`` cuts a dataset into disjoint random parts (train/dev/test).

Batched fetching: a dataset may define ``get_batch(indices)`` that returns the whole
collated batch at once (one fancy-index per array instead of a Python loop over the
samples). ``DataLoader`` uses it whenever no custom ``collate_fn`` is given; returning
``None`` means "no faster way here", and the loader falls back to item-by-item.
"""
from __future__ import annotations

import abc
import bisect
import itertools
import math
import warnings

import numpy as np

from ember import backend
from ember.autograd.tensor import Tensor
from ember.data.sampler import numpy_generator

__all__ = [
    "ChainDataset", "ConcatDataset", "Dataset", "IterableDataset", "StackDataset", "Subset", "TensorDataset",
    "random_split",
]


# -- the base class --------------------------------------------------------------------
class Dataset(abc.ABC):
    """An indexable collection of samples: subclasses define ``__getitem__`` and ``__len__``.

    >>> class Squares(Dataset):
    ...     def __len__(self):
    ...         return 5
    ...     def __getitem__(self, i):
    ...         return i, i * i
    >>> Squares()[3]
    (3, 9)
    """

    @abc.abstractmethod
    def __getitem__(self, index):
        """The sample at ``index``."""

    @abc.abstractmethod
    def __len__(self) -> int:
        """The number of samples."""

    def get_batch(self, indices):
        """The collated batch of the samples at ``indices`` in one go, or ``None`` (no fast path)."""
        return None

    def __add__(self, other) -> ConcatDataset:
        return ConcatDataset([self, other])

    def __class_getitem__(cls, item):  # ``Dataset[tuple[Tensor, Tensor]]`` in type-annotated code
        return cls


class IterableDataset(Dataset):
    """A stream of samples: subclasses define ``__iter__`` (``__len__`` is optional).

    With ``num_workers > 0`` every worker process iterates its own copy of the dataset, so
    each would yield every sample: ``__iter__`` shards the stream by ``get_worker_info()``
    (``None`` in the main process; else its ``id`` and ``num_workers``).

    >>> from ember.data import get_worker_info
    >>> class Count(IterableDataset):
    ...     def __init__(self, n):
    ...         self.n = n
    ...     def __iter__(self):
    ...         info = get_worker_info()
    ...         start, step = (0, 1) if info is None else (info.id, info.num_workers)
    ...         return iter(range(start, self.n, step))
    >>> list(Count(4))
    [0, 1, 2, 3]
    """

    @abc.abstractmethod
    def __iter__(self):
        """The samples, one by one."""

    def __getitem__(self, index):
        raise TypeError(f"{type(self).__name__} is an IterableDataset: iterate over it instead of indexing it")

    def __len__(self) -> int:
        raise TypeError(f"object of type '{type(self).__name__}' has no len()")

    def __bool__(self) -> bool:  # truthiness must not ask for the length a stream may not have
        return True

    def __add__(self, other) -> ChainDataset:
        return ChainDataset([self, other])


class ChainDataset(IterableDataset):
    """Iterable datasets one after another (PyTorch's ``ChainDataset``).

    >>> list(ChainDataset([Count(2), Count(3)]))
    [0, 1, 0, 1, 2]
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)

    def __iter__(self):
        return itertools.chain.from_iterable(self.datasets)

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)


# -- arrays as a dataset ---------------------------------------------------------------
class TensorDataset(Dataset):
    """Samples ``(t[i] for t in tensors)`` from tensors (or arrays) of equal first dimension.

    Arrays are wrapped without a copy (their dtype is kept); sample ``i`` is the tuple of
    the ``i``-th rows. ``get_batch`` gathers a whole batch with one fancy-index per tensor.

    >>> X, y = em.randn(100, 3), em.randint(0, 2, (100,))
    >>> ds = TensorDataset(X, y)
    >>> x0, y0 = ds[0]
    >>> x0.shape, len(ds)
    ((3,), 100)
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        self.tensors = tuple(t if isinstance(t, Tensor) else Tensor(t) for t in tensors)
        shapes = [tuple(t.shape) for t in self.tensors]
        if any(len(s) == 0 for s in shapes):
            raise ValueError(f"TensorDataset: every tensor needs a first (sample) dimension, got shapes {shapes}")
        if len({s[0] for s in shapes}) != 1:
            raise ValueError(f"TensorDataset: size mismatch: first dimensions differ in shapes {shapes}")

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def get_batch(self, indices):
        """The tuple ``(t[indices] for t in tensors)``: one gather per tensor, a fresh copy."""
        indices = np.asarray(indices, dtype=np.int64)
        return tuple(Tensor(t.array[backend.to_device(indices, t.device)]) for t in self.tensors)

    def __repr__(self):
        return f"TensorDataset({', '.join(str(tuple(t.shape)) for t in self.tensors)})"


class StackDataset(Dataset):
    """Datasets of one length zipped: sample ``i`` is ``(a[i], b[i], …)``, or a dict for keyword datasets.

    >>> ds = StackDataset(image=TensorDataset(em.zeros(3, 2)), label=[0, 1, 1])
    >>> sorted(ds[1]), len(ds)
    (['image', 'label'], 3)
    """

    def __init__(self, *args, **kwargs):
        if bool(args) == bool(kwargs):
            raise ValueError("StackDataset: supported either ``tuple``- (via ``args``) or ``dict``- "
                             "(via ``kwargs``) like input/output, but both types are given or none")
        self.datasets = args or kwargs
        lengths = {len(d) for d in (args or kwargs.values())}
        if len(lengths) != 1:
            raise ValueError(f"StackDataset: size mismatch between datasets, lengths {sorted(lengths)}")
        self._length = lengths.pop()

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {key: d[index] for key, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __len__(self) -> int:
        return self._length


# -- selecting and chaining ------------------------------------------------------------
class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order.

    >>> ds = TensorDataset(em.arange(10))
    >>> sub = Subset(ds, [7, 2, 5])
    >>> sub[0][0].item(), len(sub)
    (7, 3)
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
        if self.indices.size and (self.indices.min() < -n or self.indices.max() >= n):
            raise IndexError(f"Subset: indices must lie in [-{n}, {n}) for a dataset of length {n}")

    def __getitem__(self, index):
        if isinstance(index, (list, np.ndarray)):
            return [self.dataset[int(i)] for i in self.indices[np.asarray(index, dtype=np.int64)]]
        return self.dataset[int(self.indices[index])]

    def __len__(self) -> int:
        return len(self.indices)

    def get_batch(self, indices):
        """Delegates to the parent's fast path (if any) with the mapped indices."""
        inner = getattr(self.dataset, "get_batch", None)
        return None if inner is None else inner(self.indices[np.asarray(indices, dtype=np.int64)])


class ConcatDataset(Dataset):
    """The datasets one after another: sample ``i`` of the chain (PyTorch's ``ConcatDataset``).

    >>> a, b = TensorDataset(em.zeros(3)), TensorDataset(em.ones(2))
    >>> chain = ConcatDataset([a, b])
    >>> len(chain), chain[4][0].item()
    (5, 1.0)
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"ConcatDataset: index {index} out of range for length {n}")
        index = index + n if index < 0 else index
        k = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[k - 1] if k > 0 else 0
        return self.datasets[k][index - start]


# -- random split ----------------------------------------------------------------------
def _split_lengths(n: int, lengths) -> list[int]:
    """Absolute lengths as given, or fractions turned into counts by PyTorch's rule."""
    lengths = list(lengths)
    if any(x < 0 for x in lengths):
        raise ValueError(f"random_split: lengths must be non-negative, got {lengths}")
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        counts = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(counts)):  # the remainder goes round-robin from the first part
            counts[i % len(counts)] += 1
        for i, c in enumerate(counts):
            if c == 0:
                warnings.warn(f"random_split: length of split at index {i} is 0", stacklevel=3)
        return counts
    if any(int(x) != x for x in lengths):
        raise ValueError(f"random_split: lengths must be integers or fractions summing to 1, got {lengths}")
    counts = [int(x) for x in lengths]
    if sum(counts) != n:
        raise ValueError(f"random_split: sum of input lengths {sum(counts)} does not equal the dataset length {n}")
    return counts


def random_split(dataset, lengths, generator=None, seed=None) -> list[Subset]:
    """Split ``dataset`` into disjoint random ``Subset``s of the given lengths.

    ``lengths`` holds counts that sum to ``len(dataset)``, or fractions that sum to 1:
    each part then gets ``floor(n * frac)`` samples and the remainder is handed out one by
    one from the first part (PyTorch's rule). The permutation comes from ``generator`` (a NumPy
    ``Generator`` or an ember ``Generator``), else from ``seed``, else from ember's global generator.

    >>> train, dev, test = random_split(TensorDataset(em.arange(10)), [0.6, 0.2, 0.2], seed=0)
    >>> len(train), len(dev), len(test)
    (6, 2, 2)
    """
    counts = _split_lengths(len(dataset), lengths)
    rng = np.random.default_rng(seed) if generator is None and seed is not None else numpy_generator(generator)
    perm = rng.permutation(sum(counts))
    ends = np.cumsum(counts)
    return [Subset(dataset, perm[end - c:end]) for c, end in zip(counts, ends, strict=True)]
