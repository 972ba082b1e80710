"""``ember.special``: PyTorch's ``torch.special`` — the special functions under their SciPy names.

Each is the ember op of the same meaning (``expit`` is ``sigmoid``, ``gammaln`` is ``lgamma``,
``psi`` is ``digamma``), with its gradient; ``ndtr``, the standard normal CDF, is composed as
Φ(x) = ½ erfc(−x/√2).

>>> em.special.expit(em.tensor([0.0]))
tensor([0.5])
"""
from __future__ import annotations

import math

from ember.ops.activation import log_softmax, logsumexp, sigmoid, softmax
from ember.ops.arithmetic import mul
from ember.ops.pointwise import erf, erfc, exp2, expm1, log1p, logit, xlogy
from ember.ops.special import digamma, lgamma

__all__ = ["digamma", "erf", "erfc", "exp2", "expit", "expm1", "gammaln", "log1p", "log_softmax", "logit",
           "logsumexp", "ndtr", "psi", "softmax", "xlogy"]

expit, gammaln, psi = sigmoid, lgamma, digamma


def ndtr(input):
    """Φ(x) = P(Z ≤ x) for a standard normal Z: ½ erfc(−x/√2), accurate in both tails.

    >>> em.special.ndtr(em.tensor([0.0]))
    tensor([0.5])
    """
    return mul(erfc(mul(input, -1 / math.sqrt(2))), 0.5)
