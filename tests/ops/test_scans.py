"""prod, cumsum, cumprod, all/any along dims, and sum/mean with ``dtype`` against PyTorch.

The table runs each differentiable case three ways: float32 parity of values, dtypes and
gradients, float64 parity, and a float64 central-difference gradcheck. The products are
polynomials, so their finite differences hold at zeros too: those cases check that the
gradients stay exact (no division by the zero) where an input vanishes.
"""
import numpy as np
import pytest
import torch
from op_cases import case, drawn_tests, fixed, randn

import ember as em
from torch_parity import assert_close, check_op


def with_zeros(*shape, count=1):
    """Normal samples with ``count`` zeros placed in each row (the last axis)."""

    def draw(rng):
        x = rng.standard_normal(shape)
        rows = x.reshape(-1, shape[-1])
        for row in rows:
            row[rng.choice(shape[-1], count, replace=False)] = 0.0
        return rows.reshape(shape)

    return draw


def torch_prod(x, dim=None, keepdim=False):
    return torch.prod(x) if dim is None else torch.prod(x, dim, keepdim)


CASES = [
    case(f"prod-dim{dim}-keep{keep}-{gen_name}", lambda x, d=dim, k=keep: em.prod(x, d, k),
         lambda x, d=dim, k=keep: torch_prod(x, d, k), gen(2, 3, 4))
    for dim in (None, 0, 1, -1) for keep in (False, True)
    for gen_name, gen in [("randn", randn), ("one_zero", with_zeros), ("two_zeros", lambda *s: with_zeros(*s, count=2))]
    if not (dim is None and keep)
]
CASES += [
    case("prod_scalar", em.prod, torch.prod, randn()),
    case("prod_scalar_dim", lambda x: em.prod(x, 0), lambda x: torch.prod(x, 0), randn()),
    case("prod_single_zero_vector", em.prod, torch.prod, fixed(np.array([2.0, 0.0, -3.0, 0.5]))),
    case("method_prod", lambda x: x.prod(1), None, with_zeros(3, 4)),
    case("method_prod_all", lambda x: x.prod(), None, randn(3, 2)),
]
CASES += [
    case(f"{name}-dim{dim}-{gen_name}", lambda x, n=name, d=dim: getattr(em, n)(x, d),
         lambda x, n=name, d=dim: getattr(torch, n)(x, d), gen(2, 3, 5))
    for name in ("cumsum", "cumprod") for dim in (0, 1, -1)
    for gen_name, gen in [("randn", randn), ("one_zero", with_zeros), ("two_zeros", lambda *s: with_zeros(*s, count=2))]
]
CASES += [
    case("cumprod_zero_first_and_last", lambda x: em.cumprod(x, 0), lambda x: torch.cumprod(x, 0),
         fixed(np.array([0.0, 2.0, -1.5, 0.0, 3.0, 0.0]))),
    case("cumprod_all_zero", lambda x: em.cumprod(x, 0), lambda x: torch.cumprod(x, 0), fixed(np.zeros(4))),
    case("cumprod_scalar", lambda x: em.cumprod(x, 0), lambda x: torch.cumprod(x, 0), randn()),
    case("cumsum_scalar", lambda x: em.cumsum(x, -1), lambda x: torch.cumsum(x, -1), randn()),
    case("method_cumsum", lambda x: x.cumsum(1), None, randn(3, 4)),
    case("method_cumprod", lambda x: x.cumprod(dim=0), None, with_zeros(4, 3)),
    case("sum_dtype", lambda x: em.sum(x, dtype=em.float64), lambda x: torch.sum(x, dtype=torch.float64), randn(3, 4)),
    case("sum_dim_keepdim_dtype", lambda x: em.sum(x, dim=1, keepdim=True, dtype=em.float64),
         lambda x: torch.sum(x, dim=1, keepdim=True, dtype=torch.float64), randn(3, 4)),
    case("mean_dim_dtype", lambda x: em.mean(x, dim=(0, 2), dtype=em.float64),
         lambda x: torch.mean(x, dim=(0, 2), dtype=torch.float64), randn(2, 3, 4)),
    case("method_sum_dtype", lambda x: x.sum(1, dtype=em.float64), lambda x: x.sum(1, dtype=torch.float64),
         randn(3, 4)),
    case("method_mean_dtype", lambda x: x.mean(dim=0, keepdim=True, dtype=em.float64),
         lambda x: x.mean(dim=0, keepdim=True, dtype=torch.float64), randn(3, 4)),
    case("prod_dtype", lambda x: em.prod(x, 1, dtype=em.float64), lambda x: torch.prod(x, 1, dtype=torch.float64),
         randn(3, 4)),
    case("cumsum_dtype", lambda x: em.cumsum(x, 0, dtype=em.float64),
         lambda x: torch.cumsum(x, 0, dtype=torch.float64), randn(3, 4)),
    case("cumprod_dtype", lambda x: x.cumprod(1, dtype=em.float64), lambda x: x.cumprod(1, dtype=torch.float64),
         with_zeros(3, 4)),
]


(test_against_torch, test_float64_against_torch, test_gradcheck, test_second_order_against_torch,
 test_gradgradcheck) = drawn_tests(CASES)


# -- integer inputs accumulate in int64, as in PyTorch ----------------------------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda m, x: m.prod(x), lambda m, x: m.prod(x, 1), lambda m, x: m.cumsum(x, 0), lambda m, x: m.cumprod(x, 1),
    lambda m, x: m.sum(x), lambda m, x: m.sum(x, dtype=m.float64), lambda m, x: m.mean(x, 1, dtype=m.float64),
])
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_])
def test_integer_and_bool_inputs(fn, dtype):
    x = np.array([[1, 0, 3], [2, 2, 1]]).astype(dtype)
    check_op(lambda t: fn(em, t), lambda t: fn(torch, t), [x], backward=False)


