"""Sorting and counting ops against PyTorch (values, indices, gradients) and finite differences.

Inputs of the differentiable cases have no ties, so the picked indices (and the gradient's
destination) are the same in both libraries and finite differences stay on one branch.
"""
import numpy as np
import pytest
import torch
from op_cases import fixed_tests

import ember as em
from torch_parity import assert_close, check_op

RNG = np.random.default_rng(1)


def distinct(*shape):
    """Values without ties, well apart (finite differences never swap two of them)."""
    return RNG.permutation(int(np.prod(shape))).reshape(shape) * 0.1 + RNG.uniform(0, 0.01, shape)


CASES = [
    ("sort_last", lambda x: em.sort(x), lambda x: torch.sort(x), [distinct(3, 5)]),
    ("sort_dim0_descending", lambda x: x.sort(0, descending=True), lambda x: x.sort(0, descending=True),
     [distinct(4, 3)]),
    ("sort_3d_stable", lambda x: em.sort(x, 1, stable=True), lambda x: torch.sort(x, dim=1, stable=True),
     [distinct(2, 4, 3)]),
    ("topk_largest", lambda x: em.topk(x, 3), lambda x: torch.topk(x, 3), [distinct(4, 7)]),
    ("topk_smallest_dim0", lambda x: x.topk(2, dim=0, largest=False), lambda x: x.topk(2, dim=0, largest=False),
     [distinct(5, 3)]),
    ("topk_all", lambda x: em.topk(x, 4), lambda x: torch.topk(x, 4), [distinct(2, 4)]),
    ("topk_1d_one", lambda x: em.topk(x, 1), lambda x: torch.topk(x, 1), [distinct(6)]),
    ("kthvalue", lambda x: em.kthvalue(x, 2), lambda x: torch.kthvalue(x, 2), [distinct(3, 5)]),
    ("kthvalue_dim0_keepdim", lambda x: x.kthvalue(3, 0, True), lambda x: x.kthvalue(3, 0, True), [distinct(4, 2)]),
    ("median_all_even", lambda x: em.median(x), lambda x: torch.median(x), [distinct(2, 4)]),
    ("median_all_odd", lambda x: x.median(), lambda x: x.median(), [distinct(5)]),
    ("median_dim", lambda x: em.median(x, 1), lambda x: torch.median(x, 1), [distinct(3, 4)]),
    ("median_dim0_keepdim", lambda x: x.median(0, keepdim=True), lambda x: x.median(0, keepdim=True),
     [distinct(5, 2)]),
]
test_against_torch, test_gradcheck, test_second_order_against_torch, test_gradgradcheck = fixed_tests(CASES)


def test_topk_unsorted_gives_the_same_set():
    x = distinct(3, 9)
    values, indices = em.topk(em.tensor(x), 4, sorted=False)
    expected = torch.topk(torch.tensor(x), 4).indices.numpy()
    np.testing.assert_array_equal(np.sort(indices.numpy(), 1), np.sort(expected, 1))
    np.testing.assert_array_equal(values.detach().numpy(), np.take_along_axis(x, indices.numpy(), 1))


def test_topk_with_ties_picks_tied_values():
    """Which of tied elements topk picks is unspecified (in PyTorch too): compare the values, and
    check that every index points at its value."""
    x = np.array([[1.0, 3.0, 3.0, 2.0, 3.0]])
    for largest in (True, False):
        ours, theirs = em.topk(em.tensor(x), 3, largest=largest), torch.topk(torch.tensor(x), 3, largest=largest)
        assert_close(ours.values, theirs.values)
        np.testing.assert_array_equal(np.take_along_axis(x, ours.indices.numpy(), 1), ours.values.numpy())


def test_topk_k_out_of_range():
    with pytest.raises(RuntimeError, match="k \\(4\\) out of range"):
        em.topk(em.zeros(3), 4)


