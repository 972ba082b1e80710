"""A strict stand-in for CuPy that runs on the CPU: where CuPy differs from NumPy, it differs too.

ember's CUDA path has no GPU to run on in CI. Installed as the backend's GPU module
(``install()``), this module makes ``device='cuda'`` tensors hold ``ndarray``s of its own, which
behave as CuPy's do where that can be checked without a GPU:

- no implicit conversion to NumPy: ``np.asarray(a)`` raises, as CuPy's does (``a.get()`` or
  ``strict_xp.asnumpy(a)`` are the explicit transfers);
- its functions and ufuncs refuse NumPy arrays and Python lists as operands (``asarray`` and
  ``array`` take them: that is the host-to-device copy);
- an out-of-range integer index wraps around silently instead of raising, so every bounds check
  ember relies on must be its own;
- ``float(a)``, ``int(a)``, ``bool(a)``, ``a.item()``, ``a.tolist()`` and ``a.get()`` count as host
  synchronisations (``SYNCS``), so a test can bound how often a training step waits for the device.

Everything else is NumPy underneath, so results equal the CPU's.
"""
from __future__ import annotations

import builtins
import operator
import types

import numpy as np

SYNCS = [0]  # host synchronisations so far (a list: mutable from the array methods)


class ImplicitConversionError(TypeError):
    """What CuPy raises when a device array would silently become a NumPy array."""


def _refuse(value, where, operand=True):
    """Check a host value passed to the device: a NumPy array or a list is refused as an array operand
    (a ufunc's input, as CuPy refuses it); shapes, axes and index lists pass."""
    if isinstance(value, np.ndarray):
        if not operand and value.dtype.kind in "iu" and value.ndim <= 1:
            return value  # axes or a shape given as a small integer array
        raise TypeError(f"{where}: a NumPy array operand is not allowed on the device (CuPy refuses it); "
                        f"move it with xp.asarray first")
    if isinstance(value, (list, tuple)):
        if builtins.any(isinstance(v, ndarray) for v in value):
            return type(value)(_unwrap(v, where, operand) for v in value)
        if operand and isinstance(value, list):
            raise TypeError(f"{where}: a Python list operand is not allowed on the device (CuPy refuses it)")
    return value


def _unwrap(value, where="strict_xp", operand=False):
    """The NumPy array inside a device array; host values checked as CuPy checks them."""
    if isinstance(value, ndarray):
        return value._a
    return _refuse(value, where, operand)


def _wrap(value):
    if isinstance(value, np.ndarray):
        return ndarray(value)
    if isinstance(value, np.generic) and not isinstance(value, np.dtype):
        return ndarray(np.asarray(value))  # CuPy's reductions give 0-d device arrays, not host scalars
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


def _wrap_index(index, shape):
    """The index with device arrays unwrapped and out-of-range integer arrays wrapped around (CuPy's
    behaviour: no bounds error on the device)."""
    if not isinstance(index, tuple):
        index = (index,)
    out, axis = [], 0
    for item in index:
        if isinstance(item, ndarray):
            item = item._a
            if item.dtype.kind in "iu" and axis < len(shape) and shape[axis]:
                item = item % shape[axis]
        elif isinstance(item, np.ndarray):
            raise TypeError("indexing a device array with a NumPy array is not allowed (CuPy refuses it)")
        out.append(item)
        if item is None:
            continue
        if item is Ellipsis:
            axis = len(shape) - (len(index) - len(out))
        else:
            axis += item.ndim if isinstance(item, np.ndarray) and item.dtype == bool else 1
    return tuple(out)


