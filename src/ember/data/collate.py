"""Collation: ``default_collate`` merges a list of samples into a batch, ``default_convert`` one sample.

PyTorch's rules, field by field through nested dicts, tuples, lists and namedtuples:
tensors and arrays are stacked on a new first axis (dtype kept), Python numbers become a
tensor, strings stay a list. Two of ember's rules differ on purpose: Python floats become
float32 (ember's default dtype; PyTorch makes float64), and a tuple stays a tuple (PyTorch
returns a list) so that a batch has the structure of its samples.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping, MutableMapping, Sequence

import numpy as np

from ember import backend, dtypes
from ember.autograd.tensor import Tensor

__all__ = ["default_collate", "default_convert"]

_ERROR = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"


def _is_array(x) -> bool:
    """An ndarray (NumPy or CuPy) or a NumPy scalar: anything with a shape and a dtype that is not a Tensor."""
    return hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, Tensor)


def _is_text_array(x) -> bool:
    """Arrays of strings or Python objects, which no tensor can hold."""
    return np.dtype(x.dtype).kind in "SUO"


# -- a batch of samples -------------------------------------------------------------------
def _stack(batch) -> Tensor:
    """Tensors or arrays (dtype kept) stacked on a new first axis."""
    arrays = [b.array if isinstance(b, Tensor) else b for b in batch]
    shapes = {tuple(a.shape) for a in arrays}
    if len(shapes) > 1:
        raise RuntimeError(f"default_collate: cannot stack samples of different shapes {sorted(shapes)}; "
                           "pad them to one shape or pass a collate_fn")
    return Tensor(backend.get_array_module(arrays[0]).stack(arrays))


def _collate_numbers(batch) -> Tensor:
    """Python numbers: bools stay bool, ints become int64, floats float32 (ember's rule)."""
    array = np.asarray(batch)
    if array.dtype.kind == "f":
        array = array.astype(dtypes.get_default_dtype())
    elif array.dtype.kind in "iu":
        array = array.astype(np.int64)
    return Tensor(array)


def default_collate(batch):
    """Merge a list of samples into one batch, stacking along a new first dimension.

    Tensors and arrays are stacked (dtype kept); Python numbers become tensors (bool →
    bool, int → int64, float → float32); strings stay a list; dicts, tuples and lists are
    collated field by field and keep their type (a namedtuple stays that namedtuple).
    Arrays of strings or objects cannot become tensors: ``TypeError``.

    >>> x, y = default_collate([(np.zeros(3), 1), (np.ones(3), 0)])
    >>> x.shape, y.tolist()
    ((2, 3), [1, 0])
    """
    if len(batch) == 0:
        raise ValueError("default_collate: cannot collate an empty batch")
    elem = batch[0]
    if isinstance(elem, (str, bytes)) or elem is None:  # before arrays: NumPy's str_ is a str
        return list(batch)
    if isinstance(elem, Tensor) or _is_array(elem):
        if _is_array(elem) and _is_text_array(elem):
            raise TypeError(_ERROR.format(elem.dtype))
        return _stack(batch)
    if isinstance(elem, (bool, int, float)):
        return _collate_numbers(batch)
    if isinstance(elem, Mapping):
        return _rebuild_mapping(elem, {key: default_collate([sample[key] for sample in batch]) for key in elem})
    if isinstance(elem, Sequence):
        return _collate_sequences(batch)
    raise TypeError(_ERROR.format(type(elem).__name__))


def _rebuild_mapping(elem, fields: dict):
    """``fields`` in a mapping of ``elem``'s type (an OrderedDict or defaultdict stays one), else a dict."""
    if isinstance(elem, MutableMapping):
        clone = copy.copy(elem)
        clone.update(fields)
        return clone
    try:
        return type(elem)(fields)
    except TypeError:
        return fields


def _collate_sequences(batch):
    elem = batch[0]
    if any(len(sample) != len(elem) for sample in batch):
        raise RuntimeError(
            f"default_collate: each sample in the batch should have the same number of fields, "
            f"got {sorted({len(s) for s in batch})}"
        )
    fields = [default_collate(list(samples)) for samples in zip(*batch, strict=True)]
    return _rebuild_sequence(elem, fields)


def _rebuild_sequence(elem, fields: list):
    """``fields`` as a sequence of ``elem``'s kind: a namedtuple, a tuple, a list (or its subclass)."""
    if hasattr(elem, "_fields"):
        return type(elem)(*fields)
    if isinstance(elem, tuple):
        return tuple(fields)
    try:
        return type(elem)(fields)
    except TypeError:
        return fields


# -- one sample -----------------------------------------------------------------------------
def default_convert(data):
    """One sample with its arrays turned into tensors, the rest unchanged (the collate of ``batch_size=None``).

    NumPy arrays and scalars become tensors (arrays of strings or objects stay arrays);
    dicts, tuples, lists and namedtuples are converted field by field and keep their type;
    tensors, numbers and strings pass through.

    >>> default_convert({"x": np.zeros(2), "y": 3})
    {'x': tensor([0., 0.], dtype=float64), 'y': 3}
    """
    if isinstance(data, (Tensor, str, bytes)):
        return data
    if _is_array(data):
        return data if _is_text_array(data) else Tensor(backend.get_array_module(data).asarray(data))
    if isinstance(data, Mapping):
        return _rebuild_mapping(data, {key: default_convert(value) for key, value in data.items()})
    if isinstance(data, Sequence):
        return _rebuild_sequence(data, [default_convert(d) for d in data])
    return data
