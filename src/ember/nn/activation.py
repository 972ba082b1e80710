"""Activation layers φ: thin modules over the functional ops (derivatives live in the ops' backward)."""
from __future__ import annotations

from ember.nn import functional as F
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
