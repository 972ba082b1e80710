"""Activation layers φ: thin modules over the functional ops (derivatives live in the ops' backward).

Layers that take PyTorch's ``inplace`` flag accept it, show it in their repr as PyTorch does, and
compute out of place: the values are the same, and the input is left unchanged.
"""
from __future__ import annotations

from ember.autograd.tensor import Parameter
from ember.creation import empty
from ember.nn import functional as F
from ember.nn import init
from ember.nn.module import Module


def _settings_repr(settings: str = "", inplace: bool = False) -> str:
    """PyTorch's ``extra_repr`` of an activation: its settings, then ``inplace=True`` only when set."""
    return ", ".join(part for part in (settings, "inplace=True" if inplace else "") if part)


class ReLU(Module):
    """ReLU(x) = max(0, x), element-wise; derivative 1 for x > 0, else 0.

    >>> nn.ReLU()(em.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.relu(input, self.inplace)

    def extra_repr(self) -> str:
        return _settings_repr(inplace=self.inplace)


class ReLU6(ReLU):
    """min(max(0, x), 6)."""

    def forward(self, input):
        return F.relu6(input, self.inplace)


class LeakyReLU(Module):
    """x for x > 0, negative_slope·x otherwise (the course uses slope 0.01), element-wise.

    >>> nn.LeakyReLU(0.1)(em.tensor([-2.0, 3.0]))
    tensor([-0.2,  3. ])
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return _settings_repr(f"negative_slope={self.negative_slope}", self.inplace)


class Sigmoid(Module):
    """σ(x) = 1/(1 + e^{−x}), element-wise; σ' = σ(1 − σ). Output in (0, 1).

    >>> nn.Sigmoid()(em.zeros(2))
    tensor([0.5, 0.5])
    """

    def forward(self, input):
        return F.sigmoid(input)


class LogSigmoid(Module):
    """log σ(x) = −softplus(−x), element-wise, computed stably."""

    def forward(self, input):
        return F.logsigmoid(input)


class Tanh(Module):
    """tanh(x), element-wise; tanh' = 1 − tanh². Output in (−1, 1), zero-centred.

    >>> nn.Tanh()(em.zeros(1))
    tensor([0.])
    """

    def forward(self, input):
        return F.tanh(input)


class ELU(Module):
    """x for x > 0, α(eˣ − 1) otherwise, element-wise.

    >>> nn.ELU(alpha=1.0)(em.tensor([1.0])).tolist()
    [1.0]
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return _settings_repr(f"alpha={self.alpha}", self.inplace)


class GELU(Module):
    """GELU(x) = x·Φ(x), Φ the standard normal CDF; ``approximate='tanh'`` uses
    0.5x(1 + tanh(√(2/π)(x + 0.044715x³))).

    >>> nn.GELU()(em.randn(3, 4)).shape
    (3, 4)
    """

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Softplus(Module):
    """(1/β)·log(1 + e^{βx}), a smooth ReLU; linear where βx > threshold (for stability).

    >>> nn.Softplus(beta=2.0)(em.randn(5)).shape
    (5,)
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class SiLU(Module):
    """SiLU (swish): x·σ(x), element-wise.

    >>> nn.SiLU()(em.zeros(2))
    tensor([0., 0.])
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.silu(input, self.inplace)

    def extra_repr(self) -> str:
        return _settings_repr(inplace=self.inplace)


class Hardtanh(Module):
    """x clipped to [min_val, max_val], element-wise (gradient 1 inside, 0 outside).

    >>> nn.Hardtanh()(em.tensor([-3.0, 0.5, 3.0]))
    tensor([-1. ,  0.5,  1. ])
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False,
                 min_value: float | None = None, max_value: float | None = None):
        super().__init__()
        min_val = min_val if min_value is None else min_value  # PyTorch's deprecated spellings
        max_val = max_val if max_value is None else max_value
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        return _settings_repr(f"min_val={self.min_val}, max_val={self.max_val}", self.inplace)


