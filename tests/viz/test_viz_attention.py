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
