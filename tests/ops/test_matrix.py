"""Square-matrix functions and ``ember.linalg`` against ``torch.linalg`` and finite differences.

Inputs are drawn well conditioned: A = R + n·I (invertible), S = M Mᵀ + n·I (symmetric positive
definite). ``cholesky`` and ``eigh`` read one triangle of A, so their rows differentiate through
(X + Xᵀ)/2 — the symmetric matrix that triangle stands for — in both frameworks, which makes the
finite differences and PyTorch's symmetric gradient comparable. Eigenvector signs are arbitrary
(LAPACK's choice), so the eigh rows look at V ⊙ V.
"""
import math

import numpy as np
import pytest
import torch
from op_cases import case, drawn_tests, randn

import ember as em
from torch_parity import assert_close, check_op


def invertible(*shape):
    n = shape[-1]
    return lambda rng: rng.standard_normal(shape) + n * np.eye(n)


def spd(*shape):
    n = shape[-1]

    def draw(rng):
        M = rng.standard_normal(shape)
        return M @ M.swapaxes(-1, -2) + n * np.eye(n)

    return draw


def sym(x):
    return (x + x.transpose(-1, -2)) / 2


def eigh_squares(lib):
    return lambda a: (lambda w, V: (w, V * V))(*lib.linalg.eigh(sym(a)))


CASES = [
    case("inv", em.linalg.inv, torch.linalg.inv, invertible(3, 3)),
    case("inv_batched", em.linalg.inv, torch.linalg.inv, invertible(2, 4, 4)),
    case("inverse", em.inverse, torch.inverse, invertible(3, 3)),
    case("det", em.linalg.det, torch.linalg.det, invertible(3, 3)),
    case("det_batched", em.det, torch.det, invertible(2, 3, 3)),
    case("slogdet_logabsdet", lambda a: em.linalg.slogdet(a)[1], lambda a: torch.linalg.slogdet(a)[1],
         invertible(2, 3, 3)),
    case("logdet", em.logdet, torch.logdet, spd(3, 3)),
    case("solve_matrix", em.linalg.solve, torch.linalg.solve, invertible(3, 3), randn(3, 2)),
    case("solve_vector", em.linalg.solve, torch.linalg.solve, invertible(3, 3), randn(3)),
    case("solve_broadcast_b", em.linalg.solve, torch.linalg.solve, invertible(2, 3, 3), randn(3, 2)),
    case("solve_right", lambda a, b: em.linalg.solve(a, b, left=False),
         lambda a, b: torch.linalg.solve(a, b, left=False), invertible(3, 3), randn(2, 3)),
    case("matrix_power_3", lambda a: em.linalg.matrix_power(a, 3), lambda a: torch.linalg.matrix_power(a, 3),
         randn(3, 3)),
    case("matrix_power_neg2", lambda a: em.matrix_power(a, -2), lambda a: torch.matrix_power(a, -2),
         invertible(2, 3, 3)),
    case("cross", em.linalg.cross, torch.linalg.cross, randn(4, 3), randn(1, 3)),
    case("cross_dim0", lambda a, b: em.cross(a, b), lambda a, b: torch.cross(a, b, dim=0), randn(3, 4), randn(3, 4)),
    # first derivatives only: ember differentiates these three once
    case("cholesky", lambda a: em.linalg.cholesky(sym(a)), lambda a: torch.linalg.cholesky(sym(a)), spd(3, 3),
         second_order=False),
    case("cholesky_upper", lambda a: em.linalg.cholesky(sym(a), upper=True),
         lambda a: torch.linalg.cholesky(sym(a), upper=True), spd(2, 3, 3), second_order=False),
    case("eigh", eigh_squares(em), eigh_squares(torch), spd(3, 3), second_order=False),
    case("eigvalsh", lambda a: em.linalg.eigvalsh(sym(a)), lambda a: torch.linalg.eigvalsh(sym(a)), spd(2, 3, 3),
         second_order=False),
    case("svdvals", em.linalg.svdvals, torch.linalg.svdvals, randn(4, 3), second_order=False),
    case("solve_triangular_lower", lambda a, b: em.linalg.solve_triangular(a, b, upper=False),
         lambda a, b: torch.linalg.solve_triangular(a.tril(), b, upper=False), invertible(3, 3), randn(2, 3, 2),
         second_order=False),
    case("solve_triangular_upper_right_unit", lambda a, b: em.linalg.solve_triangular(a, b, upper=True, left=False,
                                                                                       unitriangular=True),
         lambda a, b: torch.linalg.solve_triangular(a.triu(-1) + torch.eye(3, dtype=a.dtype), b, upper=True,
                                                    left=False, unitriangular=True),
         randn(2, 3, 3), randn(4, 3), second_order=False),
]

