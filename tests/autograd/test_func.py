"""em.func against torch.func, on the same float64 inputs: grad, vjp, jacrev/jacfwd, hessian, vmap,
functional_call, and their compositions (per-sample gradients with vmap(grad))."""
import numpy as np
import pytest
import torch
import torch.func as TF

import ember as em
from ember import func as EF
from torch_parity import assert_close, copy_weights


def draw(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(0.5, 1.5, s) * rng.choice([-1.0, 1.0], s) for s in shapes]


def pair(*arrays, requires_grad=False):
    """The arrays as ember tensors and as torch tensors: two lists."""
    return ([em.tensor(a, requires_grad=requires_grad) for a in arrays],
            [torch.tensor(a, requires_grad=requires_grad) for a in arrays])


def assert_same(ours, theirs, name="result"):
    """Same structure (tuples, lists, dicts) and the same values, tensors where torch gives tensors."""
    if isinstance(theirs, (tuple, list)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), f"{name}: {ours!r} vs {theirs!r}"
        for k, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            assert_same(a, b, f"{name}[{k}]")
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict) and list(ours) == list(theirs), f"{name}: keys {list(ours)} vs {list(theirs)}"
        for k in theirs:
            assert_same(ours[k], theirs[k], f"{name}[{k!r}]")
    else:
        assert isinstance(ours, em.Tensor), f"{name}: got {type(ours).__name__}, torch gives a tensor"
        assert_close(ours, theirs, rtol=1e-10, atol=1e-12, name=name)


def cube_sum(x):
    return (x ** 3).sum() * 0.5


def two_in(x, y):
    return (x * y.tanh() + x ** 2 / (y * y + 1)).sum()


def dict_loss(p, x):
    return ((x @ p["W"] + p["b"]).tanh() ** 2).mean()


def two_out(x, y):
    return x * y.sin(), (x ** 2).sum() - y.mean()


# -- grad and grad_and_value --------------------------------------------------------------------------------
@pytest.mark.parametrize("fn, shapes, argnums", [
    (cube_sum, [(3,)], 0),
    (cube_sum, [(2, 3)], (0,)),
    (two_in, [(3,), (3,)], 0),
    (two_in, [(3,), (3,)], 1),
    (two_in, [(3,), (3,)], (0, 1)),
    (two_in, [(3,), (3,)], (-1, 0)),
], ids=["single", "argnums-tuple-of-one", "first", "second", "both", "negative"])
def test_grad_matches_torch(fn, shapes, argnums):
    ours, theirs = pair(*draw(*shapes))
    assert_same(EF.grad(fn, argnums)(*ours), TF.grad(fn, argnums)(*theirs))
    assert_same(EF.grad_and_value(fn, argnums)(*ours), TF.grad_and_value(fn, argnums)(*theirs))


def test_grad_of_a_dict_of_parameters_is_a_dict():
    W, b, x = draw((3, 2), (2,), (4, 3))
    (W_e, b_e, x_e), (W_t, b_t, x_t) = pair(W, b, x)
    assert_same(EF.grad(dict_loss)({"W": W_e, "b": b_e}, x_e), TF.grad(dict_loss)({"W": W_t, "b": b_t}, x_t))
    assert_same(EF.grad(lambda ps, x: dict_loss({"W": ps[0], "b": ps[1]}, x))([W_e, b_e], x_e),
                TF.grad(lambda ps, x: dict_loss({"W": ps[0], "b": ps[1]}, x))([W_t, b_t], x_t))


def test_grad_with_aux():
    def f(x):
        return (x ** 2).sum(), {"double": x * 2}

    ours, theirs = pair(*draw((3,)))
    assert_same(EF.grad(f, has_aux=True)(*ours), TF.grad(f, has_aux=True)(*theirs))
    assert_same(EF.grad_and_value(f, has_aux=True)(*ours), TF.grad_and_value(f, has_aux=True)(*theirs))


