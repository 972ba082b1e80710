"""The op-test table: every differentiable op × shape cases, against PyTorch and finite differences.

Each case gives an ember function, its PyTorch twin and generators for the inputs. Two tests
run per case: ``test_against_torch`` (float32 forward values and dtypes, then the gradients
of a random upstream gradient) and ``test_gradcheck`` (float64 central differences).
Inputs are drawn away from kinks (ReLU at 0, clip bounds, |x| at 0) so both are well defined.
"""
import numpy as np
import torch
import torch.nn.functional as TF
from op_cases import away, case, drawn_tests, fixed, randn

import ember as em
from torch_parity import Const


# -- input generators ------------------------------------------------------------------------
def positive(*shape):
    return lambda rng: rng.uniform(0.5, 2.0, shape)


def probs(*shape, axis=-1):
    def draw(rng):
        e = np.exp(rng.standard_normal(shape))
        return Const(e / e.sum(axis=axis, keepdims=True))

    return draw


def const(gen):
    return lambda rng: Const(gen(rng))


def ints(high, *shape, low=0):
    return lambda rng: rng.integers(low, high, shape)


def mask(*shape):
    return lambda rng: rng.random(shape) < 0.5


def torch_dims(axis, ndim):
    return tuple(range(ndim)) if axis is None else axis


def torch_extreme(along_dim, over_dims, x, axis, keepdim):
    """torch.max(x, dim) — (values, indices) — along one int dim; amax over all or several dims."""
    if isinstance(axis, int):
        return along_dim(x, axis, keepdim)
    return over_dims(x, dim=torch_dims(axis, x.ndim), keepdim=keepdim)


# -- arithmetic ----------------------------------------------------------------------------------
BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((), (3, 4)), ((3, 4), ()), ((2, 1, 4), (3, 1))]
BINARY = [
    ("add", lambda x, y: x + y, None, randn, randn),
    ("sub", lambda x, y: x - y, None, randn, randn),
    ("mul", lambda x, y: x * y, None, randn, randn),
    ("div", lambda x, y: x / y, None, randn, lambda *s: away(*s, margin=0.5)),
    ("pow", lambda x, y: x**y, None, positive, randn),
    ("maximum", em.maximum, torch.maximum, randn, randn),
    ("minimum", em.minimum, torch.minimum, randn, randn),
    ("fn_add", em.add, torch.add, randn, randn),
    ("fn_sub", em.sub, torch.sub, randn, randn),
    ("fn_mul", em.mul, torch.mul, randn, randn),
    ("fn_div", em.div, torch.div, randn, positive),
    ("fn_pow", em.pow, torch.pow, positive, randn),
]
CASES = [
    case(f"{name}-{sx}-{sy}", f, g, gx(*sx), gy(*sy))
    for name, f, g, gx, gy in BINARY for sx, sy in BINARY_SHAPES
]

CASES += [
    case("add_scalar", lambda x: x + 2.0, None, randn(3, 4)),
    case("radd_scalar", lambda x: 2.0 + x, None, randn(3, 4)),
    case("sub_scalar", lambda x: x - 3.0, None, randn(3, 4)),
    case("rsub_scalar", lambda x: 3.0 - x, None, randn(3, 4)),
    case("mul_scalar", lambda x: x * 2.5, None, randn(3, 4)),
    case("rmul_scalar", lambda x: 2.5 * x, None, randn(3, 4)),
    case("div_scalar", lambda x: x / 4.0, None, randn(3, 4)),
    case("rdiv_scalar", lambda x: 2.0 / x, None, away(3, 4, margin=0.5)),
    case("neg", lambda x: -x, None, randn(3, 4)),
    case("fn_neg", em.neg, torch.neg, randn(3, 4)),
    case("pow_2", lambda x: x**2, None, randn(3, 4)),
    case("pow_3_negative_base", lambda x: x**3, None, randn(3, 4)),
    case("pow_half", lambda x: x**0.5, None, positive(3, 4)),
    case("pow_neg_1.5", lambda x: x**-1.5, None, positive(3, 4)),
    case("pow_int_exponent", lambda x: x**-1, None, away(3, 4, margin=0.5)),
    case("rpow", lambda x: 2.0**x, None, randn(3, 4)),
    case("pow_scalar_tensor", lambda x: x**2, None, randn()),
]

