"""Per-head attention grids: panels per layer and head, outer-axis labels, one colour scale, PNG, errors."""
import numpy as np
import pytest

import ember as em
from ember.viz import plot_attention


def weights(*shape):
    return np.random.default_rng(0).dirichlet(np.ones(shape[-1]), size=shape[:-1])


def shown(labels):
    """The texts of the visible tick labels."""
    return [t.get_text() for t in labels if t.get_visible()]


def heatmaps(fig):
    return [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]


def test_layers_by_heads_grid_with_labels_on_the_outer_axes(tmp_path):
    w = weights(2, 3, 4, 5)                                    # 2 layers, 3 heads, 4 queries, 5 keys
    keys, queries = ["the", "cat", "sat", "on", "mats"], ["a", "b", "c", "d"]
    fig = plot_attention(keys, queries, w, tmp_path / "deep" / "heads.png", dpi=50)
    panels = heatmaps(fig)
    assert len(panels) == 6
    fig.canvas.draw()                                          # tick labels take their final state when drawn
    for i, ax in enumerate(panels):                            # row-major: layer i // 3, head i % 3
        np.testing.assert_allclose(ax.images[0].get_array(), w[i // 3, i % 3])
        bottom, left = i // 3 == 1, i % 3 == 0
        assert shown(ax.get_xticklabels()) == (keys if bottom else [])
        assert shown(ax.get_yticklabels()) == (queries if left else [])
        assert ax.get_title() == (f"head {i % 3}" if i < 3 else "")
        assert ax.get_ylabel() == (f"layer {i // 3}" if left else "")
    # one colour scale for every panel, 0 to the largest weight, and one colour bar
    assert {ax.images[0].get_clim() for ax in panels} == {(0.0, w.max())}
    assert len(fig.axes) == 7
    png = tmp_path / "deep" / "heads.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = (int.from_bytes(png.read_bytes()[16:24][i:i + 4], "big") for i in (0, 4))
    assert width > height > 0 and width == round(fig.get_figwidth() * 50)


def test_one_layer_of_heads_from_a_tensor_self_attention_labels():
    w = em.tensor(weights(4, 6, 6).astype(np.float32), requires_grad=True)   # a Tensor, even one tracking grads
    fig = plot_attention(list("hello!"), None, w)
    panels = heatmaps(fig)
    assert len(panels) == 4 and [ax.get_title() for ax in panels] == ["head 0", "head 1", "head 2", "head 3"]
    assert all(ax.get_ylabel() == "" for ax in panels)
    assert [t.get_text() for t in panels[0].get_yticklabels()] == list("hello!")
    assert [t.get_text() for t in panels[2].get_xticklabels()] == list("hello!")
    np.testing.assert_allclose(panels[1].images[0].get_array(), w.detach().numpy()[1], rtol=1e-6)


def test_labels_fitted_to_the_weights():
    fig = plot_attention(["a", "b"], ["x", "y", "z", "extra"], weights(1, 3, 3))
    ax = heatmaps(fig)[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", ""]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x", "y", "z"]


@pytest.mark.parametrize("shape", [(5, 5), (7,), (1, 2, 3, 4, 5), (0, 3, 3), (2, 0, 3, 3)])
def test_bad_shapes_give_a_clear_error(shape):
    with pytest.raises(ValueError, match=r"\(heads, T_out, T_in\) or \(layers, heads, T_out, T_in\)"):
        plot_attention(list("abc"), None, np.zeros(shape))


def test_a_list_still_means_one_panel_per_example():
    fig = plot_attention(["ab", "cd"], ["1", "2"], [np.full((2, 2), 0.5)] * 2)
    assert len(fig.axes) == 2 and fig.axes[0].get_title() == "'ab' → 1"
