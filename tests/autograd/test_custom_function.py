"""Custom ops written as PyTorch writes them: ``autograd.Function`` with ``ctx``, run on both frameworks."""
import numpy as np
import pytest
import torch

import ember as em
from torch_parity import assert_close


def define_log_cosh(lib):
    """log(cosh(x)) with a hand-written backward tanh(x)·gy, in tensor ops (so twice differentiable)."""

    class LogCosh(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, scale):
            ctx.save_for_backward(x)
            ctx.scale = scale
            return scale * (x.abs() + lib.log1p(lib.exp(-2 * x.abs())) - np.log(2.0))

        @staticmethod
        def backward(ctx, gy):
            (x,) = ctx.saved_tensors
            return ctx.scale * lib.tanh(x) * gy, None

    return LogCosh


@pytest.mark.parametrize("lib", [em, torch], ids=["ember", "torch"])
def test_log_cosh_gradients_match_the_closed_form(lib):
    x = lib.tensor([-2.0, -0.5, 0.3, 1.7], dtype=lib.float64, requires_grad=True)
    y = define_log_cosh(lib).apply(x, 3.0)
    (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
    (h,) = lib.autograd.grad(g.sum(), x)
    t = np.tanh(np.array([-2.0, -0.5, 0.3, 1.7]))
    assert_close(g.detach(), 3 * t)
    assert_close(h, 3 * (1 - t**2))


def test_custom_function_matches_torch_to_second_order():
    data = np.random.default_rng(0).standard_normal((3, 4))
    results = []
    for lib in (em, torch):
        x = lib.tensor(data, requires_grad=True)
        y = define_log_cosh(lib).apply(x, 0.5)
        u = lib.tensor(np.linspace(-1, 1, 12).reshape(3, 4))
        (g,) = lib.autograd.grad(y, x, u, create_graph=True)
        (h,) = lib.autograd.grad((g * g).sum(), x)
        results.append([y.detach().numpy(), g.detach().numpy(), h.numpy()])
    for ours, theirs in zip(*results, strict=True):
        assert_close(ours, theirs)


def test_ctx_reports_needs_input_grad_and_a_none_gradient_is_skipped():
    seen = {}

    class ScaledAdd(em.autograd.Function):
        @staticmethod
        def forward(ctx, a, b, alpha=2.0):
            seen["needs"] = ctx.needs_input_grad
            ctx.alpha = alpha
            return a + alpha * b

        @staticmethod
        def backward(ctx, gy):
            ga = gy if ctx.needs_input_grad[0] else None
            gb = ctx.alpha * gy if ctx.needs_input_grad[1] else None
            return ga, gb, None

    a, b = em.ones(3, requires_grad=True), em.ones(3)
    ScaledAdd.apply(a, b, 4.0).sum().backward()
    assert seen["needs"] == (True, False, False)
    assert a.grad.tolist() == [1.0, 1.0, 1.0] and b.grad is None


def test_non_differentiable_outputs_and_materialized_gradients():
    received = {}

    class SortValues(em.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            values, indices = em.sort(x)
            ctx.mark_non_differentiable(indices)
            ctx.save_for_backward(indices)
            return values, indices

        @staticmethod
        def backward(ctx, g_values, g_indices):
            received["g_indices"] = g_indices
            (indices,) = ctx.saved_tensors
            return em.zeros_like(g_values).scatter(0, indices, g_values)

    x = em.tensor([3.0, 1.0, 2.0], requires_grad=True)
    values, indices = SortValues.apply(x)
    assert values.requires_grad and not indices.requires_grad
    (values * em.tensor([1.0, 10.0, 100.0])).sum().backward()
    assert x.grad.tolist() == [100.0, 1.0, 10.0]
    assert received["g_indices"].tolist() == [0, 0, 0]  # materialized as zeros by default


def test_set_materialize_grads_false_passes_none():
    received = []

    class Pair(em.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            received.append((g1 is None, g2 is None))
            return (g1 * 2 if g1 is not None else 0) + (g2 * 3 if g2 is not None else 0)

    x = em.ones(2, requires_grad=True)
    first, _ = Pair.apply(x)
    first.sum().backward()
    assert received == [(False, True)] and x.grad.tolist() == [2.0, 2.0]


def test_once_differentiable_gives_first_derivatives_and_refuses_the_second():
    class NumpySquare(em.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @em.autograd.once_differentiable
        def backward(ctx, gy):
            (x,) = ctx.saved_tensors
            return em.tensor(2 * x.detach().numpy() * gy.detach().numpy())

    x = em.tensor([1.5, -2.0], requires_grad=True)
    (g,) = em.autograd.grad(NumpySquare.apply(x).sum(), x, create_graph=True)
    assert g.tolist() == [3.0, -4.0] and g.requires_grad
    with pytest.raises(RuntimeError, match="NumpySquare"):
        g.sum().backward()


def test_setup_context_form_and_grad_fn_name():
    class Double(em.autograd.Function):
        @staticmethod
        def forward(x):
            return x * 2

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.factor = 2

        @staticmethod
        def backward(ctx, gy):
            return gy * ctx.factor

    x = em.ones(3, requires_grad=True)
    y = Double.apply(x)
    assert y.grad_fn.name() == "DoubleBackward"
    (node, _), = y.grad_fn.next_functions
    assert node.variable is x
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


def test_errors_name_the_function():
    class Wrong(em.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, gy):
            return gy  # one gradient for two inputs

    x, y = em.ones(2, requires_grad=True), em.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="Wrong.backward: returned an incorrect number of gradients"):
        Wrong.apply(x, y).sum().backward()
    with pytest.raises(RuntimeError, match="apply"):
        Wrong()


def test_a_saved_tensor_changed_in_place_is_caught():
    class Square(em.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, gy):
            (x,) = ctx.saved_tensors
            return 2 * x * gy

    x = em.ones(3, requires_grad=True)
    h = x * 1
    y = Square.apply(h)
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.sum().backward()


def test_the_graph_is_freed_after_backward():
    x = em.ones(2, requires_grad=True)
    y = define_log_cosh(em).apply(x, 1.0).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_returning_an_input_gives_a_new_node():
    class Ident(em.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, gy):
            return gy * 5

    x = em.ones(2, requires_grad=True)
    y = Ident.apply(x)
    assert y is not x and x.is_leaf
    y.sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]