@pytest.mark.parametrize("descending", [False, True])
def test_stable_sort_keeps_the_order_of_ties(descending):
    x = RNG.integers(0, 4, (3, 20))
    ours = em.sort(em.tensor(x), 1, descending=descending, stable=True)
    theirs = torch.sort(torch.tensor(x), dim=1, descending=descending, stable=True)
    assert_close(ours.values, theirs.values)
    assert_close(ours.indices, theirs.indices)
    assert_close(em.argsort(em.tensor(x), 1, descending, stable=True), theirs.indices)


def test_sort_puts_nan_last_ascending_and_first_descending():
    x = np.array([1.0, np.nan, 3.0, 2.0], dtype=np.float32)
    for descending in (False, True):
        ours, theirs = em.sort(em.tensor(x), descending=descending), torch.sort(torch.tensor(x), descending=descending)
        assert_close(ours.values, theirs.values)
        assert_close(ours.indices, theirs.indices)


def test_median_with_nan_is_nan_like_torch():
    x = np.array([[1.0, np.nan, 3.0, 2.0], [4.0, 1.0, 2.0, 3.0]], dtype=np.float32)
    assert np.isnan(em.median(em.tensor(x)).item())
    ours, theirs = em.median(em.tensor(x), 1), torch.median(torch.tensor(x), 1)
    assert_close(ours.values, theirs.values)
    assert_close(ours.indices, theirs.indices)


def test_argsort_matches_torch():
    x = distinct(4, 6)
    assert_close(em.argsort(em.tensor(x)), torch.argsort(torch.tensor(x)))
    assert_close(em.tensor(x).argsort(0, descending=True), torch.tensor(x).argsort(0, descending=True))


@pytest.mark.parametrize("dim, keepdim", [(-1, False), (0, False), (1, True)])
def test_mode_values_indices_and_gradient(dim, keepdim):
    """The most frequent value (smallest among equally frequent) and its last index, as PyTorch."""
    x = RNG.integers(0, 4, (5, 6)).astype(np.float64)
    check_op(lambda a: em.mode(a, dim, keepdim), lambda a: torch.mode(a, dim, keepdim), [x])
    ints = x.astype(np.int64)
    ours, theirs = em.mode(em.tensor(ints), dim, keepdim), torch.mode(torch.tensor(ints), dim, keepdim)
    assert_close(ours.values, theirs.values)
    assert_close(ours.indices, theirs.indices)


@pytest.mark.parametrize("kwargs", [{}, {"return_inverse": True}, {"return_counts": True},
                                    {"return_inverse": True, "return_counts": True}])
@pytest.mark.parametrize("dim", [None, 0, 1])
def test_unique_matches_torch(kwargs, dim):
    x = RNG.integers(0, 3, (6, 2))
    ours, theirs = em.unique(em.tensor(x), dim=dim, **kwargs), torch.unique(torch.tensor(x), dim=dim, **kwargs)
    ours, theirs = (ours, theirs) if isinstance(theirs, tuple) else ((ours,), (theirs,))
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs, strict=True):
        assert_close(o, t)
    assert_close(em.tensor(x).unique(), torch.tensor(x).unique())


def test_bincount_matches_torch():
    x = RNG.integers(0, 5, 20)
    assert_close(em.bincount(em.tensor(x)), torch.bincount(torch.tensor(x)))
    assert_close(em.tensor(x).bincount(minlength=8), torch.tensor(x).bincount(minlength=8))
    for weights in (RNG.random(20).astype(np.float32), RNG.random(20), RNG.integers(0, 3, 20)):
        expected = torch.bincount(torch.tensor(x), torch.tensor(weights))
        assert_close(em.bincount(em.tensor(x), em.tensor(weights)), expected)
    assert_close(em.bincount(em.tensor(np.zeros(0, np.int64))), torch.bincount(torch.zeros(0, dtype=torch.int64)))
    with pytest.raises(RuntimeError, match="negative"):
        em.bincount(em.tensor([1, -1]))


