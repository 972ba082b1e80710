"""Adam (momentum + RMSprop with bias correction) and AdamW (decoupled weight decay)."""
from __future__ import annotations

import math

from ember import backend
from ember.optim.optimizer import Optimizer


class Adam(Optimizer):
    """Adam, PyTorch's update exactly. At step t, for each parameter w with gradient dw:

        g = dw + λ·w                              (weight_decay λ, L2; −dw with maximize)
        v = β1·v + (1 − β1)·g                     (first moment, the course's v_dw)
        s = β2·s + (1 − β2)·g²                    (second moment, the course's s_dw)
        v̂ = v/(1 − β1^t),  ŝ = s/(1 − β2^t)       (bias correction)
        w = w − α·v̂/(√ŝ + ε)                      (lr α)

    ``amsgrad`` uses the running maximum of s in place of s. With
    ``decoupled_weight_decay`` (AdamW) the decay is applied to the weights directly,
    w = w − α·λ·w, instead of being added to the gradient.

    >>> opt = em.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999))
    """

    _nonnegative = ("eps", "weight_decay")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 maximize=False, decoupled_weight_decay=False):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _check_group(self, group):
        super()._check_group(group)
        betas = group["betas"]
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"{type(self).__name__}: betas must be two numbers in [0, 1), got {betas!r}")

    def _init_state(self, p, group):
        xp = backend.get_array_module(p)
        state = {"step": 0, "exp_avg": xp.zeros_like(p), "exp_avg_sq": xp.zeros_like(p)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = xp.zeros_like(p)
        return state

    def _update(self, p, g, state, group):
        xp, (beta1, beta2), lr, wd = backend.get_array_module(p), group["betas"], group["lr"], group["weight_decay"]
        t = state["step"] = state["step"] + 1
        decoupled = group["decoupled_weight_decay"]
        if decoupled and wd:
            p *= 1 - lr * wd
        g = self._grad(p, g, group, 0 if decoupled else wd)
        v, s, d = state["exp_avg"], state["exp_avg_sq"], xp.multiply(g, g)
        s *= beta2
        s += _scaled(d, 1 - beta2)
        v *= beta1
        v += xp.multiply(g, 1 - beta1, out=d)
        if group["amsgrad"]:
            s = xp.maximum(state["max_exp_avg_sq"], s, out=state["max_exp_avg_sq"])
        d = _scaled(xp.sqrt(s, out=d), 1 / math.sqrt(1 - beta2**t))
        d += group["eps"]
        p -= _scaled(xp.divide(v, d, out=d), lr / (1 - beta1**t))


def _scaled(a, c):
    """a *= c in place; returns a."""
    a *= c
    return a


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter): w = w − α·λ·w before the
    Adam step, so the decay is not rescaled by √ŝ. Default ``weight_decay=1e-2``.

    >>> opt = em.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)
