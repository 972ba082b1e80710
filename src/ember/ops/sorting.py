"""Sorting and counting: topk, sort, argsort, kthvalue, median, mode, unique, bincount, histc.

The ops that pick elements (topk, sort, kthvalue, median, mode) find the indices with NumPy
(no gradient) and read the values with a ``Gather`` along the dim, whose backward scatters the
gradient back to the picked elements. ``topk`` partitions (``argpartition``, linear time) and
sorts only the k winners.
"""
from __future__ import annotations

import numpy as np

from ember.autograd.tensor import Tensor, as_tensor
from ember.backend import get_array_module as xp_of
from ember.ops.broadcast import normalize_axis
from ember.ops.indexing import Gather
from ember.ops.reduction import ValuesIndices
from ember.ops.shape import reshape, squeeze


def _picked(x, dim, index, keepdim=True):
    """(values, indices): x's elements at ``index`` along ``dim`` (differentiable) and the index."""
    values = Gather(dim, index)(x)
    if not keepdim:
        values, index = squeeze(values, dim), index.squeeze(dim)
    return ValuesIndices(values, Tensor(index.astype(np.int64, copy=False)))


def _scalar(x):
    """What the dim-wise ops return for a 0-d tensor: itself and index 0."""
    return ValuesIndices(x * 1, Tensor(np.zeros((), np.int64)))


def _argsort(a, axis, descending=False, stable=False):
    """Indices that sort ``a`` along ``axis``; NaN counts as the largest, as in PyTorch.

    Descending sorts the reversed array ascending and reverses back, so equal elements keep
    their order when ``stable`` (negating would put NaN last and fails for unsigned integers).
    """
    xp, kind = xp_of(a), "stable" if stable else None
    if not descending:
        return xp.argsort(a, axis=axis, kind=kind)
    order = xp.argsort(xp.flip(a, axis), axis=axis, kind=kind)
    return (a.shape[axis] - 1) - xp.flip(order, axis)


# -- sort, topk ---------------------------------------------------------------------------
def sort(input, dim=-1, descending=False, *, stable=False):  # noqa: A002 - PyTorch's names
    """(values, indices) sorted along ``dim``; ``values = input.gather(dim, indices)``.

    >>> em.sort(em.tensor([3.0, 1.0, 2.0]))
    ValuesIndices(values=tensor([1., 2., 3.]), indices=tensor([1, 2, 0]))
    """
    x = as_tensor(input)
    if x.ndim == 0:
        return _scalar(x)
    dim = normalize_axis(dim, x.ndim)
    return _picked(x, dim, _argsort(x.array, dim, descending, stable))


def argsort(input, dim=-1, descending=False, stable=False):  # noqa: A002
    """The indices that sort ``input`` along ``dim`` (int64, no gradient).

    >>> em.argsort(em.tensor([3.0, 1.0, 2.0]), descending=True)
    tensor([0, 2, 1])
    """
    x = as_tensor(input)
    if x.ndim == 0:
        return Tensor(np.zeros((), np.int64))
    return Tensor(_argsort(x.array, normalize_axis(dim, x.ndim), descending, stable).astype(np.int64, copy=False))


def topk(input, k, dim=-1, largest=True, sorted=True):  # noqa: A002
    """(values, indices) of the k largest (``largest=False``: smallest) elements along ``dim``.

    With ``sorted`` the k come best first (ties in index order), else in index order; which
    of several tied elements make the k is unspecified, as in PyTorch.

    >>> em.topk(em.tensor([1.0, 4.0, 2.0, 3.0]), 2)
    ValuesIndices(values=tensor([4., 3.]), indices=tensor([1, 3]))
    """
    x = as_tensor(input)
    if x.ndim == 0:
        if k not in (0, 1):
            raise RuntimeError(f"topk(): k ({k}) out of range for a 0-d tensor")
        return _scalar(x)
    dim = normalize_axis(dim, x.ndim)
    a, n = x.array, x.shape[dim]
    if not 0 <= k <= n:
        raise RuntimeError(f"topk(): k ({k}) out of range for dimension {dim} of size {n}")
    xp = xp_of(a)
    index = _top_indices(a, k, dim, largest)
    if sorted and k > 1:
        order = _argsort(xp.take_along_axis(a, index, axis=dim), dim, descending=largest, stable=True)
        index = xp.take_along_axis(index, order, axis=dim)
    return _picked(x, dim, xp.ascontiguousarray(index))


