"""The multilayer perceptron: fully connected layers with a nonlinearity between them.

a^[l] = φ(W^[l] a^[l−1] + b^[l]) for the hidden layers, and a plain affine output layer
z^[L] = W^[L] a^[L−1] + b^[L] (the logits; the loss applies softmax or sigmoid).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from ember import nn
from ember.models import register

__all__ = ["MLP", "digits_mlp"]

_ACTIVATIONS = {
    "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU,
    "elu": nn.ELU, "silu": nn.SiLU, "softplus": nn.Softplus, "identity": nn.Identity, "linear": nn.Identity,
}


def _activation(activation) -> nn.Module:
    if isinstance(activation, str):
        if activation.lower() not in _ACTIVATIONS:
            raise ValueError(f"MLP: unknown activation {activation!r}; choose from {sorted(_ACTIVATIONS)} "
                             "or pass a Module class")
        return _ACTIVATIONS[activation.lower()]()
    if isinstance(activation, nn.Module):
        raise TypeError("MLP: pass the activation's class or name (one instance per layer is created), "
                        f"not an instance {activation!r}")
    return activation()


@register("mlp")
class MLP(nn.Sequential):
    """Fully connected network: in_features → hidden[0] → … → hidden[-1] → out_features.

    Each hidden layer is ``Linear → activation`` (then ``Dropout(dropout)`` when
    ``dropout > 0``); the last layer is a bare ``Linear`` giving logits. Inputs of shape
    (N, d1, d2, ...) are flattened to (N, d1·d2·…), so 8×8 digit images of shape
    (N, 1, 8, 8) go in directly with ``in_features=64``. Submodules are numbered like
    ``nn.Sequential`` (``0.weight``, ``0.bias``, ``2.weight``, ...).

    >>> net = MLP(64, hidden=(128, 64), out_features=10, dropout=0.1)
    >>> net(em.randn(32, 1, 8, 8)).shape
    (32, 10)
    """

    def __init__(self, in_features: int, hidden: Sequence[int], out_features: int, activation="relu",
                 dropout: float = 0.0, bias: bool = True):
        hidden = (hidden,) if isinstance(hidden, int) else tuple(hidden)
        sizes = (in_features, *hidden, out_features)
        if any(not isinstance(s, int) or s < 1 for s in sizes):
            raise ValueError(f"MLP: layer sizes must be positive integers, got {sizes}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MLP: dropout must lie in [0, 1), got {dropout}")
        layers = []
        for n_in, n_out in zip(sizes[:-2], sizes[1:-1], strict=True):
            layers += [nn.Linear(n_in, n_out, bias=bias), _activation(activation)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(sizes[-2], sizes[-1], bias=bias))
        super().__init__(*layers)
        self.in_features, self.hidden, self.out_features = in_features, hidden, out_features

    def forward(self, x):
        if x.ndim < 2 or math.prod(x.shape[1:]) != self.in_features:
            raise ValueError(f"MLP: expected input (N, {self.in_features}) or (N, ...) with {self.in_features} "
                             f"features per sample, got shape {x.shape}")
        return super().forward(x.reshape(x.shape[0], -1) if x.ndim > 2 else x)


@register("digits_mlp")
def digits_mlp(num_classes: int = 10, hidden: Sequence[int] = (256,), dropout: float = 0.2) -> MLP:
    """The default demo model: an MLP for scikit-learn's 8×8 digits (64 inputs, 10 classes).

    Reaches about 97% test accuracy in a few seconds on one CPU core (``ember demo``).

    >>> model = digits_mlp()
    """
    return MLP(64, hidden, num_classes, activation="relu", dropout=dropout)
