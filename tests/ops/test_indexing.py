"""Indexing ops (gather/scatter, index_*, masked_*, index_put, nonzero) against PyTorch and finite differences."""
import numpy as np
import pytest
import torch
from op_cases import fixed_tests

import ember as em
from ember.testing import gradcheck, gradgradcheck
from torch_parity import Const, assert_close, check_op, check_second_order

RNG = np.random.default_rng(0)


def randn(*shape):
    return RNG.standard_normal(shape)


def distinct(high, shape, dim):
    """Integer indices in [0, high) that never repeat along ``dim`` (scatter's result is then defined)."""
    moved = list(shape)
    n = moved.pop(dim)
    rows = np.stack([RNG.permutation(high)[:n] for _ in range(int(np.prod(moved)))])
    return np.moveaxis(rows.reshape(*moved, n), -1, dim)


def ints(high, *shape):
    return RNG.integers(0, high, shape)


# -- (name, ember fn, torch fn, inputs): parity of values and gradients, then gradcheck --------------
CASES = [
    ("gather_dim1", lambda x, i: em.gather(x, 1, i), lambda x, i: torch.gather(x, 1, i), [randn(3, 4), ints(4, 3, 5)]),
    ("gather_dim0_smaller_index", lambda x, i: x.gather(0, i), lambda x, i: x.gather(0, i),
     [randn(3, 4), ints(3, 2, 3)]),
    ("gather_1d", lambda x, i: em.gather(x, 0, i), lambda x, i: torch.gather(x, 0, i), [randn(5), ints(5, 8)]),
    ("gather_3d_neg_dim", lambda x, i: em.gather(x, -1, i), lambda x, i: torch.gather(x, -1, i),
     [randn(2, 3, 4), ints(4, 2, 3, 2)]),
    ("scatter_src", lambda x, i, s: em.scatter(x, 0, i, s), lambda x, i, s: torch.scatter(x, 0, i, s),
     [randn(4, 3), distinct(4, (2, 3), 0), randn(2, 3)]),
    ("scatter_dim1", lambda x, i, s: x.scatter(1, i, s), lambda x, i, s: x.scatter(1, i, s),
     [randn(3, 5), distinct(5, (3, 2), 1), randn(3, 2)]),
    ("scatter_value", lambda x, i: em.scatter(x, 1, i, value=2.5), lambda x, i: torch.scatter(x, 1, i, value=2.5),
     [randn(3, 4), ints(4, 3, 2)]),
    ("scatter_number_src", lambda x, i: x.scatter(0, i, -1.0), lambda x, i: x.scatter(0, i, -1.0),
     [randn(3, 4), ints(3, 2, 4)]),
    ("scatter_add", lambda x, i, s: em.scatter_add(x, 0, i, s), lambda x, i, s: torch.scatter_add(x, 0, i, s),
     [randn(4, 3), ints(4, 6, 3), randn(6, 3)]),
    ("index_add", lambda x, i, s: em.index_add(x, 1, i, s, alpha=2.0),
     lambda x, i, s: torch.index_add(x, 1, i, s, alpha=2.0), [randn(3, 4), ints(4, 6), randn(3, 6)]),
    ("index_copy", lambda x, i, s: em.index_copy(x, 0, i, s), lambda x, i, s: torch.index_copy(x, 0, i, s),
     [randn(5, 2), RNG.permutation(5)[:3], randn(3, 2)]),
    ("index_fill", lambda x, i: em.index_fill(x, 1, i, -2.0), lambda x, i: torch.index_fill(x, 1, i, -2.0),
     [randn(3, 4), np.array([0, 2])]),
    ("index_put", lambda x, i, j, v: em.index_put(x, (i, j), v), lambda x, i, j, v: torch.index_put(x, (i, j), v),
     [randn(4, 5), np.array([0, 1, 3]), np.array([4, 1, 0]), randn(3)]),
    ("index_put_accumulate", lambda x, i, v: em.index_put(x, (i,), v, accumulate=True),
     lambda x, i, v: torch.index_put(x, (i,), v, accumulate=True), [randn(4, 2), np.array([0, 0, 3, 0]), randn(4, 2)]),
    ("index_put_broadcast_value", lambda x, i, v: x.index_put((i,), v), lambda x, i, v: x.index_put((i,), v),
     [randn(4, 3), np.array([1, 2]), randn(3)]),
    ("masked_select", lambda x, m: em.masked_select(x, m), lambda x, m: torch.masked_select(x, m),
     [randn(3, 4), RNG.random((3, 4)) < 0.5]),
    ("masked_select_broadcast", lambda x, m: x.masked_select(m), lambda x, m: x.masked_select(m),
     [randn(3, 1), RNG.random((2, 3, 4)) < 0.5]),
    ("masked_scatter", lambda x, m, s: em.masked_scatter(x, m, s), lambda x, m, s: x.masked_scatter(m, s),
     [randn(3, 4), RNG.random((3, 4)) < 0.5, randn(13)]),
    ("masked_scatter_broadcast_mask", lambda x, m, s: x.masked_scatter(m, s), lambda x, m, s: x.masked_scatter(m, s),
     [randn(3, 4), np.array([True, False, True, True]), randn(4, 3)]),
    ("where_three", lambda c, x, y: em.where(c, x, y), lambda c, x, y: torch.where(c, x, y),
     [RNG.random((3, 4)) < 0.5, randn(3, 4), randn(4)]),
]
for reduce in ("sum", "mean", "amax", "amin", "prod"):
    for include_self in (True, False):
        CASES.append((
            f"scatter_reduce_{reduce}_{include_self}",
            lambda x, i, s, r=reduce, k=include_self: em.scatter_reduce(x, 0, i, s, r, include_self=k),
            lambda x, i, s, r=reduce, k=include_self: torch.scatter_reduce(x, 0, i, s, r, include_self=k),
            [RNG.uniform(0.5, 2.0, (4, 3)), ints(4, 5, 3), RNG.uniform(0.5, 2.0, (5, 3))],
        ))
