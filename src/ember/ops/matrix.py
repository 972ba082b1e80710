"""Functions of square matrices: inverse, determinant, linear solve, Cholesky factor, symmetric
eigendecomposition, singular values, matrix powers and the cross product. ``ember.linalg``
gathers them with the norms, as ``torch.linalg``.

Every function takes a batch (…, n, n) and works through the array module's ``linalg``. The
gradients (Giles 2008, "An extended collection of matrix derivative results"; Murray 2016,
"Differentiation of the Cholesky decomposition"), with X̄ the gradient reaching a result X:

    Y = A⁻¹                    Ā = −Yᵀ Ȳ Yᵀ
    d = det A                  Ā = d̄ · d · A⁻ᵀ
    (s, l) = slogdet A         Ā = l̄ · A⁻ᵀ
    X = A⁻¹ B                  B̄ = A⁻ᵀ X̄,  Ā = −B̄ Xᵀ   (A triangular: Ā keeps A's triangle)
    A = L Lᵀ                   Ā = ½ (S + Sᵀ),  S = L⁻ᵀ Φ(Lᵀ L̄) L⁻¹   (Φ: lower triangle, diagonal halved)
    A = V diag(w) Vᵀ           Ā = V (diag(w̄) + F ∘ (Vᵀ V̄)) Vᵀ,  F_ij = 1/(w_j − w_i), F_ii = 0
    σ = singular values of A   Ā = U diag(σ̄) Vᵀ

The first four are differentiated again through their own ops; the triangular solve, the Cholesky
factor, the eigendecomposition and the singular values give first derivatives only (a second raises, naming
the op). As PyTorch, ``cholesky`` and ``eigh`` read one triangle of A (the lower, by default), and
their gradients assume A symmetric.
"""
from __future__ import annotations

import numpy as np

from ember.autograd.function import Function
from ember.autograd.tensor import Tensor, as_tensor
from ember.backend import get_array_module as xp_of
from ember.ops.arithmetic import mul, neg
from ember.ops.broadcast import reduce_to, sum_to
from ember.ops.linalg import matmul
from ember.ops.pointwise import floating
from ember.ops.shape import getitem, unsqueeze


def _square(op, A):
    """A as a floating tensor of square matrices (…, n, n), or a clear error naming ``op``."""
    A = floating(A)
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.{op}: A must be batches of square matrices, but they are "
                           f"{'x'.join(map(str, A.shape[-2:])) if A.ndim >= 2 else A.shape} matrices")
    return A


def _mT(a):  # noqa: N802 - the transpose's usual name
    return a.swapaxes(-1, -2)


def _tensor_mT(a):  # noqa: N802
    return a.transpose(-1, -2)


# -- inverse, determinant, solve --------------------------------------------------------------------
class Inverse(Function):
    def forward(self, A):
        Y = xp_of(A).linalg.inv(A)
        self.save_for_backward(Y)
        return Y

    def backward(self, gY):
        (Y,) = self.saved
        return -(_mT(Y) @ gY @ _mT(Y))

    def vjp(self, gY):
        Yt = _tensor_mT(self.output())
        return neg(matmul(matmul(Yt, gY), Yt))


def inv(A):
    """A⁻¹ of each square matrix in A (…, n, n); ∂: Ā = −A⁻ᵀ Ȳ A⁻ᵀ. A singular matrix raises.

    >>> em.linalg.inv(em.tensor([[2.0, 0.0], [0.0, 4.0]]))
    tensor([[0.5 , 0.  ],
            [0.  , 0.25]])
    """
    return Inverse()(_square("inv", A))


class SignLogDet(Function):
    """(sign, ln|det A|); only the second carries a gradient: Ā = l̄ A⁻ᵀ."""

    def forward(self, A):
        sign, logabsdet = xp_of(A).linalg.slogdet(A)
        self.save_for_backward(A)
        return sign.astype(A.dtype), logabsdet

    def backward(self, gsign, glog):
        (A,) = self.saved
        if glog is None:
            return xp_of(A).zeros_like(A)
        return glog[..., None, None] * _mT(xp_of(A).linalg.inv(A))

    def vjp(self, gsign, glog):
        if glog is None:
            return None
        return mul(unsqueeze(unsqueeze(glog, -1), -1), _tensor_mT(inv(self.inputs[0])))


