"""BucketBatchSampler: every index once per epoch, batches of similar lengths, seeded epochs."""
import numpy as np
import pytest

import ember as em
from ember.data import BatchSampler, BucketBatchSampler, DataLoader, RandomSampler, TensorDataset


def lengths(n=1000, seed=0):
    return np.random.default_rng(seed).integers(3, 60, size=n)


def padded_width(batches, L):
    """Total padded positions: each batch costs its size times its longest sample."""
    return sum(len(b) * L[b].max() for b in batches)


@pytest.mark.parametrize("drop_last", [False, True])
def test_every_index_once_per_epoch_in_batches_of_batch_size(drop_last):
    L = lengths(1003)
    sampler = BucketBatchSampler(L, batch_size=32, drop_last=drop_last, bucket_size=4,
                                 generator=np.random.default_rng(1))
    batches = list(sampler)
    assert len(batches) == len(sampler) == (1003 // 32 if drop_last else 32)
    assert sum(len(b) < 32 for b in batches) == (0 if drop_last else 1)
    flat = np.concatenate(batches)
    assert len(set(flat.tolist())) == len(flat) == (1003 - 1003 % 32 if drop_last else 1003)


def test_buckets_pad_far_less_than_random_batches():
    L = lengths()
    bucketed = list(BucketBatchSampler(L, batch_size=32, generator=np.random.default_rng(0)))
    shuffled = list(BatchSampler(RandomSampler(range(len(L)), generator=np.random.default_rng(0)), 32, False))
    useful = L.sum()
    assert padded_width(bucketed, L) < 1.1 * useful < padded_width(shuffled, L) / 1.4, \
        (padded_width(bucketed, L), useful, padded_width(shuffled, L))


def test_unshuffled_batches_are_sorted_pools_in_order():
    assert list(BucketBatchSampler([5, 1, 4, 2, 3, 1], batch_size=2, shuffle=False)) == [[1, 5], [3, 4], [2, 0]]
    pools = list(BucketBatchSampler([5, 1, 4, 2, 3, 1], batch_size=2, shuffle=False, bucket_size=1))
    assert pools == [[1, 0], [3, 2], [5, 4]]  # each pool of one batch sorted within itself


def test_seeded_epochs_repeat_and_differ_and_set_epoch_jumps():
    L = lengths(200)
    a, b = BucketBatchSampler(L, 16, seed=7), BucketBatchSampler(L, 16, seed=7)
    first, second = list(a), list(a)
    assert first == list(b) and second == list(b)
    assert first != second
    b.set_epoch(1)
    assert list(b) == second


def test_global_generator_follows_manual_seed():
    L = lengths(100)
    em.manual_seed(3)
    first = list(BucketBatchSampler(L, 8))
    em.manual_seed(3)
    assert list(BucketBatchSampler(L, 8)) == first


def test_drives_a_dataloader_through_batch_sampler():
    L = lengths(50)
    data = TensorDataset(em.tensor(L), em.arange(50))
    loader = DataLoader(data, batch_sampler=BucketBatchSampler(L, 8, generator=np.random.default_rng(0)))
    seen = np.concatenate([idx.numpy() for _, idx in loader])
    assert sorted(seen.tolist()) == list(range(50))
    assert len(loader) == 7


@pytest.mark.parametrize("kwargs, match", [
    (dict(lengths=[[1, 2]], batch_size=2), "1-D sequence of integers"),
    (dict(lengths=[1.5, 2.0], batch_size=2), "1-D sequence of integers"),
    (dict(lengths=[1, 2], batch_size=0), "batch_size"),
    (dict(lengths=[1, 2], batch_size=2, bucket_size=0), "bucket_size"),
    (dict(lengths=[1, 2], batch_size=2, shuffle=1), "shuffle should be a boolean"),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BucketBatchSampler(**kwargs)
