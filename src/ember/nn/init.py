"""Weight initialisation (``ember.nn.init``), with ``torch.nn.init``'s names and formulas.

Every function fills a tensor in place (no gradient is recorded) and returns it. Random
draws come from the global generator (``ember.random.generator()``), so ``em.manual_seed``
makes an initialisation reproducible; pass ``generator=`` (a NumPy ``Generator``) to use a
private stream instead.

Fans follow PyTorch: for a weight of shape (out, in, k1, k2, ...) — Linear's (out, in),
Conv2d's (out, in/groups, kh, kw) — fan_in = in·k1·k2·…, fan_out = out·k1·k2·….

The scales, in the course's notation with n = n^{[l−1]} the number of inputs of a unit:

=================  ====================================  =======================
function           std of W                              for
=================  ====================================  =======================
lecun_normal_      √(1/n)  (the course's "Xavier" form)  tanh, SELU
xavier_normal_     gain·√(2/(fan_in + fan_out)) (Glorot)  tanh, sigmoid
kaiming_normal_    gain/√fan, gain = √2 for ReLU (He)    ReLU: √(2/n)
=================  ====================================  =======================

The ``*_uniform_`` variants draw from U(−a, a) with a = √3·std, which has the same std.

>>> w = em.empty(256, 784)
>>> nn.init.kaiming_normal_(w, nonlinearity='relu')   # std √(2/784)
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ember import random
from ember.autograd.grad_mode import no_grad
from ember.backend import to_device

__all__ = [
    "calculate_gain", "calculate_fan_in_and_fan_out", "uniform_", "normal_", "trunc_normal_", "constant_",
    "ones_", "zeros_", "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
    "kaiming_normal_", "lecun_uniform_", "lecun_normal_", "orthogonal_",
]

_LINEAR_GAINS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                 "conv_transpose3d", "sigmoid")


# -- helpers ------------------------------------------------------------------------------------
def _fill(tensor, values):
    """Write ``values`` (a host array or scalar) into ``tensor`` in place, cast to its dtype and device."""
    with no_grad():
        tensor.array[...] = to_device(np.asarray(values, dtype=tensor.dtype), tensor.device)  # setitem broadcasts
        tensor._version += 1
    return tensor


def _rng(generator):
    return random.generator() if generator is None else generator


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for an activation: the factor that keeps the variance of signals steady.

    linear, conv*, sigmoid: 1; tanh: 5/3; relu: √2; leaky_relu(slope): √(2/(1 + slope²))
    (slope defaults to 0.01); selu: 3/4.

    >>> nn.init.calculate_gain('relu')
    1.4142135623730951
    """
    if nonlinearity in _LINEAR_GAINS:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight shaped (out, in, *kernel): in·∏kernel and out·∏kernel.

    >>> nn.init.calculate_fan_in_and_fan_out(em.empty(16, 3, 5, 5))   # a Conv2d weight
    (75, 400)
    """
    if tensor.ndim < 2:
        raise ValueError(f"init: fan in and fan out need a tensor with at least 2 dimensions, got shape {tensor.shape}")
    receptive_field = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


_calculate_fan_in_and_fan_out = calculate_fan_in_and_fan_out  # PyTorch's (private) spelling


def _calculate_correct_fan(tensor, mode):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _std_from_fan(fan, gain):
    # a zero fan means the tensor has no elements: nothing to draw, any scale will do
    return gain / math.sqrt(fan) if fan else 0.0


# -- constants --------------------------------------------------------------------------------------
def constant_(tensor, val):
    """Fill with the value ``val``."""
    return _fill(tensor, val)


def ones_(tensor):
    """Fill with 1."""
    return _fill(tensor, 1)


def zeros_(tensor):
    """Fill with 0 (the usual bias initialisation)."""
    return _fill(tensor, 0)


def eye_(tensor):
    """Fill a 2-D tensor with the identity matrix (ones on the diagonal), keeping identities in Linear layers."""
    if tensor.ndim != 2:
        raise ValueError(f"eye_: expects a 2-D tensor, got shape {tensor.shape}")
    return _fill(tensor, np.eye(*tensor.shape))


def dirac_(tensor, groups=1):
    """Fill a conv weight (out, in, *kernel) with the Dirac delta: the conv then copies its input channels.

    With ``groups``, each group of out/groups output channels copies the matching inputs.
    """
    if tensor.ndim not in (3, 4, 5):
        raise ValueError(f"dirac_: expects a 3-, 4- or 5-d conv weight, got shape {tensor.shape}")
    if tensor.shape[0] % groups:
        raise ValueError(f"dirac_: out channels {tensor.shape[0]} not divisible by groups {groups}")
    out_per_group = tensor.shape[0] // groups
    values = np.zeros(tensor.shape)
    centre = tuple(k // 2 for k in tensor.shape[2:])
    for g in range(groups):
        for d in range(min(out_per_group, tensor.shape[1])):
            values[(g * out_per_group + d, d) + centre] = 1
    return _fill(tensor, values)


# -- plain random draws -------------------------------------------------------------------------
def _draw_dtype(tensor):
    """float32 draws for float32 tensors (half the time and memory of drawing float64, then casting)."""
    return np.float32 if tensor.dtype == np.float32 else np.float64


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with draws from U(a, b)."""
    dtype = _draw_dtype(tensor)
    return _fill(tensor, _rng(generator).random(tensor.shape, dtype=dtype) * dtype(b - a) + dtype(a))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with draws from N(mean, std²)."""
    dtype = _draw_dtype(tensor)
    return _fill(tensor, _rng(generator).standard_normal(tensor.shape, dtype=dtype) * dtype(std) + dtype(mean))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with N(mean, std²) draws, redrawn until they fall in [a, b] (absolute bounds, as PyTorch)."""
    if not a < b:
        raise ValueError(f"trunc_normal_: need a < b, got a={a}, b={b}")
    if mean < a - 2 * std or mean > b + 2 * std:  # little mass inside [a, b]: rejection takes many rounds
        warnings.warn("trunc_normal_: mean is more than 2 std from [a, b]; drawing may be slow", stacklevel=2)
    rng = _rng(generator)
    values = rng.normal(mean, std, tensor.shape)
    outside = (values < a) | (values > b)
    while outside.any():  # rejection sampling: each round keeps most draws when [a, b] holds real mass
        values[outside] = rng.normal(mean, std, int(outside.sum()))
        outside = (values < a) | (values > b)
    return _fill(tensor, values)


