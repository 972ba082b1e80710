"""Pointwise maths (``ember.ops.pointwise``, ``trigonometric``, ``rounding``) against PyTorch and finite differences.

A table of cases (ember function, PyTorch twin, input generators) runs three tests each: float32
parity of values, dtypes and gradients, float64 parity, and a float64 central-difference
gradcheck. Inputs are drawn inside each function's domain and away from its kinks; the
no-gradient functions (predicates, bit operations, comparisons) are checked value by value.
"""
import numpy as np
import pytest
import torch
from op_cases import away, case, drawn_tests, fixed, randn

import ember as em
from torch_parity import assert_close, check_op


# -- input generators ----------------------------------------------------------------------------------
def uniform(low, high):
    return lambda *shape: (lambda rng: rng.uniform(low, high, shape))


def off_integers(*shape):
    return away(*shape, kinks=tuple(range(-4, 5)), scale=2.0)


def method(name, *args, **kwargs):
    return lambda x: getattr(x, name)(*args, **kwargs)


# -- the table ----------------------------------------------------------------------------------------------
positive, in_unit, above_one = uniform(0.5, 2.0), uniform(-0.9, 0.9), uniform(1.2, 3.0)
UNARY = [
    ("square", randn), ("rsqrt", positive), ("log1p", uniform(-0.5, 2.0)), ("expm1", randn), ("exp2", randn),
    ("log2", positive), ("log10", positive), ("tan", uniform(-1.2, 1.2)), ("asin", in_unit), ("acos", in_unit),
    ("atan", randn), ("sinh", randn), ("cosh", randn), ("asinh", randn), ("acosh", above_one), ("atanh", in_unit),
    ("erf", randn), ("erfc", randn), ("floor", off_integers), ("ceil", off_integers), ("trunc", off_integers),
    ("frac", off_integers), ("round", off_integers), ("sign", away), ("absolute", away), ("nan_to_num", randn),
    ("arcsin", in_unit), ("arccosh", above_one), ("fix", off_integers),
]
CASES = [
    case(f"{name}-{shape}", getattr(em, name), getattr(torch, name), gen(*shape))
    for name, gen in UNARY for shape in [(3, 4), ()]
]
CASES += [
    case(f"method_{name}", method(name), None, gen(3, 4))
    for name, gen in UNARY if name not in ("nan_to_num",)
]
CASES += [
    case("round_decimals", lambda x: em.round(x, decimals=2), lambda x: torch.round(x, decimals=2), randn(3, 4)),
    case("method_round_decimals", method("round", decimals=1), None, randn(3, 4)),
    case("round_negative_decimals", lambda x: em.round(x, decimals=-1), lambda x: torch.round(x, decimals=-1),
         randn(3, 4)),
    case("erf_tails", em.erf, torch.erf, fixed(np.array([-6.0, -3.0, -1e-3, 1e-3, 3.0, 6.0]))),
    case("erfc_tails", em.erfc, torch.erfc, fixed(np.array([-6.0, -3.0, -1e-3, 1e-3, 3.0, 9.0]))),
    case("log1p_tiny", em.log1p, torch.log1p, fixed(np.array([1e-10, -1e-10, 1e-5]))),
    case("expm1_tiny", em.expm1, torch.expm1, fixed(np.array([1e-10, -1e-10, 1e-5]))),
    case("nan_to_num_nonfinite", lambda x: em.nan_to_num(x, posinf=5.0, neginf=-5.0),
         lambda x: torch.nan_to_num(x, posinf=5.0, neginf=-5.0), fixed(np.array([np.nan, 1.5, np.inf, -np.inf])),
         finite_diff=False),
    case("nan_to_num_defaults", em.nan_to_num, torch.nan_to_num, fixed(np.array([np.nan, -2.0, np.inf, -np.inf])),
         finite_diff=False),
]

BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((), (3, 4)), ((3, 4), ()), ((2, 1, 4), (3, 1))]
nonzero = lambda *s: away(*s, margin=0.5)  # noqa: E731
BINARY = [
    ("atan2", em.atan2, torch.atan2, randn, nonzero),
    ("arctan2", em.arctan2, torch.arctan2, randn, nonzero),
    ("logaddexp", em.logaddexp, torch.logaddexp, randn, randn),
    ("logaddexp2", em.logaddexp2, torch.logaddexp2, randn, randn),
    ("fmod", em.fmod, torch.fmod, lambda *s: randn(*s), nonzero),
    ("remainder", em.remainder, torch.remainder, lambda *s: randn(*s), nonzero),
    ("mod_operator", lambda x, y: x % y, None, randn, nonzero),
    ("method_atan2", lambda x, y: x.atan2(y), None, randn, nonzero),
    ("method_logaddexp", lambda x, y: x.logaddexp(y), None, randn, randn),
    ("method_fmod", lambda x, y: x.fmod(y), None, randn, nonzero),
    ("method_remainder", lambda x, y: x.remainder(y), None, randn, nonzero),
]
CASES += [
    case(f"{name}-{sx}-{sy}", f, g, gx(*sx), gy(*sy))
    for name, f, g, gx, gy in BINARY for sx, sy in BINARY_SHAPES
]
CASES += [
    case("fmod_scalar", lambda x: em.fmod(x, 0.7), lambda x: torch.fmod(x, 0.7), randn(3, 4)),
    case("remainder_scalar", lambda x: em.remainder(x, -0.7), lambda x: torch.remainder(x, -0.7), randn(3, 4)),
    case("rmod_scalar", lambda x: 2.5 % x, lambda x: torch.remainder(torch.tensor(2.5, dtype=x.dtype), x),
         nonzero(3, 4)),  # PyTorch's Scalar % Tensor has no derivative: the same op on a 0-d tensor
    # second_order=False: PyTorch's second derivative is NaN where e^(y − x) overflows or y = −∞ (its
    # formula is g / (1 + e^(y − x))); ember's, from e^(x − z), stays finite (the test after the table).
    case("logaddexp_large", em.logaddexp, torch.logaddexp, fixed(np.array([1000.0, -1000.0, 3.0])),
         fixed(np.array([1000.0, 5.0, -np.inf])), finite_diff=False, second_order=False),
    case("atan2_quadrants", em.atan2, torch.atan2, fixed(np.array([1.0, 1.0, -1.0, -1.0])),
         fixed(np.array([1.0, -1.0, 1.0, -1.0]))),
]

# clamp with tensor bounds: the gradient goes to x inside, to the bound it hit outside
bounds = lambda *s: away(*s, margin=0.2)  # noqa: E731
CASES += [
    case("clamp_tensor_bounds", lambda x, lo, hi: em.clamp(x, lo - 1, hi + 1),
         lambda x, lo, hi: torch.clamp(x, lo - 1, hi + 1), away(3, 4, kinks=(-1.0, 1.0), scale=2.0),
         uniform(-0.2, 0.2)(4), uniform(-0.2, 0.2)(3, 1)),
    case("clamp_min_tensor", lambda x, m: em.clamp_min(x, m), lambda x, m: torch.clamp_min(x, m), randn(3, 4),
         randn(4)),
    case("clamp_max_tensor", lambda x, m: em.clamp_max(x, m), lambda x, m: torch.clamp_max(x, m), randn(3, 4),
         randn(3, 1)),
    case("clamp_min_scalar", lambda x: em.clamp_min(x, 0.3), lambda x: torch.clamp_min(x, 0.3),
         away(3, 4, kinks=(0.3,))),
    case("method_clamp_max", method("clamp_max", -0.2), None, away(3, 4, kinks=(-0.2,))),
    case("method_clamp_min_tensor", lambda x, m: x.clamp_min(m), None, randn(3, 4), randn(4)),
    case("clamp_min_only", lambda x: em.clamp(x, min=0.1), lambda x: torch.clamp(x, min=0.1),
         away(3, 4, kinks=(0.1,))),
]


