"""Indexing ops: gather/scatter along a dim, index_* along a dim, masked_*, index_put and nonzero.

``gather`` reads ``out[i][j] = x[index[i][j]][j]`` (dim 0); ``scatter_add`` is its adjoint, writing
``out[index[i][j]][j] += src[i][j]``, so each is the other's backward. Both work on flat
positions: the element of ``index`` at (i, j, ...) addresses ``x``'s element whose coordinate
along ``dim`` is the index value and whose other coordinates are (i, j, ...). Repeated positions
add up through ``ufunc.at`` (NumPy ≥ 2 has a fast path for it: 1M float32 adds in ~3 ms, as fast
as a ``bincount`` with weights and without its float64 round trip).
"""
from __future__ import annotations

import math

import numpy as np

from ember.autograd.function import Function
from ember.autograd.tensor import Tensor, _unwrap_index, as_tensor
from ember.backend import get_array_module as xp_of
from ember.ops.broadcast import broadcast_to, normalize_axis, reduce_to, sum_to
from ember.ops.elementwise import where as _where3
from ember.ops.segments import ufunc_at
from ember.ops.shape import ConstantPad, GetItem, getitem, reshape


# -- helpers ------------------------------------------------------------------------------
def _index_array(index, name):
    """The integer backend array of ``index`` (a tensor, array or list)."""
    a = index.array if isinstance(index, Tensor) else np.asarray(index)
    if a.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): expected an integer index tensor, got dtype {a.dtype}")
    return a.astype(np.int64, copy=False)


def _check_along(name, x_shape, dim, index, src_shape=None):
    """PyTorch's rules for gather/scatter: one rank, index no larger than x off ``dim`` (and than src)."""
    if x_shape and index.ndim != len(x_shape):
        raise RuntimeError(f"{name}(): index has {index.ndim} dims but the tensor has {len(x_shape)}")
    for d, n in enumerate(index.shape):
        if (d != dim and n > x_shape[d]) or (src_shape is not None and n > src_shape[d]):
            raise RuntimeError(f"{name}(): index of shape {index.shape} is larger than the tensor of "
                               f"shape {x_shape} (or the source of shape {src_shape}) off dimension {dim}")
    size = x_shape[dim] if x_shape else 1
    lo, hi = (int(index.min()), int(index.max())) if index.size else (0, 0)  # one pass each over a long index
    if lo < 0 or hi >= size:
        raise IndexError(f"{name}(): index {lo if lo < 0 else hi} is out of bounds for dimension {dim} with size "
                         f"{size}")


def flat_positions(shape, dim, index):
    """Positions in the flattened array of ``shape`` that ``index`` addresses along ``dim``."""
    xp = xp_of(index)
    strides = [math.prod(shape[d + 1:]) for d in range(len(shape))]
    pos = index if not shape or strides[dim] == 1 else index * strides[dim]
    for d, n in enumerate(index.shape):
        if d != dim and n > 1:
            pos = pos + (xp.arange(n) * strides[d]).reshape([n if e == d else 1 for e in range(index.ndim)])
    return pos


def _leading(a, shape):
    """The leading block of ``a`` with ``shape`` (src and x may be larger than index off ``dim``)."""
    return a if a.shape == tuple(shape) else a[tuple(slice(0, n) for n in shape)]


def _grown_to(g, shape):
    """The tensor ``g`` zero-padded at the end of each dim to ``shape``: the gradient of src taken
    from the leading block that index addresses (a larger src's other elements get none)."""
    if tuple(g.shape) == tuple(shape):
        return g
    return ConstantPad([(0, n - m) for m, n in zip(g.shape, shape, strict=True)], 0.0)(g)


def _unwritten(shape, index, like):
    """A 0/1 tensor of ``like``'s dtype: 0 at the elements ``index`` overwrites (their old value
    gets no gradient), 1 elsewhere."""
    kept = xp_of(like.array).ones(shape, like.dtype)
    kept[index] = 0
    return Tensor(kept)


def scatter_add_into(out, dim, index, src):
    """out[..., index, ...] += src along ``dim`` in place; ``out`` must be a fresh contiguous array."""
    positions = flat_positions(out.shape, dim, index)
    xp_of(out).add.at(out.reshape(-1), positions, _leading(src, index.shape).astype(out.dtype, copy=False))
    return out


