"""PyTorch's ``torch.nn.modules.pixelshuffle``: PixelShuffle and PixelUnshuffle."""
from ember.nn.upsampling import PixelShuffle, PixelUnshuffle

__all__ = ["PixelShuffle", "PixelUnshuffle"]