def slogdet(A):
    """(sign, ln|det A|) of each square matrix: the determinant as sign · e^logabsdet, without the
    overflow of ``det`` on large matrices. ∂ln|det A|/∂A = A⁻ᵀ.

    >>> em.linalg.slogdet(em.tensor([[-2.0, 0.0], [0.0, 3.0]]))
    (tensor(-1.), tensor(1.7917595))
    """
    return SignLogDet()(_square("slogdet", A))


def logdet(A):
    """ln det A: NaN where det A < 0 and −∞ where it is 0, as PyTorch's ``logdet``."""
    sign, logabsdet = slogdet(A)
    xp = xp_of(sign.array)
    return logabsdet + Tensor(xp.where(sign.array < 0, xp.nan, 0).astype(logabsdet.dtype))


class Determinant(Function):
    def forward(self, A):
        d = xp_of(A).linalg.det(A)
        self.save_for_backward(A, d)
        return d

    def backward(self, gd):
        A, d = self.saved
        return (gd * d)[..., None, None] * _mT(xp_of(A).linalg.inv(A))

    def vjp(self, gd):
        scale = unsqueeze(unsqueeze(mul(gd, self.output()), -1), -1)
        return mul(scale, _tensor_mT(inv(self.inputs[0])))


def det(A):
    """det A of each square matrix; ∂: Ā = d̄ · det A · A⁻ᵀ (A must be invertible for the gradient).

    >>> em.linalg.det(em.tensor([[1.0, 2.0], [3.0, 4.0]]))
    tensor(-2.)
    """
    return Determinant()(_square("det", A))


class Solve(Function):
    """X = A⁻¹B for B a batch of matrices (…, n, k)."""

    def forward(self, A, B):
        self.shapes = A.shape, B.shape
        X = xp_of(A).linalg.solve(A, B)
        self.save_for_backward(A, X)
        return X

    def backward(self, gX):
        A, X = self.saved
        gB = xp_of(A).linalg.solve(_mT(A), gX)
        gA = -(gB @ _mT(X)) if self.needs_input_grad[0] else None
        return (None if gA is None else sum_to(gA, self.shapes[0])), sum_to(gB, self.shapes[1])

    def vjp(self, gX):
        A = self.inputs[0]
        gB = solve(_tensor_mT(A), gX)
        gA = neg(matmul(gB, _tensor_mT(self.output()))) if self.needs_input_grad[0] else None
        return (None if gA is None else reduce_to(gA, self.shapes[0])), reduce_to(gB, self.shapes[1])


def solve(A, B, *, left=True):
    """X with A X = B (``left=False``: X A = B), for square A (…, n, n) and B (…, n, k) or a vector
    B (…, n) (batch dims broadcast); ∂: B̄ = A⁻ᵀ X̄, Ā = −B̄ Xᵀ.

    >>> em.linalg.solve(em.tensor([[2.0, 0.0], [0.0, 4.0]]), em.tensor([2.0, 2.0]))
    tensor([1. , 0.5])
    """
    A, B = _square("solve", A), floating(as_tensor(B, like=A))
    if not left:
        return _tensor_mT(solve(_tensor_mT(A), _tensor_mT(B)))
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])
    if vector:
        B = unsqueeze(B, -1)
    if B.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"linalg.solve: A {tuple(A.shape)} and B {tuple(B.shape)} do not match: "
                           f"B needs {A.shape[-1]} rows")
    X = Solve()(A, B)
    return getitem(X, (..., 0)) if vector else X


