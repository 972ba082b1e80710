"""Tensor constructors and random samplers, with PyTorch's signatures.

Constructors: ``tensor``, ``as_tensor``, ``from_numpy``, ``zeros``/``ones``/``empty``/``full``,
``arange``, ``linspace``, ``logspace``, ``eye`` and the ``*_like`` forms. Samplers: ``rand``,
``randn``, ``randint``, ``randperm``, ``normal``, ``bernoulli``, ``poisson``, ``multinomial``,
drawing on the host from the global generator or the ``generator=`` given (an ``em.Generator``).

Where PyTorch takes ``out=``, the result is written into that tensor (resized when its shape
differs; its dtype is the result's when ``dtype`` is not given).
"""
from __future__ import annotations

import operator

import numpy as np

from ember import backend, dtypes, random
from ember.autograd.tensor import Tensor, _to_array, _wrap


# -- helpers ---------------------------------------------------------------------------------------
def _shape(args, size=None) -> tuple:
    """``(2, 3)`` from ``zeros(2, 3)``, ``zeros((2, 3))``, ``zeros([2, 3])`` or ``zeros(size=(2, 3))``."""
    if size is not None:
        if args:
            raise TypeError("pass the size either as separate integers or as size=, not both")
        args = (size,)
    if len(args) == 1 and not isinstance(args[0], Tensor) and hasattr(args[0], "__len__"):
        args = args[0]
    return tuple(operator.index(n) for n in args)


def _dtype(dtype, out, default=None):
    """The result's dtype: the one asked for, else ``out``'s, else ``default`` (the default float dtype)."""
    if dtype is not None:
        return dtype
    if out is not None:
        return out.dtype
    return dtypes.get_default_dtype() if default is None else default


def _scalar(value):
    return value.item() if isinstance(value, Tensor) else value


def _finish(array, dtype, device, requires_grad, out=None) -> Tensor:
    """The tensor of a host (or device) array: cast to ``dtype``, moved to ``device`` or written into ``out``."""
    array = np.asarray(array) if np.isscalar(array) else array
    array = array.astype(dtype, copy=False)
    if out is not None:
        return _into(out, array)
    array = backend.to_device(array, backend.normalize_device(device))
    return Tensor(array, requires_grad=requires_grad, dtype=array.dtype)


def _into(out: Tensor, array) -> Tensor:
    """Write ``array`` into ``out`` in place, resizing it (as PyTorch does) when the shapes differ."""
    array = backend.to_device(array.astype(out.dtype, copy=False), out.device)
    if out.shape == array.shape:
        return out.copy_(array)
    out.data = Tensor(array, dtype=array.dtype)
    return out


# -- from data -------------------------------------------------------------------------------------
def tensor(data, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A new tensor from data (a copy). ndarrays keep their dtype; Python floats take the default dtype.

    >>> em.tensor([[1, 2], [3, 4]]).dtype
    dtype('int64')
    """
    if isinstance(data, Tensor):
        data = data.array
    t = _wrap(_to_array(data, dtype, device))
    if t.array is data:
        t.array = t.array.copy()
    return t.requires_grad_(requires_grad) if requires_grad else t


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but without a copy where none is needed: a tensor already of that dtype and
    device is returned as it is, an ndarray's memory is shared.

    >>> a = np.zeros(3); em.as_tensor(a).array is a
    True
    """
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype)
    return _wrap(_to_array(data, dtype, device))


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing ``ndarray``'s memory and dtype.

    >>> em.from_numpy(np.arange(3)).dtype
    dtype('int64')
    """
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray (got {type(ndarray).__name__})")
    return Tensor(ndarray, dtype=ndarray.dtype)


# -- filled ----------------------------------------------------------------------------------------
def zeros(*args, size=None, out=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)``, ``zeros((2, 3))`` or ``zeros(size=(2, 3))``.

    >>> em.zeros(2, 3).shape
    (2, 3)
    """
    return _finish(np.zeros(_shape(args, size)), _dtype(dtype, out), device, requires_grad, out)


