"""The model registry's public face: build, builder, list, and the older names get and available."""
import inspect

import pytest

import ember as em
from ember import models, nn
from ember.models import LeNet5, ResNet


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.setattr(models, "_REGISTRY", dict(models._REGISTRY))


def test_build_calls_the_registered_constructor_by_name_in_any_case():
    assert isinstance(models.build("lenet5", num_classes=3), LeNet5)
    net = models.build("ResNet18", num_classes=4, cifar_stem=True)
    assert isinstance(net, ResNet) and net(em.randn(1, 3, 32, 32)).shape == (1, 4)


def test_list_is_sorted_and_names_every_registered_model(registry):
    names = models.list()
    assert names == sorted(names) and {"lenet5", "mlp", "charlm", "gpt", "resnet18"} <= set(names)

    @models.register("tiny_registry_test")
    def tiny(num_classes=2):
        return nn.Linear(3, num_classes)

    assert "tiny_registry_test" in models.list()
    assert models.build("tiny_registry_test", num_classes=5).out_features == 5


def test_builder_returns_the_constructor_to_inspect():
    assert models.builder("LeNet5") is LeNet5
    assert "num_classes" in inspect.signature(models.builder("lenet5")).parameters


def test_unknown_names_raise_key_error_listing_the_known_ones():
    for call in (models.build, models.builder):
        with pytest.raises(KeyError, match=r"unknown model 'nope'; available: .*'lenet5'"):
            call("nope")


def test_the_older_names_are_the_same_functions():
    assert models.get is models.build and models.available is models.list


def test_list_leaves_the_builtin_alone_for_star_imports():
    namespace = {}
    exec("from ember.models import *", namespace)
    assert "list" not in namespace and {"build", "builder", "get", "available"} <= set(namespace)
