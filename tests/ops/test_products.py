"""Products, einsum, norms and cdist (``ember.ops.products``) against PyTorch and finite differences.

The table runs each case three ways: float32 parity of values, dtypes and gradients (with a
random upstream gradient), float64 parity, and a float64 central-difference gradcheck.
"""
import math

import numpy as np
import pytest
import torch
from op_cases import case, draw_inputs, drawn_tests, fixed, randn

import ember as em
from ember.testing import gradgradcheck
from torch_parity import check_op, check_second_order, make_inputs, to_numpy

# -- matrix products -------------------------------------------------------------------------------------
CASES = [
    case("mm", em.mm, torch.mm, randn(3, 4), randn(4, 5)),
    case("method_mm", lambda x, y: x.mm(y), None, randn(1, 4), randn(4, 1)),
    case("bmm", em.bmm, torch.bmm, randn(2, 3, 4), randn(2, 4, 5)),
    case("method_bmm", lambda x, y: x.bmm(y), None, randn(3, 1, 4), randn(3, 4, 2)),
    case("mv", em.mv, torch.mv, randn(3, 4), randn(4)),
    case("method_mv", lambda x, y: x.mv(y), None, randn(2, 5), randn(5)),
    case("dot", em.dot, torch.dot, randn(5), randn(5)),
    case("method_dot", lambda x, y: x.dot(y), None, randn(3), randn(3)),
    case("outer", em.outer, torch.outer, randn(3), randn(4)),
    case("method_outer", lambda x, y: x.outer(y), None, randn(2), randn(5)),
    case("ger", em.ger, torch.outer, randn(3), randn(2)),
    case("addmm", em.addmm, torch.addmm, randn(3, 5), randn(3, 4), randn(4, 5)),
    case("addmm_broadcast_row", em.addmm, torch.addmm, randn(5), randn(3, 4), randn(4, 5)),
    case("addmm_broadcast_scalar", em.addmm, torch.addmm, randn(), randn(3, 4), randn(4, 5)),
    case("addmm_beta_alpha", lambda b, x, y: em.addmm(b, x, y, beta=0.5, alpha=-2.0),
         lambda b, x, y: torch.addmm(b, x, y, beta=0.5, alpha=-2.0), randn(3, 1), randn(3, 4), randn(4, 5)),
    case("addmm_beta_0", lambda b, x, y: em.addmm(b, x, y, beta=0),
         lambda b, x, y: torch.addmm(b, x, y, beta=0), randn(3, 5), randn(3, 4), randn(4, 5)),
    case("method_addmm", lambda b, x, y: b.addmm(x, y, alpha=3), None, randn(2, 2), randn(2, 3), randn(3, 2)),
    case("baddbmm", em.baddbmm, torch.baddbmm, randn(2, 3, 5), randn(2, 3, 4), randn(2, 4, 5)),
    case("baddbmm_broadcast", lambda b, x, y: em.baddbmm(b, x, y, beta=2.0, alpha=0.5),
         lambda b, x, y: torch.baddbmm(b, x, y, beta=2.0, alpha=0.5), randn(3, 1), randn(2, 3, 4), randn(2, 4, 5)),
    case("method_baddbmm", lambda b, x, y: b.baddbmm(x, y, beta=0.0), None, randn(2, 3, 2), randn(2, 3, 4),
         randn(2, 4, 2)),
]

