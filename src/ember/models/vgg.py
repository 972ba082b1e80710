"""VGG: deep stacks of 3×3 convolutions.

K. Simonyan and A. Zisserman, "Very deep convolutional networks for large-scale image
recognition", ICLR 2015. Two stacked 3×3 convolutions see a 5×5 window and three see 7×7, with
fewer parameters and more nonlinearities than one large kernel; max-pooling halves the image
between stages while the channels double from 64 to 512. The layout, module indices and
initialisation follow torchvision, so its state dicts load unchanged.
"""
from __future__ import annotations

from ember import nn
from ember.models import register

__all__ = ["VGG", "cfgs", "make_layers", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19",
           "vgg19_bn"]

# Conv widths of the paper's configurations A (11 layers), B (13), D (16) and E (19); "M" is a 2×2 max-pool.
cfgs: dict[str, list] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def make_layers(cfg, batch_norm: bool = False, in_channels: int = 3) -> nn.Sequential:
    """The ``features`` stack of a configuration: each int v is Conv2d(·, v, 3, padding=1)
    [→ BatchNorm2d(v)] → ReLU, each "M" MaxPool2d(2, 2).

    >>> make_layers(cfgs["A"], batch_norm=True)[:3]   # conv, BN, ReLU
    """
    layers = []
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"VGG: a configuration holds positive channel counts and 'M', got {v!r} in {cfg}")
        layers.append(nn.Conv2d(in_channels, v, kernel_size=3, padding=1))
        layers += [nn.BatchNorm2d(v), nn.ReLU(inplace=True)] if batch_norm else [nn.ReLU(inplace=True)]
        in_channels = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """VGG exactly as ``torchvision.models.VGG``: ``features`` → ``avgpool`` → flatten → ``classifier``.

    ``features`` comes from ``make_layers`` (indices as torchvision's, e.g. ``features.0.weight``);
    ``avgpool`` is AdaptiveAvgPool2d((7, 7)), so any input of at least 32×32 works (a 32×32
    CIFAR image reaches it as 1×1 and is copied to 7×7); ``classifier`` is Linear(25088, 4096)
    → ReLU → Dropout → Linear(4096, 4096) → ReLU → Dropout → Linear(4096, num_classes).
    With ``init_weights`` the weights are drawn as torchvision does: convolutions
    kaiming_normal_(mode='fan_out', nonlinearity='relu') with zero bias, BatchNorm γ = 1, β = 0,
    linear layers N(0, 0.01²) with zero bias.

    Input (N, 3, H, W) with H, W ≥ 32 (224×224 on ImageNet); output (N, num_classes).

    >>> net = VGG(make_layers(cfgs["A"]), num_classes=10)   # = vgg11(num_classes=10)
    >>> net(em.randn(2, 3, 32, 32)).shape
    (2, 10)
    """

    def __init__(self, features: nn.Module, num_classes: int = 1000, init_weights: bool = True,
                 dropout: float = 0.5):
        super().__init__()
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"VGG: dropout must lie in [0, 1], got {dropout}")
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        if init_weights:
            self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        """Logits (N, num_classes) of images (N, C, H, W)."""
        x = self.avgpool(self.features(x))
        return self.classifier(x.reshape(x.shape[0], -1))


def _vgg(cfg: str, batch_norm: bool, **kwargs) -> VGG:
    return VGG(make_layers(cfgs[cfg], batch_norm=batch_norm), **kwargs)


@register
def vgg11(**kwargs) -> VGG:
    """VGG-11 (configuration A): 8 conv + 3 linear layers, 132.9 M parameters for 1000 classes.

    ``kwargs`` go to ``VGG`` (num_classes, init_weights, dropout).

    >>> vgg11(num_classes=10)(em.randn(1, 3, 32, 32)).shape
    (1, 10)
    """
    return _vgg("A", False, **kwargs)


@register
def vgg11_bn(**kwargs) -> VGG:
    """VGG-11 with BatchNorm2d after every convolution (132.9 M parameters for 1000 classes).

    >>> model = vgg11_bn(num_classes=10)
    """
    return _vgg("A", True, **kwargs)


@register
def vgg13(**kwargs) -> VGG:
    """VGG-13 (configuration B): 10 conv + 3 linear layers, 133.0 M parameters.

    >>> model = vgg13(num_classes=10)
    """
    return _vgg("B", False, **kwargs)


@register
def vgg13_bn(**kwargs) -> VGG:
    """VGG-13 with BatchNorm2d after every convolution.

    >>> model = vgg13_bn(num_classes=10)
    """
    return _vgg("B", True, **kwargs)


@register
def vgg16(**kwargs) -> VGG:
    """VGG-16 (configuration D): 13 conv + 3 linear layers, 138.4 M parameters for 1000 classes.

    >>> vgg16(num_classes=10)(em.randn(1, 3, 32, 32)).shape
    (1, 10)
    """
    return _vgg("D", False, **kwargs)


@register
def vgg16_bn(**kwargs) -> VGG:
    """VGG-16 with BatchNorm2d after every convolution (138.4 M parameters for 1000 classes).

    >>> model = vgg16_bn(num_classes=10)
    """
    return _vgg("D", True, **kwargs)


@register
def vgg19(**kwargs) -> VGG:
    """VGG-19 (configuration E): 16 conv + 3 linear layers, 143.7 M parameters.

    >>> model = vgg19(num_classes=10)
    """
    return _vgg("E", False, **kwargs)


@register
def vgg19_bn(**kwargs) -> VGG:
    """VGG-19 with BatchNorm2d after every convolution.

    >>> model = vgg19_bn(num_classes=10)
    """
    return _vgg("E", True, **kwargs)