class ndarray:  # noqa: N801 - CuPy's name
    """A device array: a NumPy array that refuses to leave the device implicitly."""

    __slots__ = ("_a", "__weakref__")
    __array_priority__ = 10_000

    def __init__(self, array):
        self._a = array

    # -- leaving the device: explicit, and counted -------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        raise ImplicitConversionError("Implicit conversion to a NumPy array is not allowed. "
                                 "Please use `.get()` to construct a NumPy array explicitly.")

    def get(self, stream=None, order="C", out=None):
        SYNCS[0] += 1
        return self._a.copy()

    def item(self, *args):
        SYNCS[0] += 1
        return self._a.item(*args)

    def tolist(self):
        SYNCS[0] += 1
        return self._a.tolist()

    def __float__(self):
        SYNCS[0] += 1
        return float(self._a)

    def __int__(self):
        SYNCS[0] += 1
        return int(self._a)

    def __index__(self):
        SYNCS[0] += 1
        return operator.index(self._a)

    def __bool__(self):
        SYNCS[0] += 1
        return bool(self._a)

    def __complex__(self):
        SYNCS[0] += 1
        return complex(self._a)

    # -- attributes and methods --------------------------------------------------------------------
    @property
    def base(self):
        return None if self._a.base is None else _owner_wrapper(self._a.base)

    @property
    def T(self):  # noqa: N802
        return ndarray(self._a.T)

    @property
    def device(self):
        return _Device()

    def __getattr__(self, name):
        if name.startswith("__"):  # no __array_interface__ and friends: NumPy must not read the memory
            raise AttributeError(name)
        value = getattr(self._a, name)
        if not callable(value):
            return _wrap(value)
        where = f"ndarray.{name}"

        def method(*args, **kwargs):
            args = [_unwrap(a, where) for a in args]
            kwargs = {k: _unwrap(v, where) for k, v in kwargs.items()}
            return _wrap(value(*args, **kwargs))

        return method

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(v) for v in self._a)

    def __repr__(self):
        return f"strict_xp.{self._a!r}"

    def __getitem__(self, index):
        return _wrap(self._a[_wrap_index(index, self._a.shape)])

    def __setitem__(self, index, value):
        value = value._a if isinstance(value, ndarray) else value  # CuPy copies a host value in
        self._a[_wrap_index(index, self._a.shape)] = value

    def __contains__(self, value):
        SYNCS[0] += 1
        return value in self._a

    __hash__ = None


def _operator(name):
    return getattr(operator, name + "_" if name in ("and", "or") else name)


def _binary(name):
    op = _operator(name)

    def method(self, other):
        return _wrap(op(self._a, _unwrap(other, f"ndarray.__{name}__", operand=True)))

    return method


def _reflected(name):
    op = _operator(name)

    def method(self, other):
        return _wrap(op(_unwrap(other, f"ndarray.__r{name}__", operand=True), self._a))

    return method


def _inplace(name):
    op = _operator(f"i{name}")

    def method(self, other):
        self._a = op(self._a, _unwrap(other, f"ndarray.__i{name}__", operand=True))
        return self

    return method


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
              "lshift", "rshift"):
    setattr(ndarray, f"__{_name}__", _binary(_name))
    setattr(ndarray, f"__r{_name}__", _reflected(_name))
    setattr(ndarray, f"__i{_name}__", _inplace(_name))
for _name in ("lt", "le", "gt", "ge", "eq", "ne"):
    setattr(ndarray, f"__{_name}__", _binary(_name))
for _name, _op in (("neg", operator.neg), ("pos", operator.pos), ("abs", operator.abs), ("invert", operator.invert)):
    setattr(ndarray, f"__{_name}__", (lambda op: lambda self: ndarray(op(self._a)))(_op))

_OWNERS = {}  # id(NumPy base) -> the device array around it, so that a.base is b holds as on CuPy


def _owner_wrapper(base):
    import weakref

    ref = _OWNERS.get(id(base))
    wrapper = ref() if ref is not None else None
    if wrapper is None or wrapper._a is not base:
        wrapper = ndarray(base)
        _OWNERS[id(base)] = weakref.ref(wrapper)
    return wrapper


# -- the module's functions -----------------------------------------------------------------------
class _Ufunc:
    """A NumPy ufunc that refuses host operands, with its methods."""

    def __init__(self, ufunc):
        self._ufunc, self.__name__ = ufunc, ufunc.__name__
        self.nin, self.nout = ufunc.nin, ufunc.nout

    def __call__(self, *args, **kwargs):
        return _call(self._ufunc, self.__name__, args, kwargs, operand=True)

    def __getattr__(self, method):
        fn = getattr(self._ufunc, method)
        if method in ("at",):
            def at(a, indices, b=None):
                args = (_unwrap(a), _wrap_index(indices, a.shape)[0] if isinstance(indices, ndarray)
                        else _unwrap(indices))
                return fn(*args, *(() if b is None else (_unwrap(b),)))
            return at
        if not callable(fn):
            return fn
        return lambda *args, **kwargs: _call(fn, f"{self.__name__}.{method}", args, kwargs)