# -- gather / scatter ---------------------------------------------------------------------
class Gather(Function):
    def __init__(self, dim, index):
        self.dim, self.index = dim, index

    def forward(self, x):
        self.x_shape = x.shape
        block = tuple(slice(None) if d == self.dim else slice(0, n) for d, n in enumerate(self.index.shape))
        return xp_of(x).take_along_axis(x[block], self.index, axis=self.dim)

    def backward(self, gy):
        return scatter_add_into(xp_of(gy).zeros(self.x_shape, gy.dtype), self.dim, self.index, gy)

    def vjp(self, gy):  # gather and scatter_add are each other's adjoint
        return ScatterAdd(self.dim, self.index)(Tensor(xp_of(gy.array).zeros(self.x_shape, gy.dtype)), gy)


def gather(input, dim, index, *, sparse_grad=False):  # noqa: A002 - PyTorch's names
    """``out[i][j][k] = input[index[i][j][k]][j][k]`` for dim 0 (and alike for the other dims).

    ``index`` has the rank of ``input``; the output has its shape. The backward scatter-adds.

    >>> em.gather(em.tensor([[1.0, 2.0], [3.0, 4.0]]), 1, em.tensor([[0, 0], [1, 0]]))
    tensor([[1., 1.],
           [4., 3.]])
    """
    input = as_tensor(input)
    dim, index = normalize_axis(dim, input.ndim), _index_array(index, "gather")
    _check_along("gather", input.shape, dim, index)
    if input.ndim == 0:
        return getitem(input, ()) if index.ndim == 0 else getitem(input.reshape(1), index)
    return Gather(dim, index)(input)


class Scatter(Function):
    """out = x with out[index positions] = src; ``src`` None writes the constant ``value``."""

    def __init__(self, dim, index, value=None):
        self.dim, self.index, self.value = dim, index, value

    def forward(self, x, src=None):
        out = x.copy()
        self.positions = flat_positions(x.shape, self.dim, self.index)
        out.reshape(-1)[self.positions] = self.value if src is None else _leading(src, self.index.shape)
        self.src_shape = None if src is None else src.shape
        return out

    def backward(self, gy):
        gx = gy.copy()
        gx.reshape(-1)[self.positions] = 0
        if self.src_shape is None:
            return gx
        gsrc = xp_of(gy).zeros(self.src_shape, gy.dtype)
        gsrc[tuple(slice(0, n) for n in self.index.shape)] = gy.reshape(-1)[self.positions]
        return gx, gsrc

    def vjp(self, gy):
        gx = gy * _unwritten(gy.shape, xp_of(self.positions).unravel_index(self.positions, gy.shape), gy)
        if self.src_shape is None:
            return gx
        return gx, _grown_to(Gather(self.dim, self.index)(gy), self.src_shape)


def _as_src(src, like):
    src = as_tensor(src, like=like)
    return src if src.dtype == like.dtype else src.to(like.dtype)


def scatter(input, dim, index, src=None, value=None, *, reduce=None):  # noqa: A002
    """input with ``input[index[i][j]][j] = src[i][j]`` for dim 0 (a number ``src`` or ``value`` fills).

    ``reduce='add'`` or ``'multiply'`` combines instead of overwriting (see ``scatter_reduce``).
    Where an index repeats, the last write wins (PyTorch leaves the order unspecified).

    >>> em.scatter(em.zeros(3), 0, em.tensor([2, 0]), em.tensor([5.0, 7.0]))
    tensor([7., 0., 5.])
    """
    input = as_tensor(input)
    if not isinstance(src, Tensor):
        src, value = None, src if value is None else value
    if reduce is not None:
        if reduce not in ("add", "multiply"):
            raise ValueError(f"scatter(): reduce must be 'add' or 'multiply', got {reduce!r}")
        src = src if src is not None else input.new_full(as_tensor(index).shape, value)
        return scatter_reduce(input, dim, index, src, "sum" if reduce == "add" else "prod")
    dim, index = normalize_axis(dim, input.ndim), _index_array(index, "scatter")
    _check_along("scatter", input.shape, dim, index, None if src is None else src.shape)
    if src is None:
        return Scatter(dim, index, value.item() if isinstance(value, Tensor) else value)(input)
    return Scatter(dim, index)(input, _as_src(src, input))