# compositions of the basic ops: reciprocal, addcmul/addcdiv, lerp, hypot, xlogy, logit
CASES += [
    case("reciprocal", em.reciprocal, torch.reciprocal, nonzero(3, 4)),
    case("method_reciprocal", method("reciprocal"), None, nonzero(3, 4)),
    case("addcmul", lambda x, a, b: em.addcmul(x, a, b, value=-0.5), lambda x, a, b: torch.addcmul(x, a, b, value=-0.5),
         randn(3, 4), randn(4), randn(3, 1)),
    case("addcdiv", lambda x, a, b: em.addcdiv(x, a, b, value=2), lambda x, a, b: torch.addcdiv(x, a, b, value=2),
         randn(3, 4), randn(3, 4), nonzero(4)),
    case("method_addcdiv", lambda x, a, b: x.addcdiv(a, b), None, randn(3, 4), randn(3, 4), nonzero(3, 4)),
    case("lerp_scalar", lambda x, y: em.lerp(x, y, 0.3), lambda x, y: torch.lerp(x, y, 0.3), randn(3, 4), randn(4)),
    case("lerp_tensor_weight", em.lerp, torch.lerp, randn(3, 4), randn(3, 4), uniform(0.0, 1.0)(3, 4)),
    case("method_lerp", lambda x, y: x.lerp(y, 0.75), None, randn(3, 4), randn(3, 4)),
    case("hypot", em.hypot, torch.hypot, nonzero(3, 4), randn(4)),
    case("xlogy", em.xlogy, torch.xlogy, randn(3, 4), positive(3, 4)),
    case("xlogy_zero_x", em.xlogy, torch.xlogy, fixed(np.array([0.0, 0.0, 2.0])), fixed(np.array([0.5, 3.0, 0.5])),
         finite_diff=False),  # the value is 0 for x ≤ 0 too, so finite differences see a kink at x = 0
    case("logit", em.logit, torch.logit, uniform(0.05, 0.95)(3, 4)),
    case("logit_eps", lambda p: em.logit(p, eps=0.1), lambda p: torch.logit(p, eps=0.1),
         fixed(np.array([0.02, 0.3, 0.6, 0.97]))),
    case("method_logit", method("logit"), None, uniform(0.05, 0.95)(3, 4)),
    case("deg2rad", em.deg2rad, torch.deg2rad, randn(3, 4)),
    case("rad2deg", em.rad2deg, torch.rad2deg, randn(3, 4)),
    case("float_power", lambda x: em.float_power(x, 3), lambda x: torch.float_power(x, 3), randn(3, 4)),
    case("float_power_tensor", em.float_power, torch.float_power, positive(3, 4), randn(4)),
    case("copysign", em.copysign, torch.copysign, nonzero(3, 4), nonzero(4)),
    case("negative_positive", lambda x: em.negative(em.positive(x)), lambda x: torch.negative(torch.positive(x)),
         randn(3, 4)),
]

(test_against_torch, test_float64_against_torch, test_gradcheck, test_second_order_against_torch,
 test_gradgradcheck) = drawn_tests(CASES)


def test_logaddexp_second_derivative_stays_finite_at_large_inputs():
    x = em.tensor([1000.0, -1000.0, 3.0], dtype=em.float64, requires_grad=True)
    y = em.tensor([1000.0, 5.0, -np.inf], dtype=em.float64)
    (gx,) = em.autograd.grad(em.logaddexp(x, y).sum(), x, create_graph=True)
    (hx,) = em.autograd.grad(gx.sum(), x)
    p = np.array([0.5, 0.0, 1.0])  # ∂z/∂x = e^(x − z); ∂²z/∂x² = p(1 − p)
    np.testing.assert_allclose(gx.detach().numpy(), p)
    np.testing.assert_allclose(hx.numpy(), p * (1 - p))


# -- third derivatives ---------------------------------------------------------------------------------------
THIRD_ORDER = [
    ("tanh", em.tanh, torch.tanh, randn), ("sigmoid", em.sigmoid, torch.sigmoid, randn),
    ("exp", em.exp, torch.exp, randn), ("sin", em.sin, torch.sin, randn), ("log", em.log, torch.log, positive),
    ("sqrt", em.sqrt, torch.sqrt, positive), ("atan", em.atan, torch.atan, randn), ("erf", em.erf, torch.erf, randn),
    ("rsqrt", em.rsqrt, torch.rsqrt, positive), ("tan", em.tan, torch.tan, uniform(-1.2, 1.2)),
    ("gelu", em.nn.functional.gelu, torch.nn.functional.gelu, randn),
    ("gelu_tanh", lambda x: em.nn.functional.gelu(x, approximate="tanh"),
     lambda x: torch.nn.functional.gelu(x, approximate="tanh"), randn),
    ("softplus", em.nn.functional.softplus, torch.nn.functional.softplus, randn),
    ("elu", em.nn.functional.elu, torch.nn.functional.elu, away),
    ("softmax", lambda x: em.softmax(x, 1), lambda x: torch.softmax(x, 1), randn),
    ("log_softmax", lambda x: em.log_softmax(x, 0), lambda x: torch.log_softmax(x, 0), randn),
    ("logsumexp", lambda x: em.logsumexp(x, 1), lambda x: torch.logsumexp(x, 1), randn),
]


