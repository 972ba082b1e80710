"""examples/sequence_architectures.py: each of many-to-one, many-to-many and one-to-many learns its toy task."""

import pytest

from example_scripts import load_example


@pytest.fixture(scope="module")
def demo():
    module = load_example("sequence_architectures")
    return module


def test_many_to_one_classifies_sum_sign(demo):
    assert demo.many_to_one(steps=80) > 0.9


def test_many_to_many_tags_running_parity(demo):
    assert demo.many_to_many(steps=80) > 0.95


def test_untrained_models_are_at_chance(demo):
    # the thresholds above are earned by training: with no steps both sit near chance
    assert demo.many_to_one(steps=0) < 0.8
    assert demo.many_to_many(steps=0) < 0.7


def test_one_to_many_generates_the_phrase(demo):
    text, match = demo.one_to_many(epochs=5)
    assert text.startswith(demo.PHRASE[0]) and len(text) == 1 + 3 * len(demo.PHRASE)
    assert match > 0.9
    _, untrained = demo.one_to_many(epochs=0)
    assert untrained < 0.5
