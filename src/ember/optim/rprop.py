"""Rprop: resilient backpropagation (Riedmiller & Braun 1993), steps that follow only the gradient's sign."""
from __future__ import annotations

from ember import backend
from ember.optim.optimizer import Optimizer


class Rprop(Optimizer):
    """Rprop, PyTorch's update exactly. Each weight has its own step size Δ (starting at ``lr``):

        s = sign(g · g_prev)                         (−g with maximize)
        Δ = clip(Δ · η₊ if s > 0, Δ · η₋ if s < 0, Δ if s = 0;  Δ_min, Δ_max)
        w = w − sign(g) · Δ,   with g taken as 0 where s < 0 (the sign flipped: a step back is skipped)
        g_prev = that g

    ``etas = (η₋, η₊)`` shrink and grow the steps, ``step_sizes = (Δ_min, Δ_max)`` bound them. Meant
    for full-batch training, where the gradient's sign is reliable. ``capturable``, ``foreach`` and
    ``differentiable`` are accepted for PyTorch compatibility and change nothing.

    >>> opt = em.optim.Rprop(model.parameters(), lr=0.01)
    """

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False, foreach=None,
                 maximize=False, differentiable=False):
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Rprop: invalid eta values {etas} (needs 0 < etaminus < 1 < etaplus)")
        defaults = dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)  # PyTorch's order, as its state dict
        super().__init__(params, defaults)

    def _init_state(self, p, group):
        xp = backend.get_array_module(p)
        return {"step": 0, "prev": xp.zeros_like(p), "step_size": xp.full_like(p, group["lr"])}

    def _update(self, p, g, state, group):
        xp = backend.get_array_module(p)
        (eta_minus, eta_plus), (smallest, largest) = group["etas"], group["step_sizes"]
        state["step"] += 1
        g = self._grad(p, g, group, 0)
        agreement = xp.sign(g * state["prev"])
        factor = xp.where(agreement > 0, eta_plus, xp.where(agreement < 0, eta_minus, 1.0)).astype(p.dtype)
        step_size = state["step_size"]
        step_size *= factor
        xp.clip(step_size, smallest, largest, out=step_size)
        g = xp.where(agreement < 0, 0, g).astype(p.dtype, copy=False)  # after a sign flip: no step, and no flip next
        p -= xp.sign(g) * step_size
        state["prev"][...] = g
