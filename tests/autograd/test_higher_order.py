"""Gradients of gradients: ``autograd.grad``, ``create_graph``, and the checks that they can fail."""
import numpy as np
import pytest
import torch

import ember as em
from ember.autograd.function import Function
from torch_parity import assert_close

DATA = np.array([0.3, -1.2, 2.0])


def both(fn):
    """Run ``fn(lib, x)`` on ember and on torch with the same float64 leaf; return both results."""
    return [fn(lib, lib.tensor(DATA.copy(), requires_grad=True)) for lib in (em, torch)]


def test_grad_returns_without_touching_dot_grad():
    ours, theirs = both(lambda lib, x: (lib.autograd.grad((x**3).sum(), x), x.grad))
    assert_close(ours[0][0], theirs[0][0])
    assert ours[1] is None and theirs[1] is None


@pytest.mark.parametrize("order", [2, 3, 4])
def test_repeated_grad_gives_higher_derivatives(order):
    def nth(lib, x):
        y = (x.sin() * x.exp()).sum()
        for _ in range(order):
            (y,) = lib.autograd.grad(y, x, create_graph=True)
            y = y.sum()
        return y.detach()

    ours, theirs = both(nth)
    assert_close(ours, theirs)


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph")
def test_backward_create_graph_leaves_a_grad_with_a_graph():
    def run(lib, x):
        (x**3).sum().backward(create_graph=True)
        first = x.grad
        assert first.requires_grad and first.grad_fn is not None
        x.grad = None
        first.sum().backward()
        return first.detach(), x.grad

    ours, theirs = both(run)
    assert_close(ours[0], theirs[0])
    assert_close(ours[1], theirs[1])


def test_gradient_penalty_reaches_the_weights():
    def run(lib, x):
        lib.manual_seed(0)
        w = lib.tensor(np.arange(6.0).reshape(3, 2) / 5, requires_grad=True)
        out = (x @ w).tanh().sum()
        (gx,) = lib.autograd.grad(out, x, create_graph=True)
        penalty = (gx.norm() - 1) ** 2
        penalty.backward()
        return w.grad

    ours, theirs = both(run)
    assert_close(ours, theirs)


def test_several_outputs_and_grad_outputs():
    def run(lib, x):
        a, b = x * x, x.exp()
        u, v = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64), lib.tensor([0.5, 0.0, -1.0], dtype=lib.float64)
        return lib.autograd.grad([a, b], [x], [u, v])

    ours, theirs = both(run)
    assert_close(ours[0], theirs[0])


def test_allow_unused_and_materialize_grads():
    x, z = em.ones(2, requires_grad=True), em.ones(3, requires_grad=True)
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="not used in the graph"):
        em.autograd.grad(y, [x, z], retain_graph=True)
    assert em.autograd.grad(y, [x, z], allow_unused=True, retain_graph=True)[1] is None
    assert em.autograd.grad(y, [x, z], materialize_grads=True)[1].tolist() == [0.0, 0.0, 0.0]


def test_grad_errors_match_torchs_conditions():
    x = em.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="does not require grad"):
        em.autograd.grad(em.ones(2).sum(), x)
    with pytest.raises(RuntimeError, match="does not require grad"):
        em.autograd.grad((x * 2).sum(), em.ones(2))
    with pytest.raises(RuntimeError, match="grad_outputs"):
        em.autograd.grad([x * 2, x * 3], x, [em.ones(2)])


def test_grad_with_respect_to_an_intermediate_tensor():
    def run(lib, x):
        h = x * 3
        y = (h * h).sum()
        return lib.autograd.grad(y, [h, x])

    ours, theirs = both(run)
    for o, t in zip(ours, theirs, strict=True):
        assert_close(o, t)


def test_retain_graph_defaults_to_create_graph():
    x = em.ones(2, requires_grad=True)
    y = (x.exp() * x).sum()
    em.autograd.grad(y, x, create_graph=True)
    em.autograd.grad(y, x)  # the graph survived the first call
    with pytest.raises(RuntimeError, match="second time"):
        em.autograd.grad(y, x)


def test_multi_root_backward_runs_one_pass():
    def run(lib, x):
        h = x.exp()
        lib.autograd.backward([h.sum(), (h * h).sum()])
        return x.grad

    ours, theirs = both(run)
    assert_close(ours, theirs)


def test_hooks_see_gradients_with_a_graph():
    def run(lib, x):
        h = x * x
        h.register_hook(lambda g: g * h)  # a hook built from tensors keeps the graph
        (g,) = lib.autograd.grad(h.sum(), x, create_graph=True)
        return lib.autograd.grad(g.sum(), x)[0]

    ours, theirs = both(run)
    assert_close(ours, theirs)


def test_op_without_vjp_gives_first_derivatives_and_names_itself_on_the_second():
    class Cube(Function):
        def forward(self, x):
            self.save_for_backward(x)
            return x**3

        def backward(self, gy):
            (x,) = self.saved
            return 3 * x**2 * gy

    x = em.tensor([2.0], requires_grad=True)
    (g,) = em.autograd.grad(Cube()(x), x, create_graph=True)
    assert g.tolist() == [12.0]
    with pytest.raises(RuntimeError, match="Cube: its gradient is not differentiable"):
        em.autograd.grad(g, x)


class Sine(Function):
    """sin with a vjp that is deliberately wrong in its second derivative (uses a constant cos)."""

    def forward(self, x):
        self.save_for_backward(x)
        return np.sin(x)

    def backward(self, gy):
        (x,) = self.saved
        return gy * np.cos(x)

    def vjp(self, gy):
        (x,) = self.saved
        return gy * em.tensor(np.cos(x))  # right value, but its dependence on x is lost


class GoodSine(Sine):
    def vjp(self, gy):
        return gy * self.inputs[0].cos()


def test_gradgradcheck_catches_a_wrong_double_backward():
    x = em.tensor(DATA.copy(), requires_grad=True)
    assert em.autograd.gradcheck(lambda t: Sine()(t), [x])  # first order is right
    with pytest.raises(AssertionError, match="gradcheck"):
        em.autograd.gradgradcheck(lambda t: Sine()(t), [x])
    assert em.autograd.gradgradcheck(lambda t: GoodSine()(t), [x])


def test_composed_twin_gives_the_vjp_of_a_fused_op():
    class FusedSoftplus(Function):
        def forward(self, x):
            return np.logaddexp(0, x)

        def backward(self, gy):
            (x,) = [t.array for t in self.inputs]
            return gy / (1 + np.exp(-x))

        def composed(self, x):
            return (x.exp() + 1).log()

    x = em.tensor(DATA.copy(), requires_grad=True)
    assert em.autograd.gradgradcheck(lambda t: FusedSoftplus()(t), [x])


def test_first_order_backward_is_untouched_by_create_graph_machinery():
    x = em.tensor(DATA.copy(), requires_grad=True)
    (x.exp() * x).sum().backward()
    assert x.grad.grad_fn is None and not x.grad.requires_grad


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "hardtanh", "relu6", "abs"])
def test_piecewise_linear_activations_differentiate_to_zeros_as_torchs(name):
    def run(lib, x):
        fn = getattr(lib, name, None) or getattr(lib.nn.functional, name)
        (g,) = lib.autograd.grad(fn(x).sum(), x, create_graph=True)
        (h,) = lib.autograd.grad(g.sum(), x)
        return g.requires_grad, h

    (ours_flag, ours), (theirs_flag, theirs) = both(run)
    assert ours_flag and theirs_flag
    assert_close(ours, theirs)
