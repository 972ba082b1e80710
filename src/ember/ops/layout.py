"""Layout ops: triangles and diagonals, flips and rolls, repeats and tiles, moving dims, stacking
variants, ``broadcast_tensors`` and ``meshgrid``.

Each moves elements without computing new ones, so each backward moves the gradient back:
flip flips it, roll rolls it back, a tile sums its copies, a diagonal writes into zeros. Each
``vjp`` does the same with a recorded op whose own gradient is the forward move again (flip and
flip, diagonal and ``DiagonalScatter``), so gradients of every order come out.
"""
from __future__ import annotations

import itertools

import numpy as np

from ember.autograd.function import Function
from ember.autograd.tensor import Tensor, as_tensor
from ember.backend import get_array_module as xp_of
from ember.ops.broadcast import broadcast_to, normalize_axis
from ember.ops.indexing import index_add
from ember.ops.shape import concat, getitem, pad, permute, reshape, stack, transpose


# -- triangles and diagonals ----------------------------------------------------------------
class Triangle(Function):
    """The lower (``tril``) or upper (``triu``) triangle of the last two dims; zero elsewhere."""

    def __init__(self, part, diagonal):
        self.part, self.diagonal = part, diagonal

    def forward(self, x):
        return getattr(xp_of(x), self.part)(x, self.diagonal)

    def backward(self, gy):
        return getattr(xp_of(gy), self.part)(gy, self.diagonal)

    def vjp(self, gy):
        return Triangle(self.part, self.diagonal)(gy)  # a mask: its own adjoint


def tril(input, diagonal=0):  # noqa: A002 - PyTorch's names
    """The elements on and below the ``diagonal``-th diagonal of the last two dims; zero above.

    >>> em.tril(em.ones(2, 2))
    tensor([[1., 0.],
           [1., 1.]])
    """
    return Triangle("tril", diagonal)(as_tensor(input))


def triu(input, diagonal=0):  # noqa: A002
    """The elements on and above the ``diagonal``-th diagonal of the last two dims; zero below."""
    return Triangle("triu", diagonal)(as_tensor(input))


def _diagonal_index(n1, n2, offset):
    """Row and column indices of the ``offset``-th diagonal of an n1 × n2 matrix."""
    length = max(0, min(n1 + min(offset, 0), n2 - max(offset, 0)))
    i = np.arange(length)
    return i - min(offset, 0), i + max(offset, 0)


class Diagonal(Function):
    """The ``offset``-th diagonal of dims (dim1, dim2), appended as the last dim."""

    def __init__(self, offset, dim1, dim2):
        self.offset, self.dim1, self.dim2 = offset, dim1, dim2

    def forward(self, x):
        self.x_shape = x.shape
        return xp_of(x).diagonal(x, self.offset, self.dim1, self.dim2).copy()

    def backward(self, gy):
        return _diagonal_scatter(gy, self.x_shape, self.offset, self.dim1, self.dim2)

    def vjp(self, gy):
        return DiagonalScatter(self.offset, self.dim1, self.dim2, self.x_shape)(gy)


class DiagonalScatter(Function):
    """Zeros of ``x_shape`` with ``g`` written on the diagonal: ``Diagonal``'s adjoint as an op on
    tensors, whose own gradient reads the diagonal again (the pair differentiate to any order)."""

    def __init__(self, offset, dim1, dim2, x_shape):
        self.offset, self.dim1, self.dim2, self.x_shape = offset, dim1, dim2, x_shape

    def forward(self, g):
        return _diagonal_scatter(g, self.x_shape, self.offset, self.dim1, self.dim2)

    def backward(self, gg):
        return xp_of(gg).diagonal(gg, self.offset, self.dim1, self.dim2).copy()

    def vjp(self, gg):
        return Diagonal(self.offset, self.dim1, self.dim2)(gg)


def _diagonal_scatter(g, x_shape, offset, dim1, dim2):
    xp = xp_of(g)
    gx = xp.zeros(x_shape, g.dtype)
    rows, cols = _diagonal_index(x_shape[dim1], x_shape[dim2], offset)
    xp.moveaxis(gx, (dim1, dim2), (-2, -1))[..., xp.asarray(rows), xp.asarray(cols)] = g
    return gx


