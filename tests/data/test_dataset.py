"""Dataset, TensorDataset, Subset, ConcatDataset and random_split."""
import numpy as np
import pytest
import torch

import ember as em
from ember.data import ConcatDataset, Dataset, Subset, TensorDataset, random_split


def _range_dataset(n):
    return TensorDataset(np.arange(n, dtype=np.int64))


def _values(subset):
    return sorted(int(subset[i][0].item()) for i in range(len(subset)))


# -- Dataset and TensorDataset ---------------------------------------------------------
def test_dataset_is_abstract():
    with pytest.raises(TypeError):
        Dataset()

    class Half(Dataset):
        def __getitem__(self, i):
            return i

    with pytest.raises(TypeError):
        Half()


def test_tensor_dataset_items_and_dtypes():
    X = np.arange(12, dtype=np.float64).reshape(4, 3)
    y = np.array([3, 1, 0, 2])
    ds = TensorDataset(X, em.tensor(y))
    assert len(ds) == 4
    x2, y2 = ds[2]
    assert x2.tolist() == [6.0, 7.0, 8.0] and y2.item() == 0
    assert ds.tensors[0].dtype == np.float64 and ds.tensors[1].dtype == np.int64
    bx, by = ds.get_batch([3, 0])
    assert bx.tolist() == [[9.0, 10.0, 11.0], [0.0, 1.0, 2.0]] and by.tolist() == [2, 3]


def test_tensor_dataset_size_mismatch_names_the_shapes():
    with pytest.raises(ValueError, match=r"TensorDataset.*\(4, 3\).*\(5,\)"):
        TensorDataset(np.zeros((4, 3)), np.zeros(5))
    with pytest.raises(ValueError, match="TensorDataset"):
        TensorDataset()
    with pytest.raises(ValueError, match="first"):
        TensorDataset(np.float32(1.0))


def test_subset_and_list_indexing():
    ds = _range_dataset(10)
    sub = Subset(ds, [7, 2, 5])
    assert len(sub) == 3 and sub[0][0].item() == 7 and sub[-1][0].item() == 5
    assert [s[0].item() for s in sub[[2, 0]]] == [5, 7]
    assert sub.get_batch([1, 2])[0].tolist() == [2, 5]
    with pytest.raises(IndexError, match="Subset"):
        Subset(ds, [10])


def test_concat_dataset_and_add():
    a, b = _range_dataset(3), TensorDataset(np.arange(10, 12))
    chain = a + b
    assert isinstance(chain, ConcatDataset) and len(chain) == 5
    assert [chain[i][0].item() for i in range(5)] == [0, 1, 2, 10, 11]
    assert chain[-1][0].item() == 11 and chain.cumulative_sizes == [3, 5]
    with pytest.raises(IndexError, match="out of range"):
        chain[5]
    with pytest.raises(ValueError, match="empty"):
        ConcatDataset([])


# -- random_split ------------------------------------------------------------------------
@pytest.mark.parametrize("n, fractions", [
    (10, [0.6, 0.2, 0.2]), (11, [0.7, 0.3]), (7, [0.5, 0.25, 0.25]), (100, [1 / 3, 1 / 3, 1 / 3]), (3, [0.1, 0.9]),
])
def test_fractions_follow_pytorchs_rounding(n, fractions):
    expected = [len(s) for s in torch.utils.data.random_split(range(n), fractions)]
    parts = random_split(_range_dataset(n), fractions, seed=0)
    assert [len(p) for p in parts] == expected


@pytest.mark.parametrize("lengths", [[5, 3, 2], [0.5, 0.3, 0.2]])
def test_split_is_disjoint_complete_and_seeded(lengths):
    ds = _range_dataset(10)
    parts = random_split(ds, lengths, seed=4)
    assert [len(p) for p in parts] == [5, 3, 2]
    assert sorted(sum((_values(p) for p in parts), [])) == list(range(10))
    again = random_split(ds, lengths, seed=4)
    assert [_values(p) for p in parts] == [_values(p) for p in again]
    other = random_split(ds, lengths, seed=5)
    assert [_values(p) for p in parts] != [_values(p) for p in other]


def test_split_draws_from_the_global_generator_or_a_given_one():
    ds = _range_dataset(20)
    em.manual_seed(1)
    a = random_split(ds, [10, 10])
    em.manual_seed(1)
    b = random_split(ds, [10, 10])
    assert _values(a[0]) == _values(b[0])
    c = random_split(ds, [10, 10], generator=np.random.default_rng(1))
    assert a[0].indices.tolist() == c[0].indices.tolist()  # manual_seed(s) is default_rng(s)


@pytest.mark.parametrize("lengths, match", [([5, 4], "does not equal"), ([-1, 11], "non-negative"),
                                            ([0.5, 0.6], "fractions summing to 1"), ([2.5, 7.5], "integers")])
def test_bad_lengths_raise(lengths, match):
    with pytest.raises(ValueError, match=match):
        random_split(_range_dataset(10), lengths)


def test_zero_length_part_warns():
    with pytest.warns(UserWarning, match="is 0") as record:
        parts = random_split(_range_dataset(2), [0.9, 0.05, 0.05])
    assert [str(w.message)[-12:] for w in record] == ["index 1 is 0", "index 2 is 0"]
    assert [len(p) for p in parts] == [2, 0, 0]  # floor gives [1, 0, 0]; the remainder goes to the first
