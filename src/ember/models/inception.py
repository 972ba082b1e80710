"""GoogLeNet (Inception v1): parallel 1×1, 3×3, 5×5 and pooling branches concatenated on channels.

C. Szegedy et al., "Going deeper with convolutions", CVPR 2015. An Inception module lets the
network choose its receptive field per layer: four branches see the same input and their
outputs are stacked along the channel axis; 1×1 "bottleneck" convolutions shrink the channels
before the costly 3×3 and 5×5 ones, so 22 layers cost fewer parameters (6.6 M) than AlexNet's 8.
The layout and names follow torchvision's ``GoogLeNet`` (``conv1``, ``maxpool1``, …,
``inception3a.branch2.1.conv``, …, ``fc``) with BatchNorm after each convolution, as there.
"""
from __future__ import annotations

from collections import namedtuple

from ember import nn
from ember.models import register
from ember.nn import functional as F
from ember.ops import cat

__all__ = ["BasicConv2d", "GoogLeNet", "GoogLeNetOutputs", "Inception", "InceptionAux", "googlenet"]

GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])
GoogLeNetOutputs.__doc__ = "GoogLeNet's training-mode outputs with ``aux_logits=True``: main and auxiliary logits."

# ImageNet normalisation statistics, for ``transform_input`` (torchvision's weights expect them).
_MEAN, _STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class BasicConv2d(nn.Module):
    """Conv2d (no bias) → BatchNorm2d(eps=0.001) → ReLU; ``kwargs`` go to the Conv2d.

    >>> BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)(em.randn(1, 3, 32, 32)).shape
    (1, 64, 16, 16)
    """

    def __init__(self, in_channels: int, out_channels: int, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        """relu(bn(conv(x)))."""
        return F.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """The Inception module: four branches on one input, concatenated on channels.

    ``branch1``: 1×1 conv → ch1x1; ``branch2``: 1×1 → ch3x3red, 3×3 → ch3x3; ``branch3``: 1×1 →
    ch5x5red, k×k → ch5x5; ``branch4``: 3×3 max-pool (stride 1) → 1×1 → pool_proj. Every conv is a
    ``BasicConv2d`` (conv + BN + ReLU) padded to keep H×W.

    ``branch3_kernel_size`` is k: 5 as in the paper (the default). torchvision's GoogLeNet uses
    3 there (a known slip, pytorch/vision#906, kept for its pretrained weights); pass 3 to load
    torchvision's state dicts.

    Input (N, in_channels, H, W); output (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W).

    >>> block = Inception(192, 64, 96, 128, 16, 32, 32)      # GoogLeNet's inception3a
    >>> block(em.randn(2, 192, 28, 28)).shape
    (2, 256, 28, 28)
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int,
                 pool_proj: int, conv_block=None, branch3_kernel_size: int = 5):
        super().__init__()
        if branch3_kernel_size not in (3, 5):
            raise ValueError(f"Inception: branch3_kernel_size must be 5 (the paper) or 3 (torchvision), "
                             f"got {branch3_kernel_size!r}")
        conv_block = BasicConv2d if conv_block is None else conv_block
        self.branch1 = conv_block(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(conv_block(in_channels, ch3x3red, kernel_size=1),
                                     conv_block(ch3x3red, ch3x3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(conv_block(in_channels, ch5x5red, kernel_size=1),
                                     conv_block(ch5x5red, ch5x5, kernel_size=branch3_kernel_size,
                                                padding=branch3_kernel_size // 2))
        self.branch4 = nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
                                     conv_block(in_channels, pool_proj, kernel_size=1))

    def forward(self, x):
        """The four branches' outputs stacked along dim 1."""
        return cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


class InceptionAux(nn.Module):
    """An auxiliary classifier on an intermediate feature map (used only in training).

    Adaptive average pool to 4×4 → ``conv`` BasicConv2d 1×1 → 128 → flatten (2048) → ``fc1``
    Linear(2048, 1024) → ReLU → ``dropout`` → ``fc2`` Linear(1024, num_classes). Its loss,
    weighted 0.3 in the paper, pushes gradient into the middle of the deep network.

    >>> InceptionAux(512, 10)(em.randn(2, 512, 14, 14)).shape
    (2, 10)
    """

    def __init__(self, in_channels: int, num_classes: int, conv_block=None, dropout: float = 0.7):
        super().__init__()
        conv_block = BasicConv2d if conv_block is None else conv_block
        self.conv = conv_block(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x):
        """Auxiliary logits (N, num_classes)."""
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4)))
        x = F.relu(self.fc1(x.reshape(x.shape[0], -1)))
        return self.fc2(self.dropout(x))


