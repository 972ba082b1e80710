"""Dropout layers: inverted dropout in training, the identity in evaluation."""
from __future__ import annotations

from ember.nn import functional as F
from ember.nn.module import Module


class _DropoutNd(Module):
    """Shared argument checking and repr of the dropout layers."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: dropout probability p must lie in [0, 1], got {p!r}")
        self.p, self.inplace = float(p), inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Inverted dropout: in training, zero each element with probability p and scale the
    kept ones by 1/(1 − p), so E[output] = input; in ``eval()`` mode, the identity.

    The course's ``keep_prob`` is 1 − p. Any input shape; the output has the same shape.

    >>> drop = nn.Dropout(p=0.2)
    >>> y = drop(em.ones(4, 5))      # entries 0 or 1.25
    >>> drop.eval()(em.ones(2)).tolist()
    [1.0, 1.0]
    """

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Channel dropout: zero whole feature maps of (N, C, H, W) or (C, H, W) input with probability p.

    Neighbouring pixels of a map are strongly correlated, so dropping single pixels barely
    regularises a conv net; dropping channels does. Survivors are scaled by 1/(1 − p).

    >>> nn.Dropout2d(0.5)(em.ones(8, 16, 4, 4)).shape
    (8, 16, 4, 4)
    """

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training, self.inplace)
