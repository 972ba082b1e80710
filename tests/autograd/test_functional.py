"""em.autograd.functional against torch.autograd.functional, on the same float64 inputs.

Each function below is written once with operators and methods both frameworks share, so one
lambda runs in ember and in PyTorch; the results must agree in value and in structure (a tuple
where PyTorch gives a tuple, nested tuples for several outputs and inputs).
"""
import numpy as np
import pytest
import torch
import torch.autograd.functional as TF

import ember as em
from ember.autograd import functional as EF
from torch_parity import assert_close


def draw(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(0.5, 1.5, s) * rng.choice([-1.0, 1.0], s) for s in shapes]


def pair(arrays, tuple_=True, requires_grad=False):
    """The same arrays as ember and as torch tensors (a tuple of them, or the lone tensor)."""
    ours = tuple(em.tensor(a, requires_grad=requires_grad) for a in arrays)
    theirs = tuple(torch.tensor(a, requires_grad=requires_grad) for a in arrays)
    return (ours, theirs) if tuple_ else (ours[0], theirs[0])


def assert_same(ours, theirs, name="result"):
    """Same nesting of tuples, same values (float64), and tensors where torch gives tensors."""
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs), f"{name}: {type(ours)} vs a tuple of {len(theirs)}"
        for k, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            assert_same(a, b, f"{name}[{k}]")
        return
    assert isinstance(ours, em.Tensor), f"{name}: got {type(ours).__name__}, torch gives a tensor"
    assert_close(ours, theirs, rtol=1e-10, atol=1e-12, name=name)


def as_tuples(tree):
    return tuple(as_tuples(t) for t in tree) if isinstance(tree, (tuple, list)) else tree


def leaves(tree):
    return [tree] if not isinstance(tree, tuple) else [x for t in tree for x in leaves(t)]


# -- the functions: (name, function, input shapes, whether the inputs go as a tuple) -------------------------------
def cube_sum(x):
    return (x ** 3).sum() * 0.5


def exp_mul(x):
    return x.exp() * x


def two_in(x, y):
    return (x * y.tanh() + x ** 2 / (y * y + 1)).sum()


def two_out(x, y):
    return x * y.sin(), (x ** 2).sum() - y.mean()


def matvec(W, x):
    return (x @ W).tanh()


def mlp_loss(W, x):
    return ((x @ W).tanh() ** 2).mean() + (W ** 2).sum() * 0.1


SCALAR = [("cube_sum", cube_sum, [(3,)], False), ("two_in", two_in, [(3,), (3,)], True),
          ("mlp_loss", mlp_loss, [(3, 2), (4, 3)], True), ("cube_sum_2d", cube_sum, [(2, 3)], True)]
VECTOR = [("exp_mul", exp_mul, [(3,)], False), ("two_out", two_out, [(3,), (3,)], True),
          ("matvec", matvec, [(3, 2), (4, 3)], True), ("exp_mul_tuple", exp_mul, [(2, 2)], True)]
ALL = SCALAR + VECTOR
ids = [c[0] for c in ALL]


def outputs_of(fn, shapes, tuple_):
    """Draws for the inputs and for a vector v shaped like the outputs."""
    xs = draw(*shapes)
    out = fn(*[torch.tensor(a) for a in xs])
    outs = out if isinstance(out, tuple) else (out,)
    vs = draw(*[tuple(o.shape) for o in outs], seed=1)
    return xs, vs, isinstance(out, tuple)


# -- vjp and jvp ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, fn, shapes, tuple_", ALL, ids=ids)
def test_vjp_matches_torch(name, fn, shapes, tuple_):
    xs, vs, out_tuple = outputs_of(fn, shapes, tuple_)
    x_e, x_t = pair(xs, tuple_)
    v_e, v_t = pair(vs, out_tuple)
    assert_same(EF.vjp(fn, x_e, v_e), TF.vjp(fn, x_t, v_t))


@pytest.mark.parametrize("name, fn, shapes, tuple_", SCALAR, ids=[c[0] for c in SCALAR])
def test_vjp_of_a_scalar_needs_no_v(name, fn, shapes, tuple_):
    x_e, x_t = pair(draw(*shapes), tuple_)
    assert_same(EF.vjp(fn, x_e), TF.vjp(fn, x_t))


@pytest.mark.parametrize("name, fn, shapes, tuple_", ALL, ids=ids)
def test_jvp_matches_torch(name, fn, shapes, tuple_):
    x_e, x_t = pair(draw(*shapes), tuple_)
    v_e, v_t = pair(draw(*shapes, seed=2), tuple_)
    assert_same(EF.jvp(fn, x_e, v_e), TF.jvp(fn, x_t, v_t))