# -- matrix products --------------------------------------------------------------------------
MATMUL_SHAPES = [
    ((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)),
    ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((4,), (2, 4, 5)), ((2, 3, 4), (4,)),
]
CASES += [case(f"matmul-{sx}-{sy}", lambda x, y: x @ y, None, randn(*sx), randn(*sy)) for sx, sy in MATMUL_SHAPES]
CASES += [
    case("fn_matmul", em.matmul, torch.matmul, randn(2, 3, 4), randn(4, 2)),
    case("linear", em.linear, TF.linear, randn(5, 3), randn(4, 3), randn(4)),
    case("linear_no_bias", em.linear, TF.linear, randn(5, 3), randn(4, 3)),
    case("linear_batched", em.linear, TF.linear, randn(2, 5, 3), randn(4, 3), randn(4)),
    case("linear_vector", em.linear, TF.linear, randn(3), randn(4, 3), randn(4)),
]

# -- elementwise and activations --------------------------------------------------------------------
UNARY = [
    ("exp", em.exp, torch.exp, randn),
    ("log", em.log, torch.log, positive),
    ("sqrt", em.sqrt, torch.sqrt, positive),
    ("abs", em.abs, torch.abs, away),
    ("sin", em.sin, torch.sin, randn),
    ("cos", em.cos, torch.cos, randn),
    ("sigmoid", em.sigmoid, torch.sigmoid, randn),
    ("tanh", em.tanh, torch.tanh, randn),
    ("relu", em.relu, torch.relu, away),
    ("leaky_relu", em.leaky_relu, TF.leaky_relu, away),
    ("leaky_relu_0.2", lambda x: em.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2), away),
    ("elu", em.elu, TF.elu, away),
    ("elu_0.5", lambda x: em.elu(x, 0.5), lambda x: TF.elu(x, 0.5), away),
    ("gelu", em.gelu, TF.gelu, randn),
    ("gelu_tanh", lambda x: em.gelu(x, "tanh"), lambda x: TF.gelu(x, approximate="tanh"), randn),
    ("softplus", em.softplus, TF.softplus, randn),
    ("softplus_beta", lambda x: em.softplus(x, 2.0, 1.0), lambda x: TF.softplus(x, 2.0, 1.0),
     lambda *s: away(*s, kinks=(0.5,))),
    ("silu", em.silu, TF.silu, randn),
    ("hardtanh", em.hardtanh, TF.hardtanh, lambda *s: away(*s, kinks=(-1.0, 1.0), scale=1.5)),
    ("hardtanh_range", lambda x: em.hardtanh(x, -0.5, 2.0), lambda x: TF.hardtanh(x, -0.5, 2.0),
     lambda *s: away(*s, kinks=(-0.5, 2.0), scale=1.5)),
    ("clip", lambda x: em.clip(x, -0.5, 0.5), lambda x: torch.clamp(x, -0.5, 0.5),
     lambda *s: away(*s, kinks=(-0.5, 0.5))),
    ("clip_min", lambda x: em.clip(x, min=0.2), lambda x: torch.clamp(x, min=0.2), lambda *s: away(*s, kinks=(0.2,))),
    ("clamp_max", lambda x: x.clamp(max=0.2), lambda x: x.clamp(max=0.2), lambda *s: away(*s, kinks=(0.2,))),
    ("method_exp", lambda x: x.exp(), None, randn),
    ("method_sigmoid", lambda x: x.sigmoid(), None, randn),
    ("method_relu", lambda x: x.relu(), None, away),
]
CASES += [case(f"{name}-{shape}", f, g, gen(*shape)) for name, f, g, gen in UNARY for shape in [(3, 4), ()]]
CASES += [
    case("sigmoid_large", em.sigmoid, torch.sigmoid, fixed(np.array([-800.0, -30.0, 0.0, 30.0, 800.0])),
         finite_diff=False),
    case("softplus_large", em.softplus, TF.softplus, fixed(np.array([-800.0, -30.0, 0.0, 30.0, 800.0])),
         finite_diff=False),
    case("where", lambda c, x, y: em.where(c, x, y), torch.where, mask(3, 4), randn(3, 4), randn(4)),
    case("where_scalar", lambda c, x: em.where(c, x, 0.5), lambda c, x: torch.where(c, x, 0.5), mask(3, 1), randn(4)),
    case("where_tensor_scalar_first", lambda c, y: em.where(c, 2.0, y), lambda c, y: torch.where(c, 2.0, y),
         mask(3, 4), randn(3, 4)),
    case("masked_fill", lambda x, m: em.masked_fill(x, m, -1.5), lambda x, m: x.masked_fill(m, -1.5),
         randn(3, 4), mask(4)),
    case("method_masked_fill", lambda x, m: x.masked_fill(m, 0.0), None, randn(2, 3), mask(2, 3)),
]