def _call(fn, name, args, kwargs, operand=False):
    out = kwargs.get("out")
    args = [_unwrap(a, name, operand) for a in args]
    kwargs = {k: _unwrap(v, name) for k, v in kwargs.items()}
    result = fn(*args, **kwargs)
    return out if isinstance(out, ndarray) else _wrap(result)


def _function(name, fn):
    def call(*args, **kwargs):
        return _call(fn, name, args, kwargs)

    call.__name__ = name
    return call


# Host-to-device copies: these take NumPy arrays and lists, as CuPy's do.
def asarray(a, dtype=None, order=None, *, blocking=False):
    if isinstance(a, ndarray):
        return a if dtype is None or a.dtype == dtype else ndarray(a._a.astype(dtype))
    return ndarray(np.array(a, dtype=dtype, copy=True))


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
    if isinstance(obj, ndarray):
        return ndarray(np.array(obj._a, dtype=dtype, copy=copy, ndmin=ndmin))
    return ndarray(np.array(obj, dtype=dtype, ndmin=ndmin))


def ascontiguousarray(a, dtype=None):
    return ndarray(np.ascontiguousarray(_unwrap(a, "ascontiguousarray"), dtype=dtype))


def asnumpy(a, stream=None, order="C", out=None, *, blocking=True):
    if isinstance(a, ndarray):
        return a.get()
    return np.asarray(a)


def get_array_module(*args):
    return _module if builtins.any(isinstance(a, ndarray) for a in args) else np


class _Device:
    id = 0

    def synchronize(self):
        SYNCS[0] += 1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _MemoryPool:
    def used_bytes(self):
        return 0

    def total_bytes(self):
        return 0

    def free_all_blocks(self):
        pass


cuda = types.SimpleNamespace(
    runtime=types.SimpleNamespace(getDeviceCount=lambda: 1, getDevice=lambda: 0,
                                  getDeviceProperties=lambda i: {"name": b"strict stand-in", "totalGlobalMem": 0}),
    Device=lambda i=0: _Device(), get_current_stream=lambda: types.SimpleNamespace(synchronize=_Device().synchronize),
    is_available=lambda: True,
)
_POOL = _MemoryPool()


def get_default_memory_pool():
    return _POOL


# CuPy's random API subset: seeded draws on the device.
class _Random(types.SimpleNamespace):
    pass


_rng = [np.random.default_rng(0)]
random = _Random(
    seed=lambda seed=None: _rng.__setitem__(0, np.random.default_rng(seed)),
    default_rng=lambda seed=None: np.random.default_rng(seed),
    standard_normal=lambda size=None, dtype=float: ndarray(_rng[0].standard_normal(size).astype(dtype)),
    random=lambda size=None, dtype=float: ndarray(_rng[0].random(size).astype(dtype)),
    rand=lambda *size: ndarray(_rng[0].random(size)),
    randn=lambda *size: ndarray(_rng[0].standard_normal(size)),
)


def __getattr__(name):
    value = getattr(np, name)
    if isinstance(value, np.ufunc):
        return _Ufunc(value)
    if callable(value) and not isinstance(value, type):
        return _function(name, value)
    return value  # dtypes, constants, submodules (linalg is wrapped below)


linalg = types.SimpleNamespace(**{n: _function(f"linalg.{n}", getattr(np.linalg, n))
                                  for n in ("norm", "svd", "qr", "solve", "inv", "det", "cholesky", "eigh",
                                            "slogdet", "matrix_rank", "pinv", "eigvalsh")})
lib = types.SimpleNamespace(stride_tricks=types.SimpleNamespace(
    as_strided=lambda x, shape=None, strides=None, **kw: ndarray(np.lib.stride_tricks.as_strided(
        _unwrap(x), shape, strides, **kw)),
    sliding_window_view=lambda x, *a, **kw: ndarray(np.lib.stride_tricks.sliding_window_view(_unwrap(x), *a, **kw)),
))
ndarray.__module__ = "strict_xp"
_module = None


def install():
    """Make this module ember's GPU backend (``device='cuda'``); returns the previous one."""
    import sys

    from ember import backend

    global _module
    _module = sys.modules[__name__]
    previous, backend._cupy = backend._cupy, _module
    return previous


def uninstall(previous=None):
    from ember import backend

    backend._cupy = previous