test_against_torch, test_gradcheck, test_second_order_against_torch, test_gradgradcheck = fixed_tests(CASES)


# -- edge semantics ------------------------------------------------------------------------
def test_scatter_reduce_prod_with_zeros_matches_torch():
    """∂ of a product with one zero is the product of the others; with two zeros it is 0."""
    x = np.array([2.0, 5.0, 0.0, 3.0])
    src = np.array([1.0, 0.0, 3.0, 2.0, 0.0, 4.0])
    index = np.array([0, 0, 0, 1, 2, 3])
    for include_self in (True, False):
        check_op(lambda a, s, i, k=include_self: em.scatter_reduce(a, 0, i, s, "prod", include_self=k),
                 lambda a, s, i, k=include_self: torch.scatter_reduce(a, 0, i, s, "prod", include_self=k),
                 [x, src, index], dtype=np.float64)


def test_scatter_reduce_amax_ties_share_the_gradient():
    check_op(lambda a, s, i: em.scatter_reduce(a, 0, i, s, "amax"),
             lambda a, s, i: torch.scatter_reduce(a, 0, i, s, "amax"),
             [np.array([3.0, 0.0]), np.array([1.0, 3.0, 3.0, 2.0]), np.array([0, 0, 0, 1])], dtype=np.float64)


def test_scatter_add_reads_only_the_leading_block_of_a_larger_src():
    """PyTorch uses src[:i, :j] when index is (i, j); its backward fails there, so compare forward and
    check our gradient (zero outside the block) by finite differences."""
    x, i, s = randn(2, 3), ints(3, 2, 5), randn(3, 6)
    check_op(lambda a, b, c: a.scatter_add(1, b, c), lambda a, b, c: a.scatter_add(1, b, c), [x, i, s], backward=False)
    assert gradcheck(lambda a, c: a.scatter_add(1, em.tensor(i), c),
                     [em.tensor(x, requires_grad=True), em.tensor(s, requires_grad=True)])


def test_scatter_reduce_integer_mean_floors():
    x = em.tensor([10, 20])
    out = em.scatter_reduce(x, 0, em.tensor([0, 0, 1]), em.tensor([1, 2, 5]), "mean")
    expected = torch.scatter_reduce(torch.tensor([10, 20]), 0, torch.tensor([0, 0, 1]), torch.tensor([1, 2, 5]), "mean")
    assert_close(out, expected)


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
def test_scatter_with_reduce_add_and_multiply():
    x, i, s = randn(3, 2), ints(3, 4, 2), randn(4, 2)
    for reduce in ("add", "multiply"):
        ours = em.scatter(em.tensor(x), 0, em.tensor(i), em.tensor(s), reduce=reduce)
        theirs = torch.scatter(torch.tensor(x), 0, torch.tensor(i), torch.tensor(s), reduce=reduce)
        assert_close(ours, theirs)


@pytest.mark.parametrize("shape", [(3, 4), (5,), (2, 0, 3), (2, 3, 2)])
def test_nonzero_argwhere_and_where_one_argument(shape):
    a = (RNG.random(shape) < 0.4) * RNG.integers(1, 5, shape)
    x, tx = em.tensor(a), torch.tensor(a)
    assert_close(em.nonzero(x), torch.nonzero(tx))
    assert_close(x.argwhere(), tx.argwhere())
    for ours, theirs in zip(em.nonzero(x, as_tuple=True), torch.nonzero(tx, as_tuple=True), strict=True):
        assert_close(ours, theirs)
    ours, theirs = em.where(x > 2), torch.where(tx > 2)
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs, strict=True):
        assert_close(o, t)


def test_nonzero_of_a_scalar():
    assert em.nonzero(em.tensor(5)).shape == tuple(torch.nonzero(torch.tensor(5)).shape)
    assert_close(em.nonzero(em.tensor(5), as_tuple=True)[0], torch.nonzero(torch.tensor(5), as_tuple=True)[0])


