"""``DistributedSampler``: each rank's share of a dataset, reshuffled every epoch from one seed.

Every rank draws the same permutation of the N indices (seeded by ``(seed, epoch)``, as a
``DataLoader`` with ``seed`` does), pads it cyclically to a multiple of the world size P,
and keeps every P-th index from its rank on: rank r gets positions r, r + P, r + 2P, ...
So the shards are disjoint (apart from the padding), together cover the dataset, and are
of equal length — every rank runs the same number of steps, which the gradient all-reduce
of each step requires. Consecutive batches of B on the P ranks together are exactly the
batch of P·B that one process would take from the same permutation.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["DistributedSampler"]


def _check_rank(num_replicas, rank) -> None:
    if isinstance(num_replicas, bool) or not isinstance(num_replicas, (int, np.integer)) or num_replicas < 1:
        raise ValueError(f"DistributedSampler: num_replicas should be a positive integer, got {num_replicas!r}")
    if not isinstance(rank, (int, np.integer)) or not 0 <= rank < num_replicas:
        raise ValueError(f"DistributedSampler: invalid rank {rank!r}, rank should be in the interval "
                         f"[0, {num_replicas - 1}]")


class DistributedSampler:
    """The indices of ``dataset`` that rank ``rank`` of ``num_replicas`` processes visits in an epoch.

    With N = len(dataset) and P = num_replicas, each rank gets ``num_samples`` indices:
    ⌈N/P⌉ (the permutation padded by repeating its start), or ⌊N/P⌋ with ``drop_last``
    (the tail dropped). ``set_epoch(e)`` selects the order of epoch e: a permutation drawn
    from ``np.random.default_rng([seed, e])``, the same on every rank.

    Args:
        dataset: anything with ``__len__``.
        num_replicas: P (default: the world size of the process group).
        rank: this process's rank (default: the group's).
        shuffle: a fresh permutation every epoch; otherwise the order 0 … N−1.
        seed: the seed shared by all ranks.
        drop_last: drop the tail instead of padding, so that no sample is seen twice.

    >>> sampler = DistributedSampler(range(10), num_replicas=2, rank=1, shuffle=False)
    >>> list(sampler)
    [1, 3, 5, 7, 9]
    >>> loader = DataLoader(train_set, batch_size=32, sampler=DistributedSampler(train_set, seed=0))
    >>> for epoch in range(10):
    ...     loader.sampler.set_epoch(epoch)
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False):
        if num_replicas is None or rank is None:
            from ember.distributed.comm import get_rank, get_world_size

            num_replicas = get_world_size() if num_replicas is None else num_replicas
            rank = get_rank() if rank is None else rank
        _check_rank(num_replicas, rank)
        self.dataset, self.num_replicas, self.rank = dataset, int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last and n % self.num_replicas != 0:
            self.num_samples = n // self.num_replicas
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Use the order of epoch ``epoch`` from the next iteration on (the same on every rank)."""
        self.epoch = int(epoch)

    def indices(self) -> np.ndarray:
        """This rank's indices for the current epoch, as an int64 array."""
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(n).astype(np.int64, copy=False)
        else:
            order = np.arange(n, dtype=np.int64)
        order = np.resize(order, self.total_size)  # cyclic: pads with the start, or cuts the tail
        return order[self.rank:self.total_size:self.num_replicas]

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def __repr__(self):
        return (f"DistributedSampler(num_replicas={self.num_replicas}, rank={self.rank}, shuffle={self.shuffle}, "
                f"seed={self.seed}, drop_last={self.drop_last})")


class _EvalShard:
    """Rank r's indices r, r + P, ... of 0 … N−1 for evaluation: no padding, so no sample counts twice.

    The shards may differ in length by one; evaluation needs no per-step collective, only the
    final sums, so uneven shards are fine there.
    """

    def __init__(self, n: int, num_replicas: int, rank: int):
        _check_rank(num_replicas, rank)
        self.n, self.num_replicas, self.rank = int(n), int(num_replicas), int(rank)

    def __iter__(self):
        return iter(range(self.rank, self.n, self.num_replicas))

    def __len__(self) -> int:
        return len(range(self.rank, self.n, self.num_replicas))
