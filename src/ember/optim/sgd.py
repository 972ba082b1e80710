"""Stochastic gradient descent: SGD (with momentum, heavy-ball or Nesterov, and L2 weight decay) and
ASGD (SGD that also keeps a running average of its iterates)."""
from __future__ import annotations

from ember import backend
from ember.optim.optimizer import Optimizer


class SGD(Optimizer):
    """Gradient descent, PyTorch's update exactly. For each parameter w with gradient dw:

        g = dw + λ·w                              (weight_decay λ: the L2 penalty λ/2·‖w‖²)
        v = β·v + (1 − dampening)·g               (momentum β; v = g at the first step)
        g = g + β·v  if nesterov  else  v
        w = w − α·g                               (lr α; w + α·g with maximize)

    The default ``dampening=0`` is PyTorch's momentum, v = βv + dw. ``dampening=momentum``
    gives the course's exponentially weighted average of the gradients, v = βv + (1 − β)dw
    (the same direction, with the step size scaled by 1 − β). Note that in both forms the
    first step sets v = dw, with no (1 − β) factor, as PyTorch does.

    ``foreach``, ``differentiable`` and ``fused`` are accepted for PyTorch compatibility and
    recorded in the groups; they change nothing here (NumPy has no multi-tensor kernels).

    >>> opt = em.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    >>> opt.zero_grad(); loss.backward(); opt.step()
    """

    _nonnegative = ("momentum", "weight_decay")

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(f"SGD: Nesterov momentum needs momentum > 0 and dampening = 0, "
                             f"got momentum={momentum}, dampening={dampening}")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach, differentiable=differentiable,
                        fused=fused)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        lr, beta = group["lr"], group["momentum"]
        g = self._grad(p, g, group, group["weight_decay"])
        if beta:
            v = state.get("momentum_buffer")
            if v is None:
                v = state["momentum_buffer"] = g.copy()
            else:
                v *= beta
                v += (1 - group["dampening"]) * g if group["dampening"] else g
            g = g + beta * v if group["nesterov"] else v
        p -= lr * g


class ASGD(Optimizer):
    """Averaged SGD (Polyak and Juditsky), PyTorch's update exactly. At step t, for each w with gradient dw:

        g = dw + λ·w                              (weight_decay λ; −dw with maximize)
        w = (1 − lambd·η)·w − η·g                 (η: this step's rate, α0 at t = 1)
        ax = ax + μ·(w − ax)                      (the average of the iterates, kept in state['ax'])
        η = α0/(1 + lambd·α0·t)^alpha,   μ = 1/max(1, t − t0)

    So the rate decays as 1/t^alpha, and ax is the mean of the iterates from step t0 + 2 on
    (before that it just follows w; the offset is PyTorch's). The averaged weights are
    ``opt.state[p]['ax']``: copy them into the model to evaluate it. η and μ are kept in
    float32 precision, as PyTorch keeps them.

    >>> opt = em.optim.ASGD(model.parameters(), lr=0.01, t0=1000)
    """

    _nonnegative = ("weight_decay",)

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None,
                 maximize=False, differentiable=False, capturable=False):
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _init_state(self, p, group):
        xp = backend.get_array_module(p)
        return {"step": 0, "eta": self._float32(group["lr"]), "mu": 1.0, "ax": xp.zeros_like(p)}

    def _update(self, p, g, state, group):
        t = state["step"] = state["step"] + 1
        lr, lambd, eta, mu = group["lr"], group["lambd"], float(state["eta"]), float(state["mu"])
        g = self._grad(p, g, group, group["weight_decay"])
        p *= 1 - lambd * eta
        p -= eta * g
        ax = state["ax"]
        if mu != 1:
            ax += (p - ax) * mu
        else:
            ax[...] = p
        state["eta"] = self._float32(lr / (1 + lambd * lr * t) ** group["alpha"])
        state["mu"] = self._float32(1 / max(1, t - group["t0"]))
