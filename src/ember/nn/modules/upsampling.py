"""PyTorch's ``torch.nn.modules.upsampling``: Upsample, UpsamplingNearest2d and UpsamplingBilinear2d."""
from ember.nn.upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d

__all__ = ["Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d"]