NORMS = [
    ("vector_2", lambda lib: lambda x: lib.linalg.vector_norm(x)),
    ("vector_1_dim", lambda lib: lambda x: lib.linalg.vector_norm(x, 1, dim=1, keepdim=True)),
    ("vector_inf", lambda lib: lambda x: lib.linalg.vector_norm(x, math.inf, dim=(0, 1))),
    ("vector_3", lambda lib: lambda x: lib.linalg.vector_norm(x, 3, dim=-1)),
    ("matrix_fro", lambda lib: lambda x: lib.linalg.matrix_norm(x)),
    ("matrix_nuc", lambda lib: lambda x: lib.linalg.matrix_norm(x, "nuc")),
    ("matrix_1", lambda lib: lambda x: lib.linalg.matrix_norm(x, 1)),
    ("matrix_neg1", lambda lib: lambda x: lib.linalg.matrix_norm(x, -1, keepdim=True)),
    ("matrix_inf", lambda lib: lambda x: lib.linalg.matrix_norm(x, math.inf, dim=(0, 2))),
    ("matrix_2", lambda lib: lambda x: lib.linalg.matrix_norm(x, 2)),
    ("matrix_neg2", lambda lib: lambda x: lib.linalg.matrix_norm(x, -2)),
    ("norm_default", lambda lib: lambda x: lib.linalg.norm(x)),
    ("norm_dim", lambda lib: lambda x: lib.linalg.norm(x, dim=2)),
    ("norm_matrix_dims", lambda lib: lambda x: lib.linalg.norm(x, "fro", dim=(1, 2))),
    ("norm_ord_2d", lambda lib: lambda x: lib.linalg.norm(x[0], 1)),
]
CASES += [case(f"norm_{name}", make(em), make(torch), randn(2, 3, 4),
               second_order=name not in ("matrix_2", "matrix_neg2")) for name, make in NORMS]  # svdvals: once

(test_against_torch, test_float64_against_torch, test_gradcheck, test_second_order_against_torch,
 test_gradgradcheck) = drawn_tests(CASES)


def test_slogdet_sign_and_logdet_of_negative_determinant():
    a = np.array([[[-2.0, 0.0], [0.0, 3.0]], [[1.0, 2.0], [3.0, 4.0]]])
    check_op(lambda x: em.linalg.slogdet(x)[0], lambda x: torch.linalg.slogdet(x)[0], [a], backward=False)
    check_op(em.logdet, torch.logdet, [a], backward=False)  # NaN for det < 0


def test_matrix_power_zero_and_rank():
    a = np.random.default_rng(0).standard_normal((2, 3, 3))
    check_op(lambda x: em.linalg.matrix_power(x, 0), lambda x: torch.linalg.matrix_power(x, 0), [a], backward=False)
    for m in (np.eye(4), np.ones((4, 3)), np.diag([1.0, 1e-9, 0.0]), np.zeros((2, 2))):
        assert em.linalg.matrix_rank(em.tensor(m)).item() == torch.linalg.matrix_rank(torch.tensor(m)).item()


def test_second_derivatives_of_inverse_and_determinant_match_torch():
    a = invertible(3, 3)(np.random.default_rng(7))
    for ours, theirs in ((em.linalg.inv, torch.linalg.inv), (em.linalg.det, torch.linalg.det)):
        e, t = em.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        (ge,) = em.autograd.grad(ours(e).sum(), e, create_graph=True)
        (gt,) = torch.autograd.grad(theirs(t).sum(), t, create_graph=True)
        assert_close(em.autograd.grad((ge * ge).sum(), e)[0], torch.autograd.grad((gt * gt).sum(), t)[0])


@pytest.mark.parametrize("call, message", [
    (lambda: em.linalg.inv(em.ones(2, 3)), "square matrices, but they are 2x3"),
    (lambda: em.linalg.solve(em.eye(3), em.ones(2, 1)), "B needs 3 rows"),
    (lambda: em.linalg.cross(em.ones(2), em.ones(2)), "must have length 3"),
    (lambda: em.linalg.matrix_norm(em.ones(2, 2), ord=3), "order 3 not supported"),
    (lambda: em.linalg.norm(em.ones(2, 2, 2), ord=1), "must be 1-D or 2-D"),
    (lambda: em.linalg.eigh(em.eye(2), UPLO="X"), "UPLO must be 'L' or 'U'"),
])
def test_bad_input_names_the_function(call, message):
    with pytest.raises((RuntimeError, ValueError), match=message):
        call()


def test_cholesky_gradient_is_torchs_without_symmetrising_the_input():
    rng = np.random.default_rng(3)
    A = spd(2, 3, 3)(rng)
    e, t = em.tensor(A, requires_grad=True), torch.tensor(A, requires_grad=True)
    w = rng.standard_normal(A.shape)
    (em.linalg.cholesky(e) * em.tensor(w)).sum().backward()
    (torch.linalg.cholesky(t) * torch.tensor(w)).sum().backward()
    assert_close(e.grad, t.grad)


def test_cholesky_of_a_matrix_that_is_not_positive_definite_raises():
    with pytest.raises(ValueError, match="Cholesky: Matrix is not positive definite"):
        em.linalg.cholesky(em.tensor([[1.0, 2.0], [2.0, 1.0]]))


def test_least_squares_by_normal_equations_learns_the_line():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 50)
    X = em.tensor(np.stack([x, np.ones_like(x)], 1))
    y = em.tensor(2.5 * x - 0.5 + 0.01 * rng.standard_normal(50))
    w = em.linalg.solve(X.T @ X, X.T @ y)
    np.testing.assert_allclose(w.numpy(), [2.5, -0.5], atol=0.01)
    np.testing.assert_allclose(em.linalg.norm(X @ w - y).item(), 0.01 * math.sqrt(50), rtol=0.3)