# -- all / any -------------------------------------------------------------------------------------------------------
LOGIC_INPUTS = [
    np.array([[1.0, 0.0, 2.0], [3.0, 1.0, -1.0]], np.float32),
    np.array([[[True, False], [True, True]], [[False, False], [True, False]]]),
    np.array([[0, 0, 5], [1, 2, 3]]),
    np.array([[0, 7], [1, 2]], np.uint8),
]


@pytest.mark.parametrize("x", LOGIC_INPUTS, ids=["float", "bool", "int", "uint8"])
@pytest.mark.parametrize("name", ["all", "any"])
def test_all_any_match_torch(name, x):
    dims = [None, 0, 1, -1] + ([(0, 1)] if x.ndim > 1 else [])
    for dim in dims:
        for keep in (False, True):
            if dim is None and keep:
                continue
            args = () if dim is None else (dim, keep)
            out = check_op(lambda t, a=args: getattr(em, name)(t, *a), lambda t, a=args: getattr(torch, name)(t, *a),
                           [x], backward=False)[0]
            assert not out.requires_grad
            check_op(lambda t, a=args: getattr(t, name)(*a), lambda t, a=args: getattr(t, name)(*a), [x],
                     backward=False)
    check_op(lambda t: getattr(t, name)(dim=1, keepdim=True), lambda t: getattr(t, name)(dim=1, keepdim=True), [x],
             backward=False)


def test_all_any_of_a_scalar_and_out():
    assert em.all(em.tensor(0.0)).item() is False and em.any(em.tensor(2.0), 0).item() is True
    out = em.zeros(2, dtype=em.bool_)
    assert em.any(em.tensor([[0, 1], [0, 0]]), 1, out=out) is out and out.tolist() == [True, False]


def test_cumsum_and_prod_out():
    out = em.zeros(3)
    assert em.cumsum(em.tensor([1.0, 2.0, 3.0]), 0, out=out) is out and out.tolist() == [1.0, 3.0, 6.0]
    with pytest.raises(RuntimeError, match="automatic differentiation"):
        em.cumprod(em.ones(3, requires_grad=True), 0, out=out)


def test_prod_rejects_a_tuple_dim_as_torch():
    with pytest.raises(TypeError):
        em.prod(em.ones(2, 3), (0, 1))


# -- beyond second order ---------------------------------------------------------------------------------------------
def _third_derivative(module, fn, x):
    (g,) = module.autograd.grad((fn(x) ** 3).sum(), [x], create_graph=True)
    (h,) = module.autograd.grad((g * g).sum(), [x], create_graph=True)
    return module.autograd.grad((h * h).sum(), [x])[0]


THIRD_ORDER = {
    "cumsum": lambda m, x: m.cumsum(x, 1),
    "cumprod": lambda m, x: m.cumprod(x, 1),
    "cumprod_dim0": lambda m, x: m.cumprod(x, 0),
    "prod_dim": lambda m, x: m.prod(x, 1),
    "prod_all": lambda m, x: m.prod(x[:, :2]),
}


@pytest.mark.parametrize("name", list(THIRD_ORDER))
@pytest.mark.parametrize("zeros", [0, 1, 2], ids=["no_zero", "one_zero", "two_zeros"])
def test_third_derivatives_match_torch(name, zeros):
    """The products' gradients stay exact polynomials at zeros (no division by them), to every order."""
    rng = np.random.default_rng(5)
    x = with_zeros(3, 4, count=zeros)(rng) if zeros else rng.standard_normal((3, 4))
    fn = THIRD_ORDER[name]
    ours = _third_derivative(em, lambda t: fn(em, t), em.tensor(x, requires_grad=True))
    theirs = _third_derivative(torch, lambda t: fn(torch, t), torch.tensor(x, requires_grad=True))
    assert_close(ours, theirs)


# -- differences and running extremes ----------------------------------------------------------------
def test_diff_matches_torch_with_prepend_append_and_order():
    rng = np.random.default_rng(9)
    x, before, after = rng.standard_normal((3, 5)), rng.standard_normal((3, 1)), rng.standard_normal((3, 2))
    check_op(lambda t: em.diff(t), lambda t: torch.diff(t), [x])
    check_op(lambda t: em.diff(t, n=2, dim=0), lambda t: torch.diff(t, n=2, dim=0), [x])
    check_op(lambda t, p, a: t.diff(2, -1, p, a), lambda t, p, a: t.diff(2, -1, p, a), [x, before, after])
    check_op(lambda t: em.diff(t > 0), lambda t: torch.diff(t > 0), [x], backward=False)  # booleans: XOR
    assert em.autograd.gradcheck(lambda t: em.diff(t, n=3), [em.tensor(x, requires_grad=True)])


@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_running_extremes_match_torch_with_ties_and_nan(name):
    x = np.array([[1.0, 3.0, 3.0, 2.0, 5.0, 5.0], [2.0, np.nan, 1.0, 4.0, 0.0, 7.0]])
    check_op(lambda t: tuple(getattr(em, name)(t, 1)), lambda t: tuple(getattr(torch, name)(t, 1)), [x])
    check_op(lambda t: tuple(getattr(t, name)(0)), lambda t: tuple(getattr(t, name)(0)), [x[:, :3]])
    ints = np.array([3, 1, 4, 1, 5])
    check_op(lambda t: tuple(getattr(em, name)(t, 0)), lambda t: tuple(getattr(torch, name)(t, 0)), [ints],
             backward=False)
