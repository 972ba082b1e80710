"""Products and norms: PyTorch's shape-checked matrix products (mm, bmm, mv, dot, outer), the
fused-looking affine forms (addmm, baddbmm), einsum, norm and cdist.

The products compose ``matmul`` (whose backward is dX = dZ Yᵀ, dY = Xᵀ dZ) after checking the
shapes PyTorch insists on; einsum and the norms are ``Function``s of their own.
"""
from __future__ import annotations

import math
import string

from ember.autograd.function import Function
from ember.autograd.tensor import Tensor, as_tensor
from ember.backend import get_array_module as xp_of
from ember.ops.arithmetic import mul
from ember.ops.broadcast import (
    broadcast_to,
    drop_reduced_axes,
    keep_reduced_axes,
    kept_shape,
    normalize_axis,
    reduce_to,
    sum_to,
)
from ember.ops.elementwise import abs, cast, clip, where
from ember.ops.linalg import matmul
from ember.ops.metric_loss import _sqrt0
from ember.ops.pointwise import write_out
from ember.ops.shape import reshape, unsqueeze


# -- matrix products with PyTorch's shape rules ------------------------------------------------------------
def _require_ndim(name, what, t, ndim):
    if t.ndim != ndim:
        kind = {1: "a 1D tensor", 2: "a matrix", 3: "a 3D tensor"}[ndim]
        raise RuntimeError(f"{name}: {what} must be {kind}, got a tensor of shape {tuple(t.shape)}")


def mm(input, mat2, *, out=None):
    """The product of two matrices: (n, m) @ (m, p) → (n, p), no broadcasting.

    >>> em.mm(em.ones(2, 3), em.ones(3, 4)).shape
    (2, 4)
    """
    _require_ndim("mm", "self", input, 2)
    _require_ndim("mm", "mat2", mat2, 2)
    return write_out(matmul(input, mat2), out)


def bmm(input, mat2, *, out=None):
    """Batched matrix product: (b, n, m) @ (b, m, p) → (b, n, p), no broadcasting.

    >>> em.bmm(em.ones(5, 2, 3), em.ones(5, 3, 4)).shape
    (5, 2, 4)
    """
    _require_ndim("bmm", "batch1", input, 3)
    _require_ndim("bmm", "batch2", mat2, 3)
    if input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"bmm: batch sizes differ: {tuple(input.shape)} and {tuple(mat2.shape)}")
    return write_out(matmul(input, mat2), out)


def mv(input, vec, *, out=None):
    """Matrix times vector: (n, m) @ (m,) → (n,).

    >>> em.mv(em.ones(2, 3), em.ones(3))
    tensor([3., 3.])
    """
    _require_ndim("mv", "input", input, 2)
    _require_ndim("mv", "vec", vec, 1)
    return write_out(matmul(input, vec), out)


def dot(input, other, *, out=None):
    """The inner product Σᵢ xᵢ yᵢ of two 1D tensors of one length (a 0-d tensor).

    >>> em.dot(em.tensor([1.0, 2.0]), em.tensor([3.0, 4.0]))
    tensor(11.)
    """
    _require_ndim("dot", "input", input, 1)
    _require_ndim("dot", "other", other, 1)
    return write_out(matmul(input, other), out)


def outer(input, vec2, *, out=None):
    """The outer product x yᵀ of two 1D tensors: (n,), (m,) → (n, m).

    >>> em.outer(em.tensor([1.0, 2.0]), em.tensor([1.0, 10.0]))
    tensor([[ 1., 10.],
           [ 2., 20.]])
    """
    _require_ndim("outer", "input", input, 1)
    _require_ndim("outer", "vec2", vec2, 1)
    return write_out(mul(reshape(input, (-1, 1)), vec2), out)


ger = outer


def _scaled_sum(input, product, beta, alpha):
    """β·input + α·product, as PyTorch's addmm family: with β = 0 ``input`` is ignored (its NaNs too)."""
    if alpha != 1:
        product = product * alpha
    if beta == 0:
        return product
    return product + (input if beta == 1 else input * beta)


def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    """β·input + α·(mat1 @ mat2), ``input`` broadcasting to (n, p).

    >>> em.addmm(em.zeros(3), em.ones(2, 4), em.ones(4, 3), alpha=0.5)
    tensor([[2., 2., 2.],
           [2., 2., 2.]])
    """
    return write_out(_scaled_sum(input, mm(mat1, mat2), beta, alpha), out)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    """β·input + α·(batch1 @ batch2) for batches of matrices, ``input`` broadcasting to (b, n, p).

    >>> em.baddbmm(em.ones(2, 3, 3), em.ones(2, 3, 4), em.ones(2, 4, 3), beta=2).shape
    (2, 3, 3)
    """
    return write_out(_scaled_sum(input, bmm(batch1, batch2), beta, alpha), out)


