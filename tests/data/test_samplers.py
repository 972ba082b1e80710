"""Samplers, generators, iterable datasets, batch_size=None and collation rules, against torch.utils.data."""
import inspect
import time
from collections import OrderedDict, defaultdict, namedtuple

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import ember as em
from ember.data import (
    BatchSampler,
    ChainDataset,
    DataLoader,
    IterableDataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
    StackDataset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
    random_split,
)
from ember.data.sampler import numpy_generator


class Holder:
    """A generator object in the manner of ``torch.Generator``: a NumPy generator inside."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)


def _dataset(n=23):
    return TensorDataset(np.arange(n * 2, dtype=np.float32).reshape(n, 2), np.arange(n, dtype=np.int64))


def _labels(loader):
    return [y.tolist() for _, y in loader]


def _error_kind(make):
    try:
        make()
    except Exception as error:  # noqa: BLE001 - the kind is what is compared
        return type(error)
    return None


# -- the plain samplers ------------------------------------------------------------------------
@pytest.mark.parametrize("n, batch_size, drop_last", [(10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False),
                                                      (0, 2, False)])
def test_sequential_and_batch_sampler_equal_torch(n, batch_size, drop_last):
    ours = BatchSampler(SequentialSampler(range(n)), batch_size, drop_last)
    theirs = tud.BatchSampler(tud.SequentialSampler(range(n)), batch_size, drop_last)
    assert list(ours) == list(theirs) and len(ours) == len(theirs)
    assert list(SequentialSampler(range(n))) == list(tud.SequentialSampler(range(n)))


def test_batch_sampler_is_lazy_over_an_endless_sampler():
    class Endless(Sampler):
        def __iter__(self):
            i = 0
            while True:
                yield i
                i += 1

    batches = iter(BatchSampler(Endless(), 4, False))
    assert next(batches) == [0, 1, 2, 3] and next(batches) == [4, 5, 6, 7]


def test_sampler_base_and_generic_subscript():
    with pytest.raises(NotImplementedError):
        iter(Sampler())
    assert Sampler[int] is Sampler and em.data.Dataset[tuple] is em.data.Dataset


# -- RandomSampler -----------------------------------------------------------------------------
def test_random_sampler_is_a_permutation_drawn_from_its_generator():
    order = list(RandomSampler(range(50), generator=np.random.default_rng(3)))
    assert order == np.random.default_rng(3).permutation(50).tolist()
    assert list(RandomSampler(range(50), generator=Holder(3))) == order  # an object holding one
    assert len(RandomSampler(range(50))) == 50


def test_random_sampler_draws_when_iteration_starts_from_the_global_generator():
    sampler = RandomSampler(range(30))
    em.manual_seed(4)
    it = iter(sampler)
    em.manual_seed(99)  # a reseed after iter() must not change the order already begun
    assert list(it) == np.random.default_rng(4).permutation(30).tolist()


def test_random_sampler_more_samples_than_data_chains_permutations():
    sampler = RandomSampler(range(7), num_samples=17, generator=np.random.default_rng(0))
    order = list(sampler)
    assert len(order) == len(sampler) == 17
    assert sorted(order[:7]) == sorted(order[7:14]) == list(range(7))
    assert len(set(order[14:])) == 3
    assert len(list(RandomSampler(range(7), num_samples=3))) == 3


def test_random_sampler_with_replacement_is_uniform_and_lazy():
    draws = np.array(list(RandomSampler(range(5), replacement=True, num_samples=50_000,
                                        generator=np.random.default_rng(1))))
    counts = np.bincount(draws, minlength=5)
    assert draws.min() >= 0 and draws.max() < 5 and np.all(np.abs(counts / 50_000 - 0.2) < 0.01)
    start = time.perf_counter()
    it = iter(RandomSampler(range(5), replacement=True, num_samples=10**10))
    first = [next(it) for _ in range(100_000)]  # crosses the chunk boundary
    assert time.perf_counter() - start < 5 and set(first) == set(range(5))


@pytest.mark.parametrize("kwargs", [{"replacement": 1}, {"num_samples": 0}, {"num_samples": 2.5}])
def test_random_sampler_bad_arguments_raise_like_torch(kwargs):
    ours = _error_kind(lambda: RandomSampler(range(3), **kwargs))
    assert ours is not None and ours is _error_kind(lambda: tud.RandomSampler(range(3), **kwargs))


def test_subset_random_sampler_permutes_its_indices():
    indices = [4, 8, 15, 16, 23, 42]
    order = list(SubsetRandomSampler(indices, generator=np.random.default_rng(5)))
    assert order == [indices[i] for i in np.random.default_rng(5).permutation(6)]
    assert len(SubsetRandomSampler(indices)) == 6


# -- WeightedRandomSampler ---------------------------------------------------------------------
def test_weighted_sampler_frequencies_follow_the_weights():
    weights = em.tensor([0.0, 1.0, 3.0, 4.0])
    draws = np.array(list(WeightedRandomSampler(weights, 80_000, generator=np.random.default_rng(0))))
    freq = np.bincount(draws, minlength=4) / 80_000
    np.testing.assert_allclose(freq, [0.0, 0.125, 0.375, 0.5], atol=0.01)


def test_weighted_sampler_without_replacement_is_distinct_and_puts_zero_weights_last():
    rng = np.random.default_rng(2)
    for _ in range(20):
        order = list(WeightedRandomSampler([0.0, 5.0, 0.0, 1.0], 4, replacement=False, generator=rng))
        assert sorted(order) == [0, 1, 2, 3] and set(order[2:]) == {0, 2}
    firsts = [next(iter(WeightedRandomSampler([1.0, 9.0], 1, replacement=False, generator=rng)))
              for _ in range(2000)]
    assert abs(np.mean(firsts) - 0.9) < 0.03  # index 1 wins the race with probability 9/10


def test_weighted_sampler_with_replacement_is_lazy():
    start = time.perf_counter()
    it = iter(WeightedRandomSampler([1.0, 2.0], 10**10))
    assert {next(it) for _ in range(70_000)} == {0, 1} and time.perf_counter() - start < 5


@pytest.mark.parametrize("args, kwargs, iterate", [
    (([1.0, 2.0], 0), {}, False),
    (([1.0, 2.0], 2), {"replacement": 1}, False),
    (([[1.0, 2.0]], 2), {}, False),
    (([-1.0, 2.0], 2), {}, True),
    (([1.0, 2.0], 3), {"replacement": False}, True),
])
def test_weighted_sampler_errors_are_torchs_kinds(args, kwargs, iterate):
    def make(cls):
        sampler = cls(*args, **kwargs)
        return list(sampler) if iterate else sampler

    ours = _error_kind(lambda: make(WeightedRandomSampler))
    assert ours is not None and ours is _error_kind(lambda: make(tud.WeightedRandomSampler))


# -- generators ----------------------------------------------------------------------------------
def test_numpy_generator_accepts_numpy_objects_holding_one_and_none():
    rng = np.random.default_rng(0)
    assert numpy_generator(rng) is rng and numpy_generator(Holder(0)).integers(100) == rng.integers(100)
    assert numpy_generator(None) is em.random.generator()
    with pytest.raises(TypeError, match="generator"):
        numpy_generator(object())


def test_loader_shuffle_with_a_generator_object():
    a = DataLoader(_dataset(), batch_size=4, shuffle=True, generator=Holder(2))
    b = DataLoader(_dataset(), batch_size=4, shuffle=True, generator=np.random.default_rng(2))
    assert _labels(a) == _labels(b)
    parts = random_split(_dataset(10), [0.5, 0.5], generator=Holder(1))
    perm = np.random.default_rng(1).permutation(10)
    assert parts[0].indices.tolist() == perm[:5].tolist()


# -- the loader with samplers --------------------------------------------------------------------
def test_loader_consumes_a_huge_sampler_lazily():
    ds = _dataset()
    start = time.perf_counter()
    loader = DataLoader(ds, batch_size=8, sampler=RandomSampler(ds, replacement=True, num_samples=10**10))
    x, y = next(iter(loader))
    assert x.shape == (8, 2) and time.perf_counter() - start < 5 and len(loader) == 10**10 // 8
    batches = BatchSampler(RandomSampler(ds, replacement=True, num_samples=10**10), 8, False)
    assert len(next(iter(DataLoader(ds, batch_sampler=batches)))[1]) == 8


def test_loader_with_samplers_gives_the_samplers_order():
    ds = _dataset()
    sampler = RandomSampler(ds, generator=np.random.default_rng(7))
    expected = np.random.default_rng(7).permutation(23).tolist()
    assert sum(_labels(DataLoader(ds, batch_size=5, sampler=sampler)), []) == expected
    loader = DataLoader(ds, batch_size=5, sampler=SubsetRandomSampler([1, 2, 3]), drop_last=True)
    assert _labels(loader) == [] and len(loader) == 0
    batches = BatchSampler(SequentialSampler(ds), 10, drop_last=True)
    assert _labels(DataLoader(ds, batch_sampler=batches)) == [list(range(10)), list(range(10, 20))]


def test_batch_size_none_yields_converted_samples():
    data = [(np.full(2, i, dtype=np.float32), i) for i in range(4)]
    samples = list(DataLoader(data, batch_size=None))
    assert len(samples) == 4 and isinstance(samples[2][0], em.Tensor) and samples[2][1] == 2
    indices = []

    class Record:
        def __len__(self):
            return 3

        def __getitem__(self, i):
            indices.append(type(i))
            return i

    assert list(DataLoader(Record(), batch_size=None, shuffle=True)) != [] and set(indices) == {int}
    assert len(DataLoader(data, batch_size=None)) == 4
    with pytest.raises(ValueError, match="batch_size=None"):
        DataLoader(data, batch_size=None, drop_last=True)


def test_loader_signature_has_torchs_parameters_in_torchs_order():
    ours = list(inspect.signature(DataLoader.__init__).parameters)
    theirs = list(inspect.signature(tud.DataLoader.__init__).parameters)
    assert ours[:len(theirs)] == theirs
    positional = [p.name for p in inspect.signature(DataLoader.__init__).parameters.values()
                  if p.kind == p.POSITIONAL_OR_KEYWORD]
    assert positional == [p.name for p in inspect.signature(tud.DataLoader.__init__).parameters.values()
                          if p.kind == p.POSITIONAL_OR_KEYWORD]


@pytest.mark.parametrize("kwargs", [
    {"num_workers": -1}, {"timeout": -1}, {"prefetch_factor": 2}, {"persistent_workers": True},
    {"multiprocessing_context": "fork"}, {"num_workers": 1, "multiprocessing_context": "nonsense"},
])
def test_worker_option_errors_are_torchs_kinds(kwargs):
    ours = _error_kind(lambda: DataLoader(_dataset(), **kwargs))
    assert ours is ValueError and _error_kind(lambda: tud.DataLoader(range(3), **kwargs)) is ValueError


def test_worker_options_are_kept():
    loader = DataLoader(_dataset(), num_workers=2, pin_memory=True, timeout=3, prefetch_factor=4,
                        persistent_workers=True, multiprocessing_context="fork", worker_init_fn=print)
    assert (loader.num_workers, loader.timeout, loader.prefetch_factor, loader.persistent_workers) == (2, 3, 4, True)
    assert DataLoader(_dataset(), num_workers=1).prefetch_factor == 2


# -- iterable datasets -------------------------------------------------------------------------
class Count(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))


def test_iterable_dataset_batches_like_torch():
    class TorchCount(tud.IterableDataset):
        def __iter__(self):
            return iter(range(7))

    for kwargs in ({"batch_size": 3}, {"batch_size": 3, "drop_last": True}, {"batch_size": None}):
        ours = [b.tolist() if isinstance(b, em.Tensor) else b for b in DataLoader(Count(7), **kwargs)]
        theirs = [b.tolist() if isinstance(b, torch.Tensor) else b for b in tud.DataLoader(TorchCount(), **kwargs)]
        assert ours == theirs


def test_iterable_dataset_rules():
    ds = Count(3)
    with pytest.raises(TypeError):
        len(ds)
    with pytest.raises(TypeError):
        len(DataLoader(ds, batch_size=2))
    assert bool(ds) and list(ds + Count(2)) == [0, 1, 2, 0, 1] and isinstance(ds + Count(1), ChainDataset)
    for kwargs in ({"shuffle": True}, {"sampler": [0]}, {"batch_sampler": [[0]], "batch_size": 1}):
        with pytest.raises(ValueError, match="IterableDataset"):
            DataLoader(ds, **kwargs)
    with pytest.raises(TypeError):
        IterableDataset()

    class Sized(Count):
        def __len__(self):
            return self.n

    assert len(DataLoader(Sized(7), batch_size=3)) == 3 and len(ChainDataset([Sized(2), Sized(3)])) == 5


def test_stack_dataset():
    ds = StackDataset(TensorDataset(np.arange(3)), [10, 11, 12])
    assert ds[1][1] == 11 and len(ds) == 3
    named = StackDataset(x=[1, 2], y=["a", "b"])
    assert named[0] == {"x": 1, "y": "a"}
    with pytest.raises(ValueError):
        StackDataset([1], [1, 2])
    with pytest.raises(ValueError):
        StackDataset()


# -- collation rules ---------------------------------------------------------------------------
def _plain(x):
    """Tensors of either library as nested lists, for comparing structures."""
    if isinstance(x, (em.Tensor, torch.Tensor)):
        return x.tolist()
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def test_default_collate_keeps_mapping_types_and_agrees_with_torch_on_values():
    Point = namedtuple("Point", "x y")
    samples = [OrderedDict(a=np.array([i, i + 1]), b=Point(i, float(i)), c=[f"s{i}", np.int32(i)], d=True)
               for i in range(3)]
    ours = default_collate(samples)
    assert type(ours) is OrderedDict and isinstance(ours["b"], Point) and ours["c"][0] == ["s0", "s1", "s2"]
    assert _plain(ours) == _plain(tud.default_collate(samples))
    counts = defaultdict(int, {"n": 1})
    assert type(default_collate([counts, counts])) is defaultdict


def test_default_collate_refuses_string_arrays_and_keeps_numpy_strings_as_a_list():
    with pytest.raises(TypeError, match="default_collate"):
        default_collate([np.array(["a"]), np.array(["b"])])
    assert default_collate([np.str_("a"), np.str_("b")]) == ["a", "b"]


def test_default_convert_agrees_with_torch():
    Pair = namedtuple("Pair", "a b")
    sample = {"x": np.arange(3.0), "n": np.int64(4), "p": Pair(np.ones(2), "t"), "s": np.array(["a"]), "k": 7}
    ours, theirs = default_convert(sample), tud.default_convert(sample)
    assert isinstance(ours["x"], em.Tensor) and ours["x"].dtype == np.float64 and isinstance(ours["n"], em.Tensor)
    assert isinstance(ours["p"], Pair) and isinstance(ours["p"].a, em.Tensor) and ours["k"] == 7
    assert isinstance(ours["s"], np.ndarray)
    assert _plain({k: v for k, v in ours.items() if k != "s"}) == _plain({k: v for k, v in theirs.items() if k != "s"})
