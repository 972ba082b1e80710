"""RMSprop: divide each step by a running root-mean-square of the gradient."""
from __future__ import annotations

from ember import backend
from ember.optim.optimizer import Optimizer


class RMSprop(Optimizer):
    """RMSprop, PyTorch's update exactly. For each parameter w with gradient dw:

        g = dw + λ·w                              (weight_decay λ; −dw with maximize)
        s = β·s + (1 − β)·g²                      (alpha β: the course's s_dw)
        d = √(s − ḡ²) + ε  if centered  else  √s + ε,  with ḡ = β·ḡ + (1 − β)·g
        w = w − α·g/d                             (lr α)
        or, with momentum μ:  b = μ·b + g/d,  w = w − α·b

    Without the options this is the course's s = βs + (1−β)dw², w −= α·dw/(√s + ε).
    ``centered`` divides by an estimate of the gradient's standard deviation instead of
    its root mean square. ``capturable``, ``foreach`` and ``differentiable`` are accepted for
    PyTorch compatibility and change nothing.

    >>> opt = em.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9)
    """

    _nonnegative = ("alpha", "eps", "weight_decay", "momentum")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered, weight_decay=weight_decay,
                        capturable=capturable, foreach=foreach, maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _init_state(self, p, group):
        xp = backend.get_array_module(p)
        state = {"step": 0, "square_avg": xp.zeros_like(p)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = xp.zeros_like(p)
        if group["centered"]:
            state["grad_avg"] = xp.zeros_like(p)
        return state

    def _update(self, p, g, state, group):
        xp, beta, mu = backend.get_array_module(p), group["alpha"], group["momentum"]
        state["step"] += 1
        g = self._grad(p, g, group, group["weight_decay"])
        d = g * (1 - beta)  # the step's one scratch array
        s = state["square_avg"]
        s *= beta
        s += xp.multiply(d, g, out=d)
        if group["centered"]:
            g_avg = state["grad_avg"]
            g_avg *= beta
            g_avg += xp.multiply(g, 1 - beta, out=d)
            xp.sqrt(xp.subtract(s, xp.multiply(g_avg, g_avg, out=d), out=d), out=d)
        else:
            xp.sqrt(s, out=d)
        d += group["eps"]
        xp.divide(g, d, out=d)  # d is now the direction g/(√s + ε)
        if mu > 0:
            b = state["momentum_buffer"]
            b *= mu
            b += d
            d = xp.multiply(b, group["lr"], out=d)
        else:
            d *= group["lr"]
        p -= d