# -- reductions -------------------------------------------------------------------------------------
REDUCTIONS = [
    ("sum", em.sum, lambda x, a, k: torch.sum(x, dim=torch_dims(a, x.ndim), keepdim=k)),
    ("mean", em.mean, lambda x, a, k: torch.mean(x, dim=torch_dims(a, x.ndim), keepdim=k)),
    ("max", em.max, lambda x, a, k: torch_extreme(torch.max, torch.amax, x, a, k)),
    ("min", em.min, lambda x, a, k: torch_extreme(torch.min, torch.amin, x, a, k)),
    ("amax", em.amax, lambda x, a, k: torch.amax(x, dim=torch_dims(a, x.ndim), keepdim=k)),
    ("amin", em.amin, lambda x, a, k: torch.amin(x, dim=torch_dims(a, x.ndim), keepdim=k)),
    ("var", em.var, lambda x, a, k: torch.var(x, dim=torch_dims(a, x.ndim), keepdim=k)),
    ("std", em.std, lambda x, a, k: torch.std(x, dim=torch_dims(a, x.ndim), keepdim=k)),
    ("var_biased", lambda x, a, k: em.var(x, a, k, unbiased=False),
     lambda x, a, k: torch.var(x, dim=torch_dims(a, x.ndim), keepdim=k, unbiased=False)),
    ("std_biased", lambda x, a, k: em.std(x, a, k, unbiased=False),
     lambda x, a, k: torch.std(x, dim=torch_dims(a, x.ndim), keepdim=k, unbiased=False)),
    ("logsumexp", em.logsumexp, lambda x, a, k: torch.logsumexp(x, dim=torch_dims(a, x.ndim), keepdim=k)),
]
CASES += [
    case(f"{name}-axis{axis}-keep{keep}", lambda x, f=f, a=axis, k=keep: f(x, a, k),
         lambda x, g=g, a=axis, k=keep: g(x, a, k), randn(2, 3, 4))
    for name, f, g in REDUCTIONS for axis in [None, 0, -1, (0, 2)] for keep in [False, True]
]
CASES += [
    case("sum_scalar", em.sum, torch.sum, randn()),
    case("method_sum_dim", lambda x: x.sum(dim=1, keepdim=True), None, randn(3, 4)),
    case("method_mean_dim", lambda x: x.mean(dim=(0, 1)), None, randn(3, 4, 2)),
    case("method_var_dim", lambda x: x.var(dim=0), None, randn(5, 3)),
    case("max_ties", lambda x: em.max(x, 1), lambda x: torch.max(x, 1),  # (values, indices); the gradient to one index
         fixed(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])), finite_diff=False),
    case("amax_ties", lambda x: em.amax(x, 1), lambda x: torch.amax(x, 1),  # ties share the gradient
         fixed(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])), finite_diff=False),
    case("min_ties_all", em.min, torch.amin, fixed(np.array([[1.0, 3.0], [1.0, 2.0]])), finite_diff=False),
]
for dim, shape in [(-1, (3, 4)), (0, (3, 4)), (1, (2, 3, 4))]:
    CASES += [
        case(f"softmax-{shape}-dim{dim}", lambda x, d=dim: em.softmax(x, d), lambda x, d=dim: torch.softmax(x, d),
             randn(*shape)),
        case(f"log_softmax-{shape}-dim{dim}", lambda x, d=dim: em.log_softmax(x, d),
             lambda x, d=dim: torch.log_softmax(x, d), randn(*shape)),
    ]
CASES += [
    case("softmax_large", em.softmax, lambda x: torch.softmax(x, -1), fixed(np.array([[1000.0, 0.0, -1000.0]])),
         finite_diff=False),
    case("log_softmax_large", em.log_softmax, lambda x: torch.log_softmax(x, -1),
         fixed(np.array([[1000.0, 0.0, -1000.0]])), finite_diff=False),
    case("logsumexp_large", lambda x: em.logsumexp(x, 1), lambda x: torch.logsumexp(x, 1),
         fixed(np.array([[1000.0, 999.0, -1000.0]])), finite_diff=False),
]

