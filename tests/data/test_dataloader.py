"""DataLoader: ordering and determinism, batching, collation and the vectorised fast path."""
from collections import namedtuple

import numpy as np
import pytest

import ember as em
from ember.data import DataLoader, Dataset, Subset, TensorDataset, default_collate


def _dataset(n=23):
    X = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    return TensorDataset(X, np.arange(n, dtype=np.int64))


def _labels(loader):
    return [y.tolist() for _, y in loader]


def _flat(batches):
    return [i for b in batches for i in b]


class ItemOnly(Dataset):
    """A dataset with no fast path: samples are dicts."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"x": np.full(2, i, dtype=np.float32), "y": i, "w": 0.5 * i, "name": f"s{i}"}


# -- order and determinism -------------------------------------------------------------
def test_no_shuffle_keeps_order_and_partial_last_batch():
    loader = DataLoader(_dataset(10), batch_size=4)
    assert _labels(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert len(loader) == 3


def test_drop_last_drops_the_partial_batch_and_len_agrees():
    loader = DataLoader(_dataset(10), batch_size=4, drop_last=True)
    assert _labels(loader) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(loader) == 2
    assert len(DataLoader(_dataset(12), batch_size=4, drop_last=True)) == 3
    assert len(DataLoader(_dataset(12), batch_size=5)) == 3


@pytest.mark.parametrize("seed", [0, None])
def test_shuffle_visits_every_index_exactly_once_per_epoch(seed):
    loader = DataLoader(_dataset(23), batch_size=5, shuffle=True, seed=seed)
    for _ in range(3):
        batches = _labels(loader)
        assert [len(b) for b in batches] == [5, 5, 5, 5, 3]
        assert sorted(_flat(batches)) == list(range(23))
        assert _flat(batches) != list(range(23))


def test_same_seed_same_batches_and_epochs_differ():
    a = DataLoader(_dataset(), batch_size=4, shuffle=True, seed=7)
    b = DataLoader(_dataset(), batch_size=4, shuffle=True, seed=7)
    epochs_a = [_labels(a) for _ in range(3)]
    epochs_b = [_labels(b) for _ in range(3)]
    assert epochs_a == epochs_b
    assert epochs_a[0] != epochs_a[1] != epochs_a[2]
    assert a.epoch == 3
    assert _labels(DataLoader(_dataset(), batch_size=4, shuffle=True, seed=8)) != epochs_a[0]


def test_epoch_order_is_the_permutation_of_seed_and_epoch():
    loader = DataLoader(_dataset(), batch_size=100, shuffle=True, seed=5)
    loader.set_epoch(3)
    assert _labels(loader)[0] == np.random.default_rng([5, 3]).permutation(23).tolist()


def test_set_epoch_and_state_dict_resume_exactly():
    a = DataLoader(_dataset(), batch_size=4, shuffle=True, seed=1)
    epochs = [_labels(a) for _ in range(4)]
    b = DataLoader(_dataset(), batch_size=4, shuffle=True, seed=1)
    b.set_epoch(2)
    assert _labels(b) == epochs[2]
    c = DataLoader(_dataset(), batch_size=4, shuffle=True, seed=1)
    c.load_state_dict({"epoch": 3})
    assert _labels(c) == epochs[3]
    assert c.state_dict() == {"epoch": 4}


def test_epoch_advances_only_after_a_full_pass():
    loader = DataLoader(_dataset(), batch_size=4, shuffle=True, seed=1)
    next(iter(loader))
    assert loader.epoch == 0
    list(loader)
    assert loader.epoch == 1


def test_global_generator_path_follows_manual_seed():
    loader = DataLoader(_dataset(), batch_size=100, shuffle=True)
    em.manual_seed(3)
    first = _labels(loader)
    second = _labels(loader)
    em.manual_seed(3)
    assert _labels(loader) == first
    assert first != second
    assert first[0] == np.random.default_rng(3).permutation(23).tolist()


def test_order_is_drawn_when_iteration_starts():
    loader = DataLoader(_dataset(), batch_size=100, shuffle=True)
    em.manual_seed(4)
    it = iter(loader)
    em.manual_seed(99)  # a later reseed must not change the epoch already begun
    assert next(it)[1].tolist() == np.random.default_rng(4).permutation(23).tolist()


def test_numpy_generator_argument():
    a = DataLoader(_dataset(), batch_size=4, shuffle=True, generator=np.random.default_rng(2))
    b = DataLoader(_dataset(), batch_size=4, shuffle=True, generator=np.random.default_rng(2))
    assert _labels(a) == _labels(b)


def test_sampler_and_batch_sampler():
    assert _labels(DataLoader(_dataset(), batch_size=2, sampler=[5, 3, 1])) == [[5, 3], [1]]
    loader = DataLoader(_dataset(), batch_sampler=[[0, 2], [4, 6, 8]])
    assert _labels(loader) == [[0, 2], [4, 6, 8]]
    assert len(loader) == 2


@pytest.mark.parametrize("kwargs, match", [
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 2.5}, "batch_size"),
    ({"sampler": [0, 1], "shuffle": True}, "mutually exclusive"),
    ({"batch_sampler": [[0]], "batch_size": 4}, "mutually exclusive"),
    ({"seed": -1}, "seed"),
])
def test_bad_options_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DataLoader(_dataset(), **kwargs)


# -- collation ---------------------------------------------------------------------------
def test_fast_path_equals_generic_path():
    ds = _dataset(23)
    fast = DataLoader(ds, batch_size=6, shuffle=True, seed=3)
    slow = DataLoader(ds, batch_size=6, shuffle=True, seed=3, collate_fn=default_collate)
    for (xf, yf), (xs, ys) in zip(fast, slow, strict=True):
        assert xf.dtype == xs.dtype == np.float32 and yf.dtype == ys.dtype == np.int64
        np.testing.assert_array_equal(xf.numpy(), xs.numpy())
        np.testing.assert_array_equal(yf.numpy(), ys.numpy())


def test_fast_path_makes_no_per_sample_calls(monkeypatch):
    def refuse(self, index):
        raise AssertionError("per-sample __getitem__ called on the fast path")

    monkeypatch.setattr(TensorDataset, "__getitem__", refuse)
    ds = _dataset(10)
    x, y = next(iter(DataLoader(ds, batch_size=4, shuffle=True, seed=0)))
    np.testing.assert_array_equal(x.numpy(), ds.tensors[0].numpy()[y.numpy()])
    sub = Subset(ds, [9, 8, 7, 1])
    x, y = next(iter(DataLoader(sub, batch_size=4)))  # a Subset keeps its parent's fast path
    assert y.tolist() == [9, 8, 7, 1]


def test_fast_path_batches_are_copies():
    ds = _dataset(4)
    x, _ = next(iter(DataLoader(ds, batch_size=4)))
    x.array[...] = -1
    assert ds.tensors[0].numpy().min() == 0


def test_custom_collate_fn_gets_the_list_of_samples():
    seen = []

    def collate(samples):
        seen.append(len(samples))
        return sum(int(y) for _, y in samples)

    assert list(DataLoader(_dataset(10), batch_size=4, collate_fn=collate)) == [6, 22, 17]
    assert seen == [4, 4, 2]


def test_dict_collation_with_numbers_and_strings():
    batch = next(iter(DataLoader(ItemOnly(5), batch_size=3)))
    assert set(batch) == {"x", "y", "w", "name"}
    np.testing.assert_array_equal(batch["x"].numpy(), [[0, 0], [1, 1], [2, 2]])
    assert batch["x"].dtype == np.float32
    assert batch["y"].dtype == np.int64 and batch["y"].tolist() == [0, 1, 2]
    assert batch["w"].dtype == np.float32 and batch["w"].tolist() == [0.0, 0.5, 1.0]
    assert batch["name"] == ["s0", "s1", "s2"]


def test_tuple_list_and_namedtuple_collation():
    Pair = namedtuple("Pair", "a b")
    out = default_collate([(np.zeros(2), [1, True], Pair(1.0, 2)), (np.ones(2), [3, False], Pair(3.0, 4))])
    assert isinstance(out, tuple) and len(out) == 3
    assert out[0].shape == (2, 2) and out[0].dtype == np.float64  # arrays keep their dtype
    assert isinstance(out[1], list) and out[1][0].tolist() == [1, 3] and out[1][1].dtype == np.bool_
    assert isinstance(out[2], Pair) and out[2].a.dtype == np.float32 and out[2].b.dtype == np.int64


def test_collate_of_ember_tensors_and_numpy_scalars():
    out = default_collate([em.tensor([1.0, 2.0]), em.tensor([3.0, 4.0])])
    assert isinstance(out, em.Tensor) and out.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    scalars = default_collate([np.int32(1), np.int32(2)])
    assert scalars.dtype == np.int32 and scalars.tolist() == [1, 2]
    mixed = default_collate([1, 2.5])
    assert mixed.dtype == np.float32 and mixed.tolist() == [1.0, 2.5]


def test_collate_errors_are_clear():
    with pytest.raises(RuntimeError, match=r"different shapes.*\(3,\).*\(4,\)"):
        default_collate([np.zeros(3), np.zeros(4)])
    with pytest.raises(RuntimeError, match="same number of fields"):
        default_collate([(1, 2), (1, 2, 3)])
    with pytest.raises(TypeError, match="object"):
        default_collate([object(), object()])


def test_plain_sequence_dataset_and_device_argument():
    data = [(np.full(2, i, dtype=np.float32), i) for i in range(5)]
    batches = list(DataLoader(data, batch_size=2, device="cpu"))
    assert [b[1].tolist() for b in batches] == [[0, 1], [2, 3], [4]]
    assert batches[0][0].device == "cpu"
