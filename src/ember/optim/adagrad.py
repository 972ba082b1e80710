"""Per-coordinate rates from accumulated squared gradients: Adagrad (the whole history) and Adadelta
(a decaying average, with the units of the step fixed by a second average of the steps)."""
from __future__ import annotations

from ember import backend
from ember.optim.optimizer import Optimizer


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.), PyTorch's update exactly. At step t, for each w with gradient dw:

        g = dw + λ·w                              (weight_decay λ; −dw with maximize)
        G = G + g²                                (state['sum'], starts at initial_accumulator_value)
        w = w − α_t·g/(√G + ε),   α_t = α/(1 + (t − 1)·lr_decay)

    Coordinates with large past gradients take small steps, rare ones large steps; the rates
    only ever shrink. As in PyTorch, the state of every parameter given at construction exists
    from the start (so it can be shared or saved before the first step), and every accumulator
    starts at the optimiser's ``initial_accumulator_value``: PyTorch ignores a per-group value.

    ``foreach``, ``differentiable`` and ``fused`` are accepted for PyTorch compatibility and
    change nothing.

    >>> opt = em.optim.Adagrad(model.parameters(), lr=1e-2, initial_accumulator_value=0.1)
    """

    _nonnegative = ("lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = self._init_state(p.array, group)

    def _init_state(self, p, group):
        xp = backend.get_array_module(p)
        # PyTorch fills every accumulator from the optimiser's default, ignoring a per-group value
        return {"step": 0, "sum": xp.full_like(p, self.defaults["initial_accumulator_value"])}

    def _update(self, p, g, state, group):
        xp = backend.get_array_module(p)
        t = state["step"] = state["step"] + 1
        g = self._grad(p, g, group, group["weight_decay"])
        G = state["sum"]
        G += g * g
        d = xp.sqrt(G)
        d += group["eps"]
        p -= g / d * (group["lr"] / (1 + (t - 1) * group["lr_decay"]))


class Adadelta(Optimizer):
    """Adadelta (Zeiler), PyTorch's update exactly. For each w with gradient dw:

        g = dw + λ·w                              (weight_decay λ; −dw with maximize)
        s = ρ·s + (1 − ρ)·g²                      (state['square_avg'])
        Δ = √(u + ε)/√(s + ε) · g                 (u: state['acc_delta'])
        u = ρ·u + (1 − ρ)·Δ²
        w = w − α·Δ                               (lr α, 1.0 by default)

    The ratio of the two root mean squares gives the step the units of w, so the method needs
    no learning rate (α = 1 is the paper's).

    >>> opt = em.optim.Adadelta(model.parameters(), rho=0.9)
    """

    _nonnegative = ("eps", "weight_decay")

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize, capturable=capturable,
                        foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _check_group(self, group):
        super()._check_group(group)
        if not 0.0 <= group["rho"] <= 1.0:
            raise ValueError(f"Adadelta: invalid rho {group['rho']!r} (must be in [0, 1])")

    def _init_state(self, p, group):
        xp = backend.get_array_module(p)
        return {"step": 0, "square_avg": xp.zeros_like(p), "acc_delta": xp.zeros_like(p)}

    def _update(self, p, g, state, group):
        xp, rho, eps = backend.get_array_module(p), group["rho"], group["eps"]
        state["step"] += 1
        g = self._grad(p, g, group, group["weight_decay"])
        s, u = state["square_avg"], state["acc_delta"]
        s *= rho
        s += g * g * (1 - rho)
        delta = xp.sqrt(u + eps) / xp.sqrt(s + eps) * g
        u *= rho
        u += delta * delta * (1 - rho)
        p -= delta * group["lr"]