# -- einsum --------------------------------------------------------------------------------------------------
class Einsum(Function):
    """Einstein summation over explicit subscripts (``_parse_einsum`` has expanded ``...``).

    The gradient of operand i is an einsum too: the output gradient contracted with every other
    operand onto operand i's subscripts. Letters that only operand i has were summed away in the
    forward pass, so their gradient is broadcast back; a repeated letter (a diagonal, ``ii``)
    receives its gradient on that diagonal only.
    """

    def __init__(self, terms, output):
        self.terms, self.output = terms, output

    def forward(self, *operands):
        self.save_for_backward(*operands)
        return xp_of(operands[0]).einsum(",".join(self.terms) + "->" + self.output, *operands, optimize=True)

    def backward(self, gz):
        needs = self.needs_input_grad
        return tuple(self._grad(gz, i) if needs[i] else None for i in range(len(self.terms)))

    def vjp(self, gz):
        needs = self.needs_input_grad
        return tuple(self._grad_tensor(gz, i) if needs[i] else None for i in range(len(self.terms)))

    def _contraction(self, i):
        """The other operands, operand i's distinct letters (in order), and those the contraction can reach."""
        others = [j for j in range(len(self.terms)) if j != i]
        letters = "".join(dict.fromkeys(self.terms[i]))
        reachable = set(self.output).union(*(self.terms[j] for j in others))
        return others, letters, "".join(c for c in letters if c in reachable)

    def _grad(self, gz, i):
        xp, x, term = xp_of(gz), self.saved[i], self.terms[i]
        others, letters, kept = self._contraction(i)
        spec = ",".join([self.output] + [self.terms[j] for j in others]) + "->" + kept
        g = xp.einsum(spec, gz, *(self.saved[j] for j in others), optimize=True)
        sizes = tuple(x.shape[term.index(c)] for c in letters)
        g = g.reshape([g.shape[kept.index(c)] if c in kept else 1 for c in letters])
        g = xp.broadcast_to(sum_to(g, tuple(min(n, m) for n, m in zip(g.shape, sizes, strict=True))), sizes)
        if letters == term:
            return g
        gx = xp.zeros_like(x)  # a repeated letter: write onto the diagonal, a strided view of gx
        strides = [sum(gx.strides[k] for k, c2 in enumerate(term) if c2 == c) for c in letters]
        xp.lib.stride_tricks.as_strided(gx, sizes, strides)[...] = g
        return gx

    def _grad_tensor(self, gz, i):
        """``_grad`` in ember ops (the contraction an ``Einsum`` itself), so that it differentiates again."""
        x, term = self.inputs[i], self.terms[i]
        others, letters, kept = self._contraction(i)
        g = Einsum([self.output] + [self.terms[j] for j in others], kept)(gz, *(self.inputs[j] for j in others))
        sizes = tuple(x.shape[term.index(c)] for c in letters)
        g = g.reshape([g.shape[kept.index(c)] if c in kept else 1 for c in letters])
        g = broadcast_to(reduce_to(g, tuple(min(n, m) for n, m in zip(g.shape, sizes, strict=True))), sizes)
        return g if letters == term else _onto_diagonal(g, term, letters)


def _onto_diagonal(g, term, letters):
    """g, one axis per distinct letter, on the diagonal of an operand whose subscripts repeat a letter: each
    repeat gets a fresh letter and an identity matrix, gx[.., i, .., i', ..] = g[.., i, ..]·δ(i, i')."""
    spare = iter(c for c in string.ascii_letters if c not in term)
    subscripts, eyes = "", []
    for k, c in enumerate(term):
        fresh = c if c not in term[:k] else next(spare)
        subscripts += fresh
        if fresh != c:
            eyes.append(c + fresh)
    identities = [Tensor(g.xp.eye(g.shape[letters.index(e[0])], dtype=g.dtype)) for e in eyes]
    return Einsum([letters, *eyes], subscripts)(g, *identities)


def _parse_einsum(equation, shapes):
    """The subscripts of each operand and of the output, with ``...`` replaced by spare letters
    (right-aligned, as broadcasting is) and the implicit output (no ``->``) made explicit."""
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: the equation has {len(terms)} operands but {len(shapes)} were given")
    spare = [c for c in string.ascii_letters if c not in equation]
    widths = [len(shape) - (len(t) - 3) for t, shape in zip(terms, shapes, strict=True) if "..." in t]
    ellipsis = "".join(spare[: max(widths, default=0)])
    expanded = [t.replace("...", ellipsis[len(ellipsis) - len(shape) + len(t) - 3:]) for t, shape in
                zip(terms, shapes, strict=True)]
    if arrow:
        return expanded, rhs.replace("...", ellipsis)
    counts = "".join(terms).replace("...", "")
    return expanded, ellipsis + "".join(sorted(c for c in set(counts) if counts.count(c) == 1))


