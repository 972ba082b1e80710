"""``em.autograd.gradcheck`` passes correct gradients and, crucially, catches wrong ones."""
import numpy as np
import pytest

import ember as em
from ember.autograd.function import Function


class TransposedMatMul(Function):
    """x @ W with a deliberate bug: dX = dZ W instead of dZ Wᵀ (invisible for symmetric W)."""

    def forward(self, x, W):
        self.save_for_backward(x, W)
        return x @ W

    def backward(self, gz):
        x, W = self.saved
        return gz @ W, x.T @ gz


class CorrectMatMul(TransposedMatMul):
    def backward(self, gz):
        x, W = self.saved
        return gz @ W.T, x.T @ gz


def _inputs():
    rng = np.random.default_rng(0)
    return [em.tensor(rng.standard_normal((2, 3)), requires_grad=True),
            em.tensor(rng.standard_normal((3, 3)), requires_grad=True)]


def test_gradcheck_passes_a_correct_backward():
    assert em.autograd.gradcheck(lambda x, W: CorrectMatMul()(x, W), _inputs())


def test_gradcheck_catches_a_transposition_bug():
    with pytest.raises(AssertionError, match="input 0 of shape \\(2, 3\\)"):
        em.autograd.gradcheck(lambda x, W: TransposedMatMul()(x, W), _inputs())
    assert em.autograd.gradcheck(lambda x, W: TransposedMatMul()(x, W), _inputs(), raise_exception=False) is False


def test_gradcheck_catches_a_missing_factor():
    class Square(Function):
        def forward(self, x):
            self.save_for_backward(x)
            return x * x

        def backward(self, gy):
            (x,) = self.saved
            return gy * x

    with pytest.raises(AssertionError, match="analytic and numerical"):
        em.testing.gradcheck(lambda x: Square()(x), [em.randn(4, dtype=em.float64, requires_grad=True)])


def test_gradcheck_converts_float32_inputs_to_float64():
    x = em.randn(3, 2, requires_grad=True)
    assert em.autograd.gradcheck(lambda t: (t.exp() * t).sum(axis=1), [x])


def test_gradcheck_handles_several_outputs_and_constant_inputs():
    x = em.randn(4, 3, dtype=em.float64, requires_grad=True)
    c = em.randn(4, 3, dtype=em.float64)
    assert em.autograd.gradcheck(lambda a, b: em.split(a * b, [1, 2], dim=1), [x, c])


def test_numerical_grad_of_a_known_function():
    x = em.tensor(np.array([1.0, 2.0]), requires_grad=True)
    g = em.testing.numerical_grad(lambda t: t * t * t, [x], [np.ones(2)], 0, 1e-6)
    np.testing.assert_allclose(g, [3.0, 12.0], rtol=1e-6)


def test_gradcheck_without_an_input_that_requires_grad_raises():
    """As PyTorch's: checking nothing must not pass silently."""
    with pytest.raises(ValueError, match="at least one input tensor to require grad"):
        em.autograd.gradcheck(lambda t: t * 2, [em.ones(2, dtype=em.float64)])