def diagonal(input, offset=0, dim1=0, dim2=1):  # noqa: A002
    """The ``offset``-th diagonal (above the main one for offset > 0) of the matrices in dims
    (dim1, dim2), as the last dim of the output.

    >>> em.diagonal(em.tensor([[1.0, 2.0], [3.0, 4.0]]))
    tensor([1., 4.])
    """
    x = as_tensor(input)
    dim1, dim2 = normalize_axis(dim1, x.ndim), normalize_axis(dim2, x.ndim)
    if dim1 == dim2:
        raise RuntimeError(f"diagonal(): dim1 and dim2 cannot be the same dimension ({dim1})")
    return Diagonal(offset, dim1, dim2)(x)


class DiagEmbed(Function):
    """A 1-D vector laid on the ``offset``-th diagonal of a square matrix of zeros."""

    def __init__(self, offset):
        self.offset = offset

    def forward(self, v):
        return xp_of(v).diag(v, self.offset)

    def backward(self, gy):
        return xp_of(gy).diagonal(gy, self.offset).copy()

    def vjp(self, gy):
        return Diagonal(self.offset, 0, 1)(gy)


def diag(input, diagonal=0):  # noqa: A002
    """A 1-D input becomes the ``diagonal``-th diagonal of a square matrix; a 2-D input gives
    that diagonal as a 1-D tensor.

    >>> em.diag(em.tensor([1.0, 2.0]))
    tensor([[1., 0.],
           [0., 2.]])
    """
    x = as_tensor(input)
    if x.ndim == 1:
        return DiagEmbed(diagonal)(x)
    if x.ndim == 2:
        return Diagonal(diagonal, 0, 1)(x)
    raise RuntimeError(f"diag(): expected a 1-D or 2-D tensor, got {x.ndim} dims")


def trace(input):  # noqa: A002
    """Σᵢ xᵢᵢ, the sum of a matrix's main diagonal.

    >>> em.trace(em.tensor([[1.0, 2.0], [3.0, 4.0]]))
    tensor(5.)
    """
    x = as_tensor(input)
    if x.ndim != 2:
        raise RuntimeError(f"trace(): expected a matrix, got {x.ndim} dims")
    return Diagonal(0, 0, 1)(x).sum()


# -- flips, rolls, rotations --------------------------------------------------------------
class Flip(Function):
    def __init__(self, dims):
        self.dims = dims

    def forward(self, x):
        return xp_of(x).flip(x, self.dims).copy()  # a copy, as PyTorch's flip (a view would alias x)

    def backward(self, gy):
        return xp_of(gy).flip(gy, self.dims)

    def vjp(self, gy):
        return Flip(self.dims)(gy)


def flip(input, dims):  # noqa: A002
    """The elements in reverse order along each of ``dims``.

    >>> em.flip(em.tensor([1.0, 2.0, 3.0]), [0])
    tensor([3., 2., 1.])
    """
    x = as_tensor(input)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    return Flip(normalize_axis(dims, x.ndim))(x)


def fliplr(input):  # noqa: A002
    """Reverse the columns (dim 1) of a tensor of at least 2 dims."""
    if input.ndim < 2:
        raise RuntimeError("fliplr(): expected a tensor of at least 2 dims")
    return flip(input, (1,))


def flipud(input):  # noqa: A002
    """Reverse the rows (dim 0) of a tensor of at least 1 dim."""
    if input.ndim < 1:
        raise RuntimeError("flipud(): expected a tensor of at least 1 dim")
    return flip(input, (0,))


class Roll(Function):
    def __init__(self, shifts, dims):
        self.shifts, self.dims = shifts, dims

    def forward(self, x):
        return xp_of(x).roll(x, self.shifts, self.dims)

    def backward(self, gy):
        return xp_of(gy).roll(gy, self._back(), self.dims)

    def vjp(self, gy):
        return Roll(self._back(), self.dims)(gy)

    def _back(self):
        return -self.shifts if isinstance(self.shifts, int) else tuple(-s for s in self.shifts)