# -- shape ops ---------------------------------------------------------------------------------------
CASES += [
    case("reshape", lambda x: x.reshape(6, 4), None, randn(2, 3, 4)),
    case("reshape_minus1", lambda x: x.reshape(-1), None, randn(2, 3, 4)),
    case("fn_reshape", lambda x: em.reshape(x, (4, -1)), lambda x: torch.reshape(x, (4, -1)), randn(2, 3, 4)),
    case("view", lambda x: x.view(3, 8), None, randn(2, 3, 4)),
    case("reshape_scalar", lambda x: x.reshape(1, 1), None, randn()),
    case("flatten", lambda x: x.flatten(), None, randn(2, 3, 4)),
    case("flatten_1", lambda x: x.flatten(1), None, randn(2, 3, 4)),
    case("fn_flatten_0_1", lambda x: em.flatten(x, 0, 1), lambda x: torch.flatten(x, 0, 1), randn(2, 3, 4)),
    case("permute", lambda x: x.permute(2, 0, 1), None, randn(2, 3, 4)),
    case("fn_permute", lambda x: em.permute(x, (1, 2, 0)), lambda x: torch.permute(x, (1, 2, 0)), randn(2, 3, 4)),
    case("transpose", lambda x: x.transpose(0, 2), None, randn(2, 3, 4)),
    case("transpose_neg", lambda x: em.transpose(x, -1, -2), lambda x: torch.transpose(x, -1, -2), randn(2, 3, 4)),
    case("T", lambda x: x.T, None, randn(3, 4)),
    case("squeeze", lambda x: x.squeeze(), None, randn(3, 1, 4, 1)),
    case("squeeze_dim", lambda x: x.squeeze(1), None, randn(3, 1, 4)),
    case("squeeze_dim_not_1", lambda x: x.squeeze(0), None, randn(3, 1, 4)),
    case("unsqueeze", lambda x: x.unsqueeze(0), None, randn(3, 4)),
    case("unsqueeze_last", lambda x: x.unsqueeze(-1), None, randn(3, 4)),
    case("broadcast_to", lambda x: em.broadcast_to(x, (2, 3, 4)), lambda x: torch.broadcast_to(x, (2, 3, 4)),
         randn(3, 1)),
    case("broadcast_to_scalar", lambda x: em.broadcast_to(x, (2, 3)), lambda x: torch.broadcast_to(x, (2, 3)), randn()),
    case("expand", lambda x: x.expand(2, -1, 4), None, randn(3, 1)),
    case("expand_as", lambda x, y: x.expand_as(y) * y, None, randn(1, 4), randn(3, 4)),
    case("concat", lambda a, b, c: em.concat([a, b, c], dim=1), lambda a, b, c: torch.cat([a, b, c], dim=1),
         randn(2, 3), randn(2, 1), randn(2, 4)),
    case("cat_dim0", lambda a, b: em.cat([a, b]), lambda a, b: torch.cat([a, b]), randn(2, 3), randn(1, 3)),
    case("concat_neg_dim", lambda a, b: em.concat([a, b], -1), lambda a, b: torch.cat([a, b], -1),
         randn(2, 3, 2), randn(2, 3, 1)),
    case("stack", lambda a, b: em.stack([a, b]), lambda a, b: torch.stack([a, b]), randn(2, 3), randn(2, 3)),
    case("stack_last", lambda a, b: em.stack([a, b], -1), lambda a, b: torch.stack([a, b], -1), randn(2, 3),
         randn(2, 3)),
    case("split_size", lambda x: em.split(x, 2, dim=1), lambda x: torch.split(x, 2, dim=1), randn(2, 5, 3)),
    case("split_sections", lambda x: x.split([1, 4], 1), None, randn(2, 5, 3)),
    case("split_one_used", lambda x: em.split(x, 2)[1], lambda x: torch.split(x, 2)[1], randn(5, 3)),
    case("chunk", lambda x: em.chunk(x, 3, dim=1), lambda x: torch.chunk(x, 3, dim=1), randn(2, 5)),
    case("chunk_method", lambda x: x.chunk(2), None, randn(4, 3)),
    case("getitem_slices", lambda x: x[1:, ::2], None, randn(3, 4)),
    case("getitem_int", lambda x: x[-1], None, randn(3, 4)),
    case("getitem_ellipsis", lambda x: x[..., 0], None, randn(2, 3, 4)),
    case("getitem_none", lambda x: x[None, 1, :2], None, randn(3, 4)),
    case("getitem_repeated", lambda x, i: x[i], None, randn(4, 3), fixed(np.array([0, 2, 0, 0, 3]))),
    case("getitem_repeated_1d", lambda x, i: x[i], None, randn(4), fixed(np.array([1, 1, 3, -1]))),
    case("getitem_index_2d", lambda x, i: x[i], None, randn(4, 3), fixed(np.array([[0, 1], [1, 3]]))),
    case("getitem_list", lambda x: x[[0, 2, 0]], None, randn(3, 4)),
    case("getitem_tuple_arrays", lambda x, i, j: x[i, j], None, randn(3, 4), fixed(np.array([0, 2, 0])),
         fixed(np.array([1, 3, 1]))),
    case("getitem_array_slice", lambda x, i: x[i, 1:], None, randn(3, 4), fixed(np.array([2, 2, 0]))),
    case("getitem_slice_array", lambda x, i: x[:, i], None, randn(3, 4), fixed(np.array([3, 0, 3]))),
    case("getitem_mask", lambda x, m: x[m], None, randn(3, 4), mask(3, 4)),
    case("getitem_row_mask", lambda x, m: x[m], None, randn(3, 4), fixed(np.array([True, False, True]))),
    case("getitem_col_mask", lambda x, m: x[:, m], None, randn(3, 4), fixed(np.array([True, False, True, True]))),
    case("index_select", lambda x, i: em.index_select(x, 1, i), lambda x, i: torch.index_select(x, 1, i),
         randn(3, 4), fixed(np.array([3, 0, 3]))),
    case("index_select_0", lambda x, i: em.index_select(x, 0, i), lambda x, i: torch.index_select(x, 0, i),
         randn(3, 4), fixed(np.array([1, 1, 2]))),
    case("pad_constant", lambda x: em.pad(x, (1, 2)), lambda x: TF.pad(x, (1, 2)), randn(2, 3)),
    case("pad_constant_value", lambda x: em.pad(x, (1, 1, 2, 0), value=0.5),
         lambda x: TF.pad(x, (1, 1, 2, 0), value=0.5), randn(2, 3, 4)),
    case("pad_reflect", lambda x: em.pad(x, (1, 2, 2, 1), mode="reflect"),
         lambda x: TF.pad(x, (1, 2, 2, 1), mode="reflect"), randn(1, 2, 4, 5)),
    case("pad_reflect_1d", lambda x: em.pad(x, (2, 1), mode="reflect"), lambda x: TF.pad(x, (2, 1), mode="reflect"),
         randn(2, 2, 4)),
    case("pad_replicate", lambda x: em.pad(x, (2, 1, 1, 2), mode="replicate"),
         lambda x: TF.pad(x, (2, 1, 1, 2), mode="replicate"), randn(1, 2, 3, 4)),
    case("pad_circular", lambda x: em.pad(x, (1, 2, 2, 1), mode="circular"),
         lambda x: TF.pad(x, (1, 2, 2, 1), mode="circular"), randn(1, 2, 3, 4)),
    case("cast_float64", lambda x: em.cast(x, em.float64) * 2, lambda x: x.to(torch.float64) * 2, randn(3, 4)),
    case("double", lambda x: x.double(), None, randn(3, 4)),
    case("to_dtype", lambda x: x.to(em.float64), lambda x: x.to(torch.float64), randn(3, 4)),
    case("clone", lambda x: x.clone() * x, None, randn(3, 4)),
    case("fn_clone", em.clone, torch.clone, randn(3, 4)),
]