def test_grad_of_grad_and_keyword_arguments():
    def f(x, scale=1.0):
        return (x ** 3).sum() * scale

    (x_e,), (x_t,) = pair(np.array(1.5))
    assert_same(EF.grad(EF.grad(f))(x_e, scale=2.0), TF.grad(TF.grad(f))(x_t, scale=2.0))
    assert_same(EF.grad(EF.grad(EF.grad(f)))(x_e), TF.grad(TF.grad(TF.grad(f)))(x_t))


def test_grad_through_a_captured_outer_argument():
    # d/dy of (grad_x of x·y at x0): the inner gradient must keep its graph to y
    (x_e, y_e), (x_t, y_t) = pair(*draw((3,), (3,)))
    ours = EF.grad(lambda y: EF.grad(lambda x: (x * y.sin()).sum())(x_e).sum())(y_e)
    theirs = TF.grad(lambda y: TF.grad(lambda x: (x * y.sin()).sum())(x_t).sum())(y_t)
    assert_same(ours, theirs)


def test_grad_of_an_argument_that_requires_grad_stays_differentiable():
    (x_e,), (x_t,) = pair(*draw((3,)), requires_grad=True)
    g_e, g_t = EF.grad(cube_sum)(x_e), TF.grad(cube_sum)(x_t)
    assert g_e.requires_grad and g_t.requires_grad
    assert_same(em.autograd.grad(g_e.sum(), x_e), torch.autograd.grad(g_t.sum(), x_t))


def test_grad_without_graph_returns_detached_and_ignores_no_grad():
    (x,), _ = pair(*draw((3,)))
    with em.no_grad():
        g = EF.grad(cube_sum)(x)
    assert not g.requires_grad
    assert_close(g, 1.5 * x.numpy() ** 2)


def test_grad_of_a_constant_is_zero():
    ours, theirs = pair(*draw((3,)))
    assert_same(EF.grad(lambda x: em.tensor(1.0))(*ours), TF.grad(lambda x: torch.tensor(1.0))(*theirs))


@pytest.mark.parametrize("call", [
    lambda G, x: G.grad(lambda x: x * 2)(x),
    lambda G, x: G.grad(lambda x: 3.0)(x),
    lambda G, x: G.grad(cube_sum, argnums=2)(x),
    lambda G, x: G.grad(cube_sum, argnums=(0, 0))(x),
    lambda G, x: G.grad(cube_sum, has_aux=True)(x),
    lambda G, x: G.grad(cube_sum)(2.0),
    lambda G, x: G.vjp(cube_sum, x, has_aux=True),
    lambda G, x: G.vjp(lambda x: (x * 2, x), x)[1](x),
], ids=["non-scalar", "non-tensor", "argnum-range", "argnum-repeat", "aux-missing", "float-arg", "vjp-aux", "ct-tree"])
def test_errors_match_torch(call):
    (x_e,), (x_t,) = pair(*draw((3,)))
    with pytest.raises(Exception) as expected:
        call(TF, x_t)
    with pytest.raises(type(expected.value)) as got:
        call(EF, x_e)
    assert str(got.value) == str(expected.value)


# -- vjp ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn, shapes", [(lambda x: x.exp() * x, [(3,)]), (two_out, [(3,), (3,)]),
                                        (lambda W, x: (x @ W).tanh(), [(3, 2), (4, 3)])], ids=["one", "two-out", "mm"])
def test_vjp_matches_torch(fn, shapes):
    ours, theirs = pair(*draw(*shapes))
    out_e, fn_e = EF.vjp(fn, *ours)
    out_t, fn_t = TF.vjp(fn, *theirs)
    assert_same(out_e, out_t)
    outs = out_t if isinstance(out_t, tuple) else (out_t,)
    for seed in (1, 2):  # vjp_fn can be called again
        cts = draw(*[tuple(o.shape) for o in outs], seed=seed)
        ct_e, ct_t = pair(*cts)
        if not isinstance(out_t, tuple):
            ct_e, ct_t = ct_e[0], ct_t[0]
        else:
            ct_e, ct_t = tuple(ct_e), tuple(ct_t)
        assert_same(fn_e(ct_e), fn_t(ct_t))


