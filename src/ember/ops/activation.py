"""Activations φ and their derivatives, written as each op's backward."""
from __future__ import annotations

import math

import numpy as np

from ember import ops, random, threads
from ember.autograd.function import Function
from ember.backend import get_array_module as xp_of
from ember.backend import to_device
from ember.ops.arithmetic import mul
from ember.ops.broadcast import drop_reduced_axes, keep_reduced_axes, kept_shape, normalize_axis
from ember.ops.elementwise import abs, clip, constant, exp, where
from ember.ops.shape import chunk


class Sigmoid(Function):
    # NOTE: fused and evaluated as 1/(1+e^−x) for x ≥ 0 and e^x/(1+e^x) for x < 0,
    # so neither branch overflows.
    def forward(self, x):
        xp = xp_of(x)
        e = xp.exp(-xp.abs(x))
        y = xp.where(x >= 0, 1 / (1 + e), e / (1 + e))
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved
        return gy * y * (1 - y)  # σ' = σ(1 − σ)

    def vjp(self, gy):
        y = self.output()
        return mul(gy, y * (1.0 - y))


def sigmoid(x):
    """σ(x) = 1 / (1 + e^−x), numerically stable."""
    return Sigmoid()(x)


def sigmoid_array(a, out=None):
    """σ(a) = ½ tanh(½ a) + ½ = 1 / (1 + e^−a) of a raw array, outside autograd; ``out=a`` works in place.

    For code that runs on arrays: the fused recurrent loops, word2vec's batched updates, YOLO
    decoding. Within one rounding of 1 / (1 + e^−a) (1.2e-7 in float32), never overflows, and
    saturates to exactly 0 or 1 for large |a|. Same shape and float dtype as ``a``.

    >>> sigmoid_array(numpy.array([-1.0, 0.0, 1.0])).round(4)
    array([0.2689, 0.5   , 0.7311])
    """
    # NOTE: the tanh identity rather than 1 / (1 + e^−a): one transcendental and three in-place
    # scalings, with no temporaries, no clipping and no overflow (e^−a overflows for a < −88 in
    # float32) — twice as fast as the clipped exp form in float32, which matters inside the RNN
    # step loop and word2vec's inner batch. Sigmoid.forward keeps the branch-wise exp form: it
    # stays relatively accurate deep in the tails (σ(−40) ≈ 4e−18, not 0), which log σ downstream
    # in a graph needs.
    xp = xp_of(a)
    y = xp.multiply(a, 0.5, out=out)
    xp.tanh(y, out=y)
    y *= 0.5
    y += 0.5
    return y