def test_jvp_of_a_one_element_input_needs_no_v():
    x_e, x_t = pair(draw((1,)), False)
    assert_same(EF.jvp(exp_mul, x_e), TF.jvp(exp_mul, x_t))


# -- Jacobians and Hessians ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name, fn, shapes, tuple_", ALL, ids=ids)
def test_jacobian_matches_torch(name, fn, shapes, tuple_):
    x_e, x_t = pair(draw(*shapes), tuple_)
    assert_same(EF.jacobian(fn, x_e), TF.jacobian(fn, x_t))


@pytest.mark.parametrize("name, fn, shapes, tuple_", ALL, ids=ids)
def test_jacobian_forward_mode_and_vectorize_agree_with_torch(name, fn, shapes, tuple_):
    x_e, x_t = pair(draw(*shapes), tuple_)
    # torch's vectorized forward mode answers lists where its reverse mode answers tuples; ember gives tuples
    expected = as_tuples(TF.jacobian(fn, x_t, vectorize=True, strategy="forward-mode"))
    assert_same(EF.jacobian(fn, x_e, strategy="forward-mode"), expected)
    assert_same(EF.jacobian(fn, x_e, vectorize=True, strategy="forward-mode"), expected)
    assert_same(EF.jacobian(fn, x_e, vectorize=True), expected)


@pytest.mark.parametrize("name, fn, shapes, tuple_", SCALAR, ids=[c[0] for c in SCALAR])
def test_hessian_matches_torch(name, fn, shapes, tuple_):
    x_e, x_t = pair(draw(*shapes), tuple_)
    expected = TF.hessian(fn, x_t)
    assert_same(EF.hessian(fn, x_e), expected)
    assert_same(EF.hessian(fn, x_e, outer_jacobian_strategy="forward-mode"),
                as_tuples(TF.hessian(fn, x_t, vectorize=True, outer_jacobian_strategy="forward-mode")))
    assert_same(EF.hessian(fn, x_e, outer_jacobian_strategy="forward-mode"), expected)
    assert_same(EF.hessian(fn, x_e, vectorize=True), expected)


@pytest.mark.parametrize("product", ["hvp", "vhp"])
@pytest.mark.parametrize("name, fn, shapes, tuple_", SCALAR, ids=[c[0] for c in SCALAR])
def test_hessian_vector_products_match_torch(name, fn, shapes, tuple_, product):
    x_e, x_t = pair(draw(*shapes), tuple_)
    v_e, v_t = pair(draw(*shapes, seed=3), tuple_)
    assert_same(getattr(EF, product)(fn, x_e, v_e), getattr(TF, product)(fn, x_t, v_t))


def test_hvp_equals_hessian_times_v():
    x, v = (em.tensor(a) for a in draw((4,), (4,)))
    _, hv = EF.hvp(two_in, (x, v), (v, x))
    H = EF.hessian(two_in, (x, v))
    expected = [sum((H[i][j] @ (v, x)[j]) for j in range(2)) for i in range(2)]
    for a, b in zip(hv, expected, strict=True):
        assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_hessian_of_a_cross_entropy_mlp_matches_torch(activation):
    # the loss of benchmarks/hessian.py, small: every product against torch, with respect to all parameters
    x, W1, b1, W2, b2 = draw((6, 4), (5, 4), (5,), (3, 5), (3,))
    target = np.random.default_rng(1).integers(0, 3, 6)

    def loss_of(fw, x, target):
        F = fw.nn.functional

        def loss(W1, b1, W2, b2):
            return F.cross_entropy(F.linear(getattr(fw, activation)(F.linear(x, W1, b1)), W2, b2), target)
        return loss

    loss_e, loss_t = loss_of(em, em.tensor(x), em.tensor(target)), loss_of(torch, torch.tensor(x), torch.tensor(target))
    p_e, p_t = pair([W1, b1, W2, b2])
    v_e, v_t = pair(draw((5, 4), (5,), (3, 5), (3,), seed=7))
    assert_same(EF.hessian(loss_e, p_e), TF.hessian(loss_t, p_t))
    assert_same(EF.hvp(loss_e, p_e, v_e), TF.hvp(loss_t, p_t, v_t))
    assert_same(EF.vhp(loss_e, p_e, v_e), TF.vhp(loss_t, p_t, v_t))


