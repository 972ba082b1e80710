"""Filters, feature maps and receptive fields as pictures: grids, exact layer outputs, hooks removed."""
import matplotlib.image as mpimg
import numpy as np
import pytest

import ember as em
from ember import nn
from ember.nn.summary import summary
from ember.viz import (
    feature_maps,
    plot_feature_maps,
    plot_filters,
    plot_images,
    plot_receptive_field,
    receptive_field,
)


def _tiles(fig):
    """The arrays drawn in the visible image cells, in grid order."""
    return [ax.images[0].get_array() for ax in fig.axes if ax.get_visible() and ax.images]


def _hooks_left(model) -> int:
    hooks = [m.__dict__.get("_forward_hooks", {}) for m in model.modules()]
    return sum(len(h.get(kind, ())) for h in hooks for kind in ("pre", "post"))


def _normalised(a, axes):
    lo, hi = a.min(axis=axes, keepdims=True), a.max(axis=axes, keepdims=True)
    return (a - lo) / (hi - lo)


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 6, 5, padding=2), nn.ReLU(), nn.Conv2d(6, 4, 3, stride=2))
        self.act = nn.Tanh()
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 7 * 7, 3))

    def forward(self, x):
        return self.head(self.act(self.features(x)))


# -- filters --------------------------------------------------------------------------------------
def test_first_layer_filters_in_rgb(tmp_path):
    net = _Net()
    path = tmp_path / "deep" / "filters.png"
    fig = plot_filters(net.features[0], path)
    tiles = _tiles(fig)
    w = net.features[0].weight.detach().numpy()
    assert len(tiles) == 6 and len(fig.axes) == 6  # a 2×3 grid
    for tile, filt in zip(tiles, w, strict=True):
        assert tile.shape == (5, 5, 3)
        np.testing.assert_allclose(tile, _normalised(filt, None).transpose(1, 2, 0), rtol=1e-6)
    assert mpimg.imread(path).ndim == 3


def test_grey_mean_and_all_modes():
    w = np.random.default_rng(0).standard_normal((5, 4, 3, 3))
    grey = _tiles(plot_filters(w[:, :1], mode="auto"))
    assert len(grey) == 5 and grey[0].shape == (3, 3)
    np.testing.assert_allclose(grey[2], _normalised(w[2, 0], None))
    mean = _tiles(plot_filters(em.tensor(w), mode="auto"))  # C_in = 4: the mean over inputs
    np.testing.assert_allclose(mean[1], _normalised(w[1].mean(axis=0), None))
    fig = plot_filters(w, mode="all", max_filters=3)
    every = _tiles(fig)
    assert len(every) == 3 * 4 and len(fig.axes) == 12  # one row per filter, one column per input
    per_filter = _normalised(w[1], None)  # normalised over the whole filter, not per slice
    np.testing.assert_allclose(every[4 + 2], per_filter[2])
    assert len(_tiles(plot_filters(w, max_filters=2))) == 2
    seven = plot_filters(np.ones((7, 1, 3, 3)))
    assert len(_tiles(seven)) == 7 and len(seven.axes) == 9  # a 3×3 grid, the last 2 cells hidden
    assert _tiles(seven)[0].min() == 0.5  # a constant filter is drawn mid-grey


def test_conv1d_filters_and_bad_weights():
    conv = nn.Conv1d(1, 4, 7)
    tiles = _tiles(plot_filters(conv))
    assert len(tiles) == 4 and tiles[0].shape == (1, 7)
    with pytest.raises(ValueError, match=r"plot_filters: expected a conv weight"):
        plot_filters(np.ones((3, 3)))
    with pytest.raises(ValueError, match="mode='rgb' needs 3 input channels"):
        plot_filters(np.ones((2, 4, 3, 3)), mode="rgb")
    with pytest.raises(TypeError, match="ReLU has no weight"):
        plot_filters(nn.ReLU())


# -- feature maps ---------------------------------------------------------------------------------
def test_feature_maps_are_exactly_the_layer_output():
    net = _Net()
    x = em.randn(2, 3, 16, 16)
    f = net.features
    with em.no_grad():
        by_hand = f[2](f[1](f[0](x)))
    maps = feature_maps(net, "features.2", x)
    assert maps.shape == (2, 4, 7, 7)
    np.testing.assert_array_equal(maps.numpy(), by_hand.numpy())
    np.testing.assert_array_equal(feature_maps(net, net.act, x).numpy(), np.tanh(by_hand.numpy()))
    np.testing.assert_array_equal(feature_maps(net, "features.1", x.numpy()).numpy(), f[1](f[0](x)).detach().numpy())
    assert not maps.requires_grad and _hooks_left(net) == 0