def roll(input, shifts, dims=None):  # noqa: A002
    """Shift the elements cyclically by ``shifts`` along ``dims`` (the flattened tensor if None).

    >>> em.roll(em.tensor([1.0, 2.0, 3.0]), 1)
    tensor([3., 1., 2.])
    """
    x = as_tensor(input)
    if dims is not None:
        dims = normalize_axis(dims, x.ndim)
        shifts = tuple(shifts) if isinstance(shifts, (tuple, list)) else shifts
        if isinstance(dims, tuple) != isinstance(shifts, tuple) or (
                isinstance(dims, tuple) and len(dims) != len(shifts)):
            raise RuntimeError(f"roll(): shifts {shifts} and dims {dims} should have the same length")
    elif isinstance(shifts, (tuple, list)):
        shifts = shifts[0] if len(shifts) == 1 else shifts
    return Roll(shifts, dims)(x)


def rot90(input, k=1, dims=(0, 1)):  # noqa: A002
    """Rotate by 90°·k in the plane of ``dims``, from the first dim towards the second.

    >>> em.rot90(em.tensor([[1.0, 2.0], [3.0, 4.0]]))
    tensor([[2., 4.],
           [1., 3.]])
    """
    x = as_tensor(input)
    d0, d1 = normalize_axis(tuple(dims), x.ndim)
    if d0 == d1:
        raise RuntimeError(f"rot90(): expected two different dims, got {tuple(dims)}")
    k %= 4
    if k == 0:
        return x * 1
    if k == 2:
        return flip(x, (d0, d1))
    swapped = transpose(x, d0, d1)
    return flip(swapped, (d0,)) if k == 1 else transpose(flip(x, (d0,)), d0, d1)


# -- narrow, unbind, t --------------------------------------------------------------------
def narrow(input, dim, start, length):  # noqa: A002
    """The ``length`` elements from ``start`` along ``dim`` (a view in PyTorch, a slice here).

    >>> em.narrow(em.tensor([1.0, 2.0, 3.0]), 0, 1, 2)
    tensor([2., 3.])
    """
    x = as_tensor(input)
    dim, start = normalize_axis(dim, x.ndim), int(start)
    n = x.shape[dim]
    start = start + n if start < 0 else start
    if not (0 <= start <= n and 0 <= length and start + length <= n):
        raise IndexError(f"narrow(): start {start} + length {length} exceeds dimension {dim} of size {n}")
    return getitem(x, (slice(None),) * dim + (slice(start, start + length),))


class Unbind(Function):
    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        return tuple(xp_of(x).moveaxis(x, self.dim, 0))

    def backward(self, *gys):
        return xp_of(gys[0]).stack(gys, axis=self.dim)

    def vjp(self, *gys):
        return stack(gys, self.dim)


def unbind(input, dim=0):  # noqa: A002
    """The slices along ``dim``, as a tuple of tensors with that dim removed.

    >>> em.unbind(em.tensor([[1.0, 2.0], [3.0, 4.0]]), 1)
    (tensor([1., 3.]), tensor([2., 4.]))
    """
    x = as_tensor(input)
    dim = normalize_axis(dim, x.ndim)
    if x.shape[dim] == 0:
        return ()
    out = Unbind(dim)(x)
    return out if isinstance(out, tuple) else (out,)


def t(input):  # noqa: A002
    """The transpose of a matrix; a 0-d or 1-d tensor is returned as it is."""
    x = as_tensor(input)
    if x.ndim > 2:
        raise RuntimeError(f"t(): expects a tensor of at most 2 dims, got {x.ndim}; use transpose(dim0, dim1)")
    return x if x.ndim < 2 else transpose(x, 0, 1)


# -- repeats --------------------------------------------------------------------------------
class Tile(Function):
    """``reps`` copies along each dim (len(reps) = x.ndim); the backward sums the copies."""

    def __init__(self, reps):
        self.reps = reps

    def forward(self, x):
        self.x_shape = x.shape
        return xp_of(x).tile(x, self.reps)

    def backward(self, gy):
        interleaved = [n for pair in zip(self.reps, self.x_shape, strict=True) for n in pair]
        return gy.reshape(interleaved).sum(axis=tuple(range(0, len(interleaved), 2)))

    def vjp(self, gy):  # the same sum of the copies, in recorded ops
        interleaved = [n for pair in zip(self.reps, self.x_shape, strict=True) for n in pair]
        return reshape(gy, interleaved).sum(axis=tuple(range(0, len(interleaved), 2)))


