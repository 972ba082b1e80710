"""AlexNet: the network that won ImageNet 2012 and started the deep-learning era in vision.

A. Krizhevsky, I. Sutskever and G. E. Hinton, "ImageNet classification with deep convolutional
neural networks", NeurIPS 2012; the layout here is torchvision's single-GPU variant from
"One weird trick for parallelizing convolutional neural networks" (Krizhevsky, 2014).
"""
from __future__ import annotations

from ember import nn
from ember.models import register

__all__ = ["AlexNet", "alexnet"]


@register("alexnet")
class AlexNet(nn.Module):
    """AlexNet exactly as ``torchvision.models.AlexNet``: same layers, indices and initialisation.

    ``features``: Conv(3→64, 11, stride 4, pad 2) → ReLU → MaxPool(3, 2) → Conv(64→192, 5, pad 2)
    → ReLU → MaxPool(3, 2) → Conv(192→384, 3, pad 1) → ReLU → Conv(384→256, 3, pad 1) → ReLU →
    Conv(256→256, 3, pad 1) → ReLU → MaxPool(3, 2); ``avgpool``: AdaptiveAvgPool2d((6, 6));
    ``classifier``: Dropout → Linear(9216, 4096) → ReLU → Dropout → Linear(4096, 4096) → ReLU →
    Linear(4096, num_classes). Layers keep PyTorch's default initialisation, as torchvision does,
    so torchvision's state dict (``features.0.weight``, …, ``classifier.6.bias``) loads unchanged.

    Input (N, 3, H, W) with H, W ≥ 63 (224×224 on ImageNet); output (N, num_classes).
    61.1 million parameters for 1000 classes.

    >>> net = AlexNet(num_classes=10)
    >>> net(em.randn(2, 3, 64, 64)).shape
    (2, 10)
    """

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"AlexNet: dropout must lie in [0, 1], got {dropout}")
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(p=dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        """Logits (N, num_classes) of images (N, 3, H, W)."""
        if x.ndim != 4 or x.shape[1] != 3 or min(x.shape[2:]) < 63:
            raise ValueError(f"AlexNet: expected input (N, 3, H, W) with H, W >= 63, got {tuple(x.shape)}")
        x = self.avgpool(self.features(x))
        return self.classifier(x.reshape(x.shape[0], -1))


def alexnet(**kwargs) -> AlexNet:
    """``AlexNet(**kwargs)``, named like torchvision's constructor (no pretrained weights).

    >>> model = alexnet(num_classes=100)
    """
    return AlexNet(**kwargs)
