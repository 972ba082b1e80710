"""Helpers shared by the distributions (PyTorch's ``torch.distributions.utils``).

``broadcast_all`` turns parameters into tensors of one shape; ``logits_to_probs`` and
``probs_to_logits`` convert between the two parameterisations of the discrete
distributions; ``lazy_property`` computes the other one only when it is read.

Random draws come from ember's global generator (``em.manual_seed`` fixes them), on the host,
then move to the parameters' device with their dtype.
"""
from __future__ import annotations

import numbers

import numpy as np

from ember import backend
from ember import random as _random
from ember.autograd import grad_mode
from ember.autograd.tensor import Tensor, _wrap
from ember.dtypes import get_default_dtype
from ember.ops.activation import sigmoid, softmax
from ember.ops.layout import broadcast_tensors
from ember.ops.pointwise import clamp, log1p

__all__ = ["broadcast_all", "clamp_probs", "lazy_property", "logits_to_probs", "probs_to_logits"]


def broadcast_all(*values) -> tuple:
    """Tensors of one broadcast shape from tensors and numbers (differentiable for the tensors).

    Numbers take the dtype and device of the first tensor, or the default dtype if there is none.

    >>> [v.shape for v in broadcast_all(em.zeros(3, 1), 1.0)]
    [(3, 1), (3, 1)]
    """
    like = next((v for v in values if isinstance(v, Tensor)), None)
    tensors = []
    for v in values:
        if isinstance(v, Tensor):
            tensors.append(v)
        elif isinstance(v, (numbers.Number, np.ndarray, np.generic)):
            dtype = get_default_dtype() if like is None else like.dtype
            xp = np if like is None else like.xp
            tensors.append(_wrap(xp.asarray(v, dtype=dtype)))
        else:
            raise ValueError("Input arguments must all be instances of numbers.Number or ember.Tensor.")
    if all(t.shape == tensors[0].shape for t in tensors):
        return tuple(tensors)
    return broadcast_tensors(*tensors)


def clamp_probs(probs: Tensor) -> Tensor:
    """``probs`` clamped to [eps, 1 − eps] (eps of its dtype), so that their logs are finite."""
    eps = float(np.finfo(probs.dtype).eps)
    return clamp(probs, eps, 1 - eps)


def logits_to_probs(logits: Tensor, is_binary: bool = False) -> Tensor:
    """σ(logits) for a binary event, else softmax over the last dim."""
    return sigmoid(logits) if is_binary else softmax(logits, -1)


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    """log p − log(1 − p) for a binary event, else log p (p clamped away from 0 and 1)."""
    p = clamp_probs(probs)
    return p.log() - log1p(-p) if is_binary else p.log()


class lazy_property:  # noqa: N801 - PyTorch's name
    """A property computed on first read (with gradient recording on) and then stored on the instance.

    The discrete distributions take ``probs`` or ``logits``; the other one is a lazy property.
    """

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__
        self.__name__ = wrapped.__name__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        with grad_mode.enable_grad():
            value = self.wrapped(instance)
        instance.__dict__[self.wrapped.__name__] = value
        return value


def sum_rightmost(value: Tensor, dim: int) -> Tensor:
    """Sum the ``dim`` rightmost dimensions of ``value`` (none for dim = 0)."""
    if dim == 0:
        return value
    return value.reshape(value.shape[:value.ndim - dim] + (-1,)).sum(-1)


def draw(like: Tensor, shape: tuple, sampler, dtype=None) -> Tensor:
    """A tensor of ``shape`` filled by ``sampler(rng, shape)`` from the global generator, on ``like``'s device.

    The values take ``dtype`` (default: ``like``'s dtype) and carry no gradient.
    """
    values = np.asarray(sampler(_random.generator(), tuple(shape)), dtype=dtype or like.dtype)
    return _wrap(backend.to_device(values, backend.device_of(like.array)))


def host_array(t: Tensor, shape: tuple | None = None) -> np.ndarray:
    """``t``'s values as a float64 NumPy array (NumPy's samplers run on the host), broadcast to ``shape`` if given."""
    values = backend.to_numpy(t.array).astype(np.float64)
    return values if shape is None else np.broadcast_to(values, shape)


def standard_normal(like: Tensor, shape: tuple) -> Tensor:
    """ε ~ N(0, 1) of ``shape``, with ``like``'s dtype and device."""
    return draw(like, shape, lambda rng, s: rng.standard_normal(s))


def uniform(like: Tensor, shape: tuple, low: float = 0.0) -> Tensor:
    """u ~ U[low, 1) of ``shape``, with ``like``'s dtype and device, kept strictly below 1 after the cast."""
    dtype = np.dtype(like.dtype)
    below_one = np.nextafter(dtype.type(1), dtype.type(0))
    return draw(like, shape, lambda rng, s: np.minimum(rng.uniform(low, 1.0, s).astype(dtype), below_one))