def _derivatives(grad, f, x, u, order):
    """∂(Σ u ⊙ f(x))/∂x, then the gradient of the sum of each result again, ``order`` times in all."""
    g, found = (f(x) * u).sum(), []
    for _ in range(order):
        (g,) = grad(g, x, create_graph=True)
        found.append(g)
        g = g.sum()
    return found


@pytest.mark.parametrize("name, ours, theirs, gen", THIRD_ORDER, ids=[row[0] for row in THIRD_ORDER])
def test_third_derivatives_match_torch(name, ours, theirs, gen):
    rng = np.random.default_rng(5)
    x = gen(3, 4)(rng)
    e_x, t_x = em.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    u = rng.standard_normal(tuple(theirs(t_x).shape))  # a random upstream gradient
    e_found = _derivatives(em.autograd.grad, ours, e_x, em.tensor(u), 3)
    t_found = _derivatives(torch.autograd.grad, theirs, t_x, torch.tensor(u), 3)
    for k, (e, t) in enumerate(zip(e_found, t_found, strict=True), start=1):
        assert_close(e, t, name=f"{name}: derivative of order {k}")


# -- dtypes --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["log1p", "expm1", "exp2", "rsqrt", "erf", "tan", "atan", "sinh", "log2"])
def test_integer_input_gives_float32(name):
    check_op(getattr(em, name), getattr(torch, name), [np.array([1, 2, 3])], backward=False)


@pytest.mark.parametrize("name", ["floor", "ceil", "round", "trunc", "sign", "square"])
def test_integer_input_stays_integer(name):
    check_op(getattr(em, name), getattr(torch, name), [np.array([-3, 0, 2, 7])], backward=False)


def test_round_halves_to_even_and_sign_of_nan_is_zero():
    check_op(em.round, torch.round, [np.array([0.5, 1.5, 2.5, -0.5, -1.5], np.float32)], backward=False)
    check_op(em.sign, torch.sign, [np.array([np.nan, -0.0, 2.0, -3.0], np.float32)], backward=False)


def test_fmod_and_remainder_on_integers():
    x, y = np.array([-7, -3, 3, 7]), np.array([2, -2, 2, -3])
    check_op(em.fmod, torch.fmod, [x, y], backward=False)
    check_op(em.remainder, torch.remainder, [x, y], backward=False)
    check_op(lambda a: a % 3, lambda a: a % 3, [x], backward=False)
    check_op(lambda a: em.remainder(a, 2.5), lambda a: torch.remainder(a, 2.5), [x], backward=False)


ROUNDED_DIVISIONS = [
    ("floor_divide", em.floor_divide, torch.floor_divide),
    ("floordiv_operator", lambda x, y: x // y, lambda x, y: x // y),
    ("div_floor", lambda x, y: em.div(x, y, rounding_mode="floor"),
     lambda x, y: torch.div(x, y, rounding_mode="floor")),
    ("div_trunc", lambda x, y: em.div(x, y, rounding_mode="trunc"),
     lambda x, y: torch.div(x, y, rounding_mode="trunc")),
    ("method_div_trunc", lambda x, y: x.div(y, rounding_mode="trunc"), lambda x, y: x.div(y, rounding_mode="trunc")),
]


@pytest.mark.parametrize("name, ours, theirs", ROUNDED_DIVISIONS, ids=[row[0] for row in ROUNDED_DIVISIONS])
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float32, np.float64])
def test_rounded_division_matches_torch(name, ours, theirs, dtype):
    x = np.array([[-7, -6, -1, 0, 1, 6, 7]]) * (np.array([[1], [1.5]]) if np.dtype(dtype).kind == "f" else 1)
    y = np.array([[2], [-3]], dtype)
    check_op(ours, theirs, [x.astype(dtype), y], backward=False)
    check_op(lambda a: ours(a, 4), lambda a: theirs(a, 4), [x.astype(dtype)], backward=False)
    if not name.startswith("method"):
        check_op(lambda a: ours(9, a), lambda a: theirs(9, a), [y], backward=False)


