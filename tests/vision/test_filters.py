"""Classic edge filters: kernels, sign conventions on a hand-made image, PyTorch/SciPy parity, the example."""
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage as ndi
import torch

import ember as em
from ember.testing import gradcheck
from ember.vision import filters
from example_scripts import load_example
from torch_parity import assert_close

ROOT = Path(__file__).resolve().parents[2]


def _square(n=16, lo=4, hi=12, dtype=np.float32):
    """A bright square (rows and columns lo..hi−1) on black."""
    image = np.zeros((n, n), dtype)
    image[lo:hi, lo:hi] = 1
    return image


def _torch_filter(image, kernel, padding="same", mode=None):
    """PyTorch reference: a depthwise conv2d of an (N, C, H, W) array with one kernel."""
    x = torch.from_numpy(np.ascontiguousarray(image))
    C = x.shape[1]
    w = torch.from_numpy(np.ascontiguousarray(kernel)).to(x.dtype).expand(C, 1, *kernel.shape).contiguous()
    if mode is not None:
        x, padding = torch.nn.functional.pad(x, (1, 1, 1, 1), mode=mode), 0
    return torch.nn.functional.conv2d(x, w, padding=padding, groups=C).numpy()


# -- the kernels ------------------------------------------------------------------------------------
def test_kernel_values():
    assert_close(filters.vertical_edge(), np.array([[1, 0, -1]] * 3, np.float32))
    assert_close(filters.sobel_x(), np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], np.float32))
    assert_close(filters.scharr_x(), np.array([[3, 0, -3], [10, 0, -10], [3, 0, -3]], np.float32))
    for x, y in (("vertical_edge", "horizontal_edge"), ("sobel_x", "sobel_y"), ("scharr_x", "scharr_y")):
        assert_close(filters.get_kernel(y), filters.get_kernel(x).T)
        assert filters.get_kernel(x).sum() == 0  # zero response on flat regions
    assert filters.sobel_x(np.float64).dtype == np.float64


def test_kernels_are_fresh_arrays():
    k = filters.sobel_x()
    k[:] = 0
    assert filters.sobel_x()[1, 0] == 2


def test_unknown_names_and_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="unknown kernel 'laplace'"):
        filters.get_kernel("laplace")
    with pytest.raises(ValueError, match=r"kernel must be 2-D"):
        filters.get_kernel(np.ones(3))
    with pytest.raises(ValueError, match="unknown operator 'canny'"):
        filters.edge_magnitude(_square(), "canny")
    with pytest.raises(ValueError, match=r"apply: expected an image .* got shape \(4,\)"):
        filters.apply(np.ones(4), "sobel_x")


# -- sign conventions on a bright square ------------------------------------------------------------
def test_vertical_edge_marks_exactly_the_vertical_borders():
    y = filters.apply(_square(), "vertical_edge")
    # by hand: y[i, j] = Σ_{rows i−1..i+1} (x[·, j−1] − x[·, j+1]); left border dark→bright is negative
    rows = slice(5, 11)  # rows whose 3×3 window lies inside the square's vertical extent
    assert (y[rows, 3] == -3).all() and (y[rows, 4] == -3).all()
    assert (y[rows, 11] == 3).all() and (y[rows, 12] == 3).all()
    border = np.zeros_like(y, dtype=bool)
    border[3:13, [3, 4, 11, 12]] = True
    assert (y[~border] == 0).all()  # flat regions, inside and outside, and the horizontal borders
    assert y[7, 7] == 0 and y[0, 0] == 0


def test_horizontal_edge_marks_exactly_the_horizontal_borders():
    image = _square()
    y = filters.apply(image, "horizontal_edge")
    assert_close(y, filters.apply(image.T, "vertical_edge").T)
    assert (y[3, 5:11] == -3).all() and (y[12, 5:11] == 3).all()  # top: dark above bright → negative
    border = np.zeros_like(y, dtype=bool)
    border[[3, 4, 11, 12], 3:13] = True
    assert (y[~border] == 0).all()