def test_vjp_with_aux_and_dict_primal():
    W, b, x = draw((3, 2), (2,), (4, 3))
    (W_e, b_e, x_e), (W_t, b_t, x_t) = pair(W, b, x)

    def f(p, x):
        return dict_loss(p, x), x.sum()

    out_e, fn_e, aux_e = EF.vjp(f, {"W": W_e, "b": b_e}, x_e, has_aux=True)
    out_t, fn_t, aux_t = TF.vjp(f, {"W": W_t, "b": b_t}, x_t, has_aux=True)
    assert_same((out_e, aux_e), (out_t, aux_t))
    assert_same(fn_e(em.tensor(1.5)), fn_t(torch.tensor(1.5, dtype=torch.float64)))


def test_vjp_cotangent_of_the_wrong_shape():
    (x_e,), (x_t,) = pair(*draw((3,)))
    for G, x, ones in ((TF, x_t, torch.ones(4, dtype=torch.float64)), (EF, x_e, em.ones(4, dtype=em.float64))):
        with pytest.raises(RuntimeError, match="Mismatch in shape: grad_output\\[0\\] has a shape of"):
            G.vjp(lambda x: x * 2, x)[1](ones)


# -- jacrev, jacfwd, hessian --------------------------------------------------------------------------------------
@pytest.mark.parametrize("transform", ["jacrev", "jacfwd"])
@pytest.mark.parametrize("fn, shapes, argnums", [
    (lambda x: x.exp() * x, [(3,)], 0),
    (lambda x: x.exp() * x, [(2, 2)], 0),
    (two_out, [(3,), (3,)], 0),
    (two_out, [(3,), (3,)], (0, 1)),
    (lambda W, x: (x @ W).tanh(), [(3, 2), (4, 3)], (0, 1)),
    (lambda W, x: {"y": (x @ W).tanh(), "s": W.sum()}, [(3, 2), (4, 3)], 1),
], ids=["one", "2d", "two-out", "two-out-both", "mm", "dict-out"])
def test_jacobians_match_torch(fn, shapes, argnums, transform):
    ours, theirs = pair(*draw(*shapes))
    assert_same(getattr(EF, transform)(fn, argnums)(*ours), getattr(TF, transform)(fn, argnums)(*theirs))


def test_jacrev_of_a_dict_argument_with_aux():
    def f(p, x):
        return (x @ p["W"] + p["b"]).tanh(), x.sum()

    W, b, x = draw((3, 2), (2,), (4, 3))
    (W_e, b_e, x_e), (W_t, b_t, x_t) = pair(W, b, x)
    assert_same(EF.jacrev(f, has_aux=True)({"W": W_e, "b": b_e}, x_e),
                TF.jacrev(f, has_aux=True)({"W": W_t, "b": b_t}, x_t))


@pytest.mark.parametrize("fn, shapes, argnums", [
    (cube_sum, [(3,)], 0),
    (two_in, [(3,), (3,)], (0, 1)),
    (dict_loss, [(3, 2), (4, 3)], 1),
], ids=["one", "two", "mlp-input"])
def test_hessian_matches_torch(fn, shapes, argnums):
    if fn is dict_loss:
        W, x = draw(*shapes)
        (W_e, x_e), (W_t, x_t) = pair(W, x)
        b_e, b_t = em.zeros(2, dtype=em.float64), torch.zeros(2, dtype=torch.float64)
        ours, theirs = ({"W": W_e, "b": b_e}, x_e), ({"W": W_t, "b": b_t}, x_t)
    else:
        ours, theirs = pair(*draw(*shapes))
    assert_same(EF.hessian(fn, argnums)(*ours), TF.hessian(fn, argnums)(*theirs))


