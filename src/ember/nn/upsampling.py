"""Upsampling layers: ``Upsample`` (over ``F.interpolate``), its two fixed-mode forms, and pixel shuffle.

>>> nn.Upsample(scale_factor=2, mode="bilinear")(em.randn(1, 3, 8, 8)).shape
(1, 3, 16, 16)
"""
from __future__ import annotations

from ember.nn import functional as F
from ember.nn.module import Module

__all__ = ["PixelShuffle", "PixelUnshuffle", "Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d"]


class Upsample(Module):
    """Resize (N, C, *spatial) inputs to ``size`` or by ``scale_factor``: ``F.interpolate`` as a layer.

    Args as PyTorch: size (an int or one per spatial dim), scale_factor (a float or one per
    spatial dim), mode ('nearest', 'nearest-exact', 'linear', 'bilinear', 'bicubic',
    'trilinear', 'area'), align_corners (interpolating modes), recompute_scale_factor.

    >>> nn.Upsample(size=(5, 7))(em.randn(2, 3, 2, 3)).shape
    (2, 3, 5, 7)
    """

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None):
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor = tuple(float(s) for s in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor is not None else None
        self.mode, self.align_corners, self.recompute_scale_factor = mode, align_corners, recompute_scale_factor

    def forward(self, input):
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return f"{info}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Nearest-neighbour upsampling of (N, C, H, W): ``Upsample(size, scale_factor, mode='nearest')``.

    >>> nn.UpsamplingNearest2d(scale_factor=2)(em.randn(1, 1, 2, 2)).shape
    (1, 1, 4, 4)
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear upsampling of (N, C, H, W) with the corners aligned (``align_corners=True``), as PyTorch.

    >>> nn.UpsamplingBilinear2d(scale_factor=2)(em.randn(1, 1, 2, 2)).shape
    (1, 1, 4, 4)
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class PixelShuffle(Module):
    """(*, C·r², H, W) → (*, C, H·r, W·r): the sub-pixel convolution's upsampling (Shi et al., 2016).

    >>> nn.PixelShuffle(3)(em.randn(1, 9, 4, 4)).shape
    (1, 1, 12, 12)
    """

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input):
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H·r, W·r) → (*, C·r², H, W): the inverse of ``PixelShuffle``.

    >>> nn.PixelUnshuffle(3)(em.randn(1, 1, 12, 12)).shape
    (1, 9, 4, 4)
    """

    def __init__(self, downscale_factor: int):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input):
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class ChannelShuffle(Module):
    """ShuffleNet's channel shuffle between grouped convolutions: (N, g·n, *) read as (N, n, g, *).

    >>> nn.ChannelShuffle(2)(em.randn(1, 4, 3, 3)).shape
    (1, 4, 3, 3)
    """

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, input):
        return F.channel_shuffle(input, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"