def _top_indices(a, k, dim, largest):
    """The indices of the k largest (smallest) elements along ``dim``, in index order: a partition
    (linear time) around the k-th, then the k beyond it."""
    xp, n = xp_of(a), a.shape[dim]
    if k == 0:
        return xp.zeros(a.shape[:dim] + (0,) + a.shape[dim + 1:], np.int64)
    if dim == a.ndim - 1 and a.dtype.kind in "fiu" and 16 * k * _block_size(n, k) <= n:
        return xp.sort(_top_indices_by_blocks(a.reshape(-1, n), k, largest), axis=-1).reshape(a.shape[:-1] + (k,))
    part = xp.argpartition(a, n - k if largest else k - 1, axis=dim)
    return xp.sort(xp.take(part, xp.arange(n - k, n) if largest else xp.arange(k), axis=dim), axis=dim)


def _block_size(n, k):
    return max(32, int((n / k) ** 0.5))


def _top_indices_by_blocks(a, k, largest):
    """Top-k indices of each row of a 2-D ``a`` (unordered), for k small against the row length.

    NOTE: each row is cut into blocks and only the k blocks with the largest maxima are
    searched: every one of the k largest elements lies in a block whose maximum is at least
    the k-th largest value, and at most k blocks have such a maximum. One pass computes the
    block maxima; the partitions then run on about k·√(n/k) candidates instead of n elements
    (2-3x faster than one argpartition over the rows).
    """
    xp, (rows, n) = xp_of(a), a.shape
    size = _block_size(n, k)
    starts = xp.arange(0, n, size)
    peaks = (xp.maximum if largest else xp.minimum).reduceat(a, starts, axis=1)  # the last block may be short
    best = _partition_top(peaks, k, largest)
    candidates = ((best * size)[:, :, None] + xp.arange(size)).reshape(rows, -1)
    beyond = candidates >= n  # past the end of a short last block
    candidates = xp.minimum(candidates, n - 1)
    values = xp.where(beyond, _worst(a.dtype, largest), xp.take_along_axis(a, candidates, axis=1))
    return xp.take_along_axis(candidates, _partition_top(values, k, largest), axis=1)


def _partition_top(values, k, largest):
    """The column indices of the k largest (smallest) entries of each row, unordered."""
    m = values.shape[1]
    if largest:
        return xp_of(values).argpartition(values, m - k, axis=1)[:, m - k:]
    return xp_of(values).argpartition(values, k - 1, axis=1)[:, :k]


def _worst(dtype, largest):
    """The value no element loses to: −inf (+inf) for floats, the integer range's end for ints."""
    if dtype.kind == "f":
        return -np.inf if largest else np.inf
    info = np.iinfo(dtype)
    return info.min if largest else info.max


# -- order statistics ---------------------------------------------------------------------
def _with_nan_first(a, dim, index):
    """Where a slice holds NaN, pick its first NaN instead (PyTorch's median propagates it)."""
    xp = xp_of(a)
    if a.dtype.kind != "f":
        return index
    nan = xp.isnan(a)
    has = nan.any(axis=dim, keepdims=True)
    return xp.where(has, xp.argmax(nan, axis=dim, keepdims=True), index) if has.any() else index


def kthvalue(input, k, dim=-1, keepdim=False):  # noqa: A002
    """(values, indices) of the k-th smallest element (k from 1) along ``dim``.

    >>> em.kthvalue(em.tensor([3.0, 1.0, 2.0]), 2)
    ValuesIndices(values=tensor(2.), indices=tensor(2))
    """
    x = as_tensor(input)
    if x.ndim == 0:
        return _scalar(x)
    dim = normalize_axis(dim, x.ndim)
    if not 1 <= k <= x.shape[dim]:
        raise RuntimeError(f"kthvalue(): k ({k}) out of range for dimension {dim} of size {x.shape[dim]}")
    xp = xp_of(x.array)
    index = xp.take(xp.argpartition(x.array, k - 1, axis=dim), [k - 1], axis=dim)
    return _picked(x, dim, index, keepdim)


def median(input, dim=None, keepdim=False):  # noqa: A002
    """The lower median (element (n−1)//2 of the sorted values; NaN if there is one).

    Over all elements a tensor; along ``dim`` ``(values, indices)``. The gradient goes to the
    median element, as in PyTorch.

    >>> em.median(em.tensor([4.0, 1.0, 3.0, 2.0]))
    tensor(2.)
    """
    x = as_tensor(input)
    if dim is None:
        flat = reshape(x, (-1,))
        if flat.shape[0] == 0:
            return Tensor(xp_of(x.array).full((), np.nan, x.dtype))
        return squeeze(median(flat, 0, keepdim=True).values, 0)
    if x.ndim == 0:
        return _scalar(x)
    dim = normalize_axis(dim, x.ndim)
    xp, k = xp_of(x.array), (x.shape[dim] - 1) // 2
    index = xp.take(xp.argpartition(x.array, k, axis=dim), [k], axis=dim)
    return _picked(x, dim, _with_nan_first(x.array, dim, index), keepdim)


