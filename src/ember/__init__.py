"""ember: a deep-learning framework from first principles on NumPy (CuPy on GPU).

>>> import ember as em
>>> x = em.randn(4, 3, requires_grad=True)
>>> loss = (x @ em.ones(3, 1)).relu().sum()
>>> loss.backward()
"""
import numpy as _np

__version__ = "0.1.0"  # before the submodules, which may read it

from ember import autograd, backend, data, models, nn, onnx, optim, random, text, train, vision, viz
from ember.autograd import Parameter, Tensor, detect_anomaly, enable_grad, no_grad, set_grad_enabled
from ember.autograd.grad_mode import inference_mode, is_grad_enabled
from ember.backend import cuda_available
from ember.creation import (
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from ember.ops import *  # noqa: F403 - the functional ops are part of the top-level API
from ember.ops import __all__ as _ops_all
from ember.random import get_rng_state, manual_seed, set_rng_state
from ember.serialization import load, save

float16, float32, float64 = _np.float16, _np.float32, _np.float64
int8, int16, int32, int64, uint8 = _np.int8, _np.int16, _np.int32, _np.int64, _np.uint8
bool_ = _np.bool_
float, double, long = float32, float64, int64  # noqa: A001 - PyTorch's aliases
half = float16


def is_tensor(obj) -> bool:
    """True for an ember ``Tensor`` (or ``Parameter``)."""
    return isinstance(obj, Tensor)


def numel(x) -> int:
    """The number of elements of ``x``."""
    return x.numel()


__all__ = [
    "Parameter", "Tensor", "arange", "as_tensor", "autograd", "backend", "bool_", "cuda_available", "data",
    "detect_anomaly", "load", "models", "nn", "onnx", "optim", "save", "text", "train", "vision", "viz",
    "empty", "empty_like", "enable_grad", "eye", "float16", "float32", "float64", "from_numpy",
    "full", "full_like", "get_rng_state", "inference_mode", "int8", "int16", "int32", "int64",
    "is_grad_enabled", "is_tensor", "linspace", "manual_seed", "no_grad", "numel", "ones", "ones_like",
    "rand", "rand_like", "randint", "randn", "randn_like", "randperm", "random", "set_grad_enabled",
    "set_rng_state", "tensor", "uint8", "zeros", "zeros_like",
]
__all__ += _ops_all