# -- losses -------------------------------------------------------------------------------------------
LOSS_REDUCTIONS = ["mean", "sum", "none"]


def loss_case(name, ember_fn, torch_fn, *gens, **kwargs):
    return [
        case(f"{name}-{r}", lambda *a, f=ember_fn, r=r: f(*a, reduction=r),
             lambda *a, g=torch_fn, r=r: g(*a, reduction=r), *gens, **kwargs)
        for r in LOSS_REDUCTIONS
    ]


def ce(**kw):
    return (lambda x, t, *w, **k: em.cross_entropy(x, t, *w, **kw, **k),
            lambda x, t, *w, **k: TF.cross_entropy(x, t, *w, **kw, **k))


def nll(**kw):
    return (lambda x, t, *w, **k: em.nll_loss(x, t, *w, **kw, **k),
            lambda x, t, *w, **k: TF.nll_loss(x, t, *w, **kw, **k))


def targets_with(value, high, *shape):
    """Class indices in [0, high) with about a third replaced by ``value`` (an ignore_index)."""
    return lambda rng: np.where(rng.random(shape) < 0.33, value, rng.integers(0, high, shape))


CASES += loss_case("cross_entropy", *ce(), randn(5, 4), ints(4, 5))
CASES += loss_case("cross_entropy_kdim", *ce(), randn(2, 4, 3, 3), ints(4, 2, 3, 3))
CASES += loss_case("cross_entropy_probs", *ce(), randn(5, 4), probs(5, 4))
CASES += loss_case("cross_entropy_probs_kdim", *ce(), randn(2, 4, 3), probs(2, 4, 3, axis=1))
CASES += loss_case("cross_entropy_weight", *ce(), randn(5, 4), ints(4, 5), const(positive(4)))
CASES += loss_case("cross_entropy_ignore", *ce(), randn(6, 4), targets_with(-100, 4, 6))
CASES += loss_case("cross_entropy_ignore_1", *ce(ignore_index=1), randn(6, 4), ints(4, 6), const(positive(4)))
CASES += loss_case("cross_entropy_smoothing", *ce(label_smoothing=0.1), randn(5, 4), ints(4, 5))
CASES += loss_case("cross_entropy_smoothing_weight_ignore", *ce(label_smoothing=0.2), randn(6, 4),
                   targets_with(-100, 4, 6), const(positive(4)))