def test_gather_errors_name_the_problem():
    x = em.zeros(3, 4)
    with pytest.raises(IndexError, match="out of bounds.*size 4"):
        em.gather(x, 1, em.tensor([[0, 4]]))
    with pytest.raises(RuntimeError, match="index has 1 dims"):
        em.gather(x, 1, em.tensor([0]))
    with pytest.raises(RuntimeError, match="integer index"):
        em.gather(x, 1, em.tensor([[0.0]]))


def test_masked_scatter_needs_enough_source():
    with pytest.raises(RuntimeError, match="selects 3 elements"):
        em.masked_scatter(em.zeros(3), em.tensor([True, True, True]), em.ones(2))


def test_index_select_matches_torch():
    check_op(lambda x, i: em.index_select(x, 1, i), lambda x, i: torch.index_select(x, 1, i),
             [randn(3, 5), np.array([4, 0, 4, 2])])


def test_scatter_from_a_constant_float_source_keeps_int_target_dtype():
    ours = em.scatter(em.zeros(4, dtype=em.int64), 0, em.tensor([1, 3]), em.tensor([7, 9]))
    theirs = torch.scatter(torch.zeros(4, dtype=torch.int64), 0, torch.tensor([1, 3]), torch.tensor([7, 9]))
    assert_close(ours, theirs)


def test_gather_on_a_constant_input_has_no_graph():
    out = em.gather(em.tensor(Const(randn(2, 3)).array), 1, em.tensor([[2], [0]]))
    assert not out.requires_grad and out.shape == (2, 1)


# -- second and third derivatives beyond the table ------------------------------------------------------
def test_scatter_reduce_prod_second_derivatives_with_zeros():
    """Zeros in x and one zero alone among the src elements at a position: the products of the others
    stay differentiable (PyTorch raises only for two src zeros at one position)."""
    x = np.array([2.0, 0.0, 0.5, 3.0])
    src = np.array([1.5, 0.0, 3.0, -2.0, 0.7, 4.0])
    index = np.array([0, 0, 1, 1, 2, 2])
    for include_self in (True, False):
        def ours(a, s, i, k=include_self):
            return em.scatter_reduce(a, 0, i, s, "prod", include_self=k)

        check_second_order(ours, lambda a, s, i, k=include_self: torch.scatter_reduce(a, 0, i, s, "prod",
                                                                                       include_self=k),
                           [x, src, index])
        assert gradgradcheck(ours, [em.tensor(x, requires_grad=True), em.tensor(src, requires_grad=True),
                                    em.tensor(index)])


@pytest.mark.parametrize("reduce", ["sum", "mean", "amax", "prod"])
def test_scatter_reduce_of_a_larger_src_second_derivatives(reduce):
    """src larger than index off ``dim``: only its leading block has a gradient, to every order
    (finite differences; PyTorch's backward rejects this case)."""
    x, i, s = RNG.uniform(0.5, 2.0, (3, 4)), ints(3, 2, 3), RNG.uniform(0.5, 2.0, (4, 5))
    assert gradgradcheck(lambda a, c: em.scatter_reduce(a, 0, em.tensor(i), c, reduce),
                         [em.tensor(x, requires_grad=True), em.tensor(s, requires_grad=True)])
    assert gradgradcheck(lambda a, c: a.scatter_add(0, em.tensor(i), c) ** 2,
                         [em.tensor(x, requires_grad=True), em.tensor(s, requires_grad=True)])


def _third_derivative(module, fn, x):
    (g,) = module.autograd.grad((fn(x) ** 3).sum(), [x], create_graph=True)
    (h,) = module.autograd.grad((g * g).sum(), [x], create_graph=True)
    return module.autograd.grad((h * h).sum(), [x])[0]


@pytest.mark.parametrize("name", ["gather", "scatter_add", "index_add", "index_put", "masked_scatter", "scatter"])
def test_third_derivatives_match_torch(name):
    """Each op's gradient is an op with a gradient of its own, so the derivatives go on."""
    index, mask = np.array([[0, 1], [1, 1], [1, 0]]), np.array([[True, False], [False, True], [True, True]])
    fns = {
        "gather": lambda m, x: m.gather(x, 1, m.tensor(index)),
        "scatter_add": lambda m, x: m.scatter_add(x, 0, m.tensor(index[:2]), x[1:] * 2),
        "index_add": lambda m, x: m.index_add(x, 0, m.tensor([2, 0, 2]), x.flip(0)),
        "index_put": lambda m, x: m.index_put(x, (m.tensor([0, 2]),), x[1] * 3),
        "masked_scatter": lambda m, x: x.masked_scatter(m.tensor(mask), x.flip(1)),
        "scatter": lambda m, x: m.scatter(x, 1, m.tensor([[1], [0], [1]]), x[:, :1] * 2),
    }
    x = randn(3, 2)
    ours = _third_derivative(em, lambda t: fns[name](em, t), em.tensor(x, requires_grad=True))
    theirs = _third_derivative(torch, lambda t: fns[name](torch, t), torch.tensor(x, requires_grad=True))
    assert_close(ours, theirs)