# (in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj) of each Inception module, Table 1 of the paper.
_INCEPTIONS = {
    "inception3a": (192, 64, 96, 128, 16, 32, 32), "inception3b": (256, 128, 128, 192, 32, 96, 64),
    "inception4a": (480, 192, 96, 208, 16, 48, 64), "inception4b": (512, 160, 112, 224, 24, 64, 64),
    "inception4c": (512, 128, 128, 256, 24, 64, 64), "inception4d": (512, 112, 144, 288, 32, 64, 64),
    "inception4e": (528, 256, 160, 320, 32, 128, 128), "inception5a": (832, 256, 160, 320, 32, 128, 128),
    "inception5b": (832, 384, 192, 384, 48, 128, 128),
}


@register("googlenet")
class GoogLeNet(nn.Module):
    """GoogLeNet laid out and named as ``torchvision.models.GoogLeNet``.

    ``conv1`` 7×7/2 (64) → ``maxpool1`` 3×3/2 → ``conv2`` 1×1 (64) → ``conv3`` 3×3 (192) →
    ``maxpool2`` → ``inception3a``, ``3b`` → ``maxpool3`` → ``inception4a``..``4e`` → ``maxpool4``
    2×2/2 → ``inception5a``, ``5b`` → ``avgpool`` (global) → flatten (1024) → ``dropout`` →
    ``fc``. Every conv is a BasicConv2d (conv + BN + ReLU); the max-pools use ``ceil_mode``.
    With ``aux_logits``, ``aux1`` and ``aux2`` (InceptionAux) read inception4a's and 4d's
    outputs, and a model in training mode returns ``GoogLeNetOutputs(logits, aux_logits2,
    aux_logits1)``; in eval mode, or without them, it returns the logits alone.
    ``init_weights`` draws conv and linear weights from N(0, 0.01²) truncated to [−2, 2] and sets
    BN γ = 1, β = 0, as torchvision.

    Differences from torchvision, each a documented argument: ``aux_logits`` defaults to False;
    ``branch3_kernel_size`` defaults to torchvision's 3 (its "5×5" branch is a 3×3 convolution),
    so torchvision's weights load and the model has its 6,624,904 parameters; pass 5 for the
    paper's 5×5 branch; ``cifar_stem=True`` (keyword) makes ``conv1`` 3×3 stride 1 and
    ``maxpool1`` an Identity, for 32×32 images; ``in_channels`` (keyword) sets the image channels.

    Input (N, in_channels, H, W), 224×224 on ImageNet and at least 32×32 (H, W shrink by 32, 8
    with ``cifar_stem``); output (N, num_classes).

    >>> net = GoogLeNet(num_classes=10)
    >>> net(em.randn(2, 3, 64, 64)).shape
    (2, 10)
    """

    def __init__(self, num_classes: int = 1000, aux_logits: bool = False, transform_input: bool = False,
                 init_weights: bool = True, *, dropout: float = 0.2, dropout_aux: float = 0.7,
                 branch3_kernel_size: int = 3, cifar_stem: bool = False, in_channels: int = 3):
        super().__init__()
        if transform_input and in_channels != 3:
            raise ValueError(f"GoogLeNet: transform_input needs 3 (RGB) channels, got in_channels={in_channels}")
        self.aux_logits, self.transform_input = aux_logits, transform_input
        stem = dict(kernel_size=3, stride=1, padding=1) if cifar_stem else dict(kernel_size=7, stride=2, padding=3)
        self.conv1 = BasicConv2d(in_channels, 64, **stem)
        self.maxpool1 = nn.Identity() if cifar_stem else nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        for name, channels in _INCEPTIONS.items():
            setattr(self, name, Inception(*channels, branch3_kernel_size=branch3_kernel_size))
            if name == "inception3b":
                self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            elif name == "inception4e":
                self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.aux1 = InceptionAux(512, num_classes, dropout=dropout_aux) if aux_logits else None
        self.aux2 = InceptionAux(528, num_classes, dropout=dropout_aux) if aux_logits else None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)
        if init_weights:
            self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _transform_input(self, x):
        """Re-normalise ImageNet-normalised RGB to [−1, 1] scaling, as torchvision's weights expect."""
        return cat([x[:, c:c + 1] * (_STD[c] / 0.5) + (_MEAN[c] - 0.5) / 0.5 for c in range(3)], dim=1)

    def forward(self, x):
        """Logits (N, num_classes), or ``GoogLeNetOutputs`` in training mode with ``aux_logits``."""
        if self.transform_input:
            x = self._transform_input(x)
        x = self.maxpool2(self.conv3(self.conv2(self.maxpool1(self.conv1(x)))))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.maxpool4(self.inception4e(x))
        x = self.avgpool(self.inception5b(self.inception5a(x)))
        x = self.fc(self.dropout(x.reshape(x.shape[0], -1)))
        if self.training and self.aux_logits:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


def googlenet(**kwargs) -> GoogLeNet:
    """``GoogLeNet(**kwargs)``, named like torchvision's constructor (no pretrained weights).

    >>> model = googlenet(num_classes=10, branch3_kernel_size=5)    # the paper's 5×5 branch
    """
    return GoogLeNet(**kwargs)