def test_sobel_magnitude_peaks_on_the_border():
    image = _square()
    g = filters.edge_magnitude(image, "sobel")
    gx, gy = filters.apply(image, "sobel_x"), filters.apply(image, "sobel_y")
    assert_close(g, np.sqrt(gx ** 2 + gy ** 2))
    ring = np.zeros_like(g, dtype=bool)
    ring[3:13, 3:13] = True
    ring[5:11, 5:11] = False
    assert ring[np.unravel_index(g.argmax(), g.shape)]
    assert g[ring].min() > 0 and (g[~ring] == 0).all()
    assert (g[4, 6:10] == 4).all()  # a straight stretch: 1 + 2 + 1


def test_constant_image_has_no_edges_with_replicate_padding():
    flat = np.full((9, 11), 0.7, np.float32)
    for name in filters.KERNELS:
        assert np.abs(filters.apply(flat, name, padding_mode="replicate")).max() < 1e-6
    assert filters.apply(flat, "vertical_edge").max() > 0  # zero padding: the image border is an edge


# -- references -----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["vertical_edge", "horizontal_edge", "sobel_x", "sobel_y", "scharr_x", "scharr_y"])
def test_matches_torch_conv2d_for_every_rank(name, dtype):
    image = np.random.default_rng(0).standard_normal((2, 3, 9, 12)).astype(dtype)
    kernel = filters.get_kernel(name, dtype)
    assert_close(filters.apply(image, name), _torch_filter(image, kernel))
    assert_close(filters.apply(image[0], name), _torch_filter(image[:1], kernel)[0])
    assert_close(filters.apply(image[0, 1], name), _torch_filter(image[:1, 1:2], kernel)[0, 0])
    assert_close(filters.apply(image, kernel, padding="valid"), _torch_filter(image, kernel, padding="valid"))
    for mode in ("reflect", "replicate", "circular"):
        assert_close(filters.apply(image, name, padding_mode=mode), _torch_filter(image, kernel, mode=mode))


@pytest.mark.parametrize("ours, scipy_mode", [("zeros", "constant"), ("replicate", "nearest"), ("reflect", "mirror")])
def test_sobel_is_minus_scipy_sobel(ours, scipy_mode):
    image = np.random.default_rng(1).standard_normal((10, 13))
    gx = filters.apply(image, "sobel_x", padding_mode=ours)
    gy = filters.apply(image, "sobel_y", padding_mode=ours)
    assert_close(gx, -ndi.sobel(image, axis=1, mode=scipy_mode))  # scipy: +∂I/∂x; the course: left − right
    assert_close(gy, -ndi.sobel(image, axis=0, mode=scipy_mode))
    assert_close(filters.edge_magnitude(image, "sobel", padding_mode=ours),
                 np.hypot(ndi.sobel(image, axis=1, mode=scipy_mode), ndi.sobel(image, axis=0, mode=scipy_mode)))


def test_scharr_magnitude_matches_torch():
    image = np.random.default_rng(2).standard_normal((1, 2, 8, 8))
    gx = _torch_filter(image, filters.scharr_x(np.float64))
    gy = _torch_filter(image, filters.scharr_y(np.float64))
    assert_close(filters.edge_magnitude(image, "scharr"), np.sqrt(gx ** 2 + gy ** 2))


# -- kinds, dtypes and gradients ------------------------------------------------------------------
def test_kind_in_kind_out_and_integer_images():
    image = (_square() * 255).astype(np.uint8)
    y = filters.apply(image, "sobel_x")
    assert isinstance(y, np.ndarray) and y.dtype == np.float32
    t = filters.apply(em.tensor(image.astype(np.float64)), "sobel_x")
    assert isinstance(t, em.Tensor) and t.dtype == np.float64
    assert_close(t.numpy(), y.astype(np.float64))