# -- create_graph: the results are differentiable again --------------------------------------------------------
def _products(fn, x, v, w, create_graph):
    """Every function of the module applied to (fn, x), with v like x and w like fn's output."""
    mod = EF if isinstance(x[0], em.Tensor) else TF
    return {
        "vjp": mod.vjp(fn, x, w, create_graph=create_graph),
        "jvp": mod.jvp(fn, x, v, create_graph=create_graph),
        "jacobian": mod.jacobian(fn, x, create_graph=create_graph),
    }


@pytest.mark.parametrize("name, fn, shapes, tuple_", ALL, ids=ids)
def test_create_graph_results_differentiate_like_torch(name, fn, shapes, tuple_):
    xs, ws, out_tuple = outputs_of(fn, shapes, tuple_)
    x_e, x_t = pair(xs, requires_grad=True)
    v_e, v_t = pair(draw(*shapes, seed=4), requires_grad=True)
    w_e, w_t = pair(ws, out_tuple, requires_grad=True)
    for what in ("vjp", "jvp", "jacobian"):
        ours = _products(fn, x_e, v_e, w_e, True)[what]
        theirs = _products(fn, x_t, v_t, w_t, True)[what]
        assert_same(ours, theirs, what)
        wanted_e, wanted_t = [*x_e, *v_e, *leaves(w_e)], [*x_t, *v_t, *leaves(w_t)]
        mix = draw(*[tuple(t.shape) for t in leaves(theirs)], seed=5)
        loss_e = sum(((t * em.tensor(m)).sum() for t, m in zip(leaves(ours), mix, strict=True)), em.tensor(0.0))
        loss_t = sum(((t * torch.tensor(m)).sum() for t, m in zip(leaves(theirs), mix, strict=True)), torch.tensor(0.0))
        assert_same(em.autograd.grad(loss_e, wanted_e, allow_unused=True, materialize_grads=True),
                    torch.autograd.grad(loss_t, wanted_t, allow_unused=True, materialize_grads=True), f"d {what}")


@pytest.mark.parametrize("name, fn, shapes, tuple_", SCALAR, ids=[c[0] for c in SCALAR])
def test_create_graph_hessians_differentiate_like_torch(name, fn, shapes, tuple_):
    x_e, x_t = pair(draw(*shapes), requires_grad=True)
    v_e, v_t = pair(draw(*shapes, seed=6), requires_grad=True)
    for what in ("hessian", "hvp", "vhp"):
        args_e, args_t = ((fn, x_e), (fn, x_t)) if what == "hessian" else ((fn, x_e, v_e), (fn, x_t, v_t))
        ours = getattr(EF, what)(*args_e, create_graph=True)
        theirs = getattr(TF, what)(*args_t, create_graph=True)
        assert_same(ours, theirs, what)
        r_e = sum((t ** 2).sum() for t in leaves(ours))
        r_t = sum((t ** 2).sum() for t in leaves(theirs))
        assert_same(em.autograd.grad(r_e, [*x_e, *v_e], allow_unused=True, materialize_grads=True),
                    torch.autograd.grad(r_t, [*x_t, *v_t], allow_unused=True, materialize_grads=True), f"d {what}")


def test_without_create_graph_results_are_detached_and_leave_inputs_alone():
    x = em.tensor(draw((3,))[0], requires_grad=True)
    for out in (EF.vjp(exp_mul, x, em.ones(3, dtype=em.float64)), EF.jvp(exp_mul, x, em.ones(3, dtype=em.float64)),
                (EF.jacobian(exp_mul, x),), (EF.hessian(cube_sum, x),), EF.hvp(cube_sum, x, x), EF.vhp(cube_sum, x, x)):
        assert not any(t.requires_grad for t in leaves(out))
    assert x.grad is None


def test_an_input_also_captured_by_the_function_counts_only_as_the_argument():
    # the function sees a new tensor for its argument (PyTorch's view_as): z * x is diag(x), not diag(2x)
    x_e, x_t = pair(draw((3,)), tuple_=False, requires_grad=True)
    ours, theirs = EF.jacobian(lambda z: z * x_e, x_e, create_graph=True), TF.jacobian(lambda z: z * x_t, x_t,
                                                                                       create_graph=True)
    assert_same(ours, theirs)
    assert_same(em.autograd.grad(ours.sum(), x_e), torch.autograd.grad(theirs.sum(), x_t))


# -- strict mode and unused inputs ------------------------------------------------------------------------------
def only_x(x, y):
    return x * 2


def linear(x):
    return (x * 3).sum()


def constant(x):
    return x.new_ones(3)


