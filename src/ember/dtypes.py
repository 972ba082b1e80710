"""Data types: the default floating-point type, ``finfo``/``iinfo`` and bfloat16.

ember's dtypes are NumPy's (``em.float32 is numpy.float32``), so ``x.dtype == em.float32``
holds. ``bfloat16`` comes from the optional ``ml_dtypes`` package (the NumPy bfloat16 that JAX
uses): ``pip install 'ember[bfloat16]'``.
"""
from __future__ import annotations

import numpy as np

_default_dtype = np.float32
_ML_DTYPES_FLOATS = ("bfloat16", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz")


def _ml_dtypes():
    try:
        import ml_dtypes  # noqa: PLC0415 - optional, imported on first use
    except ImportError as err:
        raise ImportError("ember.bfloat16 needs the ml_dtypes package: pip install 'ember[bfloat16]'") from err
    return ml_dtypes


def load_bfloat16():
    """``ml_dtypes.bfloat16``, or an ImportError that names the extra to install."""
    return _ml_dtypes().bfloat16


def is_floating_dtype(dtype) -> bool:
    """True for float16/32/64 and the ml_dtypes floats (bfloat16); False for ints, bool and complex."""
    dtype = np.dtype(dtype)
    return dtype.kind == "f" or (dtype.kind == "V" and dtype.name in _ML_DTYPES_FLOATS)


def is_floating_point(input) -> bool:  # noqa: A002 - PyTorch's argument name
    """True when the tensor's dtype is a floating-point one (PyTorch's ``torch.is_floating_point``).

    >>> em.is_floating_point(em.zeros(2)), em.is_floating_point(em.arange(2))
    (True, False)
    """
    return is_floating_dtype(input.dtype)


def is_complex(input) -> bool:  # noqa: A002 - PyTorch's argument name
    """True when the tensor's dtype is complex."""
    return np.dtype(input.dtype).kind == "c"


# -- the default dtype -----------------------------------------------------------------------------
def get_default_dtype():
    """The dtype Python floats and the float factories (``zeros``, ``rand``, ``arange(0.5)``) produce.

    >>> em.get_default_dtype()
    <class 'numpy.float32'>
    """
    return _default_dtype


def set_default_dtype(d) -> None:
    """Make ``d`` (a floating-point dtype: float32, float64, float16, bfloat16) the default dtype.

    >>> em.set_default_dtype(em.float64); em.tensor([1.5]).dtype
    dtype('float64')
    """
    global _default_dtype
    if not is_floating_dtype(d):
        raise TypeError("only floating-point types are supported as the default type")
    _default_dtype = np.dtype(d).type
    # The tensor constructor reads its module's DEFAULT_DTYPE at each call; keep it in step.
    from ember.autograd import tensor  # noqa: PLC0415 - dtypes sits below autograd

    tensor.DEFAULT_DTYPE = _default_dtype


# -- finfo / iinfo ---------------------------------------------------------------------------------
def _info_dtype(type):  # noqa: A002 - PyTorch's argument name
    if type is None:
        return np.dtype(_default_dtype)
    return np.dtype(type)


class finfo:  # noqa: N801 - PyTorch's name
    """Machine limits of a floating-point dtype, with PyTorch's attribute names.

    ``bits``, ``eps`` (the gap between 1 and the next value), ``max``, ``min`` (the most
    negative value), ``tiny`` = ``smallest_normal``, ``resolution`` and ``dtype`` (its name).

    >>> em.finfo(em.float32).eps
    1.1920928955078125e-07
    """

    def __init__(self, type=None):  # noqa: A002 - PyTorch's argument name
        dtype = _info_dtype(type)
        if not is_floating_dtype(dtype):
            raise TypeError(f"finfo() requires a floating point input type, got {dtype}; use iinfo for integers")
        info = np.finfo(dtype) if dtype.kind == "f" else _ml_dtypes().finfo(dtype)
        self.bits, self.dtype = int(info.bits), dtype.name
        self.eps, self.max, self.min = float(info.eps), float(info.max), float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -int(info.precision)  # PyTorch: 10^-precision, exact in decimal

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:  # noqa: N801 - PyTorch's name
    """Limits of an integer dtype: ``bits``, ``max``, ``min``, ``dtype`` (its name).

    >>> em.iinfo(em.int8).max
    127
    """

    def __init__(self, type):  # noqa: A002 - PyTorch's argument name
        dtype = _info_dtype(type)
        if dtype.kind not in "iu":
            raise TypeError(f"iinfo() requires an integer input type, got {dtype}; use finfo for floats")
        info = np.iinfo(dtype)
        self.bits, self.max, self.min, self.dtype = int(info.bits), int(info.max), int(info.min), dtype.name

    def __repr__(self) -> str:
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


# -- type promotion: PyTorch's categories (bool < integer < floating < complex) ------------------------
def _category(dtype) -> int:
    kind = np.dtype(dtype).kind
    return {"b": 0, "u": 1, "i": 1, "f": 2, "V": 2, "c": 3}[kind]


def promote_types(type1, type2):
    """The dtype an operation of these two dtypes computes in: within a category the wider one, across
    categories the higher category's (int64 with float32 is float32, not NumPy's float64).

    >>> em.promote_types(em.int64, em.float32)
    <class 'numpy.float32'>
    """
    a, b = np.dtype(type1), np.dtype(type2)
    if _category(a) != _category(b):
        return (a if _category(a) > _category(b) else b).type
    return np.promote_types(a, b).type


def result_type(tensor1, tensor2):
    """The dtype of an arithmetic op on these operands (tensors or Python numbers): a number takes the
    tensor's dtype unless its category is higher (then the default float dtype, or complex64)."""
    def dtype_and_rank(value):
        if hasattr(value, "dtype") and getattr(value, "ndim", 0) > 0:
            return np.dtype(value.dtype), 2
        if hasattr(value, "dtype"):
            return np.dtype(value.dtype), 1
        python = {bool: np.bool_, int: np.int64, float: get_default_dtype(), complex: np.complex64}[type(value)]
        return np.dtype(python), 0

    (a, rank_a), (b, rank_b) = dtype_and_rank(tensor1), dtype_and_rank(tensor2)
    if rank_a != rank_b and _category(a) == _category(b):
        return (a if rank_a > rank_b else b).type  # a number or 0-d tensor does not widen a tensor
    return promote_types(a, b)


def can_cast(from_, to) -> bool:
    """Whether PyTorch's casting rule allows ``from_`` → ``to`` in place: never to a lower category
    (float to int, int to bool).

    >>> em.can_cast(em.float32, em.int32)
    False
    """
    return _category(from_) <= _category(to)