class Tanh(Function):
    def forward(self, x):
        y = xp_of(x).tanh(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved
        return gy * (1 - y * y)  # tanh' = 1 − tanh²

    def vjp(self, gy):
        y = self.output()
        return mul(gy, 1.0 - y * y)


def tanh(x):
    """tanh(x)."""
    return Tanh()(x)


class LeakyReLU(Function):
    def __init__(self, negative_slope):
        self.slope = negative_slope

    def forward(self, x):
        positive = x > 0
        self.save_for_backward(positive)
        if self.slope == 0:
            return xp_of(x).maximum(x, 0)  # max(x, 0), not x·mask: no −0.0 for negative x
        return xp_of(x).where(positive, x, x * x.dtype.type(self.slope))

    def backward(self, gy):
        (positive,) = self.saved
        if self.slope == 0:
            return gy * positive  # ReLU' = 1 for x > 0, else 0
        return xp_of(gy).where(positive, gy, gy * gy.dtype.type(self.slope))

    def vjp(self, gy):
        (positive,) = self.saved
        slope = xp_of(positive).where(positive, 1.0, self.slope)  # piecewise constant
        return mul(gy, constant(slope, gy, self.inputs[0]))


def relu(x):
    """max(0, x)."""
    return LeakyReLU(0.0)(x)


def leaky_relu(x, negative_slope=0.01):
    """x for x > 0, negative_slope·x otherwise (derivative 1 or negative_slope)."""
    return LeakyReLU(negative_slope)(x)


class ELU(Function):
    def __init__(self, alpha):
        self.alpha = alpha

    def forward(self, x):
        xp = xp_of(x)
        y = xp.where(x > 0, x, self.alpha * xp.expm1(xp.minimum(x, 0)))
        self.save_for_backward(x, y)
        return y.astype(x.dtype, copy=False)

    def backward(self, gy):
        x, y = self.saved
        return gy * xp_of(x).where(x > 0, 1, y + self.alpha).astype(gy.dtype, copy=False)

    def vjp(self, gy):
        x, _ = self.saved
        return mul(gy, where(x > 0, 1.0, self.output() + self.alpha))  # (y + α)' = y + α for x ≤ 0


def elu(x, alpha=1.0):
    """x for x > 0, α(e^x − 1) otherwise."""
    return ELU(alpha)(x)


class GELU(Function):
    def __init__(self, approximate):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        xp = xp_of(x)
        if self.approximate == "tanh":
            self.save_for_backward(x)
            return 0.5 * x * (1 + xp.tanh(_K * (x + 0.044715 * x**3)))
        # NOTE: backward recovers Φ(x) = y / x from the input and the output, which the graph keeps
        # alive anyway: no second erf (a quarter of a GPT step's time) and no extra array saved.
        y = (x * (0.5 * (1 + _erf(x / math.sqrt(2))))).astype(x.dtype, copy=False)
        self.save_for_backward(x, y)
        return y

    def backward(self, gy):
        if self.approximate == "tanh":
            (x,) = self.saved
            t = xp_of(x).tanh(_K * (x + 0.044715 * x**3))
            return gy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _K * (1 + 3 * 0.044715 * x * x))
        x, y = self.saved
        xp = xp_of(x)
        cdf = xp.where(x != 0, y / xp.where(x != 0, x, 1), 0.5)  # Φ(x) = y / x, and Φ(0) = 1/2
        pdf = xp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return (gy * (cdf + x * pdf)).astype(gy.dtype, copy=False)  # d[xΦ(x)] = Φ(x) + xφ(x)

    def vjp(self, gy):
        (x,) = self.inputs
        if self.approximate == "tanh":
            t = tanh((x + x * x * x * 0.044715) * _K)
            return mul(gy, (t + 1.0) * 0.5 + x * (1.0 - t * t) * (x * x * (3 * 0.044715) + 1.0) * (0.5 * _K))
        cdf = (ops.erf(x * (1 / math.sqrt(2))) + 1.0) * 0.5
        pdf = exp(x * x * -0.5) * (1 / math.sqrt(2 * math.pi))
        return mul(gy, cdf + x * pdf)  # plain Φ(x) + xφ(x): the y / x recovery would divide by x


_K = math.sqrt(2 / math.pi)


def _erf(x):
    """The error function: SciPy's (or CuPy's) when available, else the exact ``math.erf``."""
    xp = xp_of(x)
    if xp.__name__ == "cupy":
        import cupyx.scipy.special as special  # noqa: PLC0415 - ships with CuPy

        return special.erf(x)
    try:
        from scipy.special import erf  # noqa: PLC0415 - optional speed-up
    except ImportError:
        return xp.vectorize(math.erf, otypes=[x.dtype])(x)
    return erf(x)


def gelu(x, approximate="none"):
    """x·Φ(x), Φ the standard normal CDF; ``approximate='tanh'`` for the tanh formula."""
    return GELU(approximate)(x)


class Softplus(Function):
    def __init__(self, beta, threshold):
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        xp = xp_of(x)
        bx = self.beta * x
        self.save_for_backward(x)
        # log(1 + e^z) = max(z, 0) + log1p(e^−|z|): stable for large |z|
        y = (xp.maximum(bx, 0) + xp.log1p(xp.exp(-xp.abs(bx)))) / self.beta
        return xp.where(bx > self.threshold, x, y).astype(x.dtype, copy=False)

    def backward(self, gy):
        (x,) = self.saved
        bx = self.beta * x
        s = Sigmoid().forward(bx)
        return gy * xp_of(x).where(bx > self.threshold, 1, s).astype(gy.dtype, copy=False)

    def vjp(self, gy):
        (x,) = self.inputs
        linear = x.array * self.beta > self.threshold
        return mul(gy, where(linear, 1.0, sigmoid(x * self.beta)))


