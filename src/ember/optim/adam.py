"""The Adam family: Adam (momentum + RMSprop with bias correction), AdamW (decoupled weight decay),
Adamax (the ∞-norm), NAdam (Nesterov momentum) and RAdam (a rectified warm-up of the variance)."""
from __future__ import annotations

import math

from ember import backend
from ember.optim.optimizer import Optimizer


class _AdamLike(Optimizer):
    """What the family shares: ``betas`` checked, and the first and second moments with their step count."""

    _nonnegative = ("eps", "weight_decay")

    def _check_group(self, group):
        super()._check_group(group)
        betas = group["betas"]
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"{type(self).__name__}: betas must be two numbers in [0, 1), got {betas!r}")

    def _init_state(self, p, group):
        xp = backend.get_array_module(p)
        return {"step": 0, "exp_avg": xp.zeros_like(p), "exp_avg_sq": xp.zeros_like(p)}

    def _decayed_grad(self, p, g, group):
        """The gradient with weight decay: added to it (L2), or applied to p itself when decoupled."""
        wd = group["weight_decay"]
        if group.get("decoupled_weight_decay") and wd:
            p *= 1 - group["lr"] * wd
            wd = 0
        return self._grad(p, g, group, wd)

    @staticmethod
    def _moments(g, state, group):
        """v = β1·v + (1 − β1)·g and s = β2·s + (1 − β2)·g², in place; returns the step count t."""
        xp, (beta1, beta2) = backend.get_array_module(g), group["betas"]
        v, s = state["exp_avg"], state["exp_avg_sq"]
        # NOTE: named, but in place through one temporary: a fresh array for every term made the step
        # over ResNet-18's 11 M parameters 1.29x slower (51 -> 66 ms); in place it takes what it took before.
        toward_g = xp.subtract(g, v)
        toward_g *= 1 - beta1
        v += toward_g  # v + (1 − β1)(g − v): PyTorch's lerp, rounded as it rounds
        g_squared = xp.multiply(g, g, out=toward_g)
        g_squared *= 1 - beta2
        s *= beta2
        s += g_squared
        state["step"] += 1
        return state["step"]


class Adam(_AdamLike):
    """Adam, PyTorch's update exactly. At step t, for each parameter w with gradient dw:

        g = dw + λ·w                              (weight_decay λ, L2; −dw with maximize)
        v = β1·v + (1 − β1)·g                     (first moment, the course's v_dw)
        s = β2·s + (1 − β2)·g²                    (second moment, the course's s_dw)
        v̂ = v/(1 − β1^t),  ŝ = s/(1 − β2^t)       (bias correction)
        w = w − α·v̂/(√ŝ + ε)                      (lr α)

    ``amsgrad`` uses the running maximum of s in place of s. With
    ``decoupled_weight_decay`` (AdamW) the decay is applied to the weights directly,
    w = w − α·λ·w, instead of being added to the gradient. ``foreach``, ``capturable``,
    ``differentiable`` and ``fused`` are accepted for PyTorch compatibility and change nothing.

    >>> opt = em.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999))
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable, differentiable=differentiable,
                        fused=fused, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _init_state(self, p, group):
        state = super()._init_state(p, group)
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = backend.get_array_module(p).zeros_like(p)
        return state

    def _update(self, p, g, state, group):
        xp, (beta1, beta2), lr = backend.get_array_module(p), group["betas"], group["lr"]
        g = self._decayed_grad(p, g, group)
        t = self._moments(g, state, group)
        s = state["exp_avg_sq"]
        if group["amsgrad"]:
            s = xp.maximum(state["max_exp_avg_sq"], s, out=state["max_exp_avg_sq"])
        denominator = xp.sqrt(s)
        denominator /= math.sqrt(1 - beta2**t)
        denominator += group["eps"]  # √ŝ + ε
        step = xp.divide(state["exp_avg"], denominator, out=denominator)
        step *= lr / (1 - beta1**t)  # α·v̂/(√ŝ + ε)
        p -= step


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter): w = w − α·λ·w before the
    Adam step, so the decay is not rescaled by √ŝ. Default ``weight_decay=1e-2``.

    >>> opt = em.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)


class Adamax(_AdamLike):
    """Adamax (Kingma and Ba): Adam with the ∞-norm in place of the root mean square. At step t:

        g = dw + λ·w                              (weight_decay λ; −dw with maximize)
        v = β1·v + (1 − β1)·g                     (state['exp_avg'])
        u = max(β2·u, |g| + ε)                    (state['exp_inf'], the decayed ∞-norm)
        w = w − α/(1 − β1^t) · v/u

    >>> opt = em.optim.Adamax(model.parameters(), lr=2e-3)
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _init_state(self, p, group):
        xp = backend.get_array_module(p)
        return {"step": 0, "exp_avg": xp.zeros_like(p), "exp_inf": xp.zeros_like(p)}

    def _update(self, p, g, state, group):
        xp, (beta1, beta2) = backend.get_array_module(p), group["betas"]
        g = self._grad(p, g, group, group["weight_decay"])
        t = state["step"] = state["step"] + 1
        v, u = state["exp_avg"], state["exp_inf"]
        v += (g - v) * (1 - beta1)
        u *= beta2
        xp.maximum(u, xp.abs(g) + group["eps"], out=u)
        p -= v / u * (group["lr"] / (1 - beta1**t))


