"""Padding: PyTorch's ``F.pad`` with its four modes, checked as PyTorch checks them.

``pad`` lists (left, right) widths from the last dimension backwards. For an axis of size n
padded by (lo, hi), output position i reads input position src(i), i ∈ [0, n + lo + hi):

    constant   a fixed value outside [lo, lo + n); a negative width crops instead
    reflect    src mirrors at the edges without repeating them:  d c b | a b c d | c b a
    replicate  src clamps to the edge:                            a a a | a b c d | d d d
    circular   src wraps around:                                  b c d | a b c d | a b c

The non-constant modes are one ``Pad`` op: forward is ``xp.pad``; backward sends the border
gradients back to their sources (a scatter-add over the borders alone, which are small) and
keeps the interior as it is. That fold is an op too (``FoldPad``), whose gradient pads again,
so the two differentiate each other to any order. As PyTorch, they pad the last 1, 2 or 3 dimensions of an input
with 1 or 2 more (batch and channel), reflect needs widths < n and circular widths ≤ n.
"""
from __future__ import annotations

import numpy as np

from ember.autograd.function import Function
from ember.backend import get_array_module as xp_of
from ember.ops.shape import ConstantPad, getitem

MODES = ("constant", "reflect", "replicate", "circular")
_NUMPY_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


class Pad(Function):
    # NOTE: a dedicated op rather than a gather (index_select) per axis: the gather's backward
    # scatter-adds over the whole padded array, this one only over the borders.
    def __init__(self, widths, mode):
        self.widths, self.mode = widths, mode  # widths: one (lo, hi) per dimension

    def forward(self, x):
        self.x_shape = x.shape
        return xp_of(x).pad(x, self.widths, mode=_NUMPY_MODE[self.mode])

    def backward(self, gy):
        return _fold(gy, self.widths, self.mode, self.x_shape)

    def vjp(self, gy):
        return FoldPad(self.widths, self.mode, self.x_shape)(gy)


class FoldPad(Function):
    """Pad's adjoint as an op on tensors (its gradient): the borders of ``g`` added back at their
    sources; its own gradient pads again, so the pair differentiate to any order."""

    def __init__(self, widths, mode, x_shape):
        self.widths, self.mode, self.x_shape = widths, mode, x_shape

    def forward(self, g):
        return _fold(g, self.widths, self.mode, self.x_shape)

    def backward(self, gg):
        return xp_of(gg).pad(gg, self.widths, mode=_NUMPY_MODE[self.mode])

    def vjp(self, gg):
        return Pad(self.widths, self.mode)(gg)


def _fold(g, widths, mode, x_shape):
    """The gradient of padding ``x_shape`` by ``widths``: each padded axis folded in turn."""
    for axis, (lo, hi) in enumerate(widths):
        if lo or hi:
            g = _fold_axis(xp_of(g), g, axis, lo, hi, x_shape[axis], mode)
    return g


def _fold_axis(xp, g, axis, lo, hi, n, mode):
    """The gradient along one padded axis: the interior, plus each border added at its source."""
    g = xp.moveaxis(g, axis, -1)
    gx = g[..., lo : lo + n].copy()
    source = np.pad(np.arange(n), (lo, hi), mode=_NUMPY_MODE[mode])
    border = np.r_[0:lo, lo + n : lo + n + hi]
    xp.add.at(gx, (Ellipsis, xp.asarray(source[border])), g[..., xp.asarray(border)])
    return xp.moveaxis(gx, -1, axis)


def _check_mode(x, widths, pad, mode, value):
    """PyTorch's rules for reflect, replicate and circular padding (they raise as PyTorch does)."""
    k = len(pad) // 2
    if k not in (1, 2, 3) or x.ndim not in (k + 1, k + 2):
        raise NotImplementedError(f"pad: padding size {len(pad)} is not supported for {x.ndim}D input in mode "
                                  f"{mode!r}; pad the last 1, 2 or 3 dimensions of a 2D-3D, 3D-4D or 4D-5D input")
    if value is not None and value != 0:
        raise RuntimeError(f'pad: padding mode "{mode}" doesn\'t take in value argument')
    for axis, (lo, hi) in enumerate(widths):
        n = x.shape[axis]
        if min(lo, hi) < 0:
            raise RuntimeError(f"pad: negative padding {(lo, hi)} is only supported in mode 'constant'")
        if mode == "reflect" and max(lo, hi) >= n and (lo or hi):
            raise RuntimeError(f"pad: padding size should be less than the corresponding input dimension, but "
                               f"got: padding {(lo, hi)} at dimension {axis} of input {list(x.shape)}")
        if mode == "circular" and max(lo, hi) > n:
            raise RuntimeError(f"pad: padding value {(lo, hi)} at dimension {axis} of input {list(x.shape)} causes "
                               "wrapping around more than once")
        if mode == "replicate" and n == 0 and (lo or hi):
            raise RuntimeError(f"pad: cannot replicate-pad the empty dimension {axis} of input {list(x.shape)}")


def pad(input, pad, mode="constant", value=None):
    """PyTorch's ``F.pad``: widths (left, right) per dimension from the last one backwards.

    Modes 'constant' (with ``value``, default 0; negative widths crop), 'reflect', 'replicate'
    and 'circular'; see the module docstring for what each reads.

    >>> F.pad(em.tensor([[1.0, 2.0, 3.0]]), (2, 1), mode="reflect")
    tensor([[3., 2., 1., 2., 3., 2.]])
    """
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: expected an even number of widths for at most {input.ndim} dims, got {tuple(pad)}")
    if mode not in MODES:
        raise NotImplementedError(f"pad: unrecognised padding mode {mode!r}; use one of {MODES}")
    widths = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        widths[input.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    if mode != "constant":
        _check_mode(input, widths, pad, mode, value)
        return Pad(widths, mode)(input)
    if any(min(pair) < 0 for pair in widths):  # cropping: a slice first, then the positive widths
        input = getitem(input, tuple(slice(max(-lo, 0), n - max(-hi, 0)) for n, (lo, hi) in
                                     zip(input.shape, widths, strict=True)))
        widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    return ConstantPad(widths, 0.0 if value is None else value)(input)