def softplus(x, beta=1.0, threshold=20.0):
    """(1/β)·log(1 + e^{βx}); linear above ``threshold`` as PyTorch."""
    return Softplus(beta, threshold)(x)


def silu(x):
    """x·σ(x) (also called swish)."""
    return x * sigmoid(x)


class Hardtanh(Function):
    def __init__(self, low, high):
        self.low, self.high = low, high

    def forward(self, x):
        self.save_for_backward(x)
        return xp_of(x).clip(x, self.low, self.high)

    def backward(self, gy):
        (x,) = self.saved
        return gy * ((x > self.low) & (x < self.high))

    def vjp(self, gy):
        (x,) = self.saved
        return mul(gy, constant((x > self.low) & (x < self.high), gy, self.inputs[0]))


def hardtanh(x, min_val=-1.0, max_val=1.0):
    """x clipped to [min_val, max_val], gradient 0 outside."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
    return Hardtanh(min_val, max_val)(x)


def identity(x):
    """The linear activation φ(x) = x."""
    return x


class Softmax(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        y = softmax_parts(x, self.axis)[0]  # shifted by the max: no overflow
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved
        gx = y * gy
        return gx - y * gx.sum(axis=self.axis, keepdims=True)  # J = diag(y) − y yᵀ

    def vjp(self, gy):
        y = self.output()
        return y * (gy - ops.sum(gy * y, self.axis, keepdims=True))


def softmax(x, dim=-1):
    """e^{x_i} / Σ_j e^{x_j} along ``dim``, computed after subtracting the max."""
    return Softmax(dim)(x)


class LogSoftmax(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        y = _log_softmax(x, self.axis)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved
        return gy - xp_of(y).exp(y) * gy.sum(axis=self.axis, keepdims=True)

    def vjp(self, gy):
        return gy - exp(self.output()) * ops.sum(gy, self.axis, keepdims=True)


def softmax_parts(x, axis, log=False):
    """p = e^{x−m} / s (or log p = (x − m) − log s with ``log``), the max m and s = Σ e^{x−m}
    along ``axis``: the softmax family's forward, m and s for the log-sum-exp m + log s.

    NOTE: the shift is subtracted first. Written x − (m + log s), m + log s rounds to m once
    |m| dwarfs log s (from ~1e7 in float32, ~1e17 in float64): tied logits then give log p = 0
    instead of −log C, and the gradient e^{log p} is wrong with them.
    """
    if _by_row_blocks(x, axis):
        return _softmax_row_blocks(x, log)
    return _softmax_steps(x, axis, log)


def _softmax_steps(x, axis, log, out=None):
    """max, shift, exp, sum and scale along ``axis``, written into ``out`` (new when None):
    returns (p or log p, m, s). Integers are taken in float64, as NumPy's exp promotes them."""
    xp = xp_of(x)
    if x.dtype.kind not in "fc":
        x = x.astype(xp.float64)
    m = x.max(axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)  # rows of −inf stay −inf instead of NaN
    d = xp.subtract(x, m, out=out)  # ≤ 0, so e^d ≤ 1: no overflow
    if log:
        s = xp.exp(d).sum(axis=axis, keepdims=True)
        d -= xp.log(s)
    else:
        xp.exp(d, out=d)
        s = d.sum(axis=axis, keepdims=True)
        d /= s
    return d, m, s


def _by_row_blocks(x, axis):
    """Whether the softmax runs by blocks of rows on the intra-op threads: a large contiguous
    floating NumPy array, taken along its last axis."""
    return (isinstance(x, np.ndarray) and x.dtype.kind == "f" and x.flags.c_contiguous and x.ndim > 0
            and axis in (-1, x.ndim - 1) and x.size >= threads.PARALLEL_MIN_ELEMENTS)


