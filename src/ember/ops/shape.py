"""Shape ops: reshape, permute, squeeze/unsqueeze, concat/stack/split, indexing, padding.

Each is linear, and its ``vjp`` applies its adjoint as a recorded op whose own ``vjp`` applies
the op again (reshape back, split ↔ concat, ``x[index]`` ↔ ``ScatterItem``), so gradients of any
order come out.
"""
from __future__ import annotations

import numpy as np

from ember.autograd.function import Function
from ember.autograd.tensor import Tensor, _unwrap_index, as_tensor
from ember.backend import get_array_module as xp_of
from ember.ops.broadcast import normalize_axis
from ember.ops.embedding import scatter_add_rows


class Reshape(Function):
    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        self.x_shape = x.shape
        try:
            return x.reshape(self.shape)
        except ValueError as err:
            raise ValueError(f"cannot reshape a tensor of shape {x.shape} into {self.shape}") from err

    def backward(self, gy):
        return gy.reshape(self.x_shape)

    def vjp(self, gy):
        return Reshape(self.x_shape)(gy)


def reshape(x, shape):
    """The same elements in a new shape (one dimension may be −1)."""
    if tuple(shape) == x.shape:
        return x
    return Reshape(shape)(x)


def flatten(x, start_dim=0, end_dim=-1):
    """Merge dimensions start_dim..end_dim into one."""
    if x.ndim == 0:
        return reshape(x, (1,))
    start, end = normalize_axis(start_dim, x.ndim), normalize_axis(end_dim, x.ndim)
    return reshape(x, x.shape[:start] + (-1,) + x.shape[end + 1 :])


def squeeze(x, dim=None):
    """Drop dimensions of size 1 (only ``dim``, if given and of size 1, as PyTorch)."""
    if dim is None:
        return reshape(x, tuple(n for n in x.shape if n != 1))
    dims = {normalize_axis(d, x.ndim) for d in (dim if isinstance(dim, (tuple, list)) else (dim,))}
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if not (i in dims and n == 1)))


def unsqueeze(x, dim):
    """Insert a dimension of size 1 at ``dim``."""
    dim = normalize_axis(dim, x.ndim + 1)
    return reshape(x, x.shape[:dim] + (1,) + x.shape[dim:])


class Permute(Function):
    def __init__(self, dims):
        self.dims = tuple(dims)

    def forward(self, x):
        return x.transpose(self.dims)

    def backward(self, gy):
        return gy.transpose(np.argsort(self.dims))

    def vjp(self, gy):
        return Permute(np.argsort(self.dims).tolist())(gy)


def permute(x, dims):
    """Reorder dimensions: output dimension i is input dimension dims[i]."""
    dims = tuple(normalize_axis(d, x.ndim) for d in dims)
    if sorted(dims) != list(range(x.ndim)):
        raise ValueError(f"permute: {dims} is not a permutation of the {x.ndim} dimensions of {x.shape}")
    return Permute(dims)(x)


def transpose(x, dim0, dim1):
    """Swap two dimensions."""
    dims = list(range(x.ndim))
    dim0, dim1 = normalize_axis(dim0, x.ndim), normalize_axis(dim1, x.ndim)
    dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
    return Permute(dims)(x)


class Concat(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, *xs):
        self.bounds = np.cumsum([x.shape[self.axis] for x in xs])[:-1].tolist()
        return xp_of(xs[0]).concatenate(xs, axis=self.axis)

    def backward(self, gy):
        return tuple(xp_of(gy).split(gy, self.bounds, axis=self.axis))

    def vjp(self, gy):
        gxs = Split(self.bounds, self.axis)(gy)  # concat and split are each other's adjoint
        return gxs if isinstance(gxs, tuple) else (gxs,)


def concat(tensors, dim=0, *, axis=None):
    """Join tensors along an existing dimension (``cat`` in PyTorch; ``axis`` is NumPy's name for ``dim``)."""
    dim = dim if axis is None else axis
    tensors = list(tensors)
    if not tensors:
        raise ValueError("concat: expected a non-empty sequence of tensors")
    return Concat(normalize_axis(dim, tensors[0].ndim))(*tensors)


cat = concatenate = concat


def stack(tensors, dim=0, *, axis=None):
    """Join tensors of one shape along a new dimension (``axis``: NumPy's name for ``dim``)."""
    dim = dim if axis is None else axis
    tensors = list(tensors)
    shapes = {tuple(t.shape) for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"stack: expects tensors of one shape, got {sorted(shapes)}")
    dim = normalize_axis(dim, tensors[0].ndim + 1)
    return concat([unsqueeze(t, dim) for t in tensors], dim)


class Split(Function):
    def __init__(self, bounds, axis):
        self.bounds, self.axis = bounds, axis

    def forward(self, x):
        return tuple(xp_of(x).split(x, self.bounds, axis=self.axis))

    def backward(self, *gys):
        return xp_of(gys[0]).concatenate(gys, axis=self.axis)

    def vjp(self, *gys):
        return Concat(self.axis)(*gys)  # the engine fills the unused outputs' gradients with zeros


