"""Bias/variance diagnosis: the course's cases, the role of Bayes error, input checks, the Trainer callback."""
import dataclasses
import io

import numpy as np
import pytest
from train_problem import make_blobs, make_model

from ember import nn, optim
from ember.data import DataLoader, TensorDataset
from ember.train import EarlyStopping, Trainer
from ember.train.diagnosis import BIAS_REMEDIES, DEFAULT_TOLERANCE, VARIANCE_REMEDIES, Diagnose, Diagnosis, diagnose


@pytest.mark.parametrize("train, dev, verdict, focus", [
    (0.01, 0.11, "high variance", "variance"),
    (0.15, 0.16, "high bias", "bias"),
    (0.15, 0.30, "high bias and high variance", "bias"),  # a tie: bias first
    (0.005, 0.01, "neither", None),
])
def test_the_four_textbook_cases(train, dev, verdict, focus):
    d = diagnose(train, dev)
    assert d.verdict == verdict and d.focus == focus
    assert d.avoidable_bias == pytest.approx(train) and d.variance == pytest.approx(dev - train)
    assert d.high_bias == ("bias" in verdict and verdict != "neither")
    assert d.high_variance == ("variance" in verdict)


def test_remedies_follow_the_verdict():
    assert diagnose(0.15, 0.16).remedies == BIAS_REMEDIES
    assert diagnose(0.01, 0.11).remedies == VARIANCE_REMEDIES
    both = diagnose(0.15, 0.30).remedies
    assert both[:len(BIAS_REMEDIES)] == BIAS_REMEDIES  # bias first
    assert set(both) == set(BIAS_REMEDIES) | set(VARIANCE_REMEDIES) and len(both) == len(set(both))
    assert diagnose(0.005, 0.01).remedies == ()
    assert any("more training data" in r for r in VARIANCE_REMEDIES)
    assert any("bigger network" in r for r in BIAS_REMEDIES)


def test_bayes_error_changes_the_verdict():
    # blurry images: humans err 15 % too, so 15 % train error is no avoidable bias
    assert diagnose(0.15, 0.16, bayes_error=0.0).verdict == "high bias"
    assert diagnose(0.15, 0.16, bayes_error=0.15).verdict == "neither"
    # train 8 %, dev 10 %: with humans at 1 % the bias (7 %) dominates; at 7.5 % only variance is left
    d = diagnose(0.08, 0.11, bayes_error=0.01)
    assert d.verdict == "high bias and high variance" and d.focus == "bias"
    d = diagnose(0.08, 0.11, bayes_error=0.075)
    assert d.verdict == "high variance" and d.avoidable_bias == pytest.approx(0.005)


def test_tolerance_is_the_threshold():
    assert DEFAULT_TOLERANCE == 0.02
    assert diagnose(0.0, 0.03).high_variance and not diagnose(0.0, 0.03, tolerance=0.05).high_variance
    assert not diagnose(0.0, 0.02).high_variance  # strictly above the tolerance
    assert diagnose(0.1, 0.1, tolerance=0.0).verdict == "high bias"


def test_diagnosis_is_a_dataclass_with_every_field():
    fields = dataclasses.asdict(diagnose(0.15, 0.30, bayes_error=0.05))
    assert fields["avoidable_bias"] == pytest.approx(0.10) and fields["variance"] == pytest.approx(0.15)
    assert {"train_error", "dev_error", "bayes_error", "tolerance", "high_bias", "high_variance", "verdict",
            "remedies"} <= set(fields)
    assert isinstance(diagnose(0.1, 0.2), Diagnosis)


def test_str_is_readable():
    text = str(diagnose(0.08, 0.11, bayes_error=0.01))
    assert "train error 8.0%" in text and "dev error 11.0%" in text and "Bayes error 1.0%" in text
    assert "avoidable bias 7.0% (high)" in text and "variance 3.0% (high)" in text
    assert "verdict: high bias and high variance (larger gap: bias)" in text
    assert "  - bigger network" in text
    assert "nothing to fix" in str(diagnose(0.01, 0.02))
    assert "below the Bayes estimate" in str(diagnose(0.01, 0.02, bayes_error=0.05))


@pytest.mark.parametrize("kwargs, match", [
    ({"train_error": -0.1, "dev_error": 0.2}, "train_error must be an error rate in"),
    ({"train_error": 0.1, "dev_error": 12.0}, r"dev_error .* got 12.0 \(pass 1 - accuracy"),
    ({"train_error": 0.1, "dev_error": float("nan")}, "dev_error"),
    ({"train_error": 0.1, "dev_error": 0.2, "bayes_error": 1.5}, "bayes_error"),
    ({"train_error": 0.1, "dev_error": 0.2, "tolerance": -0.01}, "tolerance must be"),
])
def test_rejects_values_outside_zero_one(kwargs, match):
    with pytest.raises(ValueError, match=match):
        diagnose(**kwargs)


# -- the callback -----------------------------------------------------------------------------------


def blob_loaders(random_labels=False):
    x, y = make_blobs(120)
    if random_labels:  # nothing to learn: accuracies stay well below 1 and vary with the weights
        y = np.random.default_rng(1).integers(0, 3, len(y))
    return DataLoader(TensorDataset(x[:90], y[:90]), batch_size=30), DataLoader(TensorDataset(x[90:], y[90:]),
                                                                               batch_size=30)


def fitted(callbacks, dev=True, metrics=("accuracy",), epochs=3, random_labels=False):
    train, dev_loader = blob_loaders(random_labels)
    model = make_model(dropout=0.0, seed=0)
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), callbacks=callbacks,
                      metrics=metrics)
    trainer.fit(train, dev_loader if dev else None, epochs=epochs)
    return trainer


def test_callback_prints_the_diagnosis_from_the_last_epoch():
    out = io.StringIO()
    callback = Diagnose(bayes_error=0.01, file=out)
    last = fitted([callback]).history.last
    d = callback.diagnosis
    assert d.train_error == pytest.approx(1 - last["accuracy"])
    assert d.dev_error == pytest.approx(1 - last["dev_accuracy"])
    assert d.bayes_error == 0.01
    assert out.getvalue().startswith("bias/variance diagnosis\n") and f"verdict: {d.verdict}" in out.getvalue()


def test_callback_evaluates_a_train_loader_after_early_stopping_restored_the_best_weights():
    train, _ = blob_loaders(random_labels=True)
    callback = Diagnose(train_loader=train, file=io.StringIO())
    stop = EarlyStopping(monitor="dev_loss", patience=1, restore_best_weights=True)
    # given first, it still runs after EarlyStopping (by order)
    trainer = fitted([callback, stop], epochs=6, random_labels=True)
    assert callback.diagnosis.train_error == pytest.approx(1 - trainer.evaluate(train)["accuracy"])
    assert callback.diagnosis.train_error != pytest.approx(1 - trainer.history.last["accuracy"])


def test_callback_is_silent_without_dev_set_or_accuracy():
    out = io.StringIO()
    callback = Diagnose(file=out)
    fitted([callback], dev=False)
    assert callback.diagnosis is None
    fitted([callback], metrics=None)
    assert callback.diagnosis is None and out.getvalue() == ""