class TriangularSolve(Function):
    """X = T⁻¹ B for T the lower (or upper) triangle of A, its diagonal taken as 1 when ``unitriangular``;
    batch dims broadcast. ∂: B̄ = T⁻ᵀ X̄, Ā = −tri(B̄ Xᵀ) (the triangle T was read from)."""

    def __init__(self, upper, unitriangular):
        self.upper, self.unitriangular = upper, unitriangular

    def _triangle(self, a):
        xp = xp_of(a)
        t = xp.triu(a) if self.upper else xp.tril(a)
        if self.unitriangular:
            n = a.shape[-1]
            t[..., range(n), range(n)] = 1  # triu/tril made a new array: writing is safe
        return t

    def forward(self, A, B):
        xp = xp_of(A)
        self.shapes = A.shape, B.shape
        batch = np.broadcast_shapes(A.shape[:-2], B.shape[:-2])  # the batched solver wants equal batch dims
        T = xp.broadcast_to(self._triangle(A), batch + A.shape[-2:])
        X = xp.linalg.solve(T, xp.broadcast_to(B, batch + B.shape[-2:]))
        self.save_for_backward(T, X)
        return X

    def backward(self, gX):
        T, X = self.saved
        xp = xp_of(T)
        gB = xp.linalg.solve(_mT(T), gX)
        gA = -(gB @ _mT(X))
        gA = xp.triu(gA) if self.upper else xp.tril(gA)
        if self.unitriangular:
            n = gA.shape[-1]
            gA[..., range(n), range(n)] = 0
        return sum_to(gA, self.shapes[0]), sum_to(gB, self.shapes[1])


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """X with T X = B (``left=False``: X T = B), T the upper or lower triangle of A (the other is never
    read), with a unit diagonal when ``unitriangular``; A (…, n, n), B (…, n, k), batch dims broadcast.
    First derivatives: B̄ = T⁻ᵀ X̄, Ā = −tri(B̄ Xᵀ).

    >>> em.linalg.solve_triangular(em.tensor([[2.0, 0.0], [1.0, 1.0]]), em.tensor([[2.0], [3.0]]), upper=False)
    tensor([[1.],
            [2.]])
    """
    A, B = _square("solve_triangular", A), floating(as_tensor(B, like=A))
    if B.ndim < 2:
        raise RuntimeError(f"linalg.solve_triangular: B must be a batch of matrices, got shape {tuple(B.shape)}")
    if not left:
        return _tensor_mT(solve_triangular(_tensor_mT(A), _tensor_mT(B), upper=not upper,
                                           unitriangular=unitriangular))
    if B.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"linalg.solve_triangular: A {tuple(A.shape)} and B {tuple(B.shape)} do not match: "
                           f"B needs {A.shape[-1]} rows")
    return TriangularSolve(upper, unitriangular)(A, B)


# -- decompositions -----------------------------------------------------------------------------------
class Cholesky(Function):
    def __init__(self, upper):
        self.upper = upper

    def forward(self, A):
        xp = xp_of(A)
        symmetric = xp.tril(A) + _mT(xp.tril(A, -1))  # the matrix A's lower triangle stands for
        L = xp.linalg.cholesky(symmetric)
        self.save_for_backward(L)
        return _mT(L) if self.upper else L

    def backward(self, gL):
        (L,) = self.saved
        xp = xp_of(L)
        gL = _mT(gL) if self.upper else gL
        P = xp.tril(_mT(L) @ gL)
        P[..., range(L.shape[-1]), range(L.shape[-1])] *= 0.5  # Φ: the diagonal halved
        L_inv = xp.linalg.inv(L)
        S = _mT(L_inv) @ P @ L_inv
        return 0.5 * (S + _mT(S))


def cholesky(A, *, upper=False):
    """L, lower triangular with a positive diagonal, such that A = L Lᵀ, for symmetric positive-definite
    A (…, n, n), from A's lower triangle (``upper=True``: U = Lᵀ, A = Uᵀ U). A matrix that is not
    positive definite raises.

    >>> em.linalg.cholesky(em.tensor([[4.0, 2.0], [2.0, 2.0]]))
    tensor([[2., 0.],
            [1., 1.]])
    """
    return Cholesky(upper)(_square("cholesky", A))


class SymmetricEigen(Function):
    def __init__(self, lower):
        self.lower = lower

    def forward(self, A):
        w, V = xp_of(A).linalg.eigh(A, UPLO="L" if self.lower else "U")
        self.save_for_backward(w, V)
        return w, V

    def backward(self, gw, gV):
        w, V = self.saved
        xp = xp_of(V)
        inner = xp.zeros(V.shape, V.dtype)
        if gV is not None:
            gap = w[..., None, :] - w[..., :, None]  # w_j − w_i
            n = w.shape[-1]
            gap[..., range(n), range(n)] = xp.inf  # F_ii = 0
            inner = (_mT(V) @ gV) / gap
        if gw is not None:
            inner = inner + gw[..., :, None] * xp.eye(w.shape[-1], dtype=V.dtype)
        return V @ inner @ _mT(V)