# -- einsum ----------------------------------------------------------------------------------------------------
EINSUMS = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ij,jk", [(3, 4), (4, 5)]),  # implicit output
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ii->i", [(4, 4)]),  # diagonal
    ("ii", [(4, 4)]),  # trace
    ("ii->", [(3, 3)]),
    ("iij->ij", [(3, 3, 2)]),
    ("i,i->", [(5,), (5,)]),
    ("i,i", [(5,), (5,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ijk->kji", [(2, 3, 4)]),
    ("ij->", [(3, 4)]),
    ("ij->j", [(3, 4)]),
    ("ij,kj->ik", [(3, 4), (5, 4)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),  # broadcast batch dims
    ("...ij,...jk", [(2, 3, 4), (4, 2)]),
    ("b...,b...->b", [(2, 3, 4), (2, 3, 4)]),
    ("ij,ij->ij", [(3, 1), (3, 4)]),  # a size-1 label broadcasts
    ("i j , j k -> i k", [(2, 3), (3, 2)]),  # spaces
    ("iJ,Jk->ik", [(2, 3), (3, 4)]),  # capital letters
    ("ijk,ikl->", [(2, 3, 4), (2, 4, 3)]),
    ("ij,j->i", [(3, 3), (3,)]),
    ("jii->j", [(2, 3, 3)]),
    ("i,ij,jk->ik", [(3,), (3, 4), (4, 2)]),
]
CASES += [
    case(f"einsum-{eq}", lambda *xs, eq=eq: em.einsum(eq, *xs), lambda *xs, eq=eq: torch.einsum(eq, *xs),
         *(randn(*s) for s in shapes))
    for eq, shapes in EINSUMS
]
CASES += [
    case("einsum_list", lambda x, y: em.einsum("ij,jk->ik", [x, y]), lambda x, y: torch.einsum("ij,jk->ik", [x, y]),
         randn(2, 3), randn(3, 2)),
    case("einsum_same_operand_twice", lambda x: em.einsum("ij,ij->i", x, x), lambda x: torch.einsum("ij,ij->i", x, x),
         randn(3, 4)),
]

# -- norms ------------------------------------------------------------------------------------------------------
NORMS = [("fro", None), ("fro", 1), ("fro", (0, 1)), (2, None), (2, 0), (2, -1), (1, None), (1, 1),
         (math.inf, None), (math.inf, 1), (-math.inf, 0), (3, None), (3, (0, 2)), (0.5, 1), (1.5, -1),
         (2, (0, 1, 2)), ("nuc", (1, 2)), ("nuc", (0, 2)), (0, None), (0, 1)]
CASES += [
    case(f"norm-p{p}-dim{dim}-keep{keep}", lambda x, p=p, d=dim, k=keep: em.norm(x, p, d, k),
         lambda x, p=p, d=dim, k=keep: torch.norm(x, p, d, k), randn(2, 3, 4), rtol=1e-3 if p == "nuc" else None)
    for p, dim in NORMS for keep in (False, True)
]
CASES += [
    case("norm_default", em.norm, torch.norm, randn(3, 4)),
    case("norm_vector", lambda x: em.norm(x, 3), lambda x: torch.norm(x, 3), randn(5)),
    case("norm_scalar", em.norm, torch.norm, randn()),
    case("norm_nuc_matrix", lambda x: em.norm(x, "nuc"), lambda x: torch.norm(x, "nuc"), randn(4, 3), rtol=1e-3),
    case("method_norm", lambda x: x.norm(), None, randn(3, 4)),
    case("method_norm_dim", lambda x: x.norm(p=1, dim=1, keepdim=True), None, randn(3, 4)),
    case("method_norm_inf", lambda x: x.norm(float("inf"), 0), None, randn(3, 4)),
]
# at zero: PyTorch's subgradient 0 (finite differences do not apply at the kink). Second derivatives
# are compared only for the piecewise-linear norms: for the others PyTorch's divide 0 by 0 (NaN)
# where the norm is 0, and ember's stay finite (test_norm_second_derivative_at_zero_is_finite).
ZERO = np.zeros((2, 3))
WITH_ZERO = np.array([[0.0, 1.5, -2.0], [0.0, 0.0, 0.0]])
CASES += [
    case(f"norm_at_zero-p{p}", lambda x, p=p: em.norm(x, p, 1), lambda x, p=p: torch.norm(x, p, 1), fixed(z),
         finite_diff=False, second_order=p in (1, math.inf, -math.inf))
    for p in ["fro", 2, 1, 3, 0.5, 1.5, math.inf, -math.inf] for z in (ZERO, WITH_ZERO)
]

# -- cdist -------------------------------------------------------------------------------------------------------
CDIST = [
    ("p2_direct", 2.0, (4, 3), (5, 3), "use_mm_for_euclid_dist_if_necessary"),
    ("p2_mm_large", 2.0, (30, 3), (6, 3), "use_mm_for_euclid_dist_if_necessary"),
    ("p2_mm_forced", 2.0, (4, 3), (5, 3), "use_mm_for_euclid_dist"),
    ("p2_never_mm", 2.0, (30, 3), (27, 3), "donot_use_mm_for_euclid_dist"),
    ("p1", 1.0, (4, 3), (5, 3), None),
    ("p3", 3.0, (4, 3), (5, 3), None),
    ("p0.5", 0.5, (4, 3), (2, 3), None),
    ("pinf", math.inf, (4, 3), (5, 3), None),
    ("p0", 0.0, (4, 3), (5, 3), None),
    ("batched", 2.0, (2, 4, 3), (2, 5, 3), None),
    ("batched_broadcast", 1.5, (2, 1, 4, 3), (3, 5, 3), None),
    ("batched_mm", 2.0, (2, 26, 3), (2, 5, 3), None),
]
# PyTorch's cdist differentiates twice on its matrix-product path only (its direct kernel's backward is
# not differentiable), so the other rows' second derivatives are tested against its composition below.
BY_MATMUL = {"p2_mm_large", "p2_mm_forced", "batched_mm"}
DIRECT = [row for row in CDIST if row[0] not in BY_MATMUL]
CASES += [
    case(f"cdist-{name}", lambda a, b, p=p, m=mode: em.cdist(a, b, p, *(m,) if m else ()),
         lambda a, b, p=p, m=mode: torch.cdist(a, b, p, *(m,) if m else ()), randn(*s1), randn(*s2),
         rtol=1e-3 if "mm" in name else None, atol=1e-5 if "mm" in name else None, second_order=name in BY_MATMUL)
    for name, p, s1, s2, mode in CDIST
]


(test_against_torch, test_float64_against_torch, test_gradcheck, test_second_order_against_torch,
 test_gradgradcheck) = drawn_tests(CASES)


# -- the rest ------------------------------------------------------------------------------------------------------
def test_cdist_gradient_at_zero_distance_is_zero():
    """Rows that coincide: d = 0 exactly (integers), where PyTorch's subgradient is 0, by both routes."""
    a = np.array([[1.0, 2.0], [0.0, -1.0], [3.0, 3.0]])
    b = np.array([[1.0, 2.0], [2.0, 0.0]])
    for mode in ("use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist"):
        check_op(lambda x, y, m=mode: em.cdist(x, y, compute_mode=m),
                 lambda x, y, m=mode: torch.cdist(x, y, compute_mode=m), [a, b], dtype=np.float64)


@pytest.mark.parametrize("name, p, s1, s2, mode", DIRECT, ids=[row[0] for row in DIRECT])
def test_cdist_second_order_against_torch_composition(name, p, s1, s2, mode):
    """‖a_i − b_j‖_p from broadcast differences is what both compute off the matrix-product path."""
    def ours(a, b):
        return em.cdist(a, b, p, *(mode,) if mode else ())

    def theirs(a, b):
        return torch.linalg.vector_norm(a.unsqueeze(-2) - b.unsqueeze(-3), p, -1)

    check_second_order(ours, theirs, draw_inputs([randn(*s1), randn(*s2)], seed=3))
    assert gradgradcheck(ours, make_inputs(draw_inputs([randn(*s1), randn(*s2)], seed=4), np.float64)[0])


@pytest.mark.parametrize("p", ["fro", 2, 3, 0.5, 1.5])
@pytest.mark.parametrize("x", [ZERO, WITH_ZERO], ids=["zero", "with_zero"])
def test_norm_second_derivative_at_zero_is_finite(p, x):
    """Where the norm (or, for p < 2, an element) is 0, PyTorch's second derivatives are 0/0 = NaN; ember's
    are finite there (its first derivative is 0 on a whole neighbourhood's worth of kinks) and PyTorch's elsewhere."""
    u, v = (np.random.default_rng(0).standard_normal(shape) for shape in ((2,), (2, 3)))
    found = []
    for lib, grad in ((em, em.autograd.grad), (torch, torch.autograd.grad)):
        xt, ut = lib.tensor(x, requires_grad=True), lib.tensor(u, requires_grad=True)
        (g,) = grad(lib.norm(xt, p, 1), xt, ut, create_graph=True)
        found.append([to_numpy(h.detach()) for h in grad((g * lib.tensor(v)).sum(), [xt, ut])])
    for ours, theirs in zip(*found, strict=True):
        assert np.isfinite(ours).all()
        np.testing.assert_allclose(ours[np.isfinite(theirs)], theirs[np.isfinite(theirs)], rtol=1e-7, atol=1e-12)


def test_norm_dtype_and_errors():
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    check_op(lambda t: em.norm(t, 2, 1, dtype=em.float64), lambda t: torch.norm(t, 2, 1, dtype=torch.float64), [x])
    with pytest.raises(RuntimeError, match="floating-point"):
        em.norm(em.tensor([1, 2]))
    with pytest.raises(ValueError, match="'fro' or 'nuc'"):
        em.norm(em.ones(3), "bad")
    with pytest.raises(RuntimeError, match="2 dims"):
        em.norm(em.ones(2, 3, 4), "nuc")


@pytest.mark.parametrize("fn, args", [
    (em.mm, [(3,), (3, 2)]), (em.mm, [(2, 3, 4), (4, 2)]), (em.bmm, [(3, 4), (4, 2)]),
    (em.bmm, [(2, 3, 4), (3, 4, 2)]), (em.mv, [(3, 4), (4, 1)]), (em.dot, [(3, 1), (3,)]),
    (em.outer, [(3, 1), (2,)]), (em.cdist, [(3,), (3,)]), (em.cdist, [(2, 3), (2, 4)]),
])
def test_shape_errors_are_runtime_errors_like_torch(fn, args):
    with pytest.raises(RuntimeError):
        fn(*(em.ones(*s) for s in args))


def test_einsum_errors():
    with pytest.raises(ValueError, match="operands"):
        em.einsum("ij,jk->ik", em.ones(2, 2))
    with pytest.raises(RuntimeError, match="subscripts"):
        em.einsum("ijk->i", em.ones(2, 2))


def test_out_for_products():
    out = em.zeros(2, 2)
    assert em.mm(em.eye(2), em.ones(2, 2), out=out) is out and out.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert em.addmm(em.ones(2), em.eye(2), em.eye(2), out=out).tolist() == [[2.0, 1.0], [1.0, 2.0]]