@pytest.mark.parametrize("bins, lo, hi", [(10, 0, 0), (4, 0, 3), (7, -1.0, 0.5), (3, 2, 2)])
def test_histc_matches_torch(bins, lo, hi):
    x = np.concatenate([RNG.standard_normal(50), [0.0, 3.0, -1.0, 0.5]]).astype(np.float32)
    assert_close(em.histc(em.tensor(x), bins, lo, hi), torch.histc(torch.tensor(x), bins, lo, hi))
    assert_close(em.tensor(x).histc(bins=bins, min=lo, max=hi), torch.tensor(x).histc(bins=bins, min=lo, max=hi))


def test_zero_dim_inputs():
    x = em.tensor(3.0, requires_grad=True)
    for out in (em.sort(x), em.topk(x, 1), em.kthvalue(x, 1), em.median(x, 0), em.mode(x)):
        assert out.values.item() == 3.0 and out.indices.item() == 0 and out.indices.dtype == np.int64
    assert em.median(x).item() == 3.0


def test_return_types_are_named_tuples():
    values, indices = em.sort(em.tensor([2.0, 1.0]))
    out = em.topk(em.tensor([2.0, 1.0]), 1)
    assert out.values is out[0] and out.indices is out[1]
    assert values.dtype == np.float32 and indices.dtype == np.int64


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_topk_with_ties_and_nan_falls_back_correctly(largest, dim):
    """Ties at the k-th value and NaN (the largest, as in PyTorch) take the argpartition path."""
    x = RNG.integers(0, 5, (6, 7)).astype(np.float32)
    x[2, 3] = np.nan
    ours, theirs = em.topk(em.tensor(x), 3, dim, largest), torch.topk(torch.tensor(x), 3, dim, largest)
    assert_close(ours.values, theirs.values)
    picked = np.take_along_axis(x, ours.indices.numpy(), dim if dim >= 0 else x.ndim + dim)
    np.testing.assert_array_equal(picked, ours.values.numpy())


@pytest.mark.parametrize("dim", [0, 1, 2])
def test_topk_along_every_dim_of_a_3d_tensor(dim):
    x = distinct(4, 5, 6)
    for largest in (True, False):
        ours, theirs = em.topk(em.tensor(x), 2, dim, largest), torch.topk(torch.tensor(x), 2, dim, largest)
        assert_close(ours.values, theirs.values)
        assert_close(ours.indices, theirs.indices)


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("shape, k, dtype", [((32, 50000), 10, np.float32), ((2, 50001), 5, np.float64),
                                             ((50001,), 3, np.float32), ((3, 40000), 4, np.int64)])
def test_topk_of_a_few_among_many_searches_blocks_and_matches_torch(shape, k, dtype, largest):
    """Long rows with small k take the blocked search (only the blocks with the best extremes are
    partitioned); values and indices must be torch's, the ragged last block included."""
    a = (np.random.default_rng(3).standard_normal(shape) * 1000).astype(dtype)
    ours = em.topk(em.tensor(a), k, largest=largest)
    theirs = torch.topk(torch.from_numpy(a), k, largest=largest)
    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())


def test_blocked_topk_puts_nan_first_as_torch():
    a = np.random.default_rng(4).standard_normal((3, 50000)).astype(np.float32)
    a[1, 777] = np.nan
    ours, theirs = em.topk(em.tensor(a), 4), torch.topk(torch.from_numpy(a), 4)
    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
    assert ours.indices.numpy()[1, 0] == 777


def test_picked_values_are_differentiable_to_third_order():
    """sort, topk, kthvalue and median read their values with a gather, whose gradient (a scatter-add)
    has the gather as its own gradient: the derivatives go on at any order."""
    x = distinct(3, 5)

    def picked(m, t):
        return m.sort(t, 1).values * m.topk(t, 2, 0).values.sum() + m.kthvalue(t, 2, 1).values[:, None] \
            + m.median(t)

    def third(m, t):
        (g,) = m.autograd.grad((picked(m, t) ** 3).sum(), [t], create_graph=True)
        (h,) = m.autograd.grad((g * g).sum(), [t], create_graph=True)
        return m.autograd.grad((h * h).sum(), [t])[0]

    assert_close(third(em, em.tensor(x, requires_grad=True)), third(torch, torch.tensor(x, requires_grad=True)))