class NAdam(_AdamLike):
    """NAdam (Dozat): Adam with Nesterov momentum, PyTorch's update exactly. At step t:

        g = dw + λ·w                              (weight_decay λ; or w = w − α·λ·w, decoupled)
        μ_t = β1·(1 − ½·0.96^(t·ψ))               (momentum_decay ψ warms the momentum up)
        Π_t = μ_1·μ_2·…·μ_t                       (state['mu_product'], in float32 as in PyTorch)
        v, s: Adam's moments;   d = √(s/(1 − β2^t)) + ε
        w = w − α·(1 − μ_t)/(1 − Π_t) · g/d − α·μ_{t+1}/(1 − Π_t·μ_{t+1}) · v/d

    The two terms are the Nesterov look-ahead: the current gradient plus the momentum as it
    will be at the next step.

    >>> opt = em.optim.NAdam(model.parameters(), lr=2e-3, momentum_decay=4e-3)
    """

    _nonnegative = ("eps", "weight_decay", "momentum_decay")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _init_state(self, p, group):
        state = super()._init_state(p, group)
        return {"step": 0, "mu_product": 1.0, **state}

    def _update(self, p, g, state, group):
        xp, (beta1, beta2), lr, psi = backend.get_array_module(p), group["betas"], group["lr"], group["momentum_decay"]
        g = self._decayed_grad(p, g, group)
        t = self._moments(g, state, group)
        mu, mu_next = (beta1 * (1.0 - 0.5 * 0.96 ** (k * psi)) for k in (t, t + 1))
        # the float32 product of float32 numbers, as PyTorch's float32 tensor *= mu computes it
        prod = state["mu_product"] = self._float32(float(state["mu_product"]) * self._float32(mu))
        d = xp.sqrt(state["exp_avg_sq"] / (1 - beta2**t))
        d += group["eps"]
        p -= g / d * (lr * (1.0 - mu) / (1.0 - prod))
        p -= state["exp_avg"] / d * (lr * mu_next / (1.0 - prod * mu_next))


class RAdam(_AdamLike):
    """RAdam (Liu et al.): Adam whose adaptive rate is switched on, and scaled by r_t, only once
    the variance of s can be trusted. PyTorch's update exactly; at step t:

        v, s: Adam's moments (weight_decay as in Adam, or decoupled as in AdamW)
        ρ∞ = 2/(1 − β2) − 1,    ρ_t = ρ∞ − 2t·β2^t/(1 − β2^t)
        v̂ = v/(1 − β1^t)
        w = w − α·v̂·r_t·√(1 − β2^t)/(√s + ε),  r_t = √((ρ_t − 4)(ρ_t − 2)ρ∞/((ρ∞ − 4)(ρ∞ − 2)ρ_t))   if ρ_t > 5
        w = w − α·v̂                                                                           otherwise

    >>> opt = em.optim.RAdam(model.parameters(), lr=1e-3)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        xp, (beta1, beta2), lr = backend.get_array_module(p), group["betas"], group["lr"]
        g = self._decayed_grad(p, g, group)
        t = self._moments(g, state, group)
        step = state["exp_avg"] / (1 - beta1**t) * lr
        rho_inf = 2 / (1 - beta2) - 1
        rho = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
        if rho > 5.0:
            r = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
            d = xp.sqrt(state["exp_avg_sq"])
            d += group["eps"]
            step *= math.sqrt(1 - beta2**t) / d
            step *= r
        p -= step