def _strict_calls(mod, x, y, v):
    """(name, call) pairs, each raising in strict mode and answering zeros otherwise."""
    return [
        ("vjp unused input", lambda s: mod.vjp(only_x, (x, y), v, strict=s)),
        ("vjp constant output", lambda s: mod.vjp(constant, x, v, strict=s)),
        ("jvp unused input", lambda s: mod.jvp(only_x, (x, y), (v, v), strict=s)),
        ("jvp constant output", lambda s: mod.jvp(constant, x, v, strict=s)),
        ("jacobian unused input", lambda s: mod.jacobian(only_x, (x, y), strict=s)),
        ("jacobian constant output", lambda s: mod.jacobian(constant, x, strict=s)),
        ("hessian of a linear function", lambda s: mod.hessian(linear, x, strict=s)),
        ("vhp of a linear function", lambda s: mod.vhp(linear, x, v, strict=s)),
        ("hvp of a linear function", lambda s: mod.hvp(linear, x, v, strict=s)),
    ]


@pytest.mark.parametrize("case", range(9))
def test_strict_raises_as_torch_and_non_strict_gives_zeros(case):
    (x_e, y_e, v_e), (x_t, y_t, v_t) = pair(draw((3,), (3,), (3,)))
    name, ours = _strict_calls(EF, x_e, y_e, v_e)[case]
    _, theirs = _strict_calls(TF, x_t, y_t, v_t)[case]
    with pytest.raises(RuntimeError) as expected:
        theirs(True)
    with pytest.raises(RuntimeError) as got:
        ours(True)
    assert str(got.value) == str(expected.value), name
    assert_same(ours(False), theirs(False), name)


def test_strict_with_create_graph_rejects_a_jacobian_without_graph():
    (x_e, y_e), (x_t, y_t) = pair(draw((3,), (3,)), requires_grad=True)
    for mod, x, y in ((TF, x_t, y_t), (EF, x_e, y_e)):
        with pytest.raises(RuntimeError, match="independent of input 0. This is not allowed in strict mode when"):
            mod.jacobian(lambda x, y: x * 3 + y, (x, y), create_graph=True, strict=True)


@pytest.mark.parametrize("kwargs, message", [
    (dict(strict=True, vectorize=True), "`strict=True` and `vectorized=True` are not supported together"),
    (dict(strict=True, strategy="forward-mode"), '`strict=True` and `strategy="forward-mode"` are not supported'),
])
def test_jacobian_option_conflicts(kwargs, message):
    x = em.tensor(draw((3,))[0])
    with pytest.raises(RuntimeError, match=message):
        EF.jacobian(exp_mul, x, **kwargs)


# -- argument checks: the same errors as torch --------------------------------------------------------------------
def _bad_calls(mod, x, y):
    return [
        lambda: mod.vjp(exp_mul, [x], x),
        lambda: mod.vjp(exp_mul, (x, 1.0), x),
        lambda: mod.vjp(exp_mul, x),
        lambda: mod.jvp(exp_mul, x),
        lambda: mod.vjp(exp_mul, x, (x, x)),
        lambda: mod.jvp(two_in, (x, x), (x,)),
        lambda: mod.jacobian(lambda x: [x], x),
        lambda: mod.hessian(exp_mul, x),
        lambda: mod.hessian(lambda x: (x.sum(),), x),
        lambda: mod.vhp(exp_mul, x, x),
        lambda: mod.hvp(lambda x: (x.sum(),), x, x),
        lambda: mod.hvp(cube_sum, x),
        lambda: mod.jacobian(exp_mul, x, strategy="sideways"),
    ]


@pytest.mark.parametrize("case", range(13))
def test_argument_errors_match_torch(case):
    (x_e, y_e), (x_t, y_t) = pair(draw((3,), (3,)))
    with pytest.raises(Exception) as expected:
        _bad_calls(TF, x_t, y_t)[case]()
    with pytest.raises(type(expected.value)) as got:
        _bad_calls(EF, x_e, y_e)[case]()
    assert str(got.value) == str(expected.value)


def test_v_of_the_wrong_size():
    x_e, x_t = pair(draw((3,)), tuple_=False)
    for mod, x in ((TF, x_t), (EF, x_e)):
        with pytest.raises(RuntimeError, match="v has invalid size: should be"):
            mod.vjp(exp_mul, x, x[:2])
        with pytest.raises(RuntimeError, match="Entry 1 in v has invalid size"):
            mod.jvp(two_in, (x, x), (x, x[:2]))


def test_exported_from_autograd():
    assert em.autograd.functional is EF
    assert "functional" in em.autograd.__all__