def test_filters_are_differentiable():
    x = em.tensor(np.random.default_rng(3).standard_normal((1, 2, 6, 7)) + 3, requires_grad=True)
    assert gradcheck(lambda x: filters.apply(x, "scharr_y", padding_mode="reflect"), [x])
    assert gradcheck(lambda x: filters.edge_magnitude(x, "sobel"), [x])


def test_rgb_to_grayscale():
    rgb = np.random.default_rng(4).random((2, 3, 4, 5)).astype(np.float32)
    grey = filters.rgb_to_grayscale(rgb)
    assert grey.shape == (2, 1, 4, 5)
    assert_close(grey, 0.299 * rgb[:, :1] + 0.587 * rgb[:, 1:2] + 0.114 * rgb[:, 2:])
    assert_close(filters.rgb_to_grayscale(em.tensor(rgb)).numpy(), grey)
    assert filters.rgb_to_grayscale(np.full((3, 2, 2), 255, np.uint8)).dtype == np.float32
    with pytest.raises(ValueError, match=r"expected \(\.\.\., 3, H, W\)"):
        filters.rgb_to_grayscale(np.ones((4, 2, 2)))


# -- as conv weights and layers -------------------------------------------------------------------
def test_as_conv2d_is_frozen_and_applies_the_kernels():
    conv = filters.as_conv2d(["vertical_edge", "horizontal_edge"])
    assert conv.weight.shape == (2, 1, 3, 3) and not conv.weight.requires_grad and conv.bias is None
    image = np.random.default_rng(5).standard_normal((2, 1, 8, 8)).astype(np.float32)
    y = conv(em.tensor(image)).numpy()
    assert_close(y[:, 0], filters.apply(image, "vertical_edge")[:, 0])
    assert_close(y[:, 1], filters.apply(image, "horizontal_edge")[:, 0])
    theirs = torch.nn.Conv2d(1, 2, 3, padding="same", bias=False)
    theirs.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in conv.state_dict().items()})
    assert_close(y, theirs(torch.from_numpy(image)).detach().numpy())


def test_as_conv2d_on_colour_images():
    image = np.random.default_rng(6).standard_normal((1, 3, 6, 6)).astype(np.float32)
    dense = filters.as_conv2d("sobel_x", in_channels=3)
    assert_close(dense(em.tensor(image)).numpy(), filters.apply(image.mean(axis=1, keepdims=True), "sobel_x"))
    depthwise = filters.as_conv2d(["sobel_x", "sobel_y"], in_channels=3, depthwise=True)
    assert depthwise.weight.shape == (6, 1, 3, 3) and depthwise.groups == 3
    y = depthwise(em.tensor(image)).numpy()
    assert_close(y[:, 0::2], filters.apply(image, "sobel_x"))
    assert_close(y[:, 1::2], filters.apply(image, "sobel_y"))
    with pytest.raises(ValueError, match="different shapes"):
        filters.conv_weight(["sobel_x", np.ones((5, 5))])


# -- the example ----------------------------------------------------------------------------------
def test_edge_filters_example_writes_the_grid(tmp_path):
    import matplotlib.image as mpimg
    from sklearn.datasets import load_sample_image

    example = load_example("edge_filters")
    path = example.main(tmp_path / "out", dpi=50)
    assert path == tmp_path / "out" / "edge_filters.png" and path.exists()
    png = mpimg.imread(path)
    height, width = load_sample_image("china.jpg").shape[:2]
    panels = len(example.edge_maps(np.zeros((4, 4, 3), np.uint8)))
    rows = -(-panels // example.NCOLS)
    expected = (rows * example.PANEL_INCHES * height / width + 0.6) * 50, example.NCOLS * example.PANEL_INCHES * 50
    assert abs(png.shape[0] - expected[0]) <= 1 and png.shape[1] == expected[1] and png.shape[2] in (3, 4)
    assert png[..., :3].std() > 0.05  # not blank