class ScatterAdd(Function):
    def __init__(self, dim, index):
        self.dim, self.index = dim, index

    def forward(self, x, src):
        self.src_shape = src.shape
        return scatter_add_into(x.copy(), self.dim, self.index, src)

    def backward(self, gy):
        gsrc = xp_of(gy).zeros(self.src_shape, gy.dtype)
        gsrc[tuple(slice(0, n) for n in self.index.shape)] = Gather(self.dim, self.index).forward(gy)
        return gy, gsrc

    def vjp(self, gy):
        return gy, _grown_to(Gather(self.dim, self.index)(gy), self.src_shape)


def scatter_add(input, dim, index, src):  # noqa: A002
    """input with ``input[index[i][j]][j] += src[i][j]`` for dim 0; repeated indices add up.

    >>> em.scatter_add(em.zeros(3), 0, em.tensor([2, 2, 0]), em.tensor([1.0, 2.0, 4.0]))
    tensor([4., 0., 3.])
    """
    input = as_tensor(input)
    dim, index, src = _scatter_add_args(input, dim, index, src)
    return ScatterAdd(dim, index)(input, src)


def _scatter_add_args(input, dim, index, src):  # noqa: A002
    dim, index = normalize_axis(dim, input.ndim), _index_array(index, "scatter_add")
    src = _as_src(src, input)
    _check_along("scatter_add", input.shape, dim, index, src.shape)
    return dim, index, src


def scatter_add_inplace(input, dim, index, src):  # noqa: A002
    """``input.scatter_add_(...)`` outside the graph, on input's own (contiguous) memory: no copies."""
    dim, index, src = _scatter_add_args(input, dim, index, src)
    scatter_add_into(input.array, dim, index, src.array)


# -- scatter_reduce -----------------------------------------------------------------------
_UFUNCS = {"sum": "add", "mean": "add", "prod": "multiply", "amax": "maximum", "amin": "minimum"}



def _identity(reduce, dtype):
    """The value a position starts from when ``include_self=False``."""
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    big = np.inf if dtype.kind == "f" else np.iinfo(dtype).max
    return -big if reduce == "amax" else big


def _ones_at(t, mask):
    """``t`` with the elements where the 0/1 tensor ``mask`` is 1 replaced by the constant 1."""
    return t * (1 - mask) + mask