# -- vmap --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn, shapes, in_dims, out_dims", [
    (lambda a, b: (a * b).sum(), [(4, 3), (4, 3)], 0, 0),
    (lambda W, x: x @ W, [(3, 2), (4, 3)], (None, 0), 0),
    (lambda a, b: a * b, [(3, 4), (3,)], (1, None), 1),
    (lambda a, b: a * b, [(3, 4), (3,)], (-1, None), -1),
    (lambda a: (a * 2, a.sum()), [(4, 3)], 0, (1, 0)),
    (lambda a, b: {"s": a + b, "p": a * b}, [(2, 5), (5, 2)], (1, 0), 0),
    (lambda a: a.exp(), [(2, 3, 4)], 2, 0),
], ids=["dot", "shared-weight", "in-dim-1", "negative", "out-dims", "dict-out", "dim-2"])
def test_vmap_matches_torch(fn, shapes, in_dims, out_dims):
    ours, theirs = pair(*draw(*shapes))
    assert_same(EF.vmap(fn, in_dims, out_dims)(*ours), TF.vmap(fn, in_dims, out_dims)(*theirs))


def test_vmap_nested_dict_inputs_kwargs_and_non_tensor_args():
    (a_e, b_e), (a_t, b_t) = pair(*draw((4, 3), (4, 3)))

    def f(d, scale, shift=0.0):
        return (d["a"] * d["b"]).sum() * scale + shift

    assert_same(EF.vmap(f, in_dims=({"a": 0, "b": None}, None))({"a": a_e, "b": b_e[0]}, 2.0, shift=1.0),
                TF.vmap(f, in_dims=({"a": 0, "b": None}, None))({"a": a_t, "b": b_t[0]}, 2.0, shift=1.0))
    assert_same(EF.vmap(EF.vmap(lambda x, y: x * y))(a_e, b_e), TF.vmap(TF.vmap(lambda x, y: x * y))(a_t, b_t))
    assert_same(EF.vmap(lambda a, w: (a * 2, w), in_dims=(0, None), out_dims=(0, None))(a_e, b_e[0]),
                TF.vmap(lambda a, w: (a * 2, w), in_dims=(0, None), out_dims=(0, None))(a_t, b_t[0]))


@pytest.mark.parametrize("call", [
    lambda V, x, y: V.vmap(lambda a, b: a + b)(x, y[:2]),
    lambda V, x, y: V.vmap(lambda a: a)(x.sum()),
    lambda V, x, y: V.vmap(lambda a: a, in_dims=None)(x),
    lambda V, x, y: V.vmap(lambda a: a, in_dims=[0])(x),
    lambda V, x, y: V.vmap(lambda a: a * 2, in_dims=(0, 1))(x),
    lambda V, x, y: V.vmap(lambda a: a * 2, in_dims=5)(x),
    lambda V, x, y: V.vmap(lambda a: 3.0)(x),
    lambda V, x, y: V.vmap(lambda a, b: a * b)(x, 2.0),
    lambda V, x, y: V.vmap(lambda a: a.sum(), out_dims=1)(x),
    lambda V, x, y: V.vmap(lambda a: a, randomness="sometimes")(x),
], ids=["sizes", "0-dim", "none", "list", "structure", "range", "float-out", "float-in", "out-range", "randomness"])
def test_vmap_errors_match_torch(call):
    (x_e, y_e), (x_t, y_t) = pair(*draw((4, 3), (4, 3)))
    with pytest.raises(Exception) as expected:
        call(TF, x_t, y_t)
    with pytest.raises(type(expected.value)) as got:
        call(EF, x_e, y_e)
    # the same message, but for how the structures are spelled (torch prints its TreeSpec)
    assert str(got.value).split(" has structure")[0] == str(expected.value).split(" has structure")[0]


