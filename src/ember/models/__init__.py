"""Ready-made models and a name → constructor registry.

>>> from ember import models
>>> models.list()
['alexnet', 'bag_of_embeddings', ...]
>>> net = models.build("mlp", in_features=64, hidden=(128,), out_features=10)

A model module registers its constructors with ``@register`` (or ``@register("name")``);
``build(name, **kwargs)`` calls the constructor, so command-line tools and hyperparameter
searches can build any model from its name (PyTorch Hub's ``list``/``load``, torchvision's
``get_model``/``get_model_builder``). ``get`` and ``available`` are the older names of
``build`` and ``list``.
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


def builder(name: str):
    """The constructor registered as ``name`` (any case), to inspect before building (its signature,
    its docstring); the error lists the known names.

    >>> "num_classes" in inspect.signature(models.builder("lenet5")).parameters
    True
    """
    key = name.lower()
    if key not in _REGISTRY:
        raise KeyError(f"models.build: unknown model {name!r}; available: {list()}")
    return _REGISTRY[key]


def build(name: str, **kwargs):
    """Build the registered model ``name`` (any case) with ``kwargs``; the error lists the known names.

    >>> models.build("resnet18", num_classes=10, cifar_stem=True)
    """
    return builder(name)(**kwargs)


def list():  # PyTorch Hub's name; it shadows the builtin only inside this module (not in __all__)
    """The registered model names, sorted.

    >>> "lenet5" in models.list()
    True
    """
    return sorted(_REGISTRY)


get = build  # the older names, kept for existing code
available = list


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
    "GoogLeNetOutputs", "Inception", "InceptionAux", "LeNet5", "LSTMClassifier", "MLP", "MNIST1DConvNet", "MNIST1DGRU",
    "MNIST1DMLP", "ResNet", "RNNRegressor", "TextCNN", "VGG", "alexnet", "available", "build", "builder", "digits_mlp",
    "get", "googlenet", "lenet5", "mnist1d_setup", "register", "resnet101", "resnet152", "resnet18", "resnet34",
    "resnet50", "resnext101_32x8d", "resnext50_32x4d", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn",
    "vgg19", "vgg19_bn", "wide_resnet101_2", "wide_resnet50_2",
]