# -- variance-scaling schemes ---------------------------------------------------------------------
def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot uniform: U(−a, a) with a = gain·√(6/(fan_in + fan_out)), i.e. std gain·√(2/(fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    bound = math.sqrt(3.0) * _std_from_fan((fan_in + fan_out) / 2, gain)
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot normal: N(0, σ²) with σ = gain·√(2/(fan_in + fan_out)).

    >>> nn.init.xavier_normal_(em.empty(100, 50), gain=nn.init.calculate_gain('tanh'))
    """
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, _std_from_fan((fan_in + fan_out) / 2, gain), generator)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He uniform: U(−b, b) with b = √3·gain/√fan, gain = calculate_gain(nonlinearity, a).

    ``a`` is the negative slope of a leaky ReLU; PyTorch's Linear and Conv use ``a=√5``, which
    gives b = 1/√fan_in.
    """
    fan = _calculate_correct_fan(tensor, mode)
    bound = math.sqrt(3.0) * _std_from_fan(fan, calculate_gain(nonlinearity, a))
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He normal: N(0, σ²) with σ = gain/√fan; for ReLU σ = √(2/n), the course's He initialisation.

    ``mode='fan_out'`` preserves the variance of gradients in the backward pass instead.

    >>> nn.init.kaiming_normal_(em.empty(64, 3, 3, 3), mode='fan_out', nonlinearity='relu')
    """
    fan = _calculate_correct_fan(tensor, mode)
    std = _std_from_fan(fan, calculate_gain(nonlinearity, a))
    return normal_(tensor, 0.0, std, generator)


def lecun_normal_(tensor, gain=1.0, generator=None):
    """LeCun normal: N(0, σ²) with σ = gain·√(1/fan_in).

    This is the course's "Xavier initialisation" for tanh units, W = randn(n, n_prev)·√(1/n_prev).
    """
    fan_in, _ = calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, _std_from_fan(fan_in, gain), generator)


def lecun_uniform_(tensor, gain=1.0, generator=None):
    """LeCun uniform: U(−a, a) with a = gain·√(3/fan_in), the uniform twin of ``lecun_normal_``."""
    fan_in, _ = calculate_fan_in_and_fan_out(tensor)
    bound = math.sqrt(3.0) * _std_from_fan(fan_in, gain)
    return uniform_(tensor, -bound, bound, generator)


def default_layer_init_(weight, bias=None, generator=None):
    """PyTorch's default for Linear and convolution layers: W ~ kaiming_uniform_(a=√5), which is
    U(−1/√fan_in, 1/√fan_in), and b ~ U(−1/√fan_in, 1/√fan_in) (b = 0 when fan_in is 0).

    >>> default_layer_init_(layer.weight, layer.bias)
    """
    kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
    if bias is not None:
        fan_in, _ = calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        uniform_(bias, -bound, bound, generator=generator)
    return weight


def orthogonal_(tensor, gain=1.0, generator=None):
    """Fill with a (semi-)orthogonal matrix times ``gain`` (Saxe et al.); extra dims are flattened.

    The rows (or columns, whichever are fewer) are orthonormal: W Wᵀ = gain²·I for a wide W.
    Good for recurrent weights, whose repeated products then neither explode nor vanish.
    """
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: expects at least 2 dimensions, got shape {tensor.shape}")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = _rng(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))  # makes the decomposition unique, so Q is uniformly (Haar) distributed
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))