def einsum(equation, *operands):
    """Einstein summation, NumPy's and PyTorch's notation: ``einsum('bij,bjk->bik', x, y)``.

    Implicit output (no ``->``), ``...`` for broadcast leading axes and repeated letters
    (diagonals, traces) work as in PyTorch; the operands may also come as one list.

    >>> em.einsum("ij,j->i", em.ones(2, 3), em.tensor([1.0, 2.0, 3.0]))
    tensor([6., 6.])
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    operands = [as_tensor(t) for t in operands]
    terms, output = _parse_einsum(equation, [t.shape for t in operands])
    for t, term in zip(operands, terms, strict=True):
        if len(term) != t.ndim:
            raise RuntimeError(f"einsum: subscripts '{term}' do not fit an operand of shape {tuple(t.shape)}")
    return Einsum(terms, output)(*operands)


# -- norms ---------------------------------------------------------------------------------------------------
class VectorNorm(Function):
    """‖x‖_p over ``axis``: (Σ|xᵢ|^p)^(1/p); max|xᵢ| for p = ∞, min|xᵢ| for p = −∞, the number of
    non-zeros for p = 0.

    ∂/∂xᵢ = sign(xᵢ)·(|xᵢ|/‖x‖)^(p−1), taken as 0 where ‖x‖ = 0 (PyTorch's subgradient at zero);
    for p = ±∞ the elements at the extreme share the gradient equally; for p = 0 it is 0.
    """

    def __init__(self, p, axis, keepdims):
        self.p, self.axis, self.keepdims = p, axis, keepdims

    def forward(self, x):
        xp, p, axis = xp_of(x), self.p, self.axis
        a = xp.abs(x)
        if p == 2:
            n = xp.sqrt((x * x).sum(axis=axis, keepdims=True))
        elif p == 1:
            n = a.sum(axis=axis, keepdims=True)
        elif p == 0:
            n = (x != 0).sum(axis=axis, keepdims=True).astype(x.dtype)
        elif math.isinf(p):
            n = a.max(axis=axis, keepdims=True) if p > 0 else a.min(axis=axis, keepdims=True)
        else:
            n = (a**p).sum(axis=axis, keepdims=True) ** (1 / p)
        self.save_for_backward(x, n)
        return n if self.keepdims else drop_reduced_axes(n, axis)

    def backward(self, gy):
        x, n = self.saved
        xp, p = xp_of(x), self.p
        gy = keep_reduced_axes(gy, self.axis, self.keepdims)
        if p == 0:
            return xp.zeros_like(x)
        if math.isinf(p):
            hit = xp.abs(x) == n
            return gy * xp.sign(x) * hit / hit.sum(axis=self.axis, keepdims=True)
        scale = xp.where(n == 0, 0, gy / xp.where(n == 0, 1, n))  # 0 at a zero norm
        if p == 2:
            return x * scale
        ratio = xp.where(x == 0, 1, xp.abs(x) / xp.where(n == 0, 1, n))  # sign(0) = 0 zeroes these anyway
        return xp.sign(x) * ratio ** (p - 1) * xp.where(n == 0, 0, gy)

    def vjp(self, gy):
        (x,), p = self.inputs, self.p
        if p == 0:
            return Tensor(x.xp.zeros(x.shape, dtype=x.dtype))
        kept = kept_shape(x.shape, normalize_axis(self.axis, x.ndim))
        if p == 1 or math.isinf(p):  # piecewise linear: gy times a constant, sign(x) or the shared extreme
            share = self.backward(x.xp.ones(gy.shape, dtype=x.dtype))
            return mul(broadcast_to(gy.reshape(kept), x.shape), Tensor(share))
        gy, n = gy.reshape(kept), self.output().reshape(kept)
        # as backward, 0 at a zero norm and its derivatives too (PyTorch's formula divides 0 by 0 there)
        zero = n.array == 0
        n_safe = where(zero, 1.0, n)
        if p == 2:
            return x * where(zero, 0.0, gy / n_safe)
        ratio = where(x.array == 0, 1.0, abs(x) / n_safe)
        return Tensor(x.xp.sign(x.array)) * ratio ** (p - 1) * where(zero, 0.0, gy)


class NuclearNorm(Function):
    """The sum of the singular values over the last two axes; ∂/∂X = U Vᵀ (from X = U S Vᵀ)."""

    def forward(self, x):
        U, S, Vh = xp_of(x).linalg.svd(x, full_matrices=False)
        self.save_for_backward(U, Vh)
        return S.sum(axis=-1)

    def backward(self, gy):
        U, Vh = self.saved
        return gy[..., None, None] * (U @ Vh)

    def vjp(self, gy):
        return mul(gy.reshape(*gy.shape, 1, 1), PolarFactor()(self.inputs[0]))


class PolarFactor(Function):
    """Q = U Vᵀ from the thin SVD X = U S Vᵀ over the last two axes: the nuclear norm's gradient.

    For X of full rank, with M = Uᵀ G V and F_ij = 1/(s_i + s_j), the gradient is

        dX = U (F ⊙ (M − Mᵀ)) Vᵀ + (I − U Uᵀ) G V S⁻¹ Vᵀ + U S⁻¹ Uᵀ G (I − V Vᵀ)

    (one of the projections is 0 unless X is square). It is not differentiated again: ember has
    no differentiable SVD, so a third derivative of the nuclear norm raises.
    """

    def forward(self, x):
        U, S, Vh = xp_of(x).linalg.svd(x, full_matrices=False)
        self.save_for_backward(U, S, Vh)
        return U @ Vh

    def backward(self, g):
        U, S, Vh = self.saved
        V, Uh = Vh.swapaxes(-1, -2), U.swapaxes(-1, -2)
        M = Uh @ g @ V
        rotation = U @ (1 / (S[..., :, None] + S[..., None, :]) * (M - M.swapaxes(-1, -2))) @ Vh
        GVS = g @ V / S[..., None, :]  # G V S⁻¹
        SUG = Uh @ g / S[..., :, None]  # S⁻¹ Uᵀ G
        return rotation + (GVS - U @ (Uh @ GVS)) @ Vh + U @ (SUG - (SUG @ V) @ Vh)


def _nuclear_norm(x, dims, keepdim):
    """‖X‖_* over the two axes ``dims`` (moved last for the SVD, then back)."""
    if dims is None:
        dims = tuple(range(x.ndim))
    if len(dims) != 2:
        raise RuntimeError(f"norm: the nuclear norm needs exactly 2 dims, got {dims}")
    dims = normalize_axis(tuple(dims), x.ndim)
    rest = [d for d in range(x.ndim) if d not in dims]
    n = NuclearNorm()(x.permute(*rest, *dims))
    if keepdim:
        for d in sorted(dims):
            n = unsqueeze(n, d)
    return n


def norm(input, p="fro", dim=None, keepdim=False, out=None, dtype=None):
    """PyTorch's ``norm``: a vector p-norm over ``dim`` (all elements when None), or a matrix norm.

    ``p`` is a number (2, 1, ∞, −∞, 0 or any other positive power: ‖x‖_p = (Σ|xᵢ|^p)^(1/p)),
    ``'fro'`` (the 2-norm of the elements, over at most two dims) or ``'nuc'`` (the sum of the
    singular values over two dims). ``dtype`` casts the input first. The gradient at a zero norm
    is 0 (PyTorch's subgradient).

    >>> em.norm(em.tensor([[3.0, 4.0]]), dim=1)
    tensor([5.])
    """
    x = as_tensor(input) if dtype is None else cast(input, dtype)
    if x.dtype.kind not in "fc":
        raise RuntimeError(f"norm: expected a floating-point tensor, got dtype {x.dtype}")
    dims = normalize_axis(dim, x.ndim)
    if p == "nuc":
        return write_out(_nuclear_norm(x, dims, keepdim), out)
    if p == "fro":
        if isinstance(dims, tuple) and len(dims) > 2:
            raise RuntimeError(f"norm: 'fro' is a vector or matrix norm (at most 2 dims), got dim={dim}")
        p = 2
    elif isinstance(p, str):
        raise ValueError(f"norm: p must be a number, 'fro' or 'nuc', got {p!r}")
    if isinstance(dims, tuple) and len(dims) == 0:
        dims = None
    return write_out(VectorNorm(p, dims, keepdim)(x), out)


# -- distances -------------------------------------------------------------------------------------------------
def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """The p-norm distance between every row of x1 and every row of x2: D_ij = ‖x1_i − x2_j‖_p.

    Shapes: x1 (*, P, M), x2 (*, R, M) with broadcasting batch dims → (*, P, R). For p = 2 with
    more than 25 rows (or ``compute_mode='use_mm_for_euclid_dist'``) the distances come from one
    matrix product, ‖a‖² + ‖b‖² − 2a·b, clamped at 0 (as PyTorch); otherwise, and for other p,
    from the differences. The gradient at a zero distance is 0.

    >>> em.cdist(em.tensor([[0.0, 0.0]]), em.tensor([[3.0, 4.0], [0.0, 1.0]]))
    tensor([[5., 1.]])
    """
    x1, x2 = as_tensor(x1), as_tensor(x2)
    if x1.ndim < 2 or x2.ndim < 2 or x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"cdist: expected (*, P, M) and (*, R, M) tensors, got {tuple(x1.shape)} and "
                           f"{tuple(x2.shape)}")
    if not p >= 0:
        raise RuntimeError(f"cdist: p must be non-negative, got {p}")
    modes = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist")
    if compute_mode not in modes:
        raise ValueError(f"cdist: compute_mode must be one of {modes}, got {compute_mode!r}")
    large = x1.shape[-2] > 25 or x2.shape[-2] > 25
    if p == 2 and (compute_mode == modes[1] or (compute_mode == modes[0] and large)):
        return _euclidean_by_matmul(x1, x2)
    return VectorNorm(p, -1, False)(unsqueeze(x1, -2) - unsqueeze(x2, -3))


def _euclidean_by_matmul(x1, x2):
    """√(‖a‖² + ‖b‖² − 2a·b) with round-off below 0 clamped (one GEMM, no (P, R, M) difference tensor)."""
    squares = unsqueeze((x1 * x1).sum(-1), -1) + unsqueeze((x2 * x2).sum(-1), -2)
    return _sqrt0(clip(squares - 2 * matmul(x1, x2.transpose(-1, -2)), min=0.0))


def bilinear(input1, input2, weight, bias=None):
    """y_k = x1ᵀ W_k x2 + b_k for every output k (PyTorch's ``F.bilinear``).

    Shapes: input1 (*, in1), input2 (*, in2), weight (out, in1, in2), bias (out,) → (*, out).
    Composed as one matrix product, (x1 · W reshaped to (in1, out·in2)), then a product with x2
    summed over in2, so the gradients come from matmul, mul and sum.

    >>> F.bilinear(em.randn(8, 5), em.randn(8, 4), em.randn(3, 5, 4)).shape
    (8, 3)
    """
    out, in1, in2 = weight.shape
    if input1.shape[-1] != in1 or input2.shape[-1] != in2 or input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear: expected input1 (*, {in1}) and input2 (*, {in2}) with the same leading "
                           f"dimensions, got {input1.shape} and {input2.shape}")
    lead = input1.shape[:-1]
    x1, x2 = input1.reshape(-1, in1), input2.reshape(-1, 1, in2)
    y = ((x1 @ weight.permute(1, 0, 2).reshape(in1, out * in2)).reshape(-1, out, in2) * x2).sum(axis=2)
    if bias is not None:
        y = y + bias
    return y.reshape(*lead, out)


def tensordot(a, b, dims=2):
    """Σ over paired dims of a and b: the last ``dims`` of a with the first ``dims`` of b, or the dims
    listed in ``dims = (dims_a, dims_b)``; the free dims of a then of b remain. Composed as one matmul
    of the two operands reshaped to matrices.

    >>> em.tensordot(em.ones(2, 3), em.ones(3, 4), dims=1).shape
    (2, 4)
    """
    a, b = as_tensor(a), as_tensor(b)
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        dims_a, dims_b = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        dims_a, dims_b = ([d] if isinstance(d, int) else list(d) for d in dims)
    dims_a, dims_b = [d % a.ndim for d in dims_a], [d % b.ndim for d in dims_b]
    if len(dims_a) != len(dims_b) or any(a.shape[i] != b.shape[j] for i, j in zip(dims_a, dims_b, strict=True)):
        raise RuntimeError(f"tensordot: contracted dims {dims_a} of {a.shape} and {dims_b} of {b.shape} do not match")
    free_a = [d for d in range(a.ndim) if d not in dims_a]
    free_b = [d for d in range(b.ndim) if d not in dims_b]
    inner = math.prod(a.shape[d] for d in dims_a)
    left = reshape(a.permute(*free_a, *dims_a), (-1, inner))
    right = reshape(b.permute(*dims_b, *free_b), (inner, -1))
    return reshape(matmul(left, right), tuple(a.shape[d] for d in free_a) + tuple(b.shape[d] for d in free_b))


def dist(input, other, p=2):
    """‖x − y‖_p over all elements (broadcasting), as PyTorch's ``dist``."""
    x = as_tensor(input)
    return norm(x - as_tensor(other, like=x), p)