CASES += loss_case("cross_entropy_smoothing_kdim", *ce(label_smoothing=0.3), randn(2, 4, 3), ints(4, 2, 3),
                   const(positive(4)))
CASES += loss_case("cross_entropy_smoothing_probs", *ce(label_smoothing=0.1), randn(5, 4), probs(5, 4),
                   const(positive(4)))
CASES += loss_case("cross_entropy_unbatched", *ce(), randn(4), fixed(np.array(2)))
CASES += loss_case("nll_loss", *nll(), randn(5, 4), ints(4, 5))
CASES += loss_case("nll_loss_weight", *nll(), randn(5, 4), ints(4, 5), const(positive(4)))
CASES += loss_case("nll_loss_ignore", *nll(ignore_index=2), randn(6, 4), ints(4, 6), const(positive(4)))
CASES += loss_case("nll_loss_kdim", *nll(), randn(2, 4, 3, 2), ints(4, 2, 3, 2))
CASES += loss_case("mse_loss", em.mse_loss, TF.mse_loss, randn(3, 4), const(randn(3, 4)))
CASES += loss_case("mse_loss_both_grad", em.mse_loss, TF.mse_loss, randn(3, 4), randn(3, 4))
CASES += loss_case("l1_loss", em.l1_loss, TF.l1_loss, randn(3, 4), const(randn(3, 4)))
CASES += loss_case("bce", em.binary_cross_entropy, TF.binary_cross_entropy,
                   lambda rng: rng.uniform(0.05, 0.95, (3, 4)), const(lambda rng: rng.random((3, 4))))
CASES += loss_case("bce_weight", em.binary_cross_entropy, TF.binary_cross_entropy,
                   lambda rng: rng.uniform(0.05, 0.95, (3, 4)), const(lambda rng: (rng.random((3, 4)) < 0.5) * 1.0),
                   const(positive(4)))
CASES += loss_case("bce_logits", em.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits,
                   randn(3, 4), const(lambda rng: rng.random((3, 4))))
CASES += loss_case("bce_logits_weight", em.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits,
                   randn(3, 4), const(lambda rng: rng.random((3, 4))), const(positive(3, 1)))
CASES += loss_case("bce_logits_pos_weight",
                   lambda x, t, w, **k: em.binary_cross_entropy_with_logits(x, t, pos_weight=w, **k),
                   lambda x, t, w, **k: TF.binary_cross_entropy_with_logits(x, t, pos_weight=w, **k),
                   randn(3, 4), const(lambda rng: (rng.random((3, 4)) < 0.5) * 1.0), const(positive(4)))
CASES += [case("bce_edges", em.binary_cross_entropy, TF.binary_cross_entropy, fixed(np.array([0.0, 1.0, 0.5, 1.0])),
               fixed(Const(np.array([0.0, 1.0, 1.0, 0.0]))), finite_diff=False)]


(test_against_torch, test_float64_against_torch, test_gradcheck, test_second_order_against_torch,
 test_gradgradcheck) = drawn_tests(CASES)
