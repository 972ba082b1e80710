"""RoI pooling layers (torchvision.ops' ``RoIPool`` and ``RoIAlign``) over the ops of ``ember.ops.roi``.

Neither has parameters: each maps a feature map and a set of boxes to one fixed-size map per box,
the step that lets a two-stage detector classify regions of any size with one head.
"""
from __future__ import annotations

from ember.nn.module import Module
from ember.ops.conv import ntuple
from ember.ops.roi import roi_align, roi_pool


def _check_size(layer, output_size):
    size = ntuple(output_size, 2, "output_size", layer)
    if min(size) < 1:
        raise ValueError(f"{layer}: output_size must be positive, got {output_size!r}")


class _RoILayer(Module):
    """Runs the functional op and rewords its errors in the layer's terms."""

    def _apply(self, op, input, rois, *args):
        try:
            return op(input, rois, self.output_size, self.spatial_scale, *args)
        except ValueError as err:
            raise ValueError(f"{self!r} on input of shape {tuple(input.shape)}: {err}") from err


class RoIPool(_RoILayer):
    """Fast R-CNN's RoI max pooling (torchvision's ``RoIPool``): see ``ember.ops.roi.roi_pool``.

    Args:
        output_size: (oh, ow) bins per RoI, or an int for square bins.
        spatial_scale: feature-map pixels per input pixel (1/16 behind a stride-16 backbone).

    forward(input (N, C, H, W), rois (K, 5) [batch_index, x1, y1, x2, y2] or a list of (L_i, 4)
    per image) → (K, C, oh, ow).

    >>> pool = RoIPool(7, spatial_scale=1 / 16)
    >>> pool(em.randn(1, 256, 14, 14), em.tensor([[0.0, 16, 16, 200, 120]])).shape
    (1, 256, 7, 7)
    """

    def __init__(self, output_size, spatial_scale: float):
        super().__init__()
        _check_size("RoIPool", output_size)
        self.output_size, self.spatial_scale = output_size, spatial_scale

    def forward(self, input, rois):
        """The (K, C, oh, ow) max-pooled bins of every RoI."""
        return self._apply(roi_pool, input, rois)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}, spatial_scale={self.spatial_scale}"


class RoIAlign(_RoILayer):
    """Mask R-CNN's RoIAlign (torchvision's ``RoIAlign``): see ``ember.ops.roi.roi_align``.

    Args:
        output_size: (oh, ow) bins per RoI, or an int for square bins.
        spatial_scale: feature-map pixels per input pixel.
        sampling_ratio: bilinear samples per bin along each axis; ≤ 0 takes ⌈roi_size/out⌉.
        aligned: shift boxes by −0.5 pixel so that pixel centres line up (Detectron2's choice).

    forward(input (N, C, H, W), rois (K, 5) or a list of (L_i, 4) per image) → (K, C, oh, ow).

    >>> align = RoIAlign((7, 7), spatial_scale=0.25, sampling_ratio=2, aligned=True)
    >>> align(em.randn(2, 64, 32, 32), [em.tensor([[4.0, 4, 60, 90]]), em.tensor([[0.0, 0, 127, 127]])]).shape
    (2, 64, 7, 7)
    """

    def __init__(self, output_size, spatial_scale: float, sampling_ratio: int, aligned: bool = False):
        super().__init__()
        _check_size("RoIAlign", output_size)
        self.output_size, self.spatial_scale = output_size, spatial_scale
        self.sampling_ratio, self.aligned = sampling_ratio, aligned

    def forward(self, input, rois):
        """The (K, C, oh, ow) bilinearly sampled bins of every RoI."""
        return self._apply(roi_align, input, rois, self.sampling_ratio, self.aligned)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
                f"sampling_ratio={self.sampling_ratio}, aligned={self.aligned}")