def tile(input, dims):  # noqa: A002
    """The tensor repeated ``dims[i]`` times along dim i (missing leading dims count as 1).

    >>> em.tile(em.tensor([1.0, 2.0]), (2,))
    tensor([1., 2., 1., 2.])
    """
    x = as_tensor(input)
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    dims = (1,) * (x.ndim - len(dims)) + dims
    x = reshape(x, (1,) * (len(dims) - x.ndim) + x.shape)
    return Tile(dims)(x)


def repeat(input, *sizes):  # noqa: A002
    """PyTorch's ``Tensor.repeat``: ``tile`` where ``sizes`` must cover every dim."""
    x = as_tensor(input)
    sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
    if len(sizes) < x.ndim:
        raise RuntimeError(f"repeat(): {len(sizes)} repeat sizes for a tensor of {x.ndim} dims; give at least {x.ndim}")
    return tile(x, sizes)


class RepeatInterleave(Function):
    def __init__(self, repeats, dim):
        self.repeats, self.dim = repeats, dim

    def forward(self, x):
        self.x_shape = x.shape
        return xp_of(x).repeat(x, self.repeats, axis=self.dim)

    def backward(self, gy):
        xp, r = xp_of(gy), self.repeats
        if isinstance(r, int):
            shape = self.x_shape[: self.dim] + (self.x_shape[self.dim], r) + self.x_shape[self.dim + 1:]
            return gy.reshape(shape).sum(axis=self.dim + 1)
        gx = xp.zeros(self.x_shape, gy.dtype)
        starts = xp.cumsum(r) - r
        kept = r > 0  # reduceat cannot sum an empty segment: those rows keep their zero gradient
        if kept.any():
            index = (slice(None),) * self.dim + (kept,)
            gx[index] = xp.add.reduceat(gy, starts[kept], axis=self.dim)
        return gx

    def vjp(self, gy):
        """Each slice's copies summed, in recorded ops: a reshape and sum for an int count, else an
        ``index_add`` of the output's slices into the slices they copy (its adjoint repeats again)."""
        r, n = self.repeats, self.x_shape[self.dim]
        if isinstance(r, int):
            return reshape(gy, self.x_shape[: self.dim] + (n, r) + self.x_shape[self.dim + 1:]).sum(axis=self.dim + 1)
        source = xp_of(r).repeat(xp_of(r).arange(n), r)
        return index_add(Tensor(xp_of(r).zeros(self.x_shape, gy.dtype)), self.dim, Tensor(source), gy)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):  # noqa: A002
    """Each element (each slice along ``dim``) repeated ``repeats`` times in place — an int, or
    one count per slice; flattened first when ``dim`` is None. ``repeat_interleave(counts)``
    alone repeats 0, 1, 2, … by ``counts``.

    >>> em.repeat_interleave(em.tensor([1.0, 2.0]), 2)
    tensor([1., 1., 2., 2.])
    """
    x = as_tensor(input)
    if repeats is None:
        counts = x.array
        return Tensor(xp_of(counts).repeat(xp_of(counts).arange(len(counts)), counts))
    if dim is None:
        x, dim = reshape(x, (-1,)), 0
    dim = normalize_axis(dim, x.ndim)
    if isinstance(repeats, Tensor) and repeats.ndim == 0:
        repeats = int(repeats.item())
    if not isinstance(repeats, int):
        repeats = (repeats.array if isinstance(repeats, Tensor) else np.asarray(repeats)).astype(np.int64)
        if repeats.shape != (x.shape[dim],) or (repeats.size and int(repeats.min()) < 0):
            raise RuntimeError(f"repeat_interleave(): repeats must be non-negative, one per slice of dimension "
                               f"{dim} (size {x.shape[dim]}); got shape {repeats.shape}")
    return RepeatInterleave(repeats, dim)(x)


# -- moving and splitting dims ------------------------------------------------------------
def unflatten(input, dim, sizes):  # noqa: A002
    """Split dimension ``dim`` into ``sizes`` (one may be −1).

    >>> em.unflatten(em.zeros(2, 6), 1, (2, 3)).shape
    (2, 2, 3)
    """
    x = as_tensor(input)
    dim = normalize_axis(dim, x.ndim)
    return reshape(x, x.shape[:dim] + tuple(sizes) + x.shape[dim + 1:])


