"""Linear layers: the affine map y = x Wᵀ + b of every fully connected network."""
from __future__ import annotations

from ember.autograd.tensor import Parameter
from ember.creation import empty
from ember.nn import functional as F
from ember.nn import init
from ember.nn.module import Module


def check_sizes(layer: str, **sizes) -> None:
    """Each of ``sizes`` (name=value) must be an int ≥ 0 (0 makes an empty layer, as in PyTorch)."""
    for name, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{layer}: {name} must be a non-negative integer, got {value!r}")


def weight_and_bias(module, shape, bias: bool, device, dtype) -> None:
    """Register ``module.weight`` of ``shape`` and ``module.bias`` of (shape[0],), or None when not ``bias``.

    Both are left uninitialised (``empty``): the layer's ``reset_parameters`` draws them.
    """
    module.weight = Parameter(empty(*shape, dtype=dtype, device=device))
    module.register_parameter("bias", Parameter(empty(shape[0], dtype=dtype, device=device)) if bias else None)


class Linear(Module):
    """Fully connected layer: y = x Wᵀ + b (the course's z = W a + b for a batch of row vectors).

    Args:
        in_features: size n^{[l−1]} of each input sample.
        out_features: size n^{[l]} of each output sample.
        bias: learn an additive bias b (default True).
        device, dtype: where and in what precision the parameters live.

    Shapes: input (*, in_features) → output (*, out_features); weight (out_features,
    in_features), bias (out_features,). Initialised as PyTorch: W by
    ``kaiming_uniform_(a=√5)``, i.e. U(−1/√in, 1/√in), and b by U(−1/√in, 1/√in).

    >>> layer = nn.Linear(20, 30)
    >>> layer(em.randn(128, 20)).shape
    (128, 30)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        check_sizes("Linear", in_features=in_features, out_features=out_features)
        self.in_features, self.out_features = in_features, out_features
        weight_and_bias(self, (out_features, in_features), bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """W, b ~ U(−1/√fan_in, 1/√fan_in): PyTorch's default (``init.default_layer_init_``)."""
        init.default_layer_init_(self.weight, self.bias)

    def forward(self, input):
        """x Wᵀ + b for input (*, in_features)."""
        # NOTE: the op validates shapes and dtypes itself; the layer only rewords a failure in its
        # own terms, so the per-step hot path pays for no second check.
        try:
            return F.linear(input, self.weight, self.bias)
        except (TypeError, ValueError) as err:
            error = self._input_error(input)
            if error is None:
                raise
            raise error from err

    def _input_error(self, input):
        """The error naming this layer that a bad ``input`` deserves (None: not the input's fault)."""
        if input.ndim == 0 or input.shape[-1] != self.in_features:
            return ValueError(f"Linear(in_features={self.in_features}): expected input of shape "
                              f"(*, {self.in_features}), got {input.shape}")
        if input.dtype != self.weight.dtype:
            return TypeError(f"Linear: input dtype {input.dtype} differs from the weight's {self.weight.dtype}; "
                             "cast the input or call .to(dtype) on the model")
        return None

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