class ScatterReduce(Function):
    """out[p] = reduce(x[p] (if include_self), every src element scattered to p); see ``scatter_reduce``."""

    def __init__(self, dim, index, reduce, include_self):
        self.dim, self.index, self.reduce, self.include_self = dim, index, reduce, include_self

    def forward(self, x, src):
        xp = xp_of(x)
        pos = self.positions = flat_positions(x.shape, self.dim, self.index)
        s = _leading(src, self.index.shape)
        out = x.copy()
        flat = out.reshape(-1)
        hit = xp.zeros(x.size, bool)
        hit[pos] = True  # positions that receive at least one src element
        self.self_in = self.include_self | ~hit.reshape(x.shape)  # where x takes part in the reduction
        if not self.include_self:
            flat[pos] = _identity(self.reduce, x.dtype)
        ufunc_at(xp, _UFUNCS[self.reduce], flat, pos, s)
        if self.reduce == "mean":
            self.count = xp.bincount(pos.reshape(-1), minlength=x.size).reshape(x.shape) + self.self_in
            out = out // self.count if x.dtype.kind in "iu" else out / self.count.astype(x.dtype)
        self.src_shape = src.shape
        self.save_for_backward(x, s, out)
        return out

    def backward(self, gy):
        x, s, out = self.saved
        gx, gs = getattr(self, "_grad_" + self.reduce)(gy, x, s, out)
        gsrc = xp_of(gy).zeros(self.src_shape, gy.dtype)
        gsrc[tuple(slice(0, n) for n in self.index.shape)] = gs
        return gx * self.self_in, gsrc

    def vjp(self, gy):
        """sum, mean, amax, amin: gy times weights that are constant (1, 1/count, the tie shares);
        they are backward's gradient for gy = 1. prod: ``_vjp_prod``."""
        if self.reduce == "prod":
            return self._vjp_prod(gy)
        x, s, out = self.saved
        w_x, w_s = getattr(self, "_grad_" + self.reduce)(xp_of(x).ones(x.shape, gy.dtype), x, s, out)
        gx = gy * Tensor((w_x * self.self_in).astype(gy.dtype))
        gs = Gather(self.dim, self.index)(gy) * Tensor(w_s.astype(gy.dtype))
        return gx, _grown_to(gs, self.src_shape)

    def _vjp_prod(self, gy):
        """∂out/∂v is the product of the others, written so it stays differentiable (PyTorch's way):
        out / v where v ≠ 0; at a zero v, the product recomputed with v replaced by 1 (for src,
        only a zero alone among the src elements at its position: with two, the gradient is 0)."""
        x, src = self.inputs
        s = src if src.shape == self.index.shape else GetItem(tuple(slice(0, n) for n in self.index.shape))(src)
        dt, src_zero = gy.dtype, s.array == 0
        x1 = _ones_at(x, Tensor((x.array == 0).astype(dt)))
        gx = gy * self._product(x1, s) / x1 * Tensor(self.self_in.astype(dt))
        zeros = xp_of(src_zero).zeros(math.prod(x.shape), np.int64)
        xp_of(src_zero).add.at(zeros, self.positions, src_zero.astype(np.int64))
        alone = Tensor((src_zero & (zeros[self.positions] == 1)).astype(dt))
        at_zero = self._take(gy * self._product(x, _ones_at(s, alone)))
        elsewhere = self._take(gy * self.output()) / _ones_at(s, Tensor(src_zero.astype(dt)))
        return gx, _grown_to(at_zero * alone + elsewhere * (1 - alone), self.src_shape)

    def _product(self, x, s):
        return ScatterReduce(self.dim, self.index, "prod", self.include_self)(x, s)

    def _take(self, g):
        return Gather(self.dim, self.index)(g)

    def _grad_sum(self, gy, x, s, out):
        return gy, gy.reshape(-1)[self.positions]

    def _grad_mean(self, gy, x, s, out):
        g = gy / self.count.astype(gy.dtype)
        return g, g.reshape(-1)[self.positions]

    def _grad_amax(self, gy, x, s, out):
        """Tied extremes share the gradient equally (PyTorch's rule)."""
        xp, pos = xp_of(gy), self.positions
        self_tie = (x == out) & self.self_in
        src_tie = s == out.reshape(-1)[pos]
        ties = self_tie.astype(gy.dtype).reshape(-1)
        xp.add.at(ties, pos, src_tie.astype(gy.dtype))
        g = gy.reshape(-1) / xp.maximum(ties, 1)
        return (g * self_tie.reshape(-1)).reshape(x.shape), g[pos] * src_tie

    _grad_amin = _grad_amax

    def _grad_prod(self, gy, x, s, out):
        """∂/∂v of a product is the product of the others: out / v, or, where v is the only zero
        at its position, the product of the non-zero others (zero where two or more are zero)."""
        xp, pos = xp_of(gy), self.positions
        take_self = self.self_in.reshape(-1)
        xf = x.reshape(-1)
        zeros = ((xf == 0) & take_self).astype(np.int64)
        xp.add.at(zeros, pos, (s == 0).astype(np.int64))
        nonzero_prod = xp.where(take_self & (xf != 0), xf, 1).astype(gy.dtype)
        ufunc_at(xp, "multiply", nonzero_prod, pos, xp.where(s == 0, 1, s).astype(gy.dtype))
        outf = out.reshape(-1)

        def grad(v, z, p, o):
            with np.errstate(divide="ignore", invalid="ignore"):
                return xp.where(z == 0, o / xp.where(v == 0, 1, v), xp.where((z == 1) & (v == 0), p, 0))

        g = gy.reshape(-1)
        gx = g * grad(xf, zeros, nonzero_prod, outf)
        return gx.reshape(x.shape), g[pos] * grad(s, zeros[pos], nonzero_prod[pos], outf[pos])


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):  # noqa: A002
    """input with every src element reduced into ``input[index[i][j]][j]`` (dim 0).

    ``reduce``: 'sum', 'prod', 'mean', 'amax' or 'amin'; ``include_self=False`` leaves input's own
    value out at positions that receive some src element. Tied amax/amin share the gradient.

    >>> em.scatter_reduce(em.zeros(2), 0, em.tensor([0, 0, 1]), em.tensor([1.0, 3.0, 2.0]), "amax")
    tensor([3., 2.])
    """
    input = as_tensor(input)
    if reduce not in _UFUNCS:
        raise ValueError(f"scatter_reduce(): reduce must be one of {sorted(_UFUNCS)}, got {reduce!r}")
    dim, index = normalize_axis(dim, input.ndim), _index_array(index, "scatter_reduce")
    src = _as_src(src, input)
    _check_along("scatter_reduce", input.shape, dim, index, src.shape)
    return ScatterReduce(dim, index, reduce, include_self)(input, src)


