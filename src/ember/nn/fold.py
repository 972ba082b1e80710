"""``Unfold`` (im2col) and ``Fold`` (col2im) as layers, over ``F.unfold`` and ``F.fold``.

>>> blocks = nn.Unfold(kernel_size=2, stride=2)(em.randn(1, 3, 4, 4))   # (1, 12, 4)
>>> nn.Fold(output_size=(4, 4), kernel_size=2, stride=2)(blocks).shape  # non-overlapping: the image back
(1, 3, 4, 4)
"""
from __future__ import annotations

from ember.nn import functional as F
from ember.nn.module import Module

__all__ = ["Fold", "Unfold"]


class Unfold(Module):
    """Extract sliding blocks: (N, C, H, W) → (N, C·Π kernel_size, L), L the number of blocks.

    Args as PyTorch: kernel_size, dilation=1, padding=0, stride=1 (each an int or a pair).

    >>> nn.Unfold(kernel_size=(2, 3))(em.randn(2, 5, 3, 4)).shape
    (2, 30, 4)
    """

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, input):
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
                f"stride={self.stride}")


class Fold(Module):
    """Sum sliding blocks (N, C·Π kernel_size, L) into an (N, C, *output_size) image: the adjoint of ``Unfold``.

    Args as PyTorch: output_size, kernel_size, dilation=1, padding=0, stride=1.

    >>> nn.Fold(output_size=(4, 5), kernel_size=(2, 2))(em.randn(1, 12, 12)).shape
    (1, 3, 4, 5)
    """

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input):
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")
