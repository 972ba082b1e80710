"""ResNet: residual networks, y = relu(F(x) + shortcut(x)).

K. He, X. Zhang, S. Ren and J. Sun, "Deep residual learning for image recognition", CVPR 2016.
Each block learns a residual F(x) that is added to its input, so an identity mapping costs
nothing to learn and the gradient flows through the shortcut undiminished: nets of 50–150
layers train as easily as shallow ones. The layout, module names (``conv1``, ``bn1``,
``layer1.0.conv1``, ``layer2.0.downsample.0``, ``fc``, …) and initialisation follow
torchvision ("ResNet v1.5": a Bottleneck strides in its 3×3 convolution), so torchvision's
state dicts load unchanged. ``cifar_stem=True`` swaps the ImageNet stem for the 3×3 one of the
paper's CIFAR-10 experiments.
"""
from __future__ import annotations

from ember import nn
from ember.models import register

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "conv1x1", "conv3x3", "resnet18", "resnet34", "resnet50",
           "resnet101", "resnet152", "resnext50_32x4d", "resnext101_32x8d", "wide_resnet50_2", "wide_resnet101_2"]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1, dilation: int = 1) -> nn.Conv2d:
    """3×3 convolution without bias, padded to keep the size at stride 1 (a BatchNorm follows)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation, groups=groups,
                     bias=False, dilation=dilation)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1×1 convolution without bias: mixes channels, optionally subsampling by ``stride``."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


# -- blocks ---------------------------------------------------------------------------------------
class BasicBlock(nn.Module):
    """Two 3×3 convolutions with a shortcut, ResNet-18/34's block (expansion 1).

    y = relu(bn2(conv2(relu(bn1(conv1(x))))) + s(x)), where s is the identity or ``downsample``
    (a strided 1×1 conv + BN) when the stride or the width changes.

    Input (N, inplanes, H, W); output (N, planes, H/stride, W/stride).

    >>> block = BasicBlock(64, 128, stride=2, downsample=nn.Sequential(conv1x1(64, 128, 2), nn.BatchNorm2d(128)))
    >>> block(em.randn(2, 64, 8, 8)).shape
    (2, 128, 4, 4)
    """

    expansion: int = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 groups: int = 1, base_width: int = 64, dilation: int = 1, norm_layer=None):
        super().__init__()
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        if groups != 1 or base_width != 64:
            raise ValueError(f"BasicBlock: only groups=1 and base_width=64 are supported, got groups={groups}, "
                             f"base_width={base_width}")
        if dilation > 1:
            raise NotImplementedError(f"BasicBlock: dilation > 1 is not supported, got {dilation}")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        """relu(F(x) + shortcut(x))."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1×1 reduce → 3×3 → 1×1 expand (×4) with a shortcut, ResNet-50/101/152's block.

    y = relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + s(x)). The 3×3 conv works at
    width = planes·(base_width/64)·groups channels and carries the stride (torchvision's v1.5;
    the paper's v1 strides in the first 1×1, which skips three quarters of the input).

    Input (N, inplanes, H, W); output (N, 4·planes, H/stride, W/stride).

    >>> Bottleneck(256, 64)(em.randn(2, 256, 8, 8)).shape
    (2, 256, 8, 8)
    """

    expansion: int = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 groups: int = 1, base_width: int = 64, dilation: int = 1, norm_layer=None):
        super().__init__()
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        """relu(F(x) + shortcut(x))."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


# -- the network ----------------------------------------------------------------------------------
class ResNet(nn.Module):
    """ResNet as ``torchvision.models.ResNet``: stem → layer1..layer4 → global average pool → fc.

    Stem: ``conv1`` 7×7 stride 2 (64 channels) → ``bn1`` → ``relu`` → ``maxpool`` 3×3 stride 2;
    ``layer1``..``layer4`` stack ``layers[i]`` blocks of widths 64, 128, 256, 512 (×
    ``block.expansion``), the first block of layers 2–4 striding by 2 (or dilating, per
    ``replace_stride_with_dilation``); ``avgpool`` AdaptiveAvgPool2d((1, 1)); ``fc`` Linear.
    Convolutions are drawn kaiming_normal_(mode='fan_out', nonlinearity='relu'), BatchNorm
    γ = 1, β = 0, and ``fc`` keeps Linear's default; ``zero_init_residual`` zeroes each block's
    last BN γ so every block starts as the identity (Goyal et al., 2017).

    Args beyond torchvision's (keyword-only):
        cifar_stem: ``conv1`` becomes 3×3 stride 1 padding 1 and ``maxpool`` an Identity (names
            kept), for 32×32 images: layer4 then works on 4×4 maps instead of 1×1.
        in_channels: image channels (3).

    Input (N, in_channels, H, W); output (N, num_classes). An ImageNet stem divides H and W
    by 32 before the pooling, the CIFAR stem by 8.

    >>> net = ResNet(BasicBlock, [2, 2, 2, 2], num_classes=10, cifar_stem=True)   # ResNet-18 for CIFAR
    >>> net(em.randn(2, 3, 32, 32)).shape
    (2, 10)
    """

    def __init__(self, block, layers, num_classes: int = 1000, zero_init_residual: bool = False, groups: int = 1,
                 width_per_group: int = 64, replace_stride_with_dilation=None, norm_layer=None, *,
                 cifar_stem: bool = False, in_channels: int = 3):
        super().__init__()
        if len(layers) != 4 or any(not isinstance(n, int) or n < 1 for n in layers):
            raise ValueError(f"ResNet: layers must list four positive block counts, got {layers}")
        dilate = [False] * 3 if replace_stride_with_dilation is None else list(replace_stride_with_dilation)
        if len(dilate) != 3:
            raise ValueError(f"ResNet: replace_stride_with_dilation should be None or a 3-element tuple, "
                             f"got {replace_stride_with_dilation}")
        self._norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        self.inplanes, self.dilation, self.groups, self.base_width = 64, 1, groups, width_per_group
        if cifar_stem:
            self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = self._norm_layer(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity() if cifar_stem else nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2, dilate=dilate[0])
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2, dilate=dilate[1])
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2, dilate=dilate[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        self._init_weights(zero_init_residual)

    def _init_weights(self, zero_init_residual: bool) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                last_bn = m.bn3 if isinstance(m, Bottleneck) else m.bn2 if isinstance(m, BasicBlock) else None
                if last_bn is not None and last_bn.weight is not None:
                    nn.init.zeros_(last_bn.weight)

    def _make_layer(self, block, planes: int, blocks: int, stride: int = 1, dilate: bool = False) -> nn.Sequential:
        """One stage: ``blocks`` blocks, the first changing stride/width (with a 1×1 conv + BN shortcut)."""
        norm_layer, previous_dilation, downsample = self._norm_layer, self.dilation, None
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       norm_layer(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width, previous_dilation,
                        norm_layer)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, groups=self.groups, base_width=self.base_width,
                         dilation=self.dilation, norm_layer=norm_layer) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        """Logits (N, num_classes) of images (N, in_channels, H, W)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.avgpool(x)
        return self.fc(x.reshape(x.shape[0], -1))


# -- constructors ---------------------------------------------------------------------------------
@register
def resnet18(**kwargs) -> ResNet:
    """ResNet-18: BasicBlocks [2, 2, 2, 2], 11.7 M parameters for 1000 classes.

    ``kwargs`` go to ``ResNet`` (num_classes, zero_init_residual, cifar_stem, in_channels, …).

    >>> resnet18(num_classes=10, cifar_stem=True)(em.randn(1, 3, 32, 32)).shape
    (1, 10)
    """
    return ResNet(BasicBlock, [2, 2, 2, 2], **kwargs)


@register
def resnet34(**kwargs) -> ResNet:
    """ResNet-34: BasicBlocks [3, 4, 6, 3], 21.8 M parameters for 1000 classes.

    >>> model = resnet34(num_classes=10)
    """
    return ResNet(BasicBlock, [3, 4, 6, 3], **kwargs)


@register
def resnet50(**kwargs) -> ResNet:
    """ResNet-50: Bottlenecks [3, 4, 6, 3], 25.6 M parameters for 1000 classes.

    >>> resnet50(num_classes=10)(em.randn(1, 3, 64, 64)).shape
    (1, 10)
    """
    return ResNet(Bottleneck, [3, 4, 6, 3], **kwargs)


@register
def resnet101(**kwargs) -> ResNet:
    """ResNet-101: Bottlenecks [3, 4, 23, 3], 44.5 M parameters for 1000 classes.

    >>> model = resnet101(num_classes=10)
    """
    return ResNet(Bottleneck, [3, 4, 23, 3], **kwargs)


@register
def resnet152(**kwargs) -> ResNet:
    """ResNet-152: Bottlenecks [3, 8, 36, 3], 60.2 M parameters for 1000 classes.

    >>> model = resnet152(num_classes=10)
    """
    return ResNet(Bottleneck, [3, 8, 36, 3], **kwargs)


@register
def resnext50_32x4d(**kwargs) -> ResNet:
    """ResNeXt-50 32×4d (Xie et al., 2017): ResNet-50 whose 3×3 convs have 32 groups of 4 channels.

    >>> model = resnext50_32x4d(num_classes=10)
    """
    return ResNet(Bottleneck, [3, 4, 6, 3], groups=32, width_per_group=4, **kwargs)


@register
def resnext101_32x8d(**kwargs) -> ResNet:
    """ResNeXt-101 32×8d: ResNet-101 whose 3×3 convs have 32 groups of 8 channels.

    >>> model = resnext101_32x8d(num_classes=10)
    """
    return ResNet(Bottleneck, [3, 4, 23, 3], groups=32, width_per_group=8, **kwargs)


@register
def wide_resnet50_2(**kwargs) -> ResNet:
    """Wide ResNet-50-2 (Zagoruyko and Komodakis, 2016): ResNet-50 with bottlenecks twice as wide.

    >>> model = wide_resnet50_2(num_classes=10)
    """
    return ResNet(Bottleneck, [3, 4, 6, 3], width_per_group=128, **kwargs)


@register
def wide_resnet101_2(**kwargs) -> ResNet:
    """Wide ResNet-101-2: ResNet-101 with bottlenecks twice as wide.

    >>> model = wide_resnet101_2(num_classes=10)
    """
    return ResNet(Bottleneck, [3, 4, 23, 3], width_per_group=128, **kwargs)