def movedim(input, source, destination):  # noqa: A002
    """Move the dims ``source`` to the positions ``destination``, the others keeping their order.

    >>> em.movedim(em.zeros(2, 3, 4), 0, -1).shape
    (3, 4, 2)
    """
    x = as_tensor(input)
    source = normalize_axis(tuple(source) if isinstance(source, (tuple, list)) else (source,), x.ndim)
    destination = normalize_axis(tuple(destination) if isinstance(destination, (tuple, list)) else (destination,),
                                 x.ndim)
    if len(source) != len(destination):
        raise RuntimeError(f"movedim(): {len(source)} source dims but {len(destination)} destination dims")
    order = [d for d in range(x.ndim) if d not in source]
    for dst, src in sorted(zip(destination, source, strict=True)):
        order.insert(dst, src)
    return permute(x, order)


moveaxis = movedim


def swapaxes(input, axis0, axis1):  # noqa: A002
    """Swap two dims (PyTorch's alias of ``transpose``)."""
    return transpose(as_tensor(input), axis0, axis1)


def swapdims(input, dim0, dim1):  # noqa: A002
    """Swap two dims (PyTorch's alias of ``transpose``)."""
    return transpose(as_tensor(input), dim0, dim1)


# -- stacking variants ----------------------------------------------------------------------
def atleast_1d(*tensors):
    """Each tensor with at least 1 dim (a 0-d one becomes shape (1,))."""
    out = [reshape(t, (1,)) if t.ndim == 0 else t for t in _tensors(tensors)]
    return out[0] if len(out) == 1 else tuple(out)


def atleast_2d(*tensors):
    """Each tensor with at least 2 dims: () → (1, 1), (n,) → (1, n)."""
    out = [reshape(t, (1,) * (2 - t.ndim) + t.shape) if t.ndim < 2 else t for t in _tensors(tensors)]
    return out[0] if len(out) == 1 else tuple(out)


def atleast_3d(*tensors):
    """Each tensor with at least 3 dims: () → (1, 1, 1), (n,) → (1, n, 1), (m, n) → (m, n, 1)."""
    shapes = {0: lambda s: (1, 1, 1), 1: lambda s: (1, s[0], 1), 2: lambda s: s + (1,)}
    out = [reshape(t, shapes[t.ndim](t.shape)) if t.ndim < 3 else t for t in _tensors(tensors)]
    return out[0] if len(out) == 1 else tuple(out)


def _tensors(tensors):
    """Accept f(a, b) and f([a, b]) alike."""
    if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
        tensors = tensors[0]
    return [as_tensor(t) for t in tensors]


def hstack(tensors):
    """Concatenate along dim 1 (dim 0 for 1-D tensors), as NumPy's ``hstack``.

    >>> em.hstack([em.ones(2, 1), em.zeros(2, 2)]).shape
    (2, 3)
    """
    tensors = [atleast_1d(t) for t in tensors]
    return concat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors):
    """Concatenate along dim 0 after making every tensor at least 2-D ((n,) → (1, n))."""
    return concat([atleast_2d(t) for t in tensors], 0)


row_stack = vstack


def dstack(tensors):
    """Concatenate along dim 2 after making every tensor at least 3-D."""
    return concat([atleast_3d(t) for t in tensors], 2)


def column_stack(tensors):
    """Concatenate along dim 1, 0-d and 1-D tensors becoming columns ((n,) → (n, 1))."""
    return concat([reshape(t, (t.numel(), 1)) if t.ndim < 2 else t for t in map(as_tensor, tensors)], 1)


# -- broadcasting ---------------------------------------------------------------------------
def broadcast_shapes(*shapes):
    """The shape that tensors of ``shapes`` broadcast to."""
    return tuple(np.broadcast_shapes(*[(s,) if isinstance(s, int) else tuple(s) for s in shapes]))


def broadcast_tensors(*tensors):
    """The tensors broadcast to one common shape (the gradient is summed back to each).

    >>> [t.shape for t in em.broadcast_tensors(em.ones(3, 1), em.ones(4))]
    [(3, 4), (3, 4)]
    """
    tensors = _tensors(tensors)
    shape = broadcast_shapes(*[t.shape for t in tensors])
    return tuple(broadcast_to(t, shape) for t in tensors)


