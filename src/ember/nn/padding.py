"""Padding layers: zero, constant, reflection, replication and circular padding in 1, 2 and 3 dimensions.

Each holds its widths as PyTorch does — (left, right), then (top, bottom), then (front, back),
an int repeating — and calls ``F.pad``; none has parameters.

>>> nn.ReflectionPad2d(1)(em.randn(8, 3, 32, 32)).shape
(8, 3, 34, 34)
"""
from __future__ import annotations

from ember.nn import functional as F
from ember.nn.module import Module

__all__ = [
    "CircularPad1d", "CircularPad2d", "CircularPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
    "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
    "ReplicationPad3d", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d",
]


def _widths(layer, padding, dims):
    """``padding`` as the 2·dims widths F.pad takes: an int repeats, a sequence must have 2·dims ints."""
    widths = tuple(padding) if isinstance(padding, (tuple, list)) else (padding,) * (2 * dims)
    if len(widths) != 2 * dims or not all(isinstance(w, int) and not isinstance(w, bool) for w in widths):
        raise ValueError(f"{layer}: padding must be an int or a tuple of {2 * dims} ints, got {padding!r}")
    return widths


class _PadNd(Module):
    """The shared layer: widths checked once, ``F.pad`` in ``forward``, PyTorch's repr."""

    _dims = 1
    _mode = "constant"

    def __init__(self, padding):
        super().__init__()
        self.padding = _widths(type(self).__name__, padding, self._dims)

    def forward(self, input):
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value: float):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dimension with ``value``: (*, W) → (*, W + left + right); ``padding`` an int or (left, right).

    >>> nn.ConstantPad1d(2, 3.5)(em.zeros(1, 2, 4)).shape
    (1, 2, 8)
    """


class ConstantPad2d(_ConstantPadNd):
    """Pad the last two dimensions with ``value``; ``padding`` an int or (left, right, top, bottom).

    >>> nn.ConstantPad2d((1, 1, 2, 0), 1.0)(em.zeros(1, 3, 3)).shape
    (1, 5, 5)
    """

    _dims = 2


class ConstantPad3d(_ConstantPadNd):
    """Pad the last three dimensions with ``value``; ``padding`` an int or (left, right, top, bottom, front, back)."""

    _dims = 3


class _ZeroPad:
    """Constant padding with 0, shown as PyTorch shows it (the widths alone)."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad1d(_ZeroPad, ConstantPad1d):
    """Pad the last dimension with zeros; ``padding`` an int or (left, right).

    >>> nn.ZeroPad1d((1, 2))(em.ones(1, 1, 3))
    tensor([[[0., 1., 1., 1., 0., 0.]]])
    """


class ZeroPad2d(_ZeroPad, ConstantPad2d):
    """Pad the last two dimensions with zeros; ``padding`` an int or (left, right, top, bottom).

    >>> nn.ZeroPad2d(2)(em.randn(1, 3, 28, 28)).shape
    (1, 3, 32, 32)
    """


class ZeroPad3d(_ZeroPad, ConstantPad3d):
    """Pad the last three dimensions with zeros; ``padding`` an int or six widths."""


class ReflectionPad1d(_PadNd):
    """Mirror the last dimension at its edges (the edge itself not repeated): d c b | a b c d | c b a.

    Input (N, C, W) or (C, W); each width must be smaller than W.

    >>> nn.ReflectionPad1d(2)(em.tensor([[[0.0, 1.0, 2.0, 3.0]]]))
    tensor([[[2., 1., 0., 1., 2., 3., 2., 1.]]])
    """

    _mode = "reflect"


class ReflectionPad2d(_PadNd):
    """Reflection padding of H and W; input (N, C, H, W) or (C, H, W), ``padding`` an int or four widths.

    >>> nn.ReflectionPad2d((1, 1, 2, 0))(em.randn(1, 3, 5, 5)).shape
    (1, 3, 7, 7)
    """

    _mode, _dims = "reflect", 2  # siblings of the 1-d layer, not subclasses (as in PyTorch)


class ReflectionPad3d(_PadNd):
    """Reflection padding of D, H and W; input (N, C, D, H, W) or (C, D, H, W)."""

    _mode, _dims = "reflect", 3  # siblings of the 1-d layer, not subclasses (as in PyTorch)


class ReplicationPad1d(_PadNd):
    """Repeat the edge values of the last dimension: a a | a b c d | d d.

    >>> nn.ReplicationPad1d((2, 1))(em.tensor([[[1.0, 2.0]]]))
    tensor([[[1., 1., 1., 2., 2.]]])
    """

    _mode = "replicate"


class ReplicationPad2d(_PadNd):
    """Replication padding of H and W; input (N, C, H, W) or (C, H, W)."""

    _mode, _dims = "replicate", 2  # siblings of the 1-d layer, not subclasses (as in PyTorch)


class ReplicationPad3d(_PadNd):
    """Replication padding of D, H and W; input (N, C, D, H, W) or (C, D, H, W)."""

    _mode, _dims = "replicate", 3  # siblings of the 1-d layer, not subclasses (as in PyTorch)


class CircularPad1d(_PadNd):
    """Wrap the last dimension around: c d | a b c d | a b (periodic boundary); widths at most W.

    >>> nn.CircularPad1d(1)(em.tensor([[[1.0, 2.0, 3.0]]]))
    tensor([[[3., 1., 2., 3., 1.]]])
    """

    _mode = "circular"


class CircularPad2d(_PadNd):
    """Circular padding of H and W (a torus); input (N, C, H, W) or (C, H, W)."""

    _mode, _dims = "circular", 2  # siblings of the 1-d layer, not subclasses (as in PyTorch)


class CircularPad3d(_PadNd):
    """Circular padding of D, H and W; input (N, C, D, H, W) or (C, D, H, W)."""

    _mode, _dims = "circular", 3  # siblings of the 1-d layer, not subclasses (as in PyTorch)