def test_rounded_division_has_zero_gradient_and_rejects_bad_input():
    x = em.tensor([3.5, -2.5], requires_grad=True)
    y = em.tensor([2.0, 2.0], requires_grad=True)
    (em.div(x, y, rounding_mode="floor") + em.div(x, y, rounding_mode="trunc")).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0] and y.grad.tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="rounding_mode to be one of None, 'trunc', or 'floor'"):
        em.div(x, y, rounding_mode="round")
    with pytest.raises(ZeroDivisionError):
        em.tensor([1, 2]) // em.tensor([1, 0])


def test_xlogy_at_zero_zero_is_zero_with_zero_gradients():
    # PyTorch's ∂/∂y there is 0/0 = NaN; ember's is 0, the limit along x = 0
    x, y = em.tensor([0.0, 0.0], requires_grad=True), em.tensor([0.0, np.inf], requires_grad=True)
    z = em.xlogy(x, y)
    z.sum().backward()
    assert z.tolist() == [0.0, 0.0] and x.grad.tolist() == [0.0, 0.0] and y.grad.tolist() == [0.0, 0.0]


def test_add_and_sub_take_alpha():
    check_op(lambda x, y: em.add(x, y, alpha=-2), lambda x, y: torch.add(x, y, alpha=-2),
             [np.random.default_rng(0).standard_normal((3, 4)), np.random.default_rng(1).standard_normal(4)])
    check_op(lambda x, y: x.sub(y, alpha=0.5), lambda x, y: x.sub(y, alpha=0.5),
             [np.random.default_rng(2).standard_normal((3, 4)), np.random.default_rng(3).standard_normal((3, 4))])
    check_op(lambda x, y: em.subtract(x, y), lambda x, y: torch.subtract(x, y),
             [np.arange(3.0), np.ones(3)])


def test_step_functions_have_zero_gradient():
    x = em.tensor([0.3, 1.7, -2.2], requires_grad=True)
    (em.floor(x) + em.ceil(x) + em.round(x) + em.trunc(x) + em.sign(x)).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


# -- NaN and infinity, predicates -------------------------------------------------------------------------------
SPECIALS = np.array([1.0, -2.0, 0.0, np.nan, np.inf, -np.inf], dtype=np.float32)


@pytest.mark.parametrize("name", ["isinf", "isposinf", "isneginf", "isnan", "isfinite"])
def test_predicates_match_torch(name):
    out = check_op(getattr(em, name), getattr(torch, name), [SPECIALS], backward=False)[0]
    assert not out.requires_grad
    check_op(method(name), method(name), [SPECIALS], backward=False)
    check_op(getattr(em, name), getattr(torch, name), [np.array([1, -2])], backward=False)


def test_nan_to_num_dtype_defaults_and_integers():
    check_op(em.nan_to_num, torch.nan_to_num, [SPECIALS.astype(np.float64)], backward=False)
    check_op(method("nan_to_num", nan=1.0), method("nan_to_num", nan=1.0), [SPECIALS], backward=False)
    check_op(em.nan_to_num, torch.nan_to_num, [np.array([3, -1])], backward=False)


# -- logic and bits ---------------------------------------------------------------------------------------------
INTS = [np.array([[12, -5, 0], [7, 255, -1]]), np.array([10, 3, -8])]
BOOLS = [np.array([True, False, True, False]), np.array([True, True, False, False])]


@pytest.mark.parametrize("name", ["bitwise_and", "bitwise_or", "bitwise_xor", "logical_xor", "logical_and",
                                  "logical_or"])
@pytest.mark.parametrize("kind", ["int", "bool", "int32"])
def test_binary_bit_and_logic_ops_match_torch(name, kind):
    x, y = {"int": INTS, "bool": BOOLS, "int32": [a.astype(np.int32) for a in INTS]}[kind]
    check_op(getattr(em, name), getattr(torch, name), [x, y], backward=False)
    check_op(lambda a, b: getattr(a, name)(b), lambda a, b: getattr(a, name)(b), [x, y], backward=False)


@pytest.mark.parametrize("name", ["bitwise_and", "bitwise_or", "bitwise_xor"])
def test_bit_ops_with_python_int(name):
    check_op(lambda a: getattr(em, name)(a, 6), lambda a: getattr(torch, name)(a, 6), [INTS[0]], backward=False)
    check_op(lambda a: getattr(em, name)(a, 1), lambda a: getattr(torch, name)(a, 1), [BOOLS[0]], backward=False)


