"""PyTorch's ``torch.nn.utils.parametrizations``: weight and spectral normalisation as parametrizations
(``ember.nn.utils.parametrize``), the form that replaced the hook-based ``nn.utils.weight_norm``.

    weight_norm:    weight = g · v / ‖v‖                 (parametrizations.weight.original0 = g, original1 = v)
    spectral_norm:  weight = original / σ(original)      (σ by power iteration; buffers ``_u``, ``_v``)
"""
from __future__ import annotations

from ember import ops
from ember.autograd.grad_mode import no_grad
from ember.creation import randn
from ember.nn.module import Module
from ember.nn.utils.parametrize import register_parametrization
from ember.nn.utils.weight_norm import _norm_except_dim, as_matrix, largest_singular_value, power_iterate

__all__ = ["spectral_norm", "weight_norm"]


class _WeightNorm(Module):
    def __init__(self, dim=0):
        super().__init__()
        self.dim = None if dim in (None, -1) else dim  # PyTorch's -1: one norm over the whole tensor

    def forward(self, weight_g, weight_v):
        return weight_v * (weight_g / _norm_except_dim(weight_v, self.dim))

    def right_inverse(self, weight):
        return _norm_except_dim(weight, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """Reparametrise ``module.<name>`` as g · v/‖v‖, ‖·‖ over every dim but ``dim`` (None: the whole tensor).

    >>> layer = weight_norm(nn.Linear(20, 40))
    >>> layer.parametrizations.weight.original0.shape      # g
    (40, 1)
    """
    return register_parametrization(module, name, _WeightNorm(dim), unsafe=True)


class _SpectralNorm(Module):
    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        ndim = weight.ndim
        if not -ndim <= dim < ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [-{ndim}, {ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim, self.eps = dim % ndim, eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            matrix = as_matrix(weight.detach(), self.dim)
            h, w = matrix.shape
            self.register_buffer("_u", ops.normalize(randn(h, dtype=weight.dtype), dim=0, eps=eps))
            self.register_buffer("_v", ops.normalize(randn(w, dtype=weight.dtype), dim=0, eps=eps))
            power_iterate(matrix, self._u, self._v, 15, eps, u_first=True)  # start from good vectors, as PyTorch

    def forward(self, weight):
        if weight.ndim == 1:  # a vector's spectral norm is its 2-norm
            return ops.normalize(weight, dim=0, eps=self.eps)
        matrix = as_matrix(weight, self.dim)
        if self.training:
            power_iterate(matrix, self._u, self._v, self.n_power_iterations, self.eps, u_first=True)
        return weight / largest_singular_value(matrix, self._u, self._v)

    def right_inverse(self, value):
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Divide ``module.<name>`` by its largest singular value, estimated by power iteration in training
    (``dim``: the output dim, 1 for transposed convolutions).

    >>> layer = spectral_norm(nn.Linear(20, 40))
    >>> layer.parametrizations.weight[0]._u.shape
    (40,)
    """
    weight = getattr(module, name)
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    with no_grad():
        parametrization = _SpectralNorm(weight, n_power_iterations, dim, eps)
    return register_parametrization(module, name, parametrization)
