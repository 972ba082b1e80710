"""Tensor methods for the ops of ``ember.ops`` not covered by ``MathMethods``: elementwise and
reduction methods (``x.exp()``, ``x.sum(1)``), shapes (``x.reshape(...)``, ``x.permute(...)``) and
indexing, sorting and layout (``x.gather(...)``, ``x.topk(k)``, ``x.tril()``).

A mixin of ``Tensor``: each method delegates to the functional op of the same name, so that
``x.f(...)`` and ``em.f(x, ...)`` are one implementation.
"""
from __future__ import annotations

import numpy as np

# ember.ops imports Tensor, which imports this module: the methods look ``ember.ops`` (and
# ``tensor``'s names) up when called, by which time both are complete.
import ember
from ember.autograd import tensor as _tensor


def pick(numpy_style, torch_style):
    """Accept both NumPy's (axis, keepdims) and PyTorch's (dim, keepdim) spellings."""
    return numpy_style if torch_style is None else torch_style


def shape_args(args):
    """``reshape(2, 3)`` and ``reshape((2, 3))`` both mean the shape (2, 3)."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


class OpMethods:
    """The op methods of ``Tensor`` (see ``ember.ops`` for the functions they call)."""

    # -- method forms of the ops ----------------------------------------------------------
    def add(self, other, *, alpha=1):
        return ember.ops.add(self, other, alpha=alpha)

    def sub(self, other, *, alpha=1):
        return ember.ops.sub(self, other, alpha=alpha)

    subtract = sub

    def mul(self, other):
        return ember.ops.mul(self, other)

    multiply = mul

    def div(self, other, *, rounding_mode=None):
        return ember.ops.div(self, other, rounding_mode=rounding_mode)

    divide = div

    def true_divide(self, other):
        return ember.ops.div(self, other)

    def floor_divide(self, other):
        return ember.ops.floor_divide(self, other)

    def __floordiv__(self, other):
        return ember.ops.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return ember.ops.floor_divide(other, self)

    def pow(self, exponent):
        return ember.ops.pow(self, exponent)

    def neg(self):
        return ember.ops.neg(self)

    def sign(self):
        return ember.ops.sign(self)

    def eq(self, other):
        return ember.ops.eq(self, other)

    def ne(self, other):
        return ember.ops.ne(self, other)

    def lt(self, other):
        return ember.ops.lt(self, other)

    def le(self, other):
        return ember.ops.le(self, other)

    def gt(self, other):
        return ember.ops.gt(self, other)

    def ge(self, other):
        return ember.ops.ge(self, other)

    def index_select(self, dim, index):
        return ember.ops.index_select(self, dim, index)

    def exp(self):
        return ember.ops.exp(self)

    def log(self):
        return ember.ops.log(self)

    def sqrt(self):
        return ember.ops.sqrt(self)

    def abs(self):
        return ember.ops.abs(self)

    def sin(self):
        return ember.ops.sin(self)

    def cos(self):
        return ember.ops.cos(self)

    def clip(self, min=None, max=None):  # noqa: A002 - PyTorch's names
        return ember.ops.clamp(self, min, max)

    clamp = clip

    def maximum(self, other):
        return ember.ops.maximum(self, other)

    def minimum(self, other):
        return ember.ops.minimum(self, other)

    def sigmoid(self):
        return ember.ops.sigmoid(self)

    def tanh(self):
        return ember.ops.tanh(self)

    def relu(self):
        return ember.ops.relu(self)

    def softmax(self, dim=-1):
        return ember.ops.softmax(self, dim)

    def log_softmax(self, dim=-1):
        return ember.ops.log_softmax(self, dim)

    def logsumexp(self, dim=None, keepdim=False):
        return ember.ops.logsumexp(self, dim, keepdim)

    def max(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return ember.ops.max(self, pick(axis, dim), pick(keepdims, keepdim))

    def min(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return ember.ops.min(self, pick(axis, dim), pick(keepdims, keepdim))

    def amax(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return ember.ops.amax(self, pick(axis, dim), pick(keepdims, keepdim))

    def amin(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return ember.ops.amin(self, pick(axis, dim), pick(keepdims, keepdim))

    def var(self, axis=None, keepdims=False, *, dim=None, keepdim=None, unbiased=True, correction=None):
        return ember.ops.var(self, pick(axis, dim), pick(keepdims, keepdim), unbiased, correction)

    def std(self, axis=None, keepdims=False, *, dim=None, keepdim=None, unbiased=True, correction=None):
        return ember.ops.std(self, pick(axis, dim), pick(keepdims, keepdim), unbiased, correction)

    def argmax(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return ember.ops.argmax(self, pick(axis, dim), pick(keepdims, keepdim))

    def argmin(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return ember.ops.argmin(self, pick(axis, dim), pick(keepdims, keepdim))

    def reshape(self, *shape):
        return ember.ops.reshape(self, shape_args(shape))

    def select(self, dim, index):
        return ember.ops.select(self, dim, index)

    def take(self, index):
        return ember.ops.take(self, index)

    def tensor_split(self, indices_or_sections, dim=0):
        return ember.ops.tensor_split(self, indices_or_sections, dim)

    def unfold(self, dimension, size, step):
        return ember.ops.layout.unfold_windows(self, dimension, size, step)

    def view(self, *shape):
        """The same elements in a new shape (one size may be −1); ``view(dtype)`` reinterprets
        the bytes as another dtype (no gradient)."""
        if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list)):
            return _tensor._wrap(self.array.view(np.dtype(shape[0])))
        return ember.ops.reshape(self, shape_args(shape))

    def view_as(self, other):
        return ember.ops.reshape(self, other.shape)

    reshape_as = view_as

    def transpose(self, dim0=None, dim1=None):
        if dim0 is None:
            return self.T
        return ember.ops.transpose(self, dim0, dim1)

    def permute(self, *dims):
        return ember.ops.permute(self, shape_args(dims))

    def flatten(self, start_dim=0, end_dim=-1):
        return ember.ops.flatten(self, start_dim, end_dim)

    def squeeze(self, dim=None):
        return ember.ops.squeeze(self, dim)

    def unsqueeze(self, dim):
        return ember.ops.unsqueeze(self, dim)

    def expand(self, *shape):
        return ember.ops.expand(self, shape_args(shape))

    def broadcast_to(self, shape):
        return ember.ops.broadcast_to(self, shape)

    def expand_as(self, other):
        return ember.ops.broadcast_to(self, other.shape)

    def split(self, split_size_or_sections, dim=0):
        return ember.ops.split(self, split_size_or_sections, dim)

    def chunk(self, chunks, dim=0):
        return ember.ops.chunk(self, chunks, dim)

    def matmul(self, other):
        return ember.ops.matmul(self, other)

    def masked_fill(self, mask, value):
        return ember.ops.masked_fill(self, mask, value)

    def where(self, condition, other):
        """``self`` where ``condition`` is true, else ``other``."""
        return ember.ops.where(condition, self, other)

    # -- indexing, sorting and layout ops (see ember.ops.indexing, .sorting, .layout) -----
    def gather(self, dim, index, *, sparse_grad=False):
        return ember.ops.gather(self, dim, index)

    def scatter(self, dim, index, src=None, value=None, *, reduce=None):
        return ember.ops.scatter(self, dim, index, src, value, reduce=reduce)

    def scatter_add(self, dim, index, src):
        return ember.ops.scatter_add(self, dim, index, src)

    def scatter_reduce(self, dim, index, src, reduce, *, include_self=True):
        return ember.ops.scatter_reduce(self, dim, index, src, reduce, include_self=include_self)

    def index_add(self, dim, index, source, *, alpha=1):
        return ember.ops.index_add(self, dim, index, source, alpha=alpha)

    def index_copy(self, dim, index, source):
        return ember.ops.index_copy(self, dim, index, source)

    def index_fill(self, dim, index, value):
        return ember.ops.index_fill(self, dim, index, value)

    def index_put(self, indices, values, accumulate=False):
        return ember.ops.index_put(self, indices, values, accumulate)

    def masked_select(self, mask):
        return ember.ops.masked_select(self, mask)

    def masked_scatter(self, mask, source):
        return ember.ops.masked_scatter(self, mask, source)

    def nonzero(self, *, as_tuple=False):
        return ember.ops.nonzero(self, as_tuple=as_tuple)

    def argwhere(self):
        return ember.ops.argwhere(self)

    def sort(self, dim=-1, descending=False, *, stable=False):
        return ember.ops.sort(self, dim, descending, stable=stable)

    def argsort(self, dim=-1, descending=False, stable=False):
        return ember.ops.argsort(self, dim, descending, stable)

    def topk(self, k, dim=-1, largest=True, sorted=True):  # noqa: A002 - PyTorch's names
        return ember.ops.topk(self, k, dim, largest, sorted)

    def kthvalue(self, k, dim=-1, keepdim=False):
        return ember.ops.kthvalue(self, k, dim, keepdim)

    def median(self, dim=None, keepdim=False):
        return ember.ops.median(self, dim, keepdim)

    def mode(self, dim=-1, keepdim=False):
        return ember.ops.mode(self, dim, keepdim)

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
        return ember.ops.unique(self, sorted, return_inverse, return_counts, dim)

    def bincount(self, weights=None, minlength=0):
        return ember.ops.bincount(self, weights, minlength)

    def histc(self, bins=100, min=0, max=0):  # noqa: A002
        return ember.ops.histc(self, bins, min, max)

    def tril(self, diagonal=0):
        return ember.ops.tril(self, diagonal)

    def triu(self, diagonal=0):
        return ember.ops.triu(self, diagonal)

    def diag(self, diagonal=0):
        return ember.ops.diag(self, diagonal)

    def diagonal(self, offset=0, dim1=0, dim2=1):
        return ember.ops.diagonal(self, offset, dim1, dim2)

    def trace(self):
        return ember.ops.trace(self)

    def flip(self, *dims):
        return ember.ops.flip(self, shape_args(dims))

    def fliplr(self):
        return ember.ops.fliplr(self)

    def flipud(self):
        return ember.ops.flipud(self)

    def roll(self, shifts, dims=None):
        return ember.ops.roll(self, shifts, dims)

    def rot90(self, k=1, dims=(0, 1)):
        return ember.ops.rot90(self, k, dims)

    def narrow(self, dim, start, length):
        return ember.ops.narrow(self, dim, start, length)

    def unbind(self, dim=0):
        return ember.ops.unbind(self, dim)

    def t(self):
        return ember.ops.t(self)

    def repeat(self, *sizes):
        """The tensor tiled ``sizes[i]`` times along dim i (PyTorch's ``repeat``, NumPy's ``tile``)."""
        return ember.ops.layout.repeat(self, *sizes)

    def tile(self, *dims):
        return ember.ops.tile(self, shape_args(dims))

    def repeat_interleave(self, repeats, dim=None, *, output_size=None):
        return ember.ops.repeat_interleave(self, repeats, dim)

    def unflatten(self, dim, sizes):
        return ember.ops.unflatten(self, dim, sizes)

    def movedim(self, source, destination):
        return ember.ops.movedim(self, source, destination)

    moveaxis = movedim

    def swapaxes(self, axis0, axis1):
        return ember.ops.transpose(self, axis0, axis1)

    def swapdims(self, dim0, dim1):
        return ember.ops.transpose(self, dim0, dim1)