def test_vmap_randomness():
    x = em.zeros(4, 3)
    with pytest.raises(RuntimeError, match="called random operation while in randomness error mode"):
        EF.vmap(lambda a: a + em.randn(3))(x)
    same = EF.vmap(lambda a: a + em.randn(3), randomness="same")(x)
    different = EF.vmap(lambda a: a + em.randn(3), randomness="different")(x)
    assert np.allclose(same.numpy(), same.numpy()[:1]) and not np.allclose(different.numpy(), different.numpy()[:1])


def test_grad_through_vmap_and_jacrev_of_vmap():
    (W_e, x_e), (W_t, x_t) = pair(*draw((3, 2), (4, 3)))

    def per_row(W, x):
        return (x @ W).tanh().sum()

    assert_same(EF.grad(lambda W: EF.vmap(per_row, (None, 0))(W, x_e).sum())(W_e),
                TF.grad(lambda W: TF.vmap(per_row, (None, 0))(W, x_t).sum())(W_t))
    assert_same(EF.jacrev(EF.vmap(per_row, (None, 0)))(W_e, x_e), TF.jacrev(TF.vmap(per_row, (None, 0)))(W_t, x_t))


# -- per-sample gradients of a small MLP and functional_call ---------------------------------------------------------
def mlps():
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    ours = em.nn.Sequential(em.nn.Linear(4, 8), em.nn.Tanh(), em.nn.Linear(8, 3)).double()
    copy_weights(ours, theirs)
    return ours, theirs


def test_per_sample_gradients_of_an_mlp_match_a_loop_and_torch():
    ours, theirs = mlps()
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)

    def loss_fn(fw, model):
        def loss(params, xb, yb):
            out = fw.func.functional_call(model, params, (xb.unsqueeze(0),))
            return fw.nn.functional.cross_entropy(out, yb.unsqueeze(0))
        return loss

    params_e = {k: v.detach() for k, v in ours.named_parameters()}
    params_t = {k: v.detach() for k, v in theirs.named_parameters()}
    got = EF.vmap(EF.grad(loss_fn(em, ours)), in_dims=(None, 0, 0))(params_e, em.tensor(x), em.tensor(y))
    expected = TF.vmap(TF.grad(loss_fn(torch, theirs)), in_dims=(None, 0, 0))(params_t, torch.tensor(x),
                                                                                 torch.tensor(y))
    assert_same(got, expected)
    for i in range(len(x)):  # against plain backward, one sample at a time
        ours.zero_grad()
        em.nn.functional.cross_entropy(ours(em.tensor(x[i:i + 1])), em.tensor(y[i:i + 1])).backward()
        for name, p in ours.named_parameters():
            assert_close(got[name][i], p.grad, rtol=1e-10, atol=1e-12, name=f"{name}[{i}]")


def test_functional_call_swaps_and_restores():
    ours, theirs = mlps()
    x = np.random.default_rng(1).standard_normal((5, 4))
    new = {k: np.full(tuple(v.shape), 0.1) for k, v in theirs.named_parameters()}
    before = {k: v for k, v in ours.named_parameters()}
    got = EF.functional_call(ours, {k: em.tensor(v) for k, v in new.items()}, em.tensor(x))
    expected = TF.functional_call(theirs, {k: torch.tensor(v) for k, v in new.items()}, torch.tensor(x))
    assert_same(got, expected)
    assert all(p is before[k] for k, p in ours.named_parameters())  # restored
    assert_same(EF.functional_call(ours, {"0.weight": em.tensor(new["0.weight"])}, (em.tensor(x),)),
                TF.functional_call(theirs, {"0.weight": torch.tensor(new["0.weight"])}, (torch.tensor(x),)))
    halves = ({"0.weight": em.tensor(new["0.weight"])}, {"2.bias": em.tensor(new["2.bias"])})
    assert_same(EF.functional_call(ours, halves, (em.tensor(x),)),
                TF.functional_call(theirs, ({"0.weight": torch.tensor(new["0.weight"])},
                                            {"2.bias": torch.tensor(new["2.bias"])}), (torch.tensor(x),)))