# -- searches in sorted sequences, quantiles, membership -------------------------------------------------
SEQUENCE, VALUES = np.array([1.0, 3.0, 3.0, 5.0, 7.0]), np.array([[0.0, 3.0, 6.0], [7.0, 8.0, 3.5]])


@pytest.mark.parametrize("right", [False, True])
def test_searchsorted_and_bucketize_match_torch(right):
    check_op(lambda s, v: em.searchsorted(s, v, right=right), lambda s, v: torch.searchsorted(s, v, right=right),
             [SEQUENCE, VALUES], backward=False)
    rows = np.sort(np.random.default_rng(1).standard_normal((2, 6)), axis=1)
    check_op(lambda s, v: em.searchsorted(s, v, side="right" if right else "left"),
             lambda s, v: torch.searchsorted(s, v, side="right" if right else "left"), [rows, rows[:, ::2] + 0.1],
             backward=False)
    check_op(lambda v, b: em.bucketize(v, b, right=right, out_int32=True),
             lambda v, b: torch.bucketize(v, b, right=right, out_int32=True), [VALUES, SEQUENCE], backward=False)


def test_searchsorted_with_sorter():
    seq, sorter = np.array([5.0, 1.0, 3.0]), np.array([1, 2, 0])
    check_op(lambda s, v, o: em.searchsorted(s, v, sorter=o), lambda s, v, o: torch.searchsorted(s, v, sorter=o),
             [seq, np.array([2.0, 4.0, 6.0]), sorter], backward=False)


QUANTILES = [
    ("scalar_all", 0.3, None, False, "linear"),
    ("scalar_dim", 0.5, 1, False, "linear"),
    ("list_dim_keepdim", [0.1, 0.5, 0.9], 0, True, "linear"),
    ("list_all_keepdim", [0.25, 1.0], None, True, "midpoint"),
    ("lower", 0.4, 1, False, "lower"),
    ("higher", 0.4, 1, False, "higher"),
    ("nearest", 0.5, 1, False, "nearest"),
]


@pytest.mark.parametrize("name, q, dim, keepdim, how", QUANTILES, ids=[row[0] for row in QUANTILES])
def test_quantile_matches_torch_with_gradients(name, q, dim, keepdim, how):
    x = np.random.default_rng(2).standard_normal((4, 5))
    check_op(lambda t: em.quantile(t, em.tensor(q, dtype=t.dtype) if isinstance(q, list) else q, dim, keepdim,
                                   interpolation=how),
             lambda t: torch.quantile(t, torch.tensor(q, dtype=t.dtype) if isinstance(q, list) else q, dim, keepdim,
                                      interpolation=how), [x])
    assert em.autograd.gradcheck(lambda t: em.quantile(t, q if not isinstance(q, list) else em.tensor(q), dim,
                                                       keepdim, interpolation=how),
                                 [em.tensor(x, requires_grad=True)])


def test_quantile_refuses_bad_arguments():
    with pytest.raises(RuntimeError, match="values in \\[0, 1\\]"):
        em.quantile(em.ones(3), 1.5)
    with pytest.raises(RuntimeError, match="float or double"):
        em.quantile(em.tensor([1, 2]), 0.5)
    with pytest.raises(ValueError, match="interpolation"):
        em.quantile(em.ones(3), 0.5, interpolation="cubic")


def test_msort_and_isin_match_torch():
    x = np.random.default_rng(3).standard_normal((4, 3))
    check_op(em.msort, torch.msort, [x])
    check_op(lambda a, b: em.isin(a, b), lambda a, b: torch.isin(a, b), [np.array([1, 2, 3, 4]), np.array([2, 4])],
             backward=False)
    check_op(lambda a, b: em.isin(a, b, invert=True), lambda a, b: torch.isin(a, b, invert=True),
             [np.array([[1, 5], [2, 2]]), np.array([2])], backward=False)