def test_feature_maps_stop_after_the_layer():
    calls = []
    net = _Net()
    net.head[0].register_forward_pre_hook(lambda m, args: calls.append(1))
    feature_maps(net, "act", em.randn(1, 3, 16, 16))
    assert calls == []
    net(em.randn(1, 3, 16, 16))
    assert calls == [1]


def test_feature_maps_errors_leave_no_hook():
    net = _Net()
    with pytest.raises(AttributeError, match="no submodule 'conv9'"):
        feature_maps(net, "features.conv9", em.randn(1, 3, 16, 16))
    with pytest.raises(ValueError, match="not a submodule of _Net"):
        feature_maps(net, nn.ReLU(), em.randn(1, 3, 16, 16))
    with pytest.raises(ValueError):  # the input does not fit: the forward fails before the layer
        feature_maps(net, "act", em.randn(1, 2, 16, 16))
    net.unused = nn.ReLU()
    with pytest.raises(RuntimeError, match="ReLU was not called"):
        feature_maps(net, "unused", em.randn(1, 3, 16, 16))
    assert _hooks_left(net) == 0


def test_plot_feature_maps_grid(tmp_path):
    net = _Net()
    x = em.randn(3, 3, 16, 16)
    fig = plot_feature_maps(net, "features.0", x, tmp_path / "maps.png", max_maps=4, index=1)
    tiles = _tiles(fig)
    assert len(tiles) == 4 and len(fig.axes) == 4
    expected = _normalised(feature_maps(net, "features.0", x).numpy()[1, :4], (1, 2))
    for tile, m in zip(tiles, expected, strict=True):
        np.testing.assert_allclose(tile, m, rtol=1e-5, atol=1e-6)
    assert (tmp_path / "maps.png").exists() and "features.0 (Conv2d)" in fig._suptitle.get_text()
    assert len(_tiles(plot_feature_maps(net, "features.2", x))) == 4
    with pytest.raises(ValueError, match=r"'head.1' outputs \(3, 3\), not"):
        plot_feature_maps(net, "head.1", x)


def test_plot_feature_maps_of_a_conv1d():
    net = nn.Sequential(nn.Conv1d(1, 3, 5), nn.ReLU())
    tiles = _tiles(plot_feature_maps(net, "1", em.randn(2, 1, 30)))
    assert len(tiles) == 3 and tiles[0].shape == (1, 26)


# -- receptive fields -----------------------------------------------------------------------------
def test_receptive_field_support_matches_the_summary():
    net = nn.Sequential(nn.Conv2d(1, 3, 5, padding=2), nn.Conv2d(3, 3, 3, stride=2), nn.Conv2d(3, 2, 3, dilation=2))
    x = em.randn(1, 1, 40, 40)
    g = receptive_field(net, "2", x)
    rows, cols = np.nonzero(g)
    expected = summary(net, (1, 1, 40, 40), print_fn=None).layers[-1].receptive_field
    assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == expected == (15, 15)
    assert all(p.requires_grad and p.grad is None for p in net.parameters()) and _hooks_left(net) == 0
    one = receptive_field(net, "0", x, position=(0, 0), channel=1)
    rows, cols = np.nonzero(one)
    assert (rows.max(), cols.max()) == (2, 2)  # the corner unit: 5×5 centred, half on the padding


def test_plot_receptive_field(tmp_path):
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2))
    path = tmp_path / "rf.png"
    fig = plot_receptive_field(net, net[2], np.random.default_rng(0).random((1, 3, 20, 20)), path)
    assert path.exists() and fig._suptitle.get_text() == "receptive field of 2: 5×5 px"
    with pytest.raises(ValueError, match="outputs no spatial map"):
        receptive_field(nn.Sequential(nn.Flatten(), nn.Linear(12, 2)), "1", em.randn(1, 3, 2, 2))


# -- image grids ------------------------------------------------------------------------------------
def test_plot_images_geometry(tmp_path):
    grey, rgb = np.random.default_rng(1).random((30, 60)), np.random.default_rng(2).random((3, 30, 60))
    fig = plot_images({"grey": grey, "rgb": rgb, "tensor": em.tensor(grey[None])}, tmp_path / "g.png", ncols=2,
                      panel_size=2.0, dpi=50)
    tiles = _tiles(fig)
    assert [t.shape for t in tiles] == [(30, 60), (30, 60, 3), (30, 60)]
    assert mpimg.imread(tmp_path / "g.png").shape[:2] == (round((2 * 2.0 * 0.5 + 0.6) * 50), 2 * 2.0 * 50)
    with pytest.raises(ValueError, match=r"expected an image \(H, W\)"):
        plot_images([np.ones((2, 3, 4, 5))])
