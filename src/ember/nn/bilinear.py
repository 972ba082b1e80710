"""The bilinear layer y_k = x1ᵀ W_k x2 + b_k (its functional form, ``F.bilinear``, is ``ops.products.bilinear``)."""
from __future__ import annotations

import math

from ember.nn import init
from ember.nn.linear import check_sizes, weight_and_bias
from ember.nn.module import Module
from ember.ops.products import bilinear  # noqa: F401 - the functional form, re-exported where it was


class Bilinear(Module):
    """Bilinear layer: y_k = x1ᵀ W_k x2 + b_k, a learnt quadratic form between two inputs per output k.

    Args:
        in1_features, in2_features: sizes of the two inputs.
        out_features: number of outputs (forms W_k).
        bias: learn b (default True).

    Shapes: input1 (*, in1_features), input2 (*, in2_features) → (*, out_features); weight
    (out_features, in1_features, in2_features), bias (out_features,), both U(−1/√in1, 1/√in1),
    as PyTorch.

    >>> nn.Bilinear(20, 30, 40)(em.randn(128, 20), em.randn(128, 30)).shape
    (128, 40)
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__()
        check_sizes("Bilinear", in1_features=in1_features, in2_features=in2_features, out_features=out_features)
        self.in1_features, self.in2_features, self.out_features = in1_features, in2_features, out_features
        weight_and_bias(self, (out_features, in1_features, in2_features), bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """W, b ~ U(−1/√in1_features, 1/√in1_features), PyTorch's initialisation."""
        # NOTE: not init.default_layer_init_, whose fan-in of a (out, in1, in2) weight is in1·in2
        bound = 1 / math.sqrt(self.weight.shape[1]) if self.weight.shape[1] else 0.0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        """x1ᵀ W_k x2 + b_k for every k."""
        return bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