# -- index_* along a dim ------------------------------------------------------------------
def _along(dim, index):
    return (slice(None),) * dim + (index,)


class IndexAdd(Function):
    def __init__(self, dim, index, alpha):
        self.dim, self.index, self.alpha = dim, index, alpha

    def forward(self, x, source):
        out = x.copy()
        xp_of(x).add.at(out, _along(self.dim, self.index), source if self.alpha == 1 else self.alpha * source)
        return out

    def backward(self, gy):
        gs = gy[_along(self.dim, self.index)]
        return gy, gs if self.alpha == 1 else self.alpha * gs

    def vjp(self, gy):
        gs = GetItem(_along(self.dim, self.index))(gy)
        return gy, gs if self.alpha == 1 else gs * self.alpha


def index_add(input, dim, index, source, *, alpha=1):  # noqa: A002
    """input with alpha·source[i] added to the slice index[i] along ``dim`` (repeats add up).

    >>> em.index_add(em.zeros(3, 1), 0, em.tensor([0, 0, 2]), em.ones(3, 1)).flatten()
    tensor([2., 0., 1.])
    """
    input = as_tensor(input)
    dim, index = normalize_axis(dim, input.ndim), _index_array(index, "index_add")
    _check_index_1d("index_add", input.shape, dim, index)
    return IndexAdd(dim, index, alpha)(input, _as_src(source, input))


class IndexCopy(Function):
    def __init__(self, dim, index):
        self.dim, self.index = dim, index

    def forward(self, x, source):
        out = x.copy()
        out[_along(self.dim, self.index)] = source
        return out

    def backward(self, gy):
        gx = gy.copy()
        gx[_along(self.dim, self.index)] = 0
        return gx, gy[_along(self.dim, self.index)]

    def vjp(self, gy):
        slices = _along(self.dim, self.index)
        return gy * _unwritten(gy.shape, slices, gy), GetItem(slices)(gy)


def index_copy(input, dim, index, source):  # noqa: A002
    """input with source[i] written into the slice index[i] along ``dim``."""
    input = as_tensor(input)
    dim, index = normalize_axis(dim, input.ndim), _index_array(index, "index_copy")
    _check_index_1d("index_copy", input.shape, dim, index)
    return IndexCopy(dim, index)(input, _as_src(source, input))


def index_fill(input, dim, index, value):  # noqa: A002
    """input with the slices index[i] along ``dim`` set to the number ``value``.

    >>> em.index_fill(em.ones(3), 0, em.tensor([1]), -1.0)
    tensor([ 1., -1.,  1.])
    """
    input = as_tensor(input)
    dim, index = normalize_axis(dim, input.ndim), _index_array(index, "index_fill")
    _check_index_1d("index_fill", input.shape, dim, index)
    return index_put(input, _along(dim, index), value)


def _check_index_1d(name, shape, dim, index):
    if index.ndim > 1:
        raise RuntimeError(f"{name}(): index should have at most one dimension, got shape {index.shape}")
    size = shape[dim] if shape else 1
    if index.size and (int(index.min()) < -size or int(index.max()) >= size):
        raise IndexError(f"{name}(): index out of range for dimension {dim} with size {size}")


# -- index_put / setitem, masked_* --------------------------------------------------------
class IndexPut(Function):
    """out = x with out[index] = values (or += with ``accumulate``): ``x[index] = values`` recorded."""

    def __init__(self, index, accumulate=False):
        self.index, self.accumulate = index, accumulate

    def forward(self, x, values):
        out = x.copy()
        if self.accumulate:
            xp_of(x).add.at(out, self.index, values)
        else:
            out[self.index] = values
        self.values_shape = values.shape
        return out

    def backward(self, gy):
        gx = gy
        if not self.accumulate:
            gx = gy.copy()
            gx[self.index] = 0
        return gx, sum_to(gy[self.index], self.values_shape)

    def vjp(self, gy):
        gx = gy if self.accumulate else gy * _unwritten(gy.shape, self.index, gy)
        return gx, reduce_to(GetItem(self.index)(gy), self.values_shape)