def mode(input, dim=-1, keepdim=False):  # noqa: A002
    """(values, indices): the most frequent value along ``dim`` (the smallest of equally frequent
    ones) and the index of its last occurrence, as PyTorch returns.

    >>> em.mode(em.tensor([1, 2, 2, 3, 3, 0]))
    ValuesIndices(values=tensor(2), indices=tensor(2))
    """
    x = as_tensor(input)
    if x.ndim == 0:
        return _scalar(x)
    dim = normalize_axis(dim, x.ndim)
    xp, n = xp_of(x.array), x.shape[dim]
    rows = xp.moveaxis(x.array, dim, -1).reshape(-1, n)
    s = xp.sort(rows, axis=1)
    starts = xp.ones(s.shape, bool)
    starts[:, 1:] = s[:, 1:] != s[:, :-1]
    run = xp.cumsum(starts.reshape(-1)) - 1  # runs of equal values, numbered across all rows
    run_length = xp.bincount(run)[run].reshape(s.shape)
    best = s[xp.arange(len(s)), xp.argmax(run_length, axis=1)]  # first longest run: the smallest value
    last = xp.where(rows == best[:, None], xp.arange(n), -1).max(axis=1)
    index = xp.moveaxis(last.reshape(x.shape[:dim] + x.shape[dim + 1:] + (1,)), -1, dim)
    return _picked(x, dim, xp.ascontiguousarray(index), keepdim)


# -- counting (no gradient) -----------------------------------------------------------------
def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    """The distinct elements (or slices along ``dim``) in ascending order; optionally the inverse
    (where each element went: ``output[inverse]`` rebuilds input) and the counts. The output is
    sorted whatever ``sorted`` says (PyTorch's CPU kernel sorts too).

    >>> em.unique(em.tensor([3, 1, 3]), return_counts=True)
    (tensor([1, 3]), tensor([1, 2]))
    """
    a = as_tensor(input).array
    dim = None if dim is None else normalize_axis(dim, a.ndim)
    out = xp_of(a).unique(a, return_inverse=True, return_counts=True, axis=dim)
    values, inverse, counts = out[0], out[1], out[2]
    inverse = inverse.reshape(a.shape if dim is None else (a.shape[dim],))
    extras = [Tensor(inverse.astype(np.int64))] if return_inverse else []
    extras += [Tensor(counts.astype(np.int64))] if return_counts else []
    return (Tensor(values), *extras) if extras else Tensor(values)


def bincount(input, weights=None, minlength=0):  # noqa: A002
    """How often each value 0, 1, … occurs in a 1-D non-negative integer tensor (or the summed
    ``weights`` of its occurrences); at least ``minlength`` bins.

    >>> em.bincount(em.tensor([0, 2, 2]))
    tensor([1, 0, 2])
    """
    a = as_tensor(input).array
    if a.ndim != 1 or a.dtype.kind not in "iu":
        raise RuntimeError(f"bincount(): expected a 1-D integer tensor, got shape {a.shape} and dtype {a.dtype}")
    if a.size and int(a.min()) < 0:
        raise RuntimeError("bincount(): the input must not hold negative values")
    w = None if weights is None else as_tensor(weights).array
    counts = xp_of(a).bincount(a, weights=w, minlength=minlength)
    if w is not None and w.dtype.kind == "f":
        counts = counts.astype(w.dtype, copy=False)
    return Tensor(counts)


def histc(input, bins=100, min=0, max=0):  # noqa: A002
    """A histogram of ``bins`` equal-width bins over [min, max] (the data's range when min = max);
    elements outside are ignored, the last bin includes ``max``.

    >>> em.histc(em.tensor([1.0, 2.0, 1.0]), bins=4, min=0, max=3)
    tensor([0., 2., 1., 0.])
    """
    a = as_tensor(input).array
    xp = xp_of(a)
    lo, hi = float(min), float(max)
    if lo == hi and a.size:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise RuntimeError(f"histc(): max ({hi}) must be larger than min ({lo})")
    inside = a[(a >= lo) & (a <= hi)].astype(np.float64)
    index = xp.minimum(((inside - lo) * bins / (hi - lo)).astype(np.int64), bins - 1)
    return Tensor(xp.bincount(index, minlength=bins).astype(a.dtype))