@pytest.mark.parametrize("values", [INTS, BOOLS], ids=["int", "bool"])
def test_bit_operators_match_torch(values):
    x, y = values
    for op in (lambda a, b: a & b, lambda a, b: a | b, lambda a, b: a ^ b):
        check_op(op, op, [x, y], backward=False)
    for op in (lambda a: ~a, lambda a: 3 & a, lambda a: 3 | a, lambda a: 3 ^ a, em.bitwise_not):
        check_op(op, op if op is not em.bitwise_not else torch.bitwise_not, [x], backward=False)
    check_op(lambda a: a.logical_not(), lambda a: a.logical_not(), [x], backward=False)


@pytest.mark.parametrize("op", [em.bitwise_and, em.bitwise_or, em.bitwise_xor, lambda a, b: em.bitwise_not(a)])
def test_bit_ops_refuse_floats_as_torch(op):
    with pytest.raises(RuntimeError, match="integer and bool"):
        op(em.tensor([1.0]), em.tensor([1]))


# -- comparing whole tensors ----------------------------------------------------------------------------------------
def test_isclose_allclose_equal_match_torch():
    a = np.array([1.0, 2.0, np.nan, 1e-9, 100.0], np.float64)
    b = np.array([1.0 + 1e-7, 2.1, np.nan, 0.0, 100.001], np.float64)
    for kw in ({}, {"equal_nan": True}, {"rtol": 1e-2}, {"atol": 0.2}):
        check_op(lambda x, y, kw=kw: em.isclose(x, y, **kw), lambda x, y, kw=kw: torch.isclose(x, y, **kw), [a, b],
                 backward=False)
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        assert em.allclose(em.tensor(a), em.tensor(b), **kw) is torch.allclose(ta, tb, **kw)
        assert em.tensor(a).allclose(em.tensor(b), **kw) is torch.allclose(ta, tb, **kw)
    check_op(lambda x: em.isclose(x, 2.0), lambda x: torch.isclose(x, torch.tensor(2.0, dtype=x.dtype)),
             [np.array([2.0, 2.00001, 3.0])], backward=False)
    assert em.equal(em.tensor([1, 2]), em.tensor([1, 2])) is True
    assert em.equal(em.tensor([1, 2]), em.tensor([1, 3])) is False
    assert em.equal(em.tensor([1, 2]), em.tensor([[1, 2]])) is False
    assert em.tensor([1.0, 2.0]).equal(em.tensor([1.0, 2.0])) is True


# -- out= -------------------------------------------------------------------------------------------------------
def test_out_writes_into_the_given_tensor():
    out = em.zeros(3)
    x = em.tensor([1.0, 4.0, 9.0])
    result = em.rsqrt(x, out=out)
    assert result is out
    assert_close(out, torch.rsqrt(torch.tensor([1.0, 4.0, 9.0])))
    assert out._version == 1
    resized = em.atan2(em.ones(2, 2), em.ones(2), out=em.zeros(1))
    assert resized.shape == (2, 2)
    assert em.isposinf(em.tensor([np.inf, 0.0]), out=em.zeros(2, dtype=em.bool_)).tolist() == [True, False]


def test_out_refuses_inputs_that_require_grad():
    x = em.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="automatic differentiation"):
        em.log1p(x, out=em.zeros(2))
    with em.no_grad():
        assert em.log1p(x, out=em.zeros(2)).tolist() == pytest.approx(np.log1p([1.0, 2.0]).tolist())


def test_functions_are_top_level_and_graph_nodes_are_named():
    x = em.tensor([0.5], requires_grad=True)
    assert "Log1p" in repr(em.log1p(x)) and "Floor" in repr(em.floor(x)) and "Erf" in repr(x.erfc())


def test_heaviside_signbit_and_sgn_match_torch():
    x = np.array([-1.5, -0.0, 0.0, 2.0, np.nan], np.float32)
    check_op(lambda t: em.heaviside(t, em.tensor(0.5)), lambda t: torch.heaviside(t, torch.tensor(0.5)), [x],
             backward=False)
    check_op(em.signbit, torch.signbit, [x], backward=False)
    check_op(em.sgn, torch.sgn, [x], backward=False)