def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 1-D tensors: with 'ij' (the default) output i varies along dim i;
    with 'xy' the first two dims swap (NumPy's and MATLAB's convention).

    >>> xs, ys = em.meshgrid(em.arange(3), em.arange(2), indexing="ij")
    >>> xs.shape
    (3, 2)
    """
    tensors = _tensors(tensors)
    indexing = indexing or "ij"
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid(): indexing must be 'ij' or 'xy', got {indexing!r}")
    if any(t.ndim > 1 for t in tensors):
        raise RuntimeError("meshgrid(): expects 0-d or 1-d tensors")
    axes = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) > 1:
        axes[0], axes[1] = 1, 0
    sizes = [t.numel() for t in tensors]
    shape = tuple(sizes[axes.index(d)] for d in range(len(tensors)))
    return tuple(broadcast_to(reshape(t, tuple(n if d == a else 1 for d, n in enumerate(shape))), shape)
                 for t, a in zip(tensors, axes, strict=True))


def cartesian_prod(*tensors):
    """Every combination of the elements of the 1-D tensors, one per row (``itertools.product`` order);
    a single tensor comes back as it is.

    >>> em.cartesian_prod(em.tensor([1, 2]), em.tensor([3, 4]))
    tensor([[1, 3],
            [1, 4],
            [2, 3],
            [2, 4]])
    """
    tensors = _tensors(tensors)
    if len(tensors) == 1:
        return tensors[0]
    return stack([reshape(grid, (-1,)) for grid in meshgrid(*tensors, indexing="ij")], dim=1)


def block_diag(*tensors):
    """The tensors (0-, 1- or 2-D) placed along the diagonal of one matrix, zeros elsewhere.

    >>> em.block_diag(em.ones(1, 2), em.tensor([[3.0]]))
    tensor([[1., 1., 0.],
            [0., 0., 3.]])
    """
    blocks = [t.reshape(1, -1) if t.ndim < 2 else t for t in _tensors(tensors)]
    if any(b.ndim != 2 for b in blocks):
        raise RuntimeError("block_diag(): input tensors must have 2 or fewer dimensions")
    width = sum(b.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:  # one padded row band per block (a loop over the arguments, not over elements)
        xp = xp_of(b.array)
        before = Tensor(xp.zeros((b.shape[0], left), b.dtype))
        after = Tensor(xp.zeros((b.shape[0], width - left - b.shape[1]), b.dtype))
        rows.append(concat([before, b, after], dim=1))
        left += b.shape[1]
    return concat(rows, dim=0)


def select(input, dim, index):  # noqa: A002
    """The slice at ``index`` along ``dim``, that dim removed: ``x.select(1, 0)`` is ``x[:, 0]``."""
    x = as_tensor(input)
    dim = normalize_axis(dim, x.ndim)
    if not -x.shape[dim] <= index < x.shape[dim]:
        raise IndexError(f"select(): index {index} out of range for tensor of size {x.shape} at dimension {dim}")
    return getitem(x, (slice(None),) * dim + (index,))


def tensor_split(input, indices_or_sections, dim=0):  # noqa: A002
    """Views of x along ``dim``: into n parts as equal as can be (the first n mod size one longer), or cut
    before each of the given indices (NumPy's ``array_split``).

    >>> [p.tolist() for p in em.tensor_split(em.arange(5), 2)]
    [[0, 1, 2], [3, 4]]
    """
    x = as_tensor(input)
    dim = normalize_axis(dim, x.ndim)
    size = x.shape[dim]
    if isinstance(indices_or_sections, Tensor):
        indices_or_sections = indices_or_sections.tolist()
    if isinstance(indices_or_sections, int):
        n = indices_or_sections
        if n <= 0:
            raise RuntimeError(f"tensor_split(): number of sections must be larger than 0, got {n}")
        base, extra = divmod(size, n)
        cuts = np.cumsum([base + (i < extra) for i in range(n)])[:-1].tolist()
    else:
        cuts = list(indices_or_sections)
    bounds = [0, *cuts, size]
    return tuple(getitem(x, (slice(None),) * dim + (slice(lo, max(lo, hi)),))
                 for lo, hi in zip(bounds[:-1], bounds[1:], strict=True))


def unfold_windows(input, dimension, size, step):  # noqa: A002
    """``Tensor.unfold``: every window of ``size`` elements, ``step`` apart, along ``dimension``; the
    windows index that dim and their elements a new last dim. Gathered with ``index_select``, so the
    gradient adds back where windows overlap.

    >>> em.arange(5.0).unfold(0, 2, 2)
    tensor([[0., 1.],
            [2., 3.]])
    """
    x = as_tensor(input)
    dim = normalize_axis(dimension, x.ndim) if x.ndim else 0
    length = x.shape[dim] if x.ndim else 1
    if size > length or step <= 0:
        raise RuntimeError(f"unfold(): maximum size for tensor at dimension {dim} is {length} but size is {size}"
                           if size > length else f"unfold(): step is {step} but must be > 0")
    xp = xp_of(x.array)
    starts = xp.arange(0, length - size + 1, step)
    index = (starts[:, None] + xp.arange(size)).reshape(-1)
    picked = x.reshape(1) if x.ndim == 0 else x
    windows = picked.index_select(dim, Tensor(index))  # (…, count·size, …)
    shape = list(picked.shape)
    shape[dim:dim + 1] = [len(starts), size]
    return movedim(windows.reshape(*shape), dim + 1, -1)


def kron(input, other):  # noqa: A002
    """The Kronecker product: every element of a times the whole of b, laid out block by block
    (a.shape · b.shape per dim). Composed as a broadcast product, so both get gradients.

    >>> em.kron(em.eye(2), em.tensor([[1.0, 2.0]]))
    tensor([[1., 2., 0., 0.],
            [0., 0., 1., 2.]])
    """
    a, b = as_tensor(input), as_tensor(other)
    n = max(a.ndim, b.ndim)
    a, b = a.reshape(*(1,) * (n - a.ndim), *a.shape), b.reshape(*(1,) * (n - b.ndim), *b.shape)
    interleaved_a = a.reshape(*[s for d in a.shape for s in (d, 1)])  # (a0, 1, a1, 1, …)
    interleaved_b = b.reshape(*[s for d in b.shape for s in (1, d)])  # (1, b0, 1, b1, …)
    return (interleaved_a * interleaved_b).reshape(*[p * q for p, q in zip(a.shape, b.shape, strict=True)])


def diag_embed(input, offset=0, dim1=-2, dim2=-1):  # noqa: A002
    """Matrices with the last dim of x on their diagonal ``offset`` (above the main one for offset > 0),
    placed at dims ``dim1``, ``dim2`` of the result; zeros elsewhere. Composed as x times the identity,
    padded to the offset, so the gradient is the diagonal read back.

    >>> em.diag_embed(em.tensor([[1.0, 2.0]]))
    tensor([[[1., 0.],
             [0., 2.]]])
    """
    x = as_tensor(input)
    n, k = x.shape[-1], abs(offset)
    xp = xp_of(x.array)
    square = x.unsqueeze(-1) * Tensor(xp.eye(n, dtype=x.dtype))  # (…, n, n), x on the diagonal
    if k:
        rows, cols = ((0, k), (k, 0)) if offset > 0 else ((k, 0), (0, k))  # shift the diagonal off the middle
        square = pad(square, (*cols, *rows))  # PyTorch's order: the last dim's sides first
    out_ndim = x.ndim + 1
    d1, d2 = dim1 % out_ndim, dim2 % out_ndim
    if d1 == d2:
        raise RuntimeError(f"diag_embed(): diagonal dimensions cannot be identical {dim1}, {dim2}")
    return movedim(square, (-2, -1), (d1, d2))


def combinations(input, r=2, with_replacement=False):  # noqa: A002
    """The length-r combinations of the elements of a 1-D tensor, one per row, in ``itertools`` order.

    >>> em.combinations(em.tensor([1, 2, 3]))
    tensor([[1, 2],
            [1, 3],
            [2, 3]])
    """
    x = as_tensor(input)
    if x.ndim != 1:
        raise RuntimeError(f"combinations(): expect a 1D vector, but got shape {x.shape}")
    choose = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    index = np.array(list(choose(range(x.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    if index.size == 0:
        return Tensor(xp_of(x.array).zeros((0, r) if r else (0,), x.dtype))
    return x[Tensor(xp_of(x.array).asarray(index))]


def take(input, index):  # noqa: A002
    """The elements at ``index`` of x flattened: ``x.reshape(-1)[index]``."""
    return reshape(as_tensor(input), (-1,))[index]


def ravel(input):  # noqa: A002
    """x flattened to 1-D."""
    return reshape(as_tensor(input), (-1,))
