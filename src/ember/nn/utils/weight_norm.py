"""Weight normalisation (Salimans & Kingma 2016) and spectral normalisation (Miyato et al. 2018) of a
module's weight, as PyTorch's ``torch.nn.utils.weight_norm`` / ``spectral_norm`` hooks.

Both replace the parameter ``name`` (``weight``) by the parameters it is computed from, and a
forward pre-hook recomputes the weight from them before every call, so that gradients reach them:

    weight_norm:    w = g · v / ‖v‖             (‖·‖ over every dim but ``dim``; g starts as ‖w‖)
    spectral_norm:  w = w_orig / σ(w_orig)       (σ by power iteration on the matrix w_orig (h, rest))

Their state dicts use PyTorch's names (``weight_g``/``weight_v``; ``weight_orig`` with the buffers
``weight_u``/``weight_v``), so a PyTorch checkpoint of such a model loads.
"""
from __future__ import annotations

from ember import ops
from ember.autograd.grad_mode import no_grad
from ember.autograd.tensor import Parameter
from ember.creation import randn

__all__ = ["remove_spectral_norm", "remove_weight_norm", "spectral_norm", "weight_norm"]


def _norm_except_dim(v, dim):
    """‖v‖ over every dim but ``dim`` (over all of v when dim is None), shaped to broadcast against v."""
    if dim is None:
        return ops.norm(v)
    dim = dim % v.ndim
    others = tuple(d for d in range(v.ndim) if d != dim)
    return ops.norm(v, 2, others, keepdim=True) if others else v.abs()


class _WeightNorm:
    def __init__(self, name, dim):
        self.name, self.dim = name, dim

    def weight(self, module):
        g, v = getattr(module, self.name + "_g"), getattr(module, self.name + "_v")
        return v * (g / _norm_except_dim(v, self.dim))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.weight(module))


def weight_norm(module, name="weight", dim=0):
    """Reparametrise ``module.<name>`` as g · v/‖v‖ (parameters ``<name>_g`` and ``<name>_v``); ``dim`` is
    the dim kept by the norm (the output channels by default; None: one norm for the whole tensor).
    Returns the module.

    >>> layer = weight_norm(em.nn.Linear(20, 40))
    >>> layer.weight_g.shape, layer.weight_v.shape
    ((40, 1), (40, 20))
    """
    if any(isinstance(hook, _WeightNorm) and hook.name == name for hook, _ in _pre_hooks(module)):
        raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter {name}")
    weight = getattr(module, name)
    hook = _WeightNorm(name, dim)
    delattr(module, name)
    module.register_parameter(name + "_g", Parameter(_norm_except_dim(weight, dim).detach()))
    module.register_parameter(name + "_v", Parameter(weight.detach()))
    setattr(module, name, hook.weight(module))
    module._weight_norm_handle = module.register_forward_pre_hook(hook)
    return module


def remove_weight_norm(module, name="weight"):
    """Fold g and v back into one parameter ``<name>`` and drop the hook."""
    for hook, _ in _pre_hooks(module):
        if isinstance(hook, _WeightNorm) and hook.name == name:
            weight = hook.weight(module).detach()
            module._weight_norm_handle.remove()
            del module._weight_norm_handle
            delattr(module, name + "_g")
            delattr(module, name + "_v")
            delattr(module, name)
            module.register_parameter(name, Parameter(weight))
            return module
    raise ValueError(f"weight_norm of '{name}' not found in {module}")


def as_matrix(weight, dim):
    """The weight as a matrix (h, rest), h its ``dim``: what spectral normalisation takes σ of."""
    if dim != 0:
        weight = weight.movedim(dim, 0)
    return weight.reshape(weight.shape[0], -1)


def power_iterate(matrix, u, v, steps, eps, u_first=False):
    """u, v ← closer to the leading left and right singular vectors of ``matrix``, in place, no graph.
    Each step updates v from u then u from v (the hook form's order), or u first with ``u_first`` (the
    parametrization's order), as PyTorch's two implementations do."""
    with no_grad():
        W = matrix.detach()
        for _ in range(steps):
            if u_first:
                u.copy_(ops.normalize(W @ v, dim=0, eps=eps))
            v.copy_(ops.normalize(W.T @ u, dim=0, eps=eps))
            if not u_first:
                u.copy_(ops.normalize(W @ v, dim=0, eps=eps))


def largest_singular_value(matrix, u, v):
    """σ ≈ uᵀ W v, differentiable in W (u and v held constant, as PyTorch)."""
    return ops.dot(u.clone(), matrix @ v.clone())


class _SpectralNorm:
    def __init__(self, name, n_power_iterations, dim, eps):
        self.name, self.n_power_iterations, self.dim, self.eps = name, n_power_iterations, dim, eps

    def matrix(self, weight):
        return as_matrix(weight, self.dim)

    def weight(self, module, power_iteration):
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        matrix = self.matrix(weight)
        if power_iteration:
            power_iterate(matrix, u, v, self.n_power_iterations, self.eps)
        return weight / largest_singular_value(matrix, u, v)

    def __call__(self, module, inputs):
        setattr(module, self.name, self.weight(module, module.training))


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Divide ``module.<name>`` by its largest singular value, estimated by ``n_power_iterations`` steps of
    power iteration per training forward (``<name>_orig`` is the parameter; ``<name>_u``, ``<name>_v``
    the buffers of the singular vectors). ``dim`` is the output dim (1 for transposed convolutions).

    >>> layer = spectral_norm(em.nn.Linear(20, 40))
    >>> layer.weight_u.shape
    (40,)
    """
    if any(isinstance(hook, _SpectralNorm) and hook.name == name for hook, _ in _pre_hooks(module)):
        raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter {name}")
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    if n_power_iterations <= 0:
        raise ValueError(f"Expected n_power_iterations to be positive, but got n_power_iterations={n_power_iterations}")
    weight = getattr(module, name)
    hook = _SpectralNorm(name, n_power_iterations, dim, eps)
    h, w = hook.matrix(weight).shape
    delattr(module, name)
    module.register_parameter(name + "_orig", Parameter(weight.detach()))
    module.register_buffer(name + "_u", ops.normalize(randn(h, dtype=weight.dtype), dim=0, eps=eps))
    module.register_buffer(name + "_v", ops.normalize(randn(w, dtype=weight.dtype), dim=0, eps=eps))
    setattr(module, name, hook.weight(module, power_iteration=True))
    module._spectral_norm_handle = module.register_forward_pre_hook(hook)
    return module


def remove_spectral_norm(module, name="weight"):
    """Keep the normalised weight as the parameter ``<name>`` and drop the hook and its buffers."""
    for hook, _ in _pre_hooks(module):
        if isinstance(hook, _SpectralNorm) and hook.name == name:
            weight = hook.weight(module, power_iteration=False).detach()
            module._spectral_norm_handle.remove()
            del module._spectral_norm_handle
            for suffix in ("_orig", "_u", "_v"):
                delattr(module, name + suffix)
            delattr(module, name)
            module.register_parameter(name, Parameter(weight))
            return module
    raise ValueError(f"spectral_norm of '{name}' not found in {module}")


def _pre_hooks(module):
    """The (hook, with_kwargs) pairs of the module's forward pre-hooks."""
    hooks = module.__dict__.get("_forward_hooks")
    return list(hooks["pre"].values()) if hooks else []