# NOTE: a block of rows this size stays in a core's cache through the softmax's five steps (max,
# subtract, exp, sum, scale), so the logits are read from memory once and the result written once:
# on 1120 × 10,000 float32 logits, 28 ms as whole-array passes on one thread, 13.5 ms in blocks on two.
SOFTMAX_BLOCK_BYTES = 256 * 2**10


def _softmax_row_blocks(x, log):
    rows = x.reshape(-1, x.shape[-1])
    out = np.empty_like(rows)
    m = np.empty((len(rows), 1), x.dtype)
    s = np.empty_like(m)

    def block(start, stop):
        _, m[start:stop], s[start:stop] = _softmax_steps(rows[start:stop], 1, log, out=out[start:stop])

    threads.parallel_blocks(block, len(rows), max(1, SOFTMAX_BLOCK_BYTES // max(1, rows[0].nbytes)), x.size)
    kept = (*x.shape[:-1], 1)
    return out.reshape(x.shape), m.reshape(kept), s.reshape(kept)


def _log_softmax(x, axis):
    """(x − m) − log Σ e^{x−m}: stable at any scale (see softmax_parts)."""
    return softmax_parts(x, axis, log=True)[0]


def log_softmax(x, dim=-1):
    """x − logsumexp(x) along ``dim``, computed as (x − max) − log Σ e^{x−max}: stable at any scale."""
    return LogSoftmax(dim)(x)


class LogSumExp(Function):
    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        p, m, s = softmax_parts(x, self.axis)
        self.save_for_backward(p)  # the softmax, saved: e^{x − logsumexp} loses it at large |x|
        y = m + xp_of(x).log(s)
        return y if self.keepdims else drop_reduced_axes(y, self.axis)

    def backward(self, gy):
        (p,) = self.saved
        gy = keep_reduced_axes(gy, self.axis, self.keepdims)
        return gy * p  # ∂/∂x_i = softmax_i

    def vjp(self, gy):
        (x,) = self.inputs
        p = Softmax(self.axis)(x)  # recomputed in the graph; e^{x − y} would lose it at large |x|
        return gy.reshape(kept_shape(x.shape, normalize_axis(self.axis, x.ndim))) * p


def logsumexp(x, dim=None, keepdim=False):
    """log Σ e^x over ``dim`` (all elements when None), stable."""
    return LogSumExp(dim, keepdim)(x)


# -- more activations, composed from the primitives above and the arithmetic ops ----------------
# Each derivative comes from the backward passes of its parts. Exactly at a kink (x = ±3 for
# hardswish, say) the one-sided value chosen may differ from PyTorch's kernels; elsewhere they agree.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(x):
    """SELU(x) = λ·ELU(x, α), λ ≈ 1.0507 and α ≈ 1.6733 (Klambauer et al. 2017): self-normalising.

    >>> selu(em.tensor([0.0, 1.0]))
    tensor([0.      , 1.050701])
    """
    return _SELU_SCALE * elu(x, _SELU_ALPHA)


def celu(x, alpha=1.0):
    """CELU(x) = max(0, x) + min(0, α(e^{x/α} − 1)) = α·ELU(x/α, 1): ELU made continuously differentiable."""
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0")
    return alpha * elu(x / alpha, 1.0)


def mish(x):
    """Mish(x) = x·tanh(softplus(x)) (Misra 2019), softplus with PyTorch's threshold 20."""
    return x * tanh(softplus(x))


def hardsigmoid(x):
    """Piecewise-linear sigmoid: 0 for x ≤ −3, 1 for x ≥ 3, x/6 + 1/2 between (gradient 1/6 inside)."""
    return Hardtanh(0.0, 6.0)(x + 3.0) / 6.0


def hardswish(x):
    """Hardswish(x) = x·hardsigmoid(x) (MobileNetV3): 0 for x ≤ −3, x for x ≥ 3, x(x + 3)/6 between."""
    return x * hardsigmoid(x)


def softsign(input):
    """x / (1 + |x|), a sigmoid-shaped map onto (−1, 1) with polynomial tails."""
    return input / (1 + abs(input))


def tanhshrink(input):
    """x − tanh(x)."""
    return input - tanh(input)


def threshold(x, threshold, value):
    """x where x > threshold, else ``value`` (gradient 1 where x > threshold, 0 elsewhere)."""
    return where(x.array > threshold, x, value)


def hardshrink(input, lambd=0.5):
    """x where |x| > λ, else 0."""
    return where(xp_of(input.array).abs(input.array) > lambd, input, 0.0)


def softshrink(input, lambd=0.5):
    """x − λ for x > λ, x + λ for x < −λ, 0 between: x − clip(x, −λ, λ) (gradient 0 on [−λ, λ])."""
    if lambd < 0:
        raise ValueError(f"softshrink: lambda must be greater or equal to 0, but found to be {lambd}.")
    return input - clip(input, -lambd, lambd)


def glu(input, dim=-1):
    """Gated linear unit: a ⊙ σ(b), where x = [a, b] is split in two halves along ``dim``.

    >>> glu(em.randn(4, 6)).shape
    (4, 3)
    """
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    size = input.shape[dim]
    if size % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {dim % input.ndim} is size {size}")
    a, b = chunk(input, 2, dim)
    return a * sigmoid(b)


def prelu(input, weight):
    """Parametric ReLU: x for x > 0, a·x otherwise, with the learnt slope a = ``weight``.

    ``weight`` holds one slope, or one per channel (dimension 1 of x, which must then be at least 2-D).
    """
    x = input
    if weight.ndim > 1:
        raise RuntimeError(f"prelu: weight must be 0-D or 1-D (one slope per channel), got shape {weight.shape}")
    C = x.shape[1] if x.ndim >= 2 else 1  # PyTorch: below 2-D there is no channel dimension
    if weight.numel() == 1:
        a = weight.reshape(())  # one slope: it broadcasts everywhere
    elif weight.shape[0] != C:
        raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                           f"{weight.shape[0]} and channel size = {C}.")
    else:
        a = weight.reshape((1, C) + (1,) * (x.ndim - 2)) if x.ndim >= 2 else weight
    return where(x.array > 0, x, a * x)


def rrelu(x, lower=1.0 / 8, upper=1.0 / 3, training=False):
    """Randomised leaky ReLU (Xu et al. 2015): x for x > 0, a·x otherwise.

    Training: a ~ U(lower, upper), drawn per element from ember's generator (so ``manual_seed``
    fixes it); evaluation: the fixed slope (lower + upper)/2.
    """
    if not training:
        return leaky_relu(x, (lower + upper) / 2)
    xp = xp_of(x.array)
    slopes = random.generator().uniform(lower, upper, x.shape).astype(x.dtype)
    noise = xp.where(x.array > 0, x.dtype.type(1), to_device(slopes, x.device))
    return x * noise  # the slope drawn is also the derivative, as in PyTorch's backward


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """A sample of the Gumbel-softmax (Jang et al. 2017): softmax((logits + g)/τ) along ``dim``, g ~ Gumbel(0, 1).

    ``hard=True`` returns the one-hot of its argmax in the forward pass with the soft sample's
    gradient (straight-through: y_hard − stop_grad(y_soft) + y_soft). ``eps`` is unused, as in PyTorch.
    """
    g = -xp_of(logits.array).log(to_device(random.generator().exponential(size=logits.shape), logits.device))
    y_soft = softmax((logits + g.astype(logits.dtype)) / tau, dim)
    if not hard:
        return y_soft
    xp = xp_of(y_soft.array)
    index = xp.expand_dims(y_soft.array.argmax(axis=dim), dim)
    y_hard = xp.zeros_like(y_soft.array)
    xp.put_along_axis(y_hard, index, 1, axis=dim)
    return y_soft + (y_hard - y_soft.array)  # value y_hard, gradient that of y_soft
