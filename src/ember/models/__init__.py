"""Ready-made models and a name → constructor registry.

>>> from ember import models
>>> models.available()
['digits_mlp', 'mlp', ...]
>>> net = models.get("mlp", in_features=64, hidden=(128,), out_features=10)

A model module registers its constructors with ``@register`` (or ``@register("name")``);
``get(name, **kwargs)`` calls the constructor, so command-line tools and hyperparameter
searches can build any model from its name.
"""
from __future__ import annotations

_REGISTRY: dict = {}


def register(name=None):
    """Decorator: add a model class or factory function to the registry under ``name``
    (default: the lower-cased ``__name__``).

    >>> @register("tiny")
    ... def tiny(num_classes=10):
    ...     return nn.Linear(64, num_classes)
    """
    def add(constructor):
        key = (name or constructor.__name__).lower()
        if key in _REGISTRY and _REGISTRY[key] is not constructor:
            raise ValueError(f"models.register: a model named {key!r} is already registered ({_REGISTRY[key]!r})")
        _REGISTRY[key] = constructor
        return constructor

    if callable(name):  # used bare: @register
        constructor, name = name, None
        return add(constructor)
    return add


def get(name: str, **kwargs):
    """Build the registered model ``name`` with ``kwargs``; the error lists the known names.

    >>> models.get("digits_mlp")
    """
    key = name.lower()
    if key not in _REGISTRY:
        raise KeyError(f"models.get: unknown model {name!r}; available: {available()}")
    return _REGISTRY[key](**kwargs)


def available() -> list[str]:
    """The registered model names, sorted."""
    return sorted(_REGISTRY)


# The model modules import ``register`` from here, so they come after it.
from ember.models.alexnet import AlexNet, alexnet  # noqa: E402
from ember.models.gpt import GPT, GPTConfig  # noqa: E402
from ember.models.inception import (  # noqa: E402
    BasicConv2d,
    GoogLeNet,
    GoogLeNetOutputs,
    Inception,
    InceptionAux,
    googlenet,
)
from ember.models.lenet import LeNet5, lenet5  # noqa: E402
from ember.models.mlp import MLP, digits_mlp  # noqa: E402
from ember.models.mnist1d import MNIST1DGRU, MNIST1DMLP, MNIST1DConvNet, mnist1d_setup  # noqa: E402
from ember.models.resnet import (  # noqa: E402
    BasicBlock,
    Bottleneck,
    ResNet,
    resnet18,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
    resnext50_32x4d,
    resnext101_32x8d,
    wide_resnet50_2,
    wide_resnet101_2,
)
from ember.models.text import BagOfEmbeddings, CharLM, LSTMClassifier, RNNRegressor, TextCNN  # noqa: E402
from ember.models.vgg import VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn  # noqa: E402

__all__ = [
    "AlexNet", "BagOfEmbeddings", "GPT", "GPTConfig", "BasicBlock", "BasicConv2d", "Bottleneck", "CharLM", "GoogLeNet",
    "GoogLeNetOutputs", "Inception", "InceptionAux", "LeNet5", "LSTMClassifier", "MLP", "MNIST1DConvNet",
    "MNIST1DGRU", "MNIST1DMLP", "ResNet", "RNNRegressor", "TextCNN", "VGG", "alexnet", "available", "digits_mlp",
    "get", "googlenet", "lenet5", "mnist1d_setup", "register", "resnet101", "resnet152", "resnet18", "resnet34",
    "resnet50", "resnext101_32x8d", "resnext50_32x4d", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16",
    "vgg16_bn", "vgg19", "vgg19_bn", "wide_resnet101_2", "wide_resnet50_2",
]