def split(x, split_size_or_sections, dim=0):
    """PyTorch's split: chunks of ``split_size`` (last may be smaller) or of the listed sizes."""
    dim = normalize_axis(dim, x.ndim)
    n = x.shape[dim]
    if isinstance(split_size_or_sections, int):
        sizes = [split_size_or_sections] * (n // split_size_or_sections)
        if n % split_size_or_sections:
            sizes.append(n % split_size_or_sections)
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} do not add up to {n}, the size of dimension {dim}")
    outputs = Split(np.cumsum(sizes)[:-1].tolist(), dim)(x)
    return outputs if isinstance(outputs, tuple) else (outputs,)


def chunk(x, chunks, dim=0):
    """Split into ``chunks`` pieces of size ⌈n/chunks⌉ (the last may be smaller)."""
    n = x.shape[normalize_axis(dim, x.ndim)]
    return split(x, -(-n // chunks), dim)


# -- indexing ---------------------------------------------------------------------------
class GetItem(Function):
    def __init__(self, index):
        self.index = index

    def forward(self, x):
        self.x_shape = x.shape
        return x[self.index]

    def backward(self, gy):
        return _scatter_item(gy, self.index, self.x_shape)

    def vjp(self, gy):
        return ScatterItem(self.index, self.x_shape)(gy)


class ScatterItem(Function):
    """Zeros of ``x_shape`` with ``g`` added at ``index``: ``x[index]``'s adjoint (its gradient as an
    op on tensors), whose own gradient is ``g[index]`` again, so the pair differentiate to any order."""

    def __init__(self, index, x_shape):
        self.index, self.x_shape = index, x_shape

    def forward(self, g):
        return _scatter_item(g, self.index, self.x_shape)

    def backward(self, gg):
        return gg[self.index]

    def vjp(self, gg):
        return GetItem(self.index)(gg)


def _scatter_item(g, index, x_shape):
    gx = xp_of(g).zeros(x_shape, dtype=g.dtype)
    if _is_int_array(index) and g.ndim >= 1:
        scatter_add_rows(gx, index, g)
    elif _has_int_array(index):
        xp_of(g).add.at(gx, index, g)  # repeated indices must add up
    else:
        gx[index] = g  # basic indexing and masks never repeat an element
    return gx


def _is_int_array(index):
    return hasattr(index, "dtype") and index.dtype.kind in "iu"


def _has_int_array(index):
    parts = index if isinstance(index, tuple) else (index,)
    return any(_is_int_array(p) or isinstance(p, list) for p in parts)


def getitem(x, index):
    """x[index]: basic slicing, integer arrays and boolean masks (backward scatter-adds)."""
    index = _unwrap_index(index)
    if isinstance(index, list):
        index = xp_of(x.array).asarray(index)
    return GetItem(index)(x)


def index_select(x, dim, index):
    """The entries of x at ``index`` along ``dim``."""
    dim = normalize_axis(dim, x.ndim)
    return getitem(x, (slice(None),) * dim + (index,))


# -- padding -----------------------------------------------------------------------------
class ConstantPad(Function):
    def __init__(self, widths, value):
        self.widths, self.value = widths, value

    def forward(self, x):
        return xp_of(x).pad(x, self.widths, mode="constant", constant_values=self.value)

    def backward(self, gy):
        return gy[tuple(slice(lo, gy.shape[i] - hi) for i, (lo, hi) in enumerate(self.widths))]

    def vjp(self, gy):  # the interior, whose adjoint (ScatterItem) pads with zeros again
        return GetItem(tuple(slice(lo, gy.shape[i] - hi) for i, (lo, hi) in enumerate(self.widths)))(gy)


def pad(x, pad, mode="constant", value=0.0):
    """PyTorch's ``F.pad``: ``pad`` lists (left, right) widths starting from the last dimension.

    Modes: 'constant' (with ``value``), 'reflect', 'replicate', 'circular'.
    """
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: expected an even number of widths for at most {x.ndim} dims, got {pad}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if mode == "constant":
        return ConstantPad(widths, value)(x)
    numpy_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}.get(mode)
    if numpy_mode is None:
        raise ValueError(f"pad: unknown mode {mode!r}; use constant, reflect, replicate or circular")
    for axis, (lo, hi) in enumerate(widths):
        if lo or hi:  # gather along the axis: np.pad of 0..n−1 says which input feeds each output
            source = np.pad(np.arange(x.shape[axis]), (lo, hi), mode=numpy_mode)
            x = index_select(x, axis, xp_of(x.array).asarray(source))
    return x


def one_hot(indices, num_classes=-1, dtype="int64"):
    """Class indices → one-hot vectors (last dimension ``num_classes``); no gradient."""
    indices = as_tensor(indices).array
    if indices.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expects integer class indices, got dtype {indices.dtype}")
    xp = xp_of(indices)
    if num_classes < 0:
        num_classes = int(indices.max()) + 1 if indices.size else 0
    if indices.size and (indices.min() < 0 or indices.max() >= num_classes):
        raise ValueError(f"one_hot: class indices must lie in [0, {num_classes}), got {indices.min()}..{indices.max()}")
    return Tensor((indices[..., None] == xp.arange(num_classes)).astype(dtype))
