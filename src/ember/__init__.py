"""ember: a deep-learning framework from first principles on NumPy (CuPy on GPU).

>>> import ember as em
>>> x = em.randn(4, 3, requires_grad=True)
>>> loss = (x @ em.ones(3, 1)).relu().sum()
>>> loss.backward()
"""
import math as _math

import numpy as _np

from ember import (
    accelerator,
    amp,
    autograd,
    backend,
    backends,
    cuda,
    data,
    distributions,
    dtypes,
    func,
    jit,
    linalg,
    models,
    nn,
    onnx,
    optim,
    random,
    special,
    testing,
    text,
    threads,
    train,
    utils,
    vision,
    viz,
)
from ember._version import __version__  # noqa: F401 -- ember.__version__ (submodules read ember._version)
from ember.amp import autocast
from ember.autograd import Parameter, Tensor, detect_anomaly, enable_grad, no_grad, set_grad_enabled
from ember.autograd.grad_mode import inference_mode, is_grad_enabled
from ember.autograd.tensor import (  # PyTorch's legacy typed constructors
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
    set_printoptions,
)
from ember.backend import cuda_available, device
from ember.backends import are_deterministic_algorithms_enabled, use_deterministic_algorithms
from ember.backends.cuda import get_float32_matmul_precision, set_float32_matmul_precision
from ember.creation import (
    arange,
    as_tensor,
    bernoulli,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    logspace,
    multinomial,
    normal,
    ones,
    ones_like,
    poisson,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    scalar_tensor,
    tensor,
    tril_indices,
    triu_indices,
    zeros,
    zeros_like,
)
from ember.dtypes import (
    can_cast,
    finfo,
    get_default_dtype,
    iinfo,
    is_complex,
    is_floating_point,
    promote_types,
    result_type,
    set_default_dtype,
)
from ember.ops import *  # noqa: F403 - the functional ops are part of the top-level API
from ember.ops import __all__ as _ops_all
from ember.random import (
    Generator,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)
from ember.serialization import load, save
from ember.threads import get_num_interop_threads, get_num_threads, set_num_interop_threads, set_num_threads

pi, e, inf, nan = _math.pi, _math.e, _math.inf, _math.nan


def is_tensor(obj) -> bool:
    """True for an ember ``Tensor`` (or ``Parameter``)."""
    return isinstance(obj, Tensor)


def numel(x) -> int:
    """The number of elements of ``x``."""
    return x.numel()


def compile(model=None, **kwargs):  # noqa: A001 - PyTorch's name
    """PyTorch's ``torch.compile``: ember has no compiler, so the model (or function) is returned as it
    is and runs eagerly. Works called (``em.compile(model, mode="max-autotune")``) and as a decorator
    (``@em.compile`` or ``@em.compile(fullgraph=True)``).
    """
    if model is None:
        return lambda fn: fn
    return model


def __getattr__(name):
    # bfloat16 needs the optional ml_dtypes package; load it on first use, and say which extra
    # to install when it is missing.
    if name == "bfloat16":
        globals()["bfloat16"] = bf16 = dtypes.load_bfloat16()
        return bf16
    raise AttributeError(f"module 'ember' has no attribute {name!r}")


# -- dtypes: NumPy's types (em.float32 is numpy.float32). The names `bool`, `float`, `int`-like
# aliases shadow the builtins only inside this module, which uses none of them below.
float16, float32, float64 = _np.float16, _np.float32, _np.float64
int8, int16, int32, int64, uint8 = _np.int8, _np.int16, _np.int32, _np.int64, _np.uint8
uint16, uint32, uint64 = _np.uint16, _np.uint32, _np.uint64
bool = bool_ = _np.bool_  # noqa: A001 - PyTorch's name
float, double, long, half = float32, float64, int64, float16  # noqa: A001 - PyTorch's aliases
int, short = int32, int16  # noqa: A001 - PyTorch's aliases
complex64, complex128 = _np.complex64, _np.complex128
cfloat, cdouble = complex64, complex128


# The builtin-shadowing aliases (bool, float, int, ...) stay out of __all__ so that
# `from ember import *` leaves the builtins alone.
__all__ = [
    "Generator", "Parameter", "Tensor", "accelerator", "amp", "arange", "are_deterministic_algorithms_enabled",
    "as_tensor", "autocast", "autograd", "can_cast", "promote_types", "result_type", "scalar_tensor",
    "tril_indices", "triu_indices", "backend", "backends", "bernoulli", "bool_", "cdouble", "cfloat",
    "complex64", "complex128", "cuda", "cuda_available", "data", "default_generator", "detect_anomaly", "device",
    "distributions",
    "double", "e", "empty", "empty_like", "enable_grad", "eye", "finfo", "float16", "float32", "float64", "func",
    "from_numpy", "full", "full_like", "get_default_dtype", "get_float32_matmul_precision",
    "get_num_interop_threads", "get_num_threads", "get_rng_state",
    "half", "iinfo", "inf", "inference_mode", "initial_seed", "int8", "int16", "int32", "int64", "is_complex",
    "is_floating_point", "is_grad_enabled", "is_tensor", "jit", "linalg", "linspace", "load", "logspace", "long",
    "manual_seed", "models", "multinomial", "nan", "nn", "no_grad", "normal", "numel", "onnx", "ones", "ones_like",
    "optim", "pi", "poisson", "rand", "rand_like", "randint", "randint_like", "randn", "randn_like", "randperm",
    "random", "save", "seed", "set_default_dtype", "set_float32_matmul_precision", "set_grad_enabled",
    "set_num_interop_threads", "set_num_threads", "set_printoptions", "special", "testing", "threads",
    "set_rng_state", "short", "tensor", "text", "train", "utils", "uint8", "uint16", "uint32", "uint64",
    "use_deterministic_algorithms", "vision", "viz",
    "zeros", "zeros_like",
]
__all__ += _ops_all
__all__ += ["BoolTensor", "ByteTensor", "CharTensor", "DoubleTensor", "FloatTensor", "HalfTensor", "IntTensor",
            "LongTensor", "ShortTensor"]
