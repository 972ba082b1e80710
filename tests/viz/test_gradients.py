"""Gradient flow through recurrent layers: vanishing for the RNN, far less for LSTM/GRU, exploding, clipped."""
import matplotlib.image as mpimg
import numpy as np
import pytest
import torch

import ember as em
from ember.nn.recurrent import GRU, LSTM, RNN
from ember.viz.gradients import (
    clipping_effect,
    gradient_flow,
    input_gradient_norms,
    plot_gradient_flow,
    recurrent_layer,
)
from torch_parity import assert_close, copy_weights


def _ratio(g) -> float:
    """|g_1| / |g_T|: how much of the last step's gradient reaches the first step."""
    return float(g[0] / g[-1])


@pytest.fixture(scope="module")
def default_flow():
    return gradient_flow(["rnn", "lstm", "gru"], seq_len=100, batch_size=16, seed=0)


@pytest.mark.parametrize("ours, theirs", [(RNN, torch.nn.RNN), (LSTM, torch.nn.LSTM), (GRU, torch.nn.GRU)])
def test_norms_match_torch_input_gradient(ours, theirs):
    torch.manual_seed(0)
    twin = theirs(3, 5, batch_first=True).double()
    layer = ours(3, 5, batch_first=True, dtype=np.float64)
    copy_weights(layer, twin)
    data = np.random.default_rng(1).standard_normal((4, 12, 3))
    xt = torch.tensor(data, requires_grad=True)
    twin(xt)[0][:, -1].sum().backward()
    expected = xt.grad.pow(2).sum(dim=(0, 2)).sqrt().numpy()
    assert_close(input_gradient_norms(layer, em.tensor(data, requires_grad=True)), expected, rtol=1e-10, atol=1e-14)


def test_vanilla_rnn_gradient_vanishes(default_flow):
    g = default_flow["rnn"]
    assert g.shape == (100,) and np.all(g > 0)
    assert _ratio(g) < 1e-20  # measured ~1e-26: each step multiplies by ~0.5
    assert np.all(np.diff(np.log10(g[::10])) > 0)  # steadily smaller further back


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gated_cells_decay_orders_of_magnitude_less(default_flow, cell):
    # at default init the gates sit near ½, so the gated gradient also shrinks, but by ≥ 3 orders less
    assert np.log10(_ratio(default_flow[cell])) - np.log10(_ratio(default_flow["rnn"])) > 3


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_open_keep_gate_preserves_gradient(cell):
    norms = gradient_flow({"rnn": recurrent_layer("rnn"), cell: recurrent_layer(cell, forget_bias=1.0)}, seed=0)
    assert _ratio(norms[cell]) > 1e-12  # measured 1e-8 (LSTM), 4e-10 (GRU)
    assert _ratio(norms[cell]) > 1e10 * _ratio(norms["rnn"])


def test_forget_bias_sets_the_keep_gate_only():
    layer = recurrent_layer("lstm", hidden_size=4, forget_bias=2.5)
    total = layer.bias_ih_l0.detach().numpy() + layer.bias_hh_l0.detach().numpy()
    assert np.all(total[4:8] == 2.5)
    assert not np.any(total[:4] == 2.5) and not np.any(total[8:] == 2.5)


def test_large_recurrent_gain_explodes():
    g = gradient_flow({"rnn": recurrent_layer("rnn", hh_gain=2.0)}, seed=0)["rnn"]
    assert _ratio(g) > 1e3  # measured ~1e6


@pytest.mark.parametrize("max_norm", [1.0, 0.25])
def test_clipping_brings_total_norm_to_max_norm(max_norm):
    before, after = clipping_effect(recurrent_layer("rnn", hh_gain=2.0), max_norm=max_norm, seed=0)
    assert before > 1e3
    assert after == pytest.approx(max_norm, rel=1e-5)


def test_clipping_leaves_a_small_gradient_alone():
    before, after = clipping_effect(recurrent_layer("rnn", hidden_size=4), max_norm=1e9, seq_len=5, seed=0)
    assert after == pytest.approx(before, rel=1e-12)


def test_float32_tiny_gradients_are_measured_not_flushed():
    layer = recurrent_layer("rnn", dtype=np.float32)
    g = gradient_flow({"rnn": layer}, seed=0)["rnn"]
    assert np.all(g > 0) and _ratio(g) < 1e-15


def test_plot_writes_a_log_scale_png(tmp_path, default_flow):
    path = tmp_path / "deep" / "flow.png"
    fig = plot_gradient_flow(default_flow, path, title="flow")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert [line.get_label() for line in ax.lines] == ["rnn", "lstm", "gru"]
    assert_close(ax.lines[0].get_ydata(), default_flow["rnn"], rtol=0, atol=0, check_dtype=False)
    image = mpimg.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.std() > 0


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="unknown cell 'elman'"):
        recurrent_layer("elman")
    with pytest.raises(ValueError, match="forget_bias needs a gated cell"):
        recurrent_layer("rnn", forget_bias=1.0)
    with pytest.raises(ValueError, match="requiring grad"):
        input_gradient_norms(recurrent_layer("rnn"), em.randn(2, 5, 8))
    with pytest.raises(ValueError, match="no gradient norms"):
        plot_gradient_flow({})
