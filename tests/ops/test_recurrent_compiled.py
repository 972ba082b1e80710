"""The compiled per-step gate kernels (numba, ``ember[fast]``) equal the NumPy passes they replace.

numba is a test dependency, so the fused LSTM and GRU take the kernels everywhere else in the
suite (their gradchecks and torch parity included); here each runs both ways on the same inputs:
outputs, final states and every gradient must agree to rounding.
"""
import numpy as np
import pytest

import ember as em
from ember import backend
from ember.ops import recurrent
from ember.ops.recurrent import gru_layer, lstm_layer

T, N, I, H = 6, 5, 4, 8


def run_layer(kind, dtype, reverse, bias, lengths=None):
    """(y, final states..., every input's gradient) of one layer-direction under a fixed loss."""
    rng = np.random.default_rng(7)
    G = 4 if kind == "lstm" else 3
    shapes = [(T, N, I), (N, H)] + [(N, H)] * (kind == "lstm") + [(G * H, I), (G * H, H)] + [(G * H,)] * (2 * bias)
    inputs = [em.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in shapes]
    layer = lstm_layer if kind == "lstm" else gru_layer
    outputs = layer(*inputs, lengths=lengths, reverse=reverse)
    weights = [em.tensor(rng.standard_normal(o.shape).astype(dtype)) for o in outputs]
    sum((o * w).sum() for o, w in zip(outputs, weights, strict=True)).backward()
    return [o.detach().numpy() for o in outputs] + [t.grad.numpy() for t in inputs]


def numpy_only(monkeypatch):
    monkeypatch.setattr(recurrent, "_cell_kernels", lambda array, mask: None)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_kernels_equal_the_numpy_passes(monkeypatch, kind, dtype, reverse, bias):
    compiled = run_layer(kind, dtype, reverse, bias)
    numpy_only(monkeypatch)
    reference = run_layer(kind, dtype, reverse, bias)
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    for a, b in zip(compiled, reference, strict=True):
        np.testing.assert_allclose(a, b, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_the_kernels_run(monkeypatch, kind):
    """Without lengths the NumPy path's step loop is skipped; with them (masked steps) it runs."""
    calls = []
    layer = recurrent.LSTMLayer if kind == "lstm" else recurrent.GRULayer
    for name in ("_steps_back", "_steps_back_compiled"):
        original = getattr(layer, name)

        def spy(*args, _name=name, _original=original):
            calls.append(_name)
            return _original(*args)

        static = isinstance(layer.__dict__[name], staticmethod)
        monkeypatch.setattr(layer, name, staticmethod(spy) if static else spy)
    run_layer(kind, np.float32, False, True)
    run_layer(kind, np.float32, False, True, lengths=[6, 2, 6, 1, 3])
    assert calls == ["_steps_back_compiled", "_steps_back"]


def test_environment_switches_the_kernels_off(monkeypatch):
    assert backend.compiled_kernels()  # numba is installed for the tests
    assert recurrent._cell_kernels(np.zeros(2), None) is not None
    monkeypatch.setenv("EMBER_COMPILED", "0")
    assert not backend.compiled_kernels()
    assert recurrent._cell_kernels(np.zeros(2), None) is None
