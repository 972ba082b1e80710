"""ExponentialMovingAverage: known answers for metrics and for weight averaging."""
import json

import numpy as np
import pytest

import ember as em
import ember.nn as nn
from ember.optim import ExponentialMovingAverage


def _reference(xs, beta, bias_correction):
    v, out = 0.0, []
    for t, x in enumerate(xs, start=1):
        v = beta * v + (1 - beta) * x
        out.append(v / (1 - beta**t) if bias_correction else v)
    return out


def test_known_answers_without_bias_correction():
    ema = ExponentialMovingAverage(beta=0.5, bias_correction=False)
    seen = []
    for x in (4.0, 8.0, 0.0):
        ema.update(x)
        seen.append(ema.value)
    assert seen == pytest.approx([2.0, 5.0, 2.5])  # 0.5·0 + 0.5·4, 0.5·2 + 0.5·8, 0.5·5 + 0


def test_known_answers_with_bias_correction():
    ema = ExponentialMovingAverage(beta=0.5, bias_correction=True)
    seen = []
    for x in (4.0, 8.0, 0.0):
        ema.update(x)
        seen.append(ema.value)
    assert seen == pytest.approx([4.0, 5.0 / 0.75, 2.5 / 0.875])
    constant = ExponentialMovingAverage(beta=0.98)
    for _ in range(3):
        constant.update(7.0)
    assert constant.value == pytest.approx(7.0)  # the corrected average of a constant is that constant


@pytest.mark.parametrize("bias_correction", [False, True])
def test_matches_reference_on_a_noisy_series(bias_correction):
    xs = np.random.default_rng(0).normal(size=50)
    ema = ExponentialMovingAverage(beta=0.9, bias_correction=bias_correction)
    seen = []
    for x in xs:
        ema.update(em.tensor(x))  # a 0-d tensor, as a loss is
        seen.append(ema.value)
    np.testing.assert_allclose(seen, _reference(xs, 0.9, bias_correction), rtol=1e-12)


def _model(seed=0):
    rng = np.random.default_rng(seed)
    model = nn.Module()
    model.weight = nn.Parameter(em.tensor(rng.normal(size=(3, 2))))
    model.bias = nn.Parameter(em.tensor(rng.normal(size=3)))
    return model


@pytest.mark.parametrize("bias_correction", [False, True])
def test_weight_averaging(bias_correction):
    model = _model()
    ema = ExponentialMovingAverage(model, beta=0.8, bias_correction=bias_correction)
    history = []
    for step in range(4):
        with em.no_grad():
            model.weight += float(step + 1)
            model.bias -= 0.5
        history.append([p.array.copy() for p in model.parameters()])
        ema.update()
    for i in range(2):
        expected = _reference([h[i] for h in history], 0.8, bias_correction)[-1]
        np.testing.assert_allclose(ema.averages()[i], expected, rtol=1e-12)
    target = _model(seed=1)
    ema.copy_to(target)
    np.testing.assert_allclose(target.weight.array, ema.averages()[0], rtol=0)
    np.testing.assert_allclose(model.weight.array, history[-1][0], rtol=0)  # the source is untouched


def test_average_parameters_swaps_and_restores():
    model = _model()
    ema = ExponentialMovingAverage(model, beta=0.9)
    ema.update()
    with em.no_grad():
        model.weight += 1.0
    current = model.weight.array.copy()
    with ema.average_parameters():
        np.testing.assert_allclose(model.weight.array, current - 1.0, rtol=1e-12)
    np.testing.assert_array_equal(model.weight.array, current)


def test_state_dict_round_trip_through_json_and_arrays():
    model = _model()
    ema = ExponentialMovingAverage(model, beta=0.9)
    for _ in range(3):
        with em.no_grad():
            model.weight *= 1.1
        ema.update()
    sd = ema.state_dict()
    arrays = {str(i): t.numpy() for i, t in sd.pop("shadow").items()}
    restored = json.loads(json.dumps(sd)) | {"shadow": arrays}
    other = ExponentialMovingAverage(_model(), beta=0.5, bias_correction=False)
    other.load_state_dict(restored)
    assert other.num_updates == 3 and other.beta == 0.9 and other.bias_correction
    for a, b in zip(other.averages(), ema.averages(), strict=True):
        np.testing.assert_array_equal(a, b)

    metric = ExponentialMovingAverage(beta=0.7)
    metric.update(2.0)
    copy = ExponentialMovingAverage()
    copy.load_state_dict(json.loads(json.dumps(metric.state_dict())))
    assert copy.value == metric.value == pytest.approx(2.0)


def test_errors():
    with pytest.raises(ValueError, match="beta"):
        ExponentialMovingAverage(beta=1.0)
    with pytest.raises(ValueError, match="give a value"):
        ExponentialMovingAverage().update()
    with pytest.raises(RuntimeError, match="metric"):
        ExponentialMovingAverage().copy_to(_model())
    ema = ExponentialMovingAverage(_model())
    with pytest.raises(ValueError, match="do not match"):
        ema.copy_to([nn.Parameter(em.zeros(4))])