def index_put(input, indices, values, accumulate=False):  # noqa: A002
    """input with input[indices] = values (``accumulate``: +=, repeated indices adding up).

    ``indices`` is a tuple of index tensors (or any index ``x[...]`` accepts).

    >>> em.index_put(em.zeros(3), (em.tensor([0, 0]),), em.tensor(1.0), accumulate=True)
    tensor([2., 0., 0.])
    """
    input = as_tensor(input)
    index = _unwrap_index(tuple(indices) if isinstance(indices, list) else indices)
    return IndexPut(index, accumulate)(input, _as_src(values, input))


def setitem(input, index, value):  # noqa: A002
    """``input[index] = value`` as an op on a copy (how an assignment into a graph tensor is recorded)."""
    input = as_tensor(input)
    index = _unwrap_index(index)
    if isinstance(index, list):
        index = xp_of(input.array).asarray(index)
    return IndexPut(index)(input, _as_src(value, input))


def masked_select(input, mask):  # noqa: A002
    """The elements of input where ``mask`` (broadcast) is true, as a 1-D tensor.

    >>> em.masked_select(em.tensor([[1.0, 2.0], [3.0, 4.0]]), em.tensor([True, False]))
    tensor([1., 3.])
    """
    input, mask = as_tensor(input), as_tensor(mask)
    shape = np.broadcast_shapes(input.shape, mask.shape)
    return getitem(broadcast_to(input, shape), xp_of(mask.array).broadcast_to(mask.array.astype(bool), shape))


class MaskedScatter(Function):
    def __init__(self, mask):
        self.mask = mask

    def forward(self, x, source):
        out = x.copy()
        n = int(self.mask.sum())
        if n > source.size:
            raise RuntimeError(f"masked_scatter(): the mask selects {n} elements but the source has {source.size}")
        out[self.mask] = source.reshape(-1)[:n]
        self.source_shape = source.shape
        return out

    def backward(self, gy):
        gsource = xp_of(gy).zeros(int(np.prod(self.source_shape)), gy.dtype)
        picked = gy[self.mask]
        gsource[: picked.size] = picked
        return gy * ~self.mask, gsource.reshape(self.source_shape)

    def vjp(self, gy):
        picked = GetItem(self.mask)(gy)  # the source elements used, in order; the rest get 0
        gsource = ConstantPad([(0, math.prod(self.source_shape) - picked.shape[0])], 0.0)(picked)
        return gy * _unwritten(gy.shape, self.mask, gy), reshape(gsource, self.source_shape)


def masked_scatter(input, mask, source):  # noqa: A002
    """input with the positions where ``mask`` is true filled, in order, from source's elements.

    >>> em.masked_scatter(em.zeros(4), em.tensor([True, False, True, False]), em.tensor([1.0, 2.0]))
    tensor([1., 0., 2., 0.])
    """
    input, mask = as_tensor(input), as_tensor(mask).array.astype(bool)
    return MaskedScatter(xp_of(mask).broadcast_to(mask, input.shape))(input, _as_src(source, input))


# -- nonzero --------------------------------------------------------------------------------
def nonzero(input, *, as_tuple=False):  # noqa: A002
    """The indices of the non-zero elements: an (n, ndim) int64 tensor, or one 1-D tensor per dim.

    >>> em.nonzero(em.tensor([[1, 0], [0, 3]]))
    tensor([[0, 0],
           [1, 1]])
    """
    a = as_tensor(input).array
    xp = xp_of(a)
    if as_tuple:
        return tuple(Tensor(i.astype(np.int64)) for i in xp.nonzero(a.reshape(1) if a.ndim == 0 else a))
    if a.ndim == 0:
        return Tensor(xp.zeros((int(a != 0), 0), np.int64))
    return Tensor(xp.argwhere(a).astype(np.int64, copy=False))


def argwhere(input):  # noqa: A002
    """The indices of the non-zero elements as an (n, ndim) int64 tensor (``nonzero(input)``)."""
    return nonzero(input)


def where(condition, input=None, other=None):  # noqa: A002
    """``where(cond, x, y)``: x where cond is true, else y; ``where(cond)``: ``nonzero(cond, as_tuple=True)``.

    >>> em.where(em.tensor([0, 2, 3]))
    (tensor([1, 2]),)
    """
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    return _where3(condition, input, other)