class Softmax(Module):
    """softmax(x)_i = e^{x_i} / Σ_j e^{x_j} along ``dim``: the output layer of a multi-class
    classifier (use ``CrossEntropyLoss`` on the logits for training; it is more stable).

    >>> nn.Softmax(dim=1)(em.randn(2, 3)).sum(dim=1)   # rows sum to 1
    """

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmax(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """log softmax(x) = x − logsumexp(x) along ``dim``; pair with ``NLLLoss``.

    >>> nn.LogSoftmax(dim=1)(em.randn(2, 3)).shape
    (2, 3)
    """

    def forward(self, input):
        return F.log_softmax(input, self.dim, _stacklevel=5)


# -- more element-wise activations ---------------------------------------------------------------
# NOTE: ``inplace=True`` is accepted as in PyTorch and computed out of place (same values).
class _InplaceActivation(Module):
    """An activation whose only setting is PyTorch's ``inplace`` flag (accepted, computed out of place)."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def extra_repr(self) -> str:
        return _settings_repr(inplace=self.inplace)


class SELU(_InplaceActivation):
    """SELU(x) = λ·(x if x > 0 else α(eˣ − 1)), λ ≈ 1.0507, α ≈ 1.6733: self-normalising nets
    (``inplace`` computed out of place).

    >>> nn.SELU()(em.tensor([1.0]))
    tensor([1.050701])
    """

    def forward(self, input):
        return F.selu(input, self.inplace)


class CELU(Module):
    """CELU(x) = max(0, x) + min(0, α(e^{x/α} − 1)), element-wise (``inplace`` computed out of place).

    >>> nn.CELU(alpha=2.0)(em.randn(3)).shape
    (3,)
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        return F.celu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return _settings_repr(f"alpha={self.alpha}", self.inplace)


class Mish(_InplaceActivation):
    """Mish(x) = x·tanh(softplus(x)), element-wise (``inplace`` computed out of place).

    >>> nn.Mish()(em.zeros(2))
    tensor([0., 0.])
    """

    def forward(self, input):
        return F.mish(input, self.inplace)


class Hardswish(_InplaceActivation):
    """Hardswish(x) = x·relu6(x + 3)/6 (MobileNetV3), element-wise (``inplace`` computed out of place).

    >>> nn.Hardswish()(em.tensor([-4.0, 0.0, 4.0]))
    tensor([-0.,  0.,  4.])
    """

    def forward(self, input):
        return F.hardswish(input, self.inplace)

    def extra_repr(self) -> str:
        return ""  # PyTorch shows no settings for this layer, ``inplace`` included


class Hardsigmoid(_InplaceActivation):
    """Hardsigmoid(x) = relu6(x + 3)/6, element-wise (``inplace`` computed out of place).

    >>> nn.Hardsigmoid()(em.tensor([0.0]))
    tensor([0.5])
    """

    def forward(self, input):
        return F.hardsigmoid(input, self.inplace)

    def extra_repr(self) -> str:
        return ""  # PyTorch shows no settings for this layer, ``inplace`` included


class Softsign(Module):
    """x / (1 + |x|), element-wise.

    >>> nn.Softsign()(em.tensor([1.0]))
    tensor([0.5])
    """

    def forward(self, input):
        return F.softsign(input)


class Tanhshrink(Module):
    """x − tanh(x), element-wise.

    >>> nn.Tanhshrink()(em.zeros(1))
    tensor([0.])
    """

    def forward(self, input):
        return F.tanhshrink(input)


class Hardshrink(Module):
    """x where |x| > λ, else 0.

    >>> nn.Hardshrink(0.5)(em.tensor([0.3, -0.8]))
    tensor([ 0. , -0.8])
    """

    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input):
        return F.hardshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Softshrink(Hardshrink):
    """x − λ for x > λ, x + λ for x < −λ, else 0.

    >>> nn.Softshrink(0.5)(em.tensor([0.3, -0.8]))
    tensor([ 0. , -0.3])
    """

    def forward(self, input):
        return F.softshrink(input, self.lambd)


class Threshold(Module):
    """y = x where x > threshold, else ``value`` (``inplace`` computed out of place).

    >>> nn.Threshold(0.1, 20.0)(em.tensor([0.0, 1.0]))
    tensor([20.,  1.])
    """

    def __init__(self, threshold: float, value: float, inplace: bool = False):
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input):
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        return _settings_repr(f"threshold={self.threshold}, value={self.value}", self.inplace)


class GLU(Module):
    """Gated linear unit: a ⊙ σ(b), x split in halves [a, b] along ``dim`` (its size is halved).

    >>> nn.GLU()(em.randn(4, 6)).shape
    (4, 3)
    """

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class RReLU(Module):
    """Randomised leaky ReLU: x for x > 0, a·x otherwise, with a ~ U(lower, upper) per element in
    training and a = (lower + upper)/2 in evaluation (``inplace`` computed out of place).

    >>> nn.RReLU().eval()(em.tensor([-3.0]))   # slope (1/8 + 1/3)/2
    tensor([-0.6875])
    """

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False):
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input):
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self) -> str:
        return _settings_repr(f"lower={self.lower}, upper={self.upper}", self.inplace)


class PReLU(Module):
    """Parametric ReLU: x for x > 0, a·x otherwise, with a learnt slope ``weight`` a, one shared
    (``num_parameters=1``) or one per channel (dimension 1 of the input), initialised to ``init``.

    >>> nn.PReLU(3)(em.randn(2, 3, 4, 4)).shape
    (2, 3, 4, 4)
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        super().__init__()
        if not isinstance(num_parameters, int) or isinstance(num_parameters, bool) or num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be a positive integer, got {num_parameters!r}")
        self.num_parameters, self.init = num_parameters, init
        self.weight = Parameter(empty(num_parameters, dtype=dtype, device=device))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every slope back to ``init`` (0.25 by default), as PyTorch."""
        init.constant_(self.weight, self.init)

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class Softmin(Softmax):
    """softmin(x) = softmax(−x) along ``dim``: weights that favour the smallest entries.

    >>> nn.Softmin(dim=1)(em.randn(2, 3)).shape
    (2, 3)
    """

    def forward(self, input):
        return F.softmin(input, self.dim, _stacklevel=5)


class Softmax2d(Module):
    """Softmax over the channels at every position of (N, C, H, W) or (C, H, W) input (dimension −3).

    >>> nn.Softmax2d()(em.randn(2, 3, 4, 4)).sum(dim=1)   # all ones
    """

    def forward(self, input):
        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.ndim}D instead")
        return F.softmax(input, -3, _stacklevel=5)
