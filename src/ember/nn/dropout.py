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


class Dropout1d(_DropoutNd):
    """Channel dropout for (N, C, L) or (C, L) input: each whole channel x[n, c] is zeroed with probability p.

    Survivors are scaled by 1/(1 − p); other ranks raise, as in PyTorch.

    >>> nn.Dropout1d(0.5)(em.ones(8, 16, 10)).shape
    (8, 16, 10)
    """

    def forward(self, input):
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Channel dropout: zero whole feature maps of (N, C, H, W) input with probability p.

    Neighbouring pixels of a map are strongly correlated, so dropping single pixels barely
    regularises a conv net; dropping channels does. Survivors are scaled by 1/(1 − p).
    As in PyTorch, a 3-D input is read as (N, C, L) (with a warning) and other ranks warn and
    drop along dimensions 0 and 1.

    >>> nn.Dropout2d(0.5)(em.ones(8, 16, 4, 4)).shape
    (8, 16, 4, 4)
    """

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(_DropoutNd):
    """Channel dropout for (N, C, D, H, W) or (C, D, H, W) input: whole 3-D feature maps zeroed with probability p.

    Other ranks warn, as in PyTorch, and are treated as unbatched.

    >>> nn.Dropout3d(0.5)(em.ones(2, 4, 3, 3, 3)).shape
    (2, 4, 3, 3, 3)
    """

    def forward(self, input):
        return F.dropout3d(input, self.p, self.training, self.inplace)


class AlphaDropout(_DropoutNd):
    """Alpha dropout for SELU networks: dropped units take SELU's negative saturation value and an
    affine correction keeps zero mean and unit variance; the identity in ``eval()`` mode.

    >>> nn.AlphaDropout(0.2)(em.randn(4, 5)).shape
    (4, 5)
    """

    def forward(self, input):
        return F.alpha_dropout(input, self.p, self.training)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels (dimensions 0 and 1 of the input kept per mask entry).

    >>> nn.FeatureAlphaDropout(0.2)(em.randn(2, 3, 4, 4)).shape
    (2, 3, 4, 4)
    """

    def forward(self, input):
        return F.feature_alpha_dropout(input, self.p, self.training)