def ones(*args, size=None, out=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of ones; the size is given as for ``zeros``."""
    return _finish(np.ones(_shape(args, size)), _dtype(dtype, out), device, requires_grad, out)


def empty(*args, size=None, out=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """An uninitialised tensor in PyTorch; ember fills it with zeros (the cost is the same on NumPy)."""
    return zeros(*args, size=size, out=out, dtype=dtype, device=device, requires_grad=requires_grad)


def _fill_dtype(value):
    """PyTorch's dtype for a Python fill value: bool, int64, the default float, or complex."""
    if isinstance(value, (bool, np.bool_)):
        return np.bool_
    if isinstance(value, (int, np.integer)):
        return np.int64
    if isinstance(value, (complex, np.complexfloating)):
        return np.complex128 if dtypes.get_default_dtype() == np.float64 else np.complex64
    return dtypes.get_default_dtype()


def full(size, fill_value, *, out=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value``; its dtype follows the value (bool, int64, float).

    >>> em.full((2,), 7).dtype
    dtype('int64')
    """
    fill_value = _scalar(fill_value)
    dtype = _dtype(dtype, out, _fill_dtype(fill_value))
    return _finish(np.full(_shape((size,)), fill_value, dtype=dtype), dtype, device, requires_grad, out)


def tril_indices(row, col, offset=0, *, dtype=None, device=None) -> Tensor:
    """The (row, column) indices of the lower triangle of a row × col matrix (below diagonal
    ``offset``), as a (2, N) int64 tensor in row-major order.

    >>> em.tril_indices(3, 3)
    tensor([[0, 1, 1, 2, 2, 2],
            [0, 0, 1, 0, 1, 2]])
    """
    return _finish(np.stack(np.tril_indices(row, offset, col)), dtype or np.int64, device, False)


def triu_indices(row, col, offset=0, *, dtype=None, device=None) -> Tensor:
    """The (row, column) indices of the upper triangle (above diagonal ``offset``), as ``tril_indices``."""
    return _finish(np.stack(np.triu_indices(row, offset, col)), dtype or np.int64, device, False)


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A 0-d tensor of the number ``s`` in the default float dtype (or ``dtype``)."""
    return _finish(np.asarray(s), _dtype(dtype, None), device, requires_grad)


def eye(n, m=None, *, out=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """The ``n × m`` identity (``m = n`` when omitted)."""
    return _finish(np.eye(n, m), _dtype(dtype, out), device, requires_grad, out)


# -- ranges ----------------------------------------------------------------------------------------
def arange(start=0, end=None, step=1, *, out=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """start, start + step, … up to but excluding end: ``⌈(end − start) / step⌉`` values.

    Integer (int64) unless an argument is a float (then the default dtype).

    >>> em.arange(0, 1, 0.25)
    tensor([0.0000, 0.2500, 0.5000, 0.7500])
    """
    start, end, step = _scalar(start), _scalar(end), _scalar(step)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange: upper bound {end} and lower bound {start} inconsistent with step sign {step}")
    is_float = any(isinstance(v, (float, np.floating)) for v in (start, end, step))
    dtype = _dtype(dtype, out, None if is_float else np.int64)
    # Values start + i·step are computed in float64 (as PyTorch does in double) and cast once.
    return _finish(np.arange(start, end, step), dtype, device, requires_grad, out)


def linspace(start, end, steps, *, out=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included.

    >>> em.linspace(0, 1, steps=5)
    tensor([0.0000, 0.2500, 0.5000, 0.7500, 1.0000])
    """
    values = np.linspace(_scalar(start), _scalar(end), operator.index(steps))
    return _finish(values, _dtype(dtype, out), device, requires_grad, out)


def logspace(start, end, steps, base=10.0, *, out=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``base ** linspace(start, end, steps)``.

    >>> em.logspace(0, 2, steps=3)
    tensor([  1.,  10., 100.])
    """
    values = np.power(base, np.linspace(_scalar(start), _scalar(end), operator.index(steps)))
    return _finish(values, _dtype(dtype, out), device, requires_grad, out)


# -- the *_like forms ------------------------------------------------------------------------------
def _like(fn):
    def like(input, *, dtype=None, device=None, requires_grad=False, **kwargs):  # noqa: A002 - PyTorch's name
        dtype, device = input.dtype if dtype is None else dtype, input.device if device is None else device
        return fn(*input.shape, **kwargs, dtype=dtype, device=device, requires_grad=requires_grad)

    like.__name__ = fn.__name__ + "_like"
    like.__doc__ = f"``{fn.__name__}`` with the shape of ``input``, and its dtype and device unless given."
    return like


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:  # noqa: A002
    """``full`` with the shape, dtype and device of ``input``."""
    return full(input.shape, fill_value, dtype=input.dtype if dtype is None else dtype,
                device=input.device if device is None else device, requires_grad=requires_grad)


def randint_like(input, low=0, high=None, *, generator=None, dtype=None, device=None,  # noqa: A002
                 requires_grad=False) -> Tensor:
    """``randint`` with the shape, dtype and device of ``input``: ``randint_like(x, high)`` or ``(x, low, high)``."""
    low, high = (0, low) if high is None else (low, high)
    return randint(low, high, input.shape, generator=generator, dtype=input.dtype if dtype is None else dtype,
                   device=input.device if device is None else device, requires_grad=requires_grad)


# -- random samplers -------------------------------------------------------------------------------
def rand(*args, size=None, generator=None, out=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform samples in [0, 1)."""
    draws = random.numpy_generator(generator).random(_shape(args, size))
    return _finish(draws, _dtype(dtype, out), device, requires_grad, out)


def randn(*args, size=None, generator=None, out=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal samples."""
    draws = random.numpy_generator(generator).standard_normal(_shape(args, size))
    return _finish(draws, _dtype(dtype, out), device, requires_grad, out)


def randint(*args, size=None, generator=None, out=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Integers drawn uniformly from [low, high): ``randint(high, size)`` or ``randint(low, high, size)``.

    >>> em.randint(3, 10, (2, 4)).shape
    (2, 4)
    """
    args = list(args)
    if size is None and args and hasattr(args[-1], "__len__"):
        size = args.pop()
    if size is None or len(args) not in (1, 2):
        raise TypeError("randint(low=0, high, size): expected one or two bounds and a size tuple")
    low, high = (0, args[0]) if len(args) == 1 else args
    low, high = int(_scalar(low)), int(_scalar(high))
    if low >= high:
        raise RuntimeError(f"randint: expected low < high, got low={low} >= high={high}")
    draws = random.numpy_generator(generator).integers(low, high, _shape((size,)))
    return _finish(draws, _dtype(dtype, out, np.int64), device, requires_grad, out)


def randperm(n, *, generator=None, out=None, dtype=np.int64, device=None, requires_grad=False) -> Tensor:
    """A random permutation of 0 … n − 1."""
    draws = random.numpy_generator(generator).permutation(operator.index(n))
    return _finish(draws, dtype, device, requires_grad, out)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, out=None, dtype=None, device=None,
           requires_grad=False) -> Tensor:
    """Samples of N(mean, std²): ``normal(mean, std, size)`` with numbers, or ``mean``/``std`` tensors
    (broadcast together; the result has their shape and dtype).

    The samples carry no gradient to ``mean`` or ``std`` (PyTorch's gradient there is zero too).

    >>> em.normal(em.zeros(3), 1.0).shape
    (3,)
    """
    tensors = [v for v in (mean, std) if isinstance(v, Tensor)]
    m, s = (v.array if isinstance(v, Tensor) else v for v in (mean, std))
    if not (backend.get_array_module(s).asarray(s) >= 0).all():
        raise RuntimeError(f"normal expects std >= 0.0, got {std}")
    rng = random.numpy_generator(generator)
    if not tensors:
        if size is None:
            raise TypeError("normal(mean, std, size): a size is needed when mean and std are numbers")
        return _finish(mean + std * rng.standard_normal(_shape((size,))), _dtype(dtype, out), device,
                       requires_grad, out)
    shape = np.broadcast_shapes(np.shape(m), np.shape(s))
    z = backend.to_device(rng.standard_normal(shape), tensors[0].device)
    result_dtype = np.result_type(*(t.dtype for t in tensors))
    return _finish(m + s * z, _dtype(dtype, out, result_dtype), tensors[0].device, requires_grad, out)


def bernoulli(input, p=None, *, generator=None, out=None) -> Tensor:  # noqa: A002 - PyTorch's name
    """0/1 samples, 1 with probability ``input`` (elementwise), or with probability ``p`` in
    ``input``'s shape when ``p`` is given. The result has ``input``'s dtype.

    >>> em.bernoulli(em.full((4,), 1.0))
    tensor([1., 1., 1., 1.])
    """
    probs = input.array if p is None else p
    xp = input.xp
    if not ((xp.asarray(probs) >= 0).all() and (xp.asarray(probs) <= 1).all()):
        raise RuntimeError("bernoulli: the probabilities must lie in [0, 1]")
    u = backend.to_device(random.numpy_generator(generator).random(input.shape), input.device)
    return _finish(u < probs, input.dtype, input.device, False, out)


def poisson(input, generator=None) -> Tensor:  # noqa: A002 - PyTorch's name
    """Samples of Poisson(rate) for each rate in ``input``; the result has ``input``'s dtype."""
    rates = backend.to_numpy(input.array)
    if not (rates >= 0).all():
        raise RuntimeError("poisson: the rates must be non-negative")
    return _finish(random.numpy_generator(generator).poisson(rates), input.dtype, input.device, False)


# -- multinomial -----------------------------------------------------------------------------------
def _check_distribution(p, xp):
    totals = p.sum(axis=-1)  # NaN or inf when any entry is
    if not p.min() >= 0 or not xp.isfinite(totals).all():
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or element < 0")
    if not (totals > 0).all():
        raise RuntimeError("multinomial: invalid multinomial distribution (sum of probabilities <= 0)")


def _sample_without_replacement(p, k, rng, xp):
    """The exponential race: with E ~ Exp(1), ordering by p / E descending samples without replacement.

    NOTE: E_i / p_i ~ Exp(p_i), and the smallest of independent exponentials is category i with
    probability p_i / Σp; the next smallest continues without it. One vectorised draw and a
    top-k, as PyTorch does, instead of k sequential renormalisations.
    """
    dtype = np.float32 if p.dtype == np.float32 else np.float64
    E = rng.standard_exponential(p.shape, dtype=dtype)
    np.maximum(E, np.finfo(dtype).tiny, out=E)  # E = 0 would make 0 / 0 for a zero-probability category
    score = p / backend.to_device(E, backend.device_of(p))
    top = xp.argpartition(-score, k - 1, axis=-1)[:, :k]
    order = xp.argsort(-xp.take_along_axis(score, top, axis=-1), axis=-1, kind="stable")
    return xp.take_along_axis(top, order, axis=-1)


_BLOCK = 256  # categories per block of the two-level inverse CDF


def _first_above(cdf, target, xp):
    """Per row r, the first j with ``cdf[r, j] > target[r, q]`` (rows non-decreasing): a binary search
    run on all (r, q) at once, one gather per halving."""
    R, m = cdf.shape
    flat, row_start = cdf.reshape(-1), xp.arange(R)[:, None] * m
    lo, hi = xp.zeros(target.shape, dtype=np.int64), xp.full(target.shape, m, dtype=np.int64)
    for _ in range(m.bit_length()):
        mid = (lo + hi) >> 1
        right = flat[row_start + xp.minimum(mid, m - 1)] <= target
        lo, hi = xp.where(right, mid + 1, lo), xp.where(right, hi, mid)
    return lo


def _below(value, xp):
    """The largest float64 below ``value``: a target u·total with u < 1 stays inside the support."""
    return xp.nextafter(value, -xp.inf)


def _search_full_cdf(p, u, xp):
    """The inverse CDF over whole rows: one cumulative sum of all rows laid end to end (the weights are
    non-negative, so it rises through every row), each target placed inside its row's stretch, and
    one ``searchsorted`` with the targets in increasing order (a forward walk, kind to the cache)."""
    R, n = p.shape
    cdf = xp.cumsum(p.astype(np.float64).reshape(-1))  # NumPy's cumsum converting as it goes is 2x slower
    ends = cdf[n - 1::n][:, None]
    starts = xp.concatenate([xp.zeros((1, 1)), ends[:-1]])
    targets = xp.minimum(starts + u * (ends - starts), _below(ends, xp)).reshape(-1)
    order = xp.argsort(targets)
    idx = xp.empty(targets.shape, dtype=np.int64)
    idx[order] = xp.searchsorted(cdf, targets[order], side="right")
    return idx.reshape(u.shape) - xp.arange(R)[:, None] * n


def _sample_with_replacement(p, k, rng, xp):
    """Inverse CDF: category j with cdf[j − 1] ≤ u·total < cdf[j], u ~ U[0, 1).

    NOTE: NumPy's cumsum is sequential (~10 ns per element), so for few draws per row the CDF is
    taken in two levels: block sums locate each draw's block of ``_BLOCK`` categories, and only
    that block is summed up. Many draws per row share one full cumulative sum.
    """
    R, n = p.shape
    u = backend.to_device(rng.random((R, k)), backend.device_of(p))
    if k * _BLOCK >= n:
        return _search_full_cdf(p, u, xp)
    wide = np.float64 if p.dtype.itemsize < 4 else None  # float16 sums of 256 weights would lose too much
    sums = xp.add.reduceat(p, xp.arange(0, n, _BLOCK), axis=-1, dtype=wide)  # reduceat converting is 3x slower
    block_cdf = xp.cumsum(sums, axis=-1, dtype=np.float64)
    target = xp.minimum(u * block_cdf[:, -1:], _below(block_cdf[:, -1:], xp))
    b = _first_above(block_cdf, target, xp)
    before = xp.where(b > 0, xp.take_along_axis(block_cdf, xp.maximum(b - 1, 0), axis=-1), 0.0)
    # the draw's block, read straight from p (the last block may be short: its missing weights are 0)
    columns = b[..., None] * _BLOCK + xp.arange(_BLOCK)
    picked = xp.take_along_axis(p, xp.minimum(columns, n - 1).reshape(R, -1), axis=-1).reshape(columns.shape)
    weights = xp.where(columns < n, picked, 0)
    cum = xp.cumsum(weights, axis=-1, dtype=np.float64)  # (R, k, _BLOCK)
    rest = xp.clip(target - before, 0.0, _below(cum[..., -1], xp))  # rounding must not leave the block
    return b * _BLOCK + (cum <= rest[..., None]).sum(axis=-1)


def multinomial(input, num_samples, replacement=False, *, generator=None, out=None) -> Tensor:  # noqa: A002
    """``num_samples`` category indices per row of the (unnormalised) weights ``input``: (n,) or (R, n).

    Without replacement a category is drawn at most once (``num_samples ≤ n``); the result is
    int64 of shape (num_samples,) or (R, num_samples).

    >>> em.multinomial(em.tensor([0.0, 1.0, 0.0]), 2, replacement=True)
    tensor([1, 1])
    """
    p, xp = input.array, input.xp
    if p.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: expected a 1-D or 2-D probability tensor, got {p.ndim}-D")
    if num_samples <= 0:
        raise RuntimeError("multinomial: cannot sample n_sample <= 0 samples")
    if not replacement and num_samples > p.shape[-1]:
        raise RuntimeError("multinomial: cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    rows = p.reshape(-1, p.shape[-1])
    _check_distribution(rows, xp)
    # One draw is the same with or without replacement, and the inverse CDF is the cheaper way.
    sample = _sample_with_replacement if replacement or num_samples == 1 else _sample_without_replacement
    idx = sample(rows, num_samples, random.numpy_generator(generator), xp)
    return _finish(idx.reshape(p.shape[:-1] + (num_samples,)), np.int64, input.device, False, out)


zeros_like = _like(zeros)
ones_like = _like(ones)
empty_like = _like(empty)
rand_like = _like(rand)
randn_like = _like(randn)