# -- sorted sequences and quantiles ----------------------------------------------------------------
def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):  # noqa: A002
    """For each value, the index where it would go in ``sorted_sequence`` to keep it sorted: the first
    such place, or with ``right`` (``side='right'``) the last. A 1-D sequence serves every value; an
    N-D one is searched row by row against the matching row of ``input`` (no gradient).

    >>> em.searchsorted(em.tensor([1, 3, 5, 7]), em.tensor([3, 6]))
    tensor([1, 3])
    """
    seq, values = as_tensor(sorted_sequence).array, as_tensor(input).array
    xp = xp_of(seq)
    right = right or side == "right"
    if sorter is not None:
        seq = xp.take_along_axis(seq, as_tensor(sorter).array, axis=-1)
    if seq.ndim == 1:
        index = xp.searchsorted(seq, values, side="right" if right else "left")
    else:
        if seq.shape[:-1] != values.shape[:-1]:
            raise RuntimeError(f"searchsorted(): boundaries {seq.shape} and input {values.shape} must have the "
                               "same leading dims")
        # below the value (or not above it, with right): count per row, as a vectorised search
        below = seq[..., None, :] <= values[..., :, None] if right else seq[..., None, :] < values[..., :, None]
        index = below.sum(axis=-1)
    return Tensor(index.astype(np.int32 if out_int32 else np.int64))


def bucketize(input, boundaries, *, out_int32=False, right=False):  # noqa: A002
    """The bucket of each value among the sorted 1-D ``boundaries`` (``searchsorted`` with the arguments
    the other way round): i with boundaries[i−1] < x ≤ boundaries[i], or ≤ / < with ``right``.

    >>> em.bucketize(em.tensor([0.5, 3.0, 9.0]), em.tensor([1.0, 3.0, 5.0]))
    tensor([0, 1, 3])
    """
    if as_tensor(boundaries).ndim != 1:
        raise RuntimeError(f"bucketize(): boundaries must be 1-D, got shape {as_tensor(boundaries).shape}")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def msort(input):  # noqa: A002
    """The values sorted along dim 0."""
    return sort(input, 0).values


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):  # noqa: A002
    """The q-quantiles of x along ``dim`` (all elements when None), q a number or a 1-D tensor in [0, 1]
    (its dim comes first in the result). Between the sorted values at ⌊q(n−1)⌋ and ⌈q(n−1)⌉ the
    ``interpolation`` is 'linear', 'lower', 'higher', 'nearest' or 'midpoint'; the gradient flows to
    the values read.

    >>> em.quantile(em.tensor([1.0, 2.0, 3.0, 4.0]), 0.5)
    tensor(2.5)
    """
    x = as_tensor(input)
    if x.dtype.kind not in "f":
        raise RuntimeError(f"quantile() input tensor must be either float or double dtype, got {x.dtype}")
    if interpolation not in ("linear", "lower", "higher", "nearest", "midpoint"):
        raise ValueError(f"quantile() interpolation must be one of linear, lower, higher, midpoint or nearest. "
                         f"Got {interpolation}")
    q_array = np.asarray(q.tolist() if isinstance(q, Tensor) else q, dtype=np.float64)
    if q_array.ndim > 1 or ((q_array < 0) | (q_array > 1)).any():
        raise RuntimeError(f"quantile() q must be a scalar or 1-D tensor with values in [0, 1], got {q}")
    if dim is None:
        x, dim, flat = x.reshape(-1), 0, True
    else:
        dim, flat = normalize_axis(dim, x.ndim), False
    values = sort(x, dim).values
    position = q_array.reshape(-1) * (x.shape[dim] - 1)
    lower, upper = np.floor(position).astype(np.int64), np.ceil(position).astype(np.int64)
    if interpolation == "lower":
        upper = lower
    elif interpolation == "higher":
        lower = upper
    elif interpolation == "nearest":  # halves to even, as PyTorch (round)
        lower = upper = np.round(position).astype(np.int64)
    weight = {"linear": position - lower, "midpoint": np.where(upper > lower, 0.5, 0.0)}.get(interpolation,
                                                                                        np.zeros_like(position))
    xp = xp_of(x.array)
    low, high = (values.index_select(dim, Tensor(xp.asarray(i))) for i in (lower, upper))
    shape = [1] * x.ndim
    shape[dim] = -1
    result = low + (high - low) * Tensor(xp.asarray(weight.reshape(shape), dtype=x.dtype))  # (…, len(q), …)
    result = result.movedim(dim, 0)  # the q dim first
    if keepdim:
        result = result.unsqueeze(dim + 1) if not flat else result.reshape(-1, *(1,) * len(as_tensor(input).shape))
    if q_array.ndim == 0:
        result = result.squeeze(0)
    return result



def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """True where an element of ``elements`` occurs in ``test_elements`` (False with ``invert``; no gradient).

    >>> em.isin(em.tensor([1, 2, 3]), em.tensor([2, 5]))
    tensor([False,  True, False])
    """
    x = as_tensor(elements)
    test = as_tensor(test_elements, like=x).array
    return Tensor(xp_of(x.array).isin(x.array, test, assume_unique=assume_unique, invert=invert))
