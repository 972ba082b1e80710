"""Attention heatmaps: panels, tick labels (with the <eos> row), PNG output and errors."""
import numpy as np
import pytest

from ember.viz import plot_attention


def test_heatmap_labels_tokens_and_the_end_row(tmp_path):
    weights = np.random.default_rng(0).dirichlet(np.ones(4), size=3)  # 2 output words + <eos>, 4 input words
    fig = plot_attention([["le", "chat", "est", "noir"]], [["the", "cat"]], [weights], tmp_path / "a" / "heat.png")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["le", "chat", "est", "noir"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["the", "cat", "<eos>"]
    np.testing.assert_allclose(ax.images[0].get_array(), weights)
    assert (tmp_path / "a" / "heat.png").read_bytes()[:4] == b"\x89PNG"


def test_character_panels_and_errors():
    weights = [np.full((3, 2), 0.5), np.full((2, 3), 1 / 3)]
    fig = plot_attention(["ab", "xyz"], ["12", "9"], weights, columns=1)
    assert len(fig.axes) == 2 and fig.axes[1].get_title() == "'xyz' → 9"
    with pytest.raises(ValueError, match="as many inputs, outputs and attention"):
        plot_attention(["ab"], ["12", "3"], weights[:1])


def test_labels_fitted_to_the_weights_when_their_counts_differ():
    # an untrained decoder: a step that wrote a special token (not in the text), then <eos>
    fig = plot_attention(["3 May"], [""], [np.full((2, 5), 0.2)])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["<eos>", ""]
    assert [t.get_text() for t in ax.get_xticklabels()] == list("3 May")
    # more tokens than weights: the labels are cut to the rows and columns
    fig = plot_attention([["a", "b", "c"]], [["x", "y", "z"]], [np.full((2, 2), 0.5)])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x", "y"]


def test_empty_weights_give_a_panel_saying_so(tmp_path):
    fig = plot_attention(["ab", "cd"], ["", "1"], [np.zeros((0, 2)), np.full((2, 2), 0.5)], tmp_path / "heat.png")
    assert fig.axes[0].texts[0].get_text().startswith("no attention weights")
    assert len(fig.axes[1].images) == 1
    assert (tmp_path / "heat.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="2-D"):
        plot_attention(["ab"], ["1"], [np.ones(3)])


def test_chinese_labels_fall_back_to_an_installed_font_without_warnings(tmp_path, monkeypatch):
    import warnings

    from ember.viz import attention

    monkeypatch.setattr(attention, "CJK_FONTS", ("No Such Font", "DejaVu Serif"))  # DejaVu ships with matplotlib
    text = "二〇二一年三月三日"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plot_attention([text], ["2021-03-03"], [np.full((11, len(text)), 1 / len(text))], tmp_path / "zh.png")
    label = fig.axes[0].get_xticklabels()[0]
    assert label.get_text() == "二" and label.get_fontfamily() == ["sans-serif", "DejaVu Serif"]
    assert (tmp_path / "zh.png").read_bytes()[:4] == b"\x89PNG"
