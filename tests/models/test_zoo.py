"""The CNN model zoo against PyTorch twins of torchvision's code: names, parameter counts, outputs.

torchvision is not a dependency, so the twins below are compact copies of its model code
(AlexNet, VGG, ResNet, GoogLeNet) plus a LeNet-5. Each ember model must have the twin's
state-dict keys in the same order, the same parameter count, load the twin's weights with
strict=True and then compute the same outputs. Full-size twins are built on PyTorch's "meta"
device (shapes only, no memory), and checked against torchvision's published parameter counts.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from torch import nn as tnn

import ember as em
from ember import models, nn, optim
from ember.data.datasets.digits import digits
from ember.models import resnet as resnet_module
from ember.models import vgg as vgg_module
from ember.models.alexnet import AlexNet, alexnet
from ember.models.inception import GoogLeNet, GoogLeNetOutputs, Inception, googlenet
from ember.models.lenet import LeNet5
from ember.models.resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50
from ember.models.vgg import cfgs, make_layers, vgg11, vgg11_bn, vgg16, vgg16_bn
from torch_parity import assert_close, check_module, copy_weights


# == PyTorch twins (torchvision's code, condensed) ==================================================
class TorchLeNet5(tnn.Module):
    def __init__(self, num_classes=10, in_channels=1, act=tnn.ReLU, pool=tnn.MaxPool2d, padding=0, side=5):
        super().__init__()
        self.features = tnn.Sequential(tnn.Conv2d(in_channels, 6, 5, padding=padding), act(), pool(2, 2),
                                       tnn.Conv2d(6, 16, 5), act(), pool(2, 2))
        self.classifier = tnn.Sequential(tnn.Linear(16 * side * side, 120), act(), tnn.Linear(120, 84), act(),
                                         tnn.Linear(84, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class TorchAlexNet(tnn.Module):
    def __init__(self, num_classes=1000, dropout=0.5):
        super().__init__()
        self.features = tnn.Sequential(
            tnn.Conv2d(3, 64, 11, 4, 2), tnn.ReLU(True), tnn.MaxPool2d(3, 2), tnn.Conv2d(64, 192, 5, padding=2),
            tnn.ReLU(True), tnn.MaxPool2d(3, 2), tnn.Conv2d(192, 384, 3, padding=1), tnn.ReLU(True),
            tnn.Conv2d(384, 256, 3, padding=1), tnn.ReLU(True), tnn.Conv2d(256, 256, 3, padding=1), tnn.ReLU(True),
            tnn.MaxPool2d(3, 2))
        self.avgpool = tnn.AdaptiveAvgPool2d((6, 6))
        self.classifier = tnn.Sequential(
            tnn.Dropout(dropout), tnn.Linear(9216, 4096), tnn.ReLU(True), tnn.Dropout(dropout),
            tnn.Linear(4096, 4096), tnn.ReLU(True), tnn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def torch_make_layers(cfg, batch_norm=False):
    layers, in_channels = [], 3
    for v in cfg:
        if v == "M":
            layers += [tnn.MaxPool2d(kernel_size=2, stride=2)]
        else:
            conv = tnn.Conv2d(in_channels, v, kernel_size=3, padding=1)
            layers += [conv, tnn.BatchNorm2d(v), tnn.ReLU(True)] if batch_norm else [conv, tnn.ReLU(True)]
            in_channels = v
    return tnn.Sequential(*layers)


class TorchVGG(tnn.Module):
    def __init__(self, features, num_classes=1000, dropout=0.5):
        super().__init__()
        self.features, self.avgpool = features, tnn.AdaptiveAvgPool2d((7, 7))
        self.classifier = tnn.Sequential(
            tnn.Linear(512 * 7 * 7, 4096), tnn.ReLU(True), tnn.Dropout(dropout), tnn.Linear(4096, 4096),
            tnn.ReLU(True), tnn.Dropout(dropout), tnn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class TorchBasicBlock(tnn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1):
        super().__init__()
        self.conv1 = tnn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.relu = tnn.ReLU(inplace=True)
        self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.downsample, self.stride = downsample, stride

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class TorchBottleneck(tnn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1):
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = tnn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(width)
        self.conv2 = tnn.Conv2d(width, width, 3, stride, dilation, groups=groups, bias=False, dilation=dilation)
        self.bn2 = tnn.BatchNorm2d(width)
        self.conv3 = tnn.Conv2d(width, planes * 4, 1, bias=False)
        self.bn3 = tnn.BatchNorm2d(planes * 4)
        self.relu = tnn.ReLU(inplace=True)
        self.downsample, self.stride = downsample, stride

    def forward(self, x):
        out = self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class TorchResNet(tnn.Module):
    def __init__(self, block, layers, num_classes=1000, groups=1, width_per_group=64, cifar_stem=False):
        super().__init__()
        self.inplanes, self.groups, self.base_width = 64, groups, width_per_group
        self.conv1 = (tnn.Conv2d(3, 64, 3, 1, 1, bias=False) if cifar_stem else tnn.Conv2d(3, 64, 7, 2, 3, bias=False))
        self.bn1 = tnn.BatchNorm2d(64)
        self.relu = tnn.ReLU(inplace=True)
        self.maxpool = tnn.Identity() if cifar_stem else tnn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.fc = tnn.Linear(512 * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = tnn.Sequential(tnn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                                        tnn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, groups=self.groups, base_width=self.base_width)
                   for _ in range(1, blocks)]
        return tnn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class TorchBasicConv2d(tnn.Module):
    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__()
        self.conv = tnn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = tnn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return TF.relu(self.bn(self.conv(x)))


class TorchInception(tnn.Module):
    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj, k=3):
        super().__init__()
        self.branch1 = TorchBasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = tnn.Sequential(TorchBasicConv2d(in_channels, ch3x3red, kernel_size=1),
                                      TorchBasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1))
        self.branch3 = tnn.Sequential(TorchBasicConv2d(in_channels, ch5x5red, kernel_size=1),
                                      TorchBasicConv2d(ch5x5red, ch5x5, kernel_size=k, padding=k // 2))
        self.branch4 = tnn.Sequential(tnn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
                                      TorchBasicConv2d(in_channels, pool_proj, kernel_size=1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class TorchInceptionAux(tnn.Module):
    def __init__(self, in_channels, num_classes, dropout=0.7):
        super().__init__()
        self.conv = TorchBasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1, self.fc2, self.dropout = tnn.Linear(2048, 1024), tnn.Linear(1024, num_classes), tnn.Dropout(dropout)

    def forward(self, x):
        x = torch.flatten(self.conv(TF.adaptive_avg_pool2d(x, (4, 4))), 1)
        return self.fc2(self.dropout(TF.relu(self.fc1(x))))


class TorchGoogLeNet(tnn.Module):
    def __init__(self, num_classes=1000, aux_logits=False, k=3):
        super().__init__()
        self.conv1 = TorchBasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = tnn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = TorchBasicConv2d(64, 64, kernel_size=1)
        self.conv3 = TorchBasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = tnn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = TorchInception(192, 64, 96, 128, 16, 32, 32, k)
        self.inception3b = TorchInception(256, 128, 128, 192, 32, 96, 64, k)
        self.maxpool3 = tnn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = TorchInception(480, 192, 96, 208, 16, 48, 64, k)
        self.inception4b = TorchInception(512, 160, 112, 224, 24, 64, 64, k)
        self.inception4c = TorchInception(512, 128, 128, 256, 24, 64, 64, k)
        self.inception4d = TorchInception(512, 112, 144, 288, 32, 64, 64, k)
        self.inception4e = TorchInception(528, 256, 160, 320, 32, 128, 128, k)
        self.maxpool4 = tnn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = TorchInception(832, 256, 160, 320, 32, 128, 128, k)
        self.inception5b = TorchInception(832, 384, 192, 384, 48, 128, 128, k)
        self.aux1 = TorchInceptionAux(512, num_classes) if aux_logits else None
        self.aux2 = TorchInceptionAux(528, num_classes) if aux_logits else None
        self.avgpool, self.dropout = tnn.AdaptiveAvgPool2d((1, 1)), tnn.Dropout(0.2)
        self.fc = tnn.Linear(1024, num_classes)

    def forward(self, x):
        x = self.maxpool2(self.conv3(self.conv2(self.maxpool1(self.conv1(x)))))
        x = self.inception4a(self.maxpool3(self.inception3b(self.inception3a(x))))
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.inception5b(self.inception5a(self.maxpool4(self.inception4e(x))))
        x = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))
        return (x, aux2, aux1) if self.training and self.aux1 is not None else x


# == helpers =========================================================================================
def count(model):
    return sum(p.numel() for p in model.parameters())


def meta(build):
    """A full-size twin with shapes only (PyTorch's meta device allocates nothing)."""
    with torch.device("meta"):
        return build()


def randomize_batchnorm(twin, seed=0):
    """Non-trivial BN statistics and affine weights, so eval-mode BN is really exercised."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in twin.modules():
            if isinstance(m, tnn.BatchNorm2d):
                m.running_mean.copy_(0.1 * torch.randn(m.num_features, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g))
                m.weight.copy_(0.5 + torch.rand(m.num_features, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.num_features, generator=g))
    return twin


def assert_same_keys(ours, theirs):
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    shapes = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == shapes


def assert_same_eval_output(ours, theirs, shape, rtol=None, atol=None, seed=0, dtype=torch.float64):
    """Load the twin's weights into ours (strict) and compare eval-mode outputs on one random input.

    float64 by default, for tight tolerances; float32 spares the big models a conversion.
    """
    theirs = randomize_batchnorm(theirs.to(dtype).eval(), seed)
    ours = (ours.double() if dtype == torch.float64 else ours).eval()
    copy_weights(ours, theirs)
    x = np.random.default_rng(seed).normal(size=shape).astype(str(dtype).removeprefix("torch."))
    out = ours(em.tensor(x))
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x))
    assert_close(out, expected, rtol, atol, name=f"{type(ours).__name__} output")
    return out


# == LeNet-5 =========================================================================================
@pytest.mark.parametrize("kwargs, act, pool, size, padding", [
    ({}, tnn.ReLU, tnn.MaxPool2d, 32, 0),
    ({}, tnn.ReLU, tnn.MaxPool2d, 28, 2),  # the common padding-2 LeNet for 28×28 MNIST
    ({"activation": "tanh", "pool": "avg"}, tnn.Tanh, tnn.AvgPool2d, 28, 2),
    ({"in_channels": 3, "num_classes": 4}, tnn.ReLU, tnn.MaxPool2d, 8, 12),
])
def test_lenet5_matches_twin(kwargs, act, pool, size, padding):
    """Smaller images are centred in the 32×32 frame: the same as a twin whose first conv pads them."""
    net = LeNet5(**kwargs)
    twin = TorchLeNet5(kwargs.get("num_classes", 10), kwargs.get("in_channels", 1), act, pool, padding)
    assert_same_keys(net, twin)
    assert count(net) == count(twin)
    out = assert_same_eval_output(net, twin, (3, kwargs.get("in_channels", 1), size, size))
    assert out.shape == (3, kwargs.get("num_classes", 10))


def test_lenet5_sizes_and_errors():
    assert count(LeNet5()) == 61_706  # the classic figure (full C3 connectivity, plain linear F6 and output)
    net = LeNet5(input_size=64)
    assert net.classifier[0].in_features == 16 * 13 * 13 and net(em.randn(2, 1, 64, 64)).shape == (2, 10)
    with pytest.raises(ValueError, match=r"LeNet5\(in_channels=1, input_size=32\): expected input \(N, 1, H, W\)"):
        LeNet5()(em.randn(2, 1, 36, 36))
    assert LeNet5()(em.randn(2, 1, 27, 30)).shape == (2, 10)
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        LeNet5(activation="swish")
    with pytest.raises(ValueError, match="pool must be one of"):
        LeNet5(pool="min")
    with pytest.raises(ValueError, match="num_classes must be a positive integer"):
        LeNet5(num_classes=0)


def test_lenet5_learns_digits():
    images, labels = digits(resize=32).tensors
    x, y = em.tensor(images[:32]), em.tensor(labels[:32])
    net = LeNet5()
    opt = optim.Adam(net.parameters(), lr=2e-3)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = nn.CrossEntropyLoss()(net(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 2.0 and losses[-1] < 0.25 * losses[0], losses


# == AlexNet =========================================================================================
def test_alexnet_full_size_matches_torchvision():
    twin = meta(TorchAlexNet)
    assert count(twin) == 61_100_840  # torchvision's published figure: the twin is faithful
    net = alexnet()
    assert count(net) == count(twin)
    assert_same_keys(net, twin)


def test_alexnet_outputs_match_twin():
    net, twin = AlexNet(num_classes=7, dropout=0.3), TorchAlexNet(num_classes=7, dropout=0.3)
    assert net.classifier[0].p == 0.3
    out = assert_same_eval_output(net, twin, (2, 3, 67, 71), dtype=torch.float32)
    assert out.shape == (2, 7)
    with pytest.raises(ValueError, match=r"AlexNet: expected input \(N, 3, H, W\) with H, W >= 63"):
        net(em.randn(1, 3, 62, 64))


# == VGG =============================================================================================
VGG_CASES = [("vgg11", vgg11, "A", False, 132_863_336), ("vgg11_bn", vgg11_bn, "A", True, 132_868_840),
             ("vgg16", vgg16, "D", False, 138_357_544), ("vgg16_bn", vgg16_bn, "D", True, 138_365_992)]


@pytest.mark.parametrize("name, build, cfg, bn, published", VGG_CASES, ids=[c[0] for c in VGG_CASES])
def test_vgg_constructors_match_twin(name, build, cfg, bn, published, monkeypatch):
    twin_full = meta(lambda: TorchVGG(torch_make_layers(cfgs[cfg], bn)))
    assert count(twin_full) == published
    # The classifier (119.6 M parameters, seconds to draw) is the same in every variant and is checked in
    # full once, below; here each constructor's feature stack is, with VGG replaced by a recorder.
    monkeypatch.setattr(vgg_module, "VGG", lambda features, **kwargs: (features, kwargs))
    features, kwargs = build(num_classes=7, dropout=0.1)
    assert kwargs == {"num_classes": 7, "dropout": 0.1}
    twin = torch_make_layers(cfgs[cfg], bn)
    assert_same_keys(features, twin)
    assert count(features) + count(twin_full.classifier) == published
    out = assert_same_eval_output(features, twin, (2, 3, 32, 32))
    assert out.shape == (2, 512, 1, 1)


def test_vgg_make_layers_and_small_inputs():
    features = make_layers([8, "M", 16], batch_norm=True, in_channels=1)
    assert [type(m).__name__ for m in features] == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "Conv2d",
                                                     "BatchNorm2d", "ReLU"]
    assert features(em.randn(2, 1, 6, 6)).shape == (2, 16, 3, 3)
    with pytest.raises(ValueError, match=r"VGG: a configuration holds positive channel counts and 'M', got 'C'"):
        make_layers([8, "C"])
    with pytest.raises(ValueError, match="VGG: dropout must lie in"):
        vgg_module.VGG(features, dropout=1.5)


def test_vgg11_bn_initialisation_and_outputs_match_twin_on_cifar_sized_input():
    net, twin = vgg11_bn(num_classes=10), TorchVGG(torch_make_layers(cfgs["A"], True), num_classes=10)
    conv, bn, fc = net.features[0], net.features[1], net.classifier[0]  # torchvision's initialisation
    he_std = np.sqrt(2 / (64 * 3 * 3))  # kaiming_normal_, mode='fan_out'
    assert abs(conv.weight.detach().numpy().std() - he_std) < 0.1 * he_std
    assert not conv.bias.detach().numpy().any() and not fc.bias.detach().numpy().any()
    assert (bn.weight.detach().numpy() == 1).all() and not bn.bias.detach().numpy().any()
    assert abs(fc.weight.detach().numpy().std() - 0.01) < 1e-4
    assert_same_keys(net, twin)
    assert count(net) == count(twin)
    out = assert_same_eval_output(net, twin, (2, 3, 32, 32), dtype=torch.float32)
    assert out.shape == (2, 10)


# == ResNet ==========================================================================================
RESNET_CASES = [("resnet18", resnet18, TorchBasicBlock, [2, 2, 2, 2], 11_689_512),
                ("resnet34", resnet34, TorchBasicBlock, [3, 4, 6, 3], 21_797_672),
                ("resnet50", resnet50, TorchBottleneck, [3, 4, 6, 3], 25_557_032)]


@pytest.mark.parametrize("name, build, block, layers, published", RESNET_CASES, ids=[c[0] for c in RESNET_CASES])
def test_resnet_full_size_matches_torchvision(name, build, block, layers, published):
    twin = meta(lambda: TorchResNet(block, layers))
    assert count(twin) == published
    net = build()
    assert count(net) == published
    assert_same_keys(net, twin)


@pytest.mark.parametrize("name, build, block, layers, size", [
    ("resnet18", resnet18, TorchBasicBlock, [2, 2, 2, 2], 64),
    ("resnet50", resnet50, TorchBottleneck, [3, 4, 6, 3], 64),
])
def test_resnet_outputs_match_twin(name, build, block, layers, size):
    net, twin = build(num_classes=5), TorchResNet(block, layers, num_classes=5)
    out = assert_same_eval_output(net, twin, (1, 3, size, size), rtol=1e-8, atol=1e-10)
    assert out.shape == (1, 5)


def test_resnet_names_are_torchvisions():
    net = resnet50(num_classes=3)
    names = dict(net.named_modules())
    for name in ("conv1", "bn1", "relu", "maxpool", "layer1.0.conv1", "layer1.0.bn1", "layer1.0.downsample.0",
                 "layer2.0.downsample.0", "layer2.0.downsample.1", "layer4.2.conv3", "avgpool", "fc"):
        assert name in names, name
    assert names["layer2.0.conv2"].stride == (2, 2) and names["layer2.0.conv1"].stride == (1, 1)  # v1.5
    assert "layer1.0.downsample" not in dict(resnet18().named_modules())  # 64 → 64: identity shortcut


def test_resnet_cifar_stem_trains_like_twin():
    net = resnet18(num_classes=10, cifar_stem=True)
    assert net.conv1.kernel_size == (3, 3) and net.conv1.stride == (1, 1) and isinstance(net.maxpool, nn.Identity)
    twin = TorchResNet(TorchBasicBlock, [2, 2, 2, 2], num_classes=10, cifar_stem=True).double()
    net.double()
    x = np.random.default_rng(1).normal(size=(2, 3, 16, 16))
    # train mode: batch statistics, running-stat updates, gradients of every parameter
    check_module(net, twin, x, rtol=1e-7, atol=1e-9)
    assert dict(net.named_modules())["layer4.1.conv2"].out_channels == 512


def test_resnet_cifar_stem_feature_sizes():
    sizes = {}
    net = resnet18(num_classes=10, cifar_stem=True, in_channels=1)
    for name in ("maxpool", "layer1", "layer2", "layer3", "layer4"):
        getattr(net, name).register_forward_hook(lambda m, i, o, name=name: sizes.update({name: o.shape}))
    assert net(em.randn(2, 1, 32, 32)).shape == (2, 10)
    assert sizes == {"maxpool": (2, 64, 32, 32), "layer1": (2, 64, 32, 32), "layer2": (2, 128, 16, 16),
                     "layer3": (2, 256, 8, 8), "layer4": (2, 512, 4, 4)}
    assert resnet50(num_classes=10, cifar_stem=True)(em.randn(1, 3, 16, 16)).shape == (1, 10)


def test_resnet_initialisation_and_zero_init_residual():
    net = resnet18(zero_init_residual=True)
    fan_out = 64 * 7 * 7
    assert abs(net.conv1.weight.detach().numpy().std() - np.sqrt(2 / fan_out)) < 0.05 * np.sqrt(2 / fan_out)
    assert (net.bn1.weight.detach().numpy() == 1).all() and (net.layer1[0].bn1.weight.detach().numpy() == 1).all()
    assert not net.layer1[0].bn2.weight.detach().numpy().any()
    bottleneck = resnet50(zero_init_residual=True).layer3[1]
    assert not bottleneck.bn3.weight.detach().numpy().any() and (bottleneck.bn2.weight.detach().numpy() == 1).all()
    x = em.randn(2, 256, 4, 4).relu()  # blocks start as the identity on non-negative input
    with em.no_grad():
        assert np.allclose(resnet50(zero_init_residual=True).eval().layer1[1](x).numpy(), x.numpy())


def test_resnet_blocks_and_errors():
    assert Bottleneck.expansion == 4 and BasicBlock.expansion == 1
    assert BasicBlock(8, 8)(em.randn(2, 8, 5, 5)).shape == (2, 8, 5, 5)
    with pytest.raises(ValueError, match="BasicBlock: only groups=1"):
        BasicBlock(8, 8, groups=2)
    with pytest.raises(ValueError, match="ResNet: layers must list four"):
        ResNet(BasicBlock, [2, 2, 2])
    # ResNeXt / wide variants share the code; their parameter counts match torchvision's too
    twin = meta(lambda: TorchResNet(TorchBottleneck, [3, 4, 6, 3], groups=32, width_per_group=4))
    assert count(models.get("resnext50_32x4d")) == count(twin) == 25_028_904


@pytest.mark.parametrize("name, block, layers, extra", [
    ("resnet18", BasicBlock, [2, 2, 2, 2], {}), ("resnet34", BasicBlock, [3, 4, 6, 3], {}),
    ("resnet50", Bottleneck, [3, 4, 6, 3], {}), ("resnet101", Bottleneck, [3, 4, 23, 3], {}),
    ("resnet152", Bottleneck, [3, 8, 36, 3], {}),
    ("resnext50_32x4d", Bottleneck, [3, 4, 6, 3], {"groups": 32, "width_per_group": 4}),
    ("resnext101_32x8d", Bottleneck, [3, 4, 23, 3], {"groups": 32, "width_per_group": 8}),
    ("wide_resnet50_2", Bottleneck, [3, 4, 6, 3], {"width_per_group": 128}),
    ("wide_resnet101_2", Bottleneck, [3, 4, 23, 3], {"width_per_group": 128}),
])
def test_resnet_constructors_follow_torchvision(name, block, layers, extra, monkeypatch):
    monkeypatch.setattr(resnet_module, "ResNet", lambda block, layers, **kwargs: (block, layers, kwargs))
    assert models.get(name, num_classes=7) == (block, layers, {**extra, "num_classes": 7})


# == GoogLeNet =======================================================================================
def test_googlenet_full_size_matches_torchvision():
    twin = meta(TorchGoogLeNet)
    assert count(twin) == 6_624_904
    net = googlenet()  # torchvision's layout by default
    assert count(net) == count(twin)
    assert_same_keys(net, twin)
    with_aux = googlenet(aux_logits=True, branch3_kernel_size=3)
    twin_aux = meta(lambda: TorchGoogLeNet(aux_logits=True))
    assert count(with_aux) == count(twin_aux) == 13_004_888
    assert_same_keys(with_aux, twin_aux)
    paper = googlenet(branch3_kernel_size=5)  # the paper's 5×5 convolutions in branch3
    assert paper.inception3a.branch3[1].conv.kernel_size == (5, 5)
    assert count(paper) == count(meta(lambda: TorchGoogLeNet(k=5)))


@pytest.mark.parametrize("k", [3, 5])
def test_googlenet_outputs_match_twin(k):
    net, twin = GoogLeNet(num_classes=6, branch3_kernel_size=k), TorchGoogLeNet(num_classes=6, k=k)
    out = assert_same_eval_output(net, twin, (1, 3, 64, 64), rtol=1e-8, atol=1e-10)
    assert out.shape == (1, 6)


def test_googlenet_aux_logits_in_training_only():
    net, twin = GoogLeNet(num_classes=4, aux_logits=True), TorchGoogLeNet(num_classes=4, aux_logits=True, k=3)
    net, twin = net.double(), twin.double()  # training-mode BN on 2 values per channel amplifies float32 noise
    copy_weights(net, twin)
    net.aux1.dropout.p = net.aux2.dropout.p = net.dropout.p = 0.0  # deterministic training-mode outputs
    twin.aux1.dropout.p = twin.aux2.dropout.p = twin.dropout.p = 0.0
    x = np.random.default_rng(2).normal(size=(2, 3, 32, 32))
    outs = net(em.tensor(x))
    assert isinstance(outs, GoogLeNetOutputs) and [o.shape for o in outs] == [(2, 4)] * 3
    for ours, theirs in zip(outs, twin(torch.from_numpy(x)), strict=True):
        assert_close(ours, theirs, rtol=1e-7, atol=1e-9)
    assert net.eval()(em.tensor(x)).shape == (2, 4)


def test_inception_module_and_cifar_stem():
    block = Inception(192, 64, 96, 128, 16, 32, 32)
    assert block(em.randn(2, 192, 7, 9)).shape == (2, 256, 7, 9)
    assert [n for n, _ in block.named_children()] == ["branch1", "branch2", "branch3", "branch4"]
    with pytest.raises(ValueError, match="branch3_kernel_size must be 5"):
        Inception(192, 64, 96, 128, 16, 32, 32, branch3_kernel_size=7)
    net = GoogLeNet(num_classes=10, cifar_stem=True, in_channels=1)
    assert isinstance(net.maxpool1, nn.Identity) and net(em.randn(2, 1, 32, 32)).shape == (2, 10)


def test_googlenet_transform_input():
    net = GoogLeNet(num_classes=3, transform_input=True).eval()
    x = em.randn(1, 3, 32, 32)
    with em.no_grad():
        shifted = net._transform_input(x).numpy()
    expected = x.numpy() * (np.array([0.229, 0.224, 0.225]) / 0.5)[:, None, None] \
        + ((np.array([0.485, 0.456, 0.406]) - 0.5) / 0.5)[:, None, None]
    np.testing.assert_allclose(shifted, expected, rtol=1e-6, atol=1e-6)


# == registry ========================================================================================
@pytest.mark.parametrize("name", ["lenet5", "alexnet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn",
                                  "vgg19", "vgg19_bn", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
                                  "resnext50_32x4d", "resnext101_32x8d", "wide_resnet50_2", "wide_resnet101_2",
                                  "googlenet"])
def test_every_zoo_model_is_registered(name):
    assert name in models.available()


def test_registry_builds_models():
    assert isinstance(models.get("lenet5", num_classes=3), LeNet5)
    assert isinstance(models.get("resnet18", num_classes=3, cifar_stem=True), ResNet)
    assert models.get("googlenet", num_classes=2)(em.randn(2, 3, 32, 32)).shape == (2, 2)
