"""Stochastic gradient descent, with momentum (heavy-ball or Nesterov) and L2 weight decay."""
from __future__ import annotations

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

    >>> opt = em.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    >>> opt.zero_grad(); loss.backward(); opt.step()
    """

    _nonnegative = ("momentum", "weight_decay")

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(f"SGD: Nesterov momentum needs momentum > 0 and dampening = 0, "
                             f"got momentum={momentum}, dampening={dampening}")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
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
