"""``ember.linalg``: PyTorch's ``torch.linalg`` — norms, inverse, determinant, solve and the
decompositions (the functions live in ``ember.ops.matrix`` and ``ember.ops.products``).

>>> A = em.tensor([[4.0, 1.0], [1.0, 3.0]])
>>> em.linalg.solve(A, em.tensor([1.0, 2.0]))
tensor([0.09090909, 0.6363636 ])
"""
from __future__ import annotations

import math

from ember.autograd.tensor import as_tensor
from ember.ops.matrix import (
    cholesky,
    det,
    eigh,
    eigvalsh,
    inv,
    linalg_cross,
    matrix_power,
    matrix_rank,
    slogdet,
    solve,
    solve_triangular,
    svdvals,
)
from ember.ops.products import norm as _norm
from ember.ops.reduction import amax, amin, sum
from ember.ops.shape import unsqueeze

cross = linalg_cross

__all__ = ["cholesky", "cross", "det", "eigh", "eigvalsh", "inv", "matrix_norm", "matrix_power", "matrix_rank",
           "norm", "slogdet", "solve", "solve_triangular", "svdvals", "vector_norm"]


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):  # noqa: A002 - PyTorch's name
    """‖x‖_ord over ``dim`` (every element when None): (Σ|xᵢ|^ord)^(1/ord); ord = ∞ / −∞ the largest /
    smallest |xᵢ|, ord = 0 the count of non-zeros.

    >>> em.linalg.vector_norm(em.tensor([3.0, -4.0]), ord=1)
    tensor(7.)
    """
    return _norm(x, ord, dim, keepdim, dtype=dtype)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):  # noqa: A002 - PyTorch's name
    """A matrix norm over the two dims ``dim``: 'fro' (√Σa²), 'nuc' (Σσ), 1 / −1 (largest / smallest
    column sum of |a|), ∞ / −∞ (the same over rows), 2 / −2 (largest / smallest singular value).

    >>> em.linalg.matrix_norm(em.tensor([[1.0, -2.0], [3.0, 4.0]]), ord=1)
    tensor(6.)
    """
    A = as_tensor(A) if dtype is None else as_tensor(A).to(dtype)
    if len(dim) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple, got {dim}")
    rows, cols = (d % A.ndim for d in dim)
    if ord in ("fro", "nuc"):
        return _norm(A, ord, (rows, cols), keepdim)
    if ord in (1, -1, math.inf, -math.inf):
        summed, over = (rows, cols) if ord in (1, -1) else (cols, rows)  # column sums for 1, row sums for ∞
        pick = amax if ord > 0 else amin
        sums = sum(A.abs(), summed, keepdim=True)
        result = pick(sums, over, keepdim=True)
    elif ord in (2, -2):
        moved = A.movedim((rows, cols), (-2, -1))
        sigma = svdvals(moved)
        result = (amax if ord > 0 else amin)(sigma, -1)
        for d in sorted((rows, cols)):
            result = unsqueeze(result, d)
    else:
        raise RuntimeError(f"linalg.matrix_norm: order {ord!r} not supported")
    return result if keepdim else result.squeeze(max(rows, cols)).squeeze(min(rows, cols))


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):  # noqa: A002 - PyTorch's name
    """``vector_norm`` or ``matrix_norm`` by the shape of the question, as ``torch.linalg.norm``: with
    ``dim`` an int (or 1-tuple) a vector norm, a 2-tuple a matrix norm; with ``dim=None``, the 2-norm of
    all elements when ``ord`` is None, else a vector norm of a 1-D A or a matrix norm of a 2-D A.

    >>> em.linalg.norm(em.tensor([[3.0, 4.0]]))
    tensor(5.)
    """
    A = as_tensor(A)
    if isinstance(dim, int):
        dim = (dim,)
    if dim is None:
        if ord is None:
            return vector_norm(A, 2, None, keepdim, dtype=dtype)
        if A.ndim not in (1, 2):
            raise RuntimeError(f"linalg.norm: input must be 1-D or 2-D when dim is None and ord is not None, "
                               f"but got {A.ndim}-D")
        dim = tuple(range(A.ndim))
    if len(dim) == 1:
        return vector_norm(A, 2 if ord is None else ord, dim[0], keepdim, dtype=dtype)
    return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)