def test_functional_call_restores_after_an_error_and_checks_keys():
    ours, _ = mlps()
    before = dict(ours.named_parameters())
    with pytest.raises(ValueError):  # a weight of the wrong shape makes forward fail
        EF.functional_call(ours, {"0.weight": em.zeros(2, 2, dtype=em.float64)}, em.zeros(1, 4, dtype=em.float64))
    assert dict(ours.named_parameters()) == before
    with pytest.raises(RuntimeError, match="Error\\(s\\) in reparametrizing for Sequential:\n\tMissing key\\(s\\)"):
        EF.functional_call(ours, {"0.weight": before["0.weight"]}, em.zeros(1, 4), strict=True)
    with pytest.raises(ValueError, match="appeared in multiple dictionaries"):
        EF.functional_call(ours, ({"0.bias": before["0.bias"]}, {"0.bias": before["0.bias"]}), em.zeros(1, 4))


def test_functional_call_with_buffers_kwargs_and_tied_weights():
    torch.manual_seed(0)
    bn_t = torch.nn.BatchNorm1d(3).double().eval()
    bn_e = em.nn.BatchNorm1d(3).double().eval()
    copy_weights(bn_e, bn_t)
    x = np.random.default_rng(2).standard_normal((4, 3))
    stats = {"running_mean": np.full(3, 0.5), "running_var": np.full(3, 2.0)}
    assert_same(EF.functional_call(bn_e, {k: em.tensor(v) for k, v in stats.items()}, (em.tensor(x),)),
                TF.functional_call(bn_t, {k: torch.tensor(v) for k, v in stats.items()}, (torch.tensor(x),)))
    assert_close(bn_e.running_mean, np.zeros(3))

    class Tied(em.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = em.nn.Linear(3, 3, bias=False), em.nn.Linear(3, 3, bias=False)
            self.b.weight = self.a.weight

        def forward(self, x, scale=1.0):
            return self.b(self.a(x)) * scale

    m, W, xs = Tied(), em.tensor(np.eye(3) * 2), em.ones(1, 3, dtype=em.float32)
    tied = EF.functional_call(m, {"a.weight": W.float()}, (xs,), {"scale": 0.5})   # (2I)(2I)x / 2
    assert_close(tied, np.full((1, 3), 2.0), check_dtype=False)
    untied = EF.functional_call(m, {"a.weight": W.float()}, (xs,), tie_weights=False)
    assert_close(untied, (xs.numpy() @ m.a.weight.detach().numpy().T * 2) @ np.eye(3), rtol=1e-6, check_dtype=False)
    with pytest.raises(ValueError, match="which are tied"):
        EF.functional_call(m, {"a.weight": W.float(), "b.weight": W.float() * 1}, (xs,))


def test_gradient_through_functional_call_matches_torch():
    ours, theirs = mlps()
    x = np.random.default_rng(3).standard_normal((5, 4))
    params_e = {k: v.detach().requires_grad_() for k, v in ours.named_parameters()}
    params_t = {k: v.detach().requires_grad_() for k, v in theirs.named_parameters()}
    loss_e = (EF.functional_call(ours, params_e, em.tensor(x)) ** 2).sum()
    loss_t = (TF.functional_call(theirs, params_t, torch.tensor(x)) ** 2).sum()
    assert_same(em.autograd.grad(loss_e, list(params_e.values())), torch.autograd.grad(loss_t, list(params_t.values())))
    assert all(p.grad is None for p in ours.parameters())


def test_exported_as_em_func():
    assert em.func is EF
    for name in ("grad", "grad_and_value", "vjp", "jacrev", "jacfwd", "hessian", "vmap", "functional_call"):
        assert callable(getattr(em.func, name))