def eigh(A, UPLO="L"):
    """The eigenvalues w (ascending) and orthonormal eigenvectors V (columns) of symmetric A,
    A = V diag(w) Vᵀ, from its lower (``UPLO='L'``) or upper triangle. The gradient through V needs
    distinct eigenvalues (it divides by their gaps).

    >>> w, V = em.linalg.eigh(em.tensor([[2.0, 1.0], [1.0, 2.0]]))
    >>> w
    tensor([1., 3.])
    """
    if UPLO not in ("L", "U"):
        raise ValueError(f"linalg.eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    return SymmetricEigen(UPLO == "L")(_square("eigh", A))


def eigvalsh(A, UPLO="L"):
    """The eigenvalues of symmetric A, ascending (``eigh`` without the vectors); ∂: Ā = V diag(w̄) Vᵀ."""
    return eigh(A, UPLO)[0]


class SingularValues(Function):
    def forward(self, A):
        U, S, Vh = xp_of(A).linalg.svd(A, full_matrices=False)
        self.save_for_backward(U, Vh)
        return S

    def backward(self, gS):
        U, Vh = self.saved
        return (U * gS[..., None, :]) @ Vh


def svdvals(A):
    """The singular values of each matrix of A (…, m, n), descending; ∂: Ā = U diag(σ̄) Vᵀ.

    >>> em.linalg.svdvals(em.tensor([[3.0, 0.0], [0.0, -4.0]]))
    tensor([4., 3.])
    """
    A = floating(A)
    if A.ndim < 2:
        raise RuntimeError(f"linalg.svdvals: A must have at least 2 dims, got shape {A.shape}")
    return SingularValues()(A)


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False):
    """The number of singular values above max(atol, rtol · σ_max) (no gradient); the default rtol is
    ε · max(m, n), as PyTorch's."""
    A = floating(A)
    xp = xp_of(A.array)
    S = xp.linalg.svd(A.array, compute_uv=False)
    eps = xp.finfo(A.dtype).eps
    rtol = (eps * max(A.shape[-2:]) if atol is None or atol == 0 else 0.0) if rtol is None else rtol
    tolerance = xp.maximum(atol or 0.0, rtol * S.max(axis=-1, initial=0.0))
    return Tensor((S > tolerance[..., None]).sum(axis=-1))


def matrix_power(A, n: int):
    """A multiplied by itself n times (n = 0: the identity; n < 0: the inverse's power), by squaring."""
    A = _square("matrix_power", A)
    if not isinstance(n, int):
        raise TypeError(f"linalg.matrix_power: n must be an integer, got {type(n).__name__}")
    if n < 0:
        A, n = inv(A), -n
    result, base = None, A
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    if result is None:
        xp = xp_of(A.array)
        return Tensor(xp.broadcast_to(xp.eye(A.shape[-1], dtype=A.dtype), A.shape).copy())
    return result


def linalg_cross(input, other, *, dim=-1):
    """The cross product a × b of 3-vectors along ``dim`` (broadcasting), composed from index
    rotations: (a₂b₃ − a₃b₂, a₃b₁ − a₁b₃, a₁b₂ − a₂b₁). ``ember.linalg.cross``.

    >>> em.linalg.cross(em.tensor([1.0, 0.0, 0.0]), em.tensor([0.0, 1.0, 0.0]))
    tensor([0., 0., 1.])
    """
    a = as_tensor(input)
    b = as_tensor(other, like=a)
    if a.shape[dim] != 3 or b.shape[dim] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3, got {a.shape} and {b.shape}")
    ahead, behind = Tensor(a.xp.array([1, 2, 0])), Tensor(a.xp.array([2, 0, 1]))
    rotated = [t.index_select(dim, order) for t in (a, b) for order in (ahead, behind)]  # a⁺, a⁻, b⁺, b⁻
    return rotated[0] * rotated[3] - rotated[1] * rotated[2]


def cross(input, other, dim=None):
    """``em.cross``: ``linalg.cross`` along ``dim``, by default (PyTorch's older rule) the first dim of
    length 3."""
    if dim is None:
        shape = as_tensor(input).shape
        dim = next((d for d, n in enumerate(shape) if n == 3), -1)
    return linalg_cross(input, other, dim=dim)


inverse = inv
