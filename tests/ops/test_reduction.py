"""Reductions in PyTorch's spellings (``dim``, ``keepdim``) and the NaN-aware and paired reductions,
against PyTorch and finite differences."""
import numpy as np
import pytest
import torch
from op_cases import fixed_tests

import ember as em
from torch_parity import check_op

RNG = np.random.default_rng(4)


def randn(*shape):
    return RNG.standard_normal(shape)


def with_nans(*shape):
    x = RNG.standard_normal(shape)
    x[0, 1] = x[1, 0] = np.nan
    return x


CASES = [  # the top-level functions with PyTorch's keywords, as programs call them
    ("max_dim", lambda x: em.max(x, dim=1), lambda x: torch.max(x, dim=1), [randn(3, 4)]),
    ("max_dim_keepdim", lambda x: em.max(x, dim=0, keepdim=True), lambda x: torch.max(x, dim=0, keepdim=True),
     [randn(3, 4)]),
    ("min_dim", lambda x: em.min(x, dim=-1).values, lambda x: torch.min(x, dim=-1).values, [randn(3, 4)]),
    ("var_dim_keepdim", lambda x: em.var(x, dim=1, keepdim=True), lambda x: torch.var(x, dim=1, keepdim=True),
     [randn(3, 4)]),
    ("std_dim_biased", lambda x: em.std(x, dim=0, unbiased=False), lambda x: torch.std(x, dim=0, unbiased=False),
     [randn(3, 4)]),
    ("std_mean", lambda x: em.std_mean(x, dim=1), lambda x: torch.std_mean(x, dim=1), [randn(3, 4)]),
    ("var_mean_correction", lambda x: em.var_mean(x, 0, correction=0, keepdim=True),
     lambda x: torch.var_mean(x, 0, correction=0, keepdim=True), [randn(3, 4)]),
    ("aminmax", lambda x: tuple(em.aminmax(x, dim=1)), lambda x: tuple(torch.aminmax(x, dim=1)), [randn(3, 4)]),
    ("aminmax_all", lambda x: tuple(x.aminmax()), lambda x: tuple(x.aminmax()), [randn(3, 4)]),
    ("nansum", lambda x: em.nansum(x, 1), lambda x: torch.nansum(x, 1), [with_nans(3, 4)]),
    ("nanmean", lambda x: em.nanmean(x), lambda x: torch.nanmean(x), [with_nans(3, 4)]),
    ("nanmean_dim_method", lambda x: x.nanmean(dim=0, keepdim=True), lambda x: x.nanmean(dim=0, keepdim=True),
     [with_nans(3, 4)]),
    ("dist", lambda a, b: em.dist(a, b), lambda a, b: torch.dist(a, b), [randn(3, 4), randn(4)]),
    ("dist_p1", lambda a, b: em.dist(a, b, 1), lambda a, b: torch.dist(a, b, 1), [randn(3, 4), randn(3, 4)]),
    ("tensordot_int", lambda a, b: em.tensordot(a, b, 2), lambda a, b: torch.tensordot(a, b, 2),
     [randn(2, 3, 4), randn(3, 4, 5)]),
    ("tensordot_lists", lambda a, b: em.tensordot(a, b, dims=([0, 2], [2, 0])),
     lambda a, b: torch.tensordot(a, b, dims=([0, 2], [2, 0])), [randn(2, 3, 4), randn(4, 5, 2)]),
]
test_against_torch, test_gradcheck, test_second_order_against_torch, test_gradgradcheck = fixed_tests(
    CASES, first_order_only=("nansum", "nanmean", "nanmean_dim_method"))  # NaN inputs: no finite differences


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin_take_dim_and_keepdim(name):
    x = randn(3, 4)
    ours, theirs = getattr(em, name), getattr(torch, name)
    check_op(lambda t: ours(t, dim=1, keepdim=True), lambda t: theirs(t, dim=1, keepdim=True), [x], backward=False)
    check_op(ours, theirs, [x], backward=False)


def test_count_nonzero_counts_nan_as_nonzero():
    x = np.array([[0.0, np.nan, 2.0], [0.0, 0.0, -1.0]])
    check_op(lambda t: em.count_nonzero(t), lambda t: torch.count_nonzero(t), [x], backward=False)
    check_op(lambda t: t.count_nonzero(dim=1), lambda t: t.count_nonzero(dim=1), [x], backward=False)


@pytest.mark.parametrize("shape_a, shape_b, dims", [((2, 3), (4, 5), 0), ((2, 3), (2, 3), ([0, 1], [1, 0]))])
def test_tensordot_errors_and_outer(shape_a, shape_b, dims):
    a, b = randn(*shape_a), randn(*shape_b)
    if dims == 0:
        check_op(lambda x, y: em.tensordot(x, y, 0), lambda x, y: torch.tensordot(x, y, 0), [a, b])
    else:
        with pytest.raises(RuntimeError, match="do not match"):
            em.tensordot(em.tensor(a), em.tensor(b), dims)
