"""F.grid_sample and F.affine_grid against PyTorch (values, input and grid gradients) and finite differences."""
import itertools
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember as em
import ember.nn.functional as F
from ember.testing import gradcheck
from torch_parity import Const, assert_close, check_op, to_torch

MODES = ["bilinear", "nearest", "bicubic"]
PADDINGS = ["zeros", "border", "reflection"]
DTYPES = [np.float32, np.float64]
ATOL = {np.float32: 5e-5, np.float64: None}  # float32 grid gradients sum over channels and taps


def _grid(shape, low=-2.5, high=2.5, seed=0):
    """Random normalised points, many of them outside [−1, 1] (reflection folds them several times)."""
    return np.random.default_rng(seed).uniform(low, high, shape)


def _sample(mode, padding_mode, align_corners):
    return (lambda x, g: F.grid_sample(x, g, mode, padding_mode, align_corners),
            lambda x, g: TF.grid_sample(x, g, mode, padding_mode, align_corners))


def _away_from_kinks(n_points, sizes, align_corners, seed):
    """Grid (…, D) whose pixel coordinates u = k + f keep f in (0.15, 0.35) ∪ (0.65, 0.85): no floor, clip or
    reflection boundary (integers, half-integers) lies within finite-difference reach."""
    rng = np.random.default_rng(seed)
    columns = []
    for n in reversed(sizes):  # grid order: x (last spatial dim) first
        f = rng.uniform(0.15, 0.35, n_points) + 0.5 * rng.integers(0, 2, n_points)
        u = rng.integers(-2, n + 2, n_points) + f
        columns.append(2 * u / (n - 1) - 1 if align_corners else (2 * u + 1) / n - 1)
    return np.stack(columns, axis=-1)


# -- grid_sample, 4-D ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", MODES)
def test_grid_sample_matches_torch(mode, padding_mode, align_corners, dtype):
    x = np.random.default_rng(1).standard_normal((2, 3, 5, 6))
    check_op(*_sample(mode, padding_mode, align_corners), [x, _grid((2, 4, 7, 2))], dtype=dtype, atol=ATOL[dtype])


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", MODES)
def test_grid_sample_on_pixel_lattice_matches_torch(mode, padding_mode, align_corners):
    # points exactly on pixel centres, half-pixels, the edges ±1 and beyond: the kinks, where the
    # chosen one-sided gradients (floor, clip, reflection, rounding halves to even) must be PyTorch's
    H, W = 4, 5
    us = np.arange(-3.0, 7.5, 0.5)
    def norm(u, n):
        return 2 * u / (n - 1) - 1 if align_corners else (2 * u + 1) / n - 1
    gx, gy = np.meshgrid(norm(us, W), norm(us, H))
    grid = np.stack([gx, gy], axis=-1)[None]
    grid = np.concatenate([grid, np.clip(grid, -1, 1)])
    grid[1, 0, :3] = [[-1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]]
    x = np.random.default_rng(2).standard_normal((2, 2, H, W))
    check_op(*_sample(mode, padding_mode, align_corners), [x, grid])


def test_grid_sample_one_pixel_axes_match_torch():
    x = np.random.default_rng(3).standard_normal((1, 2, 1, 4))
    for mode, padding_mode, align_corners in itertools.product(MODES, PADDINGS, [False, True]):
        check_op(*_sample(mode, padding_mode, align_corners), [x, _grid((1, 3, 5, 2), seed=4)])


def test_grid_sample_gradient_of_one_input_only():
    x, g = np.random.default_rng(5).standard_normal((1, 2, 4, 4)), _grid((1, 3, 3, 2), -1.2, 1.2)
    check_op(*_sample("bicubic", "border", False), [x, Const(g)])
    check_op(*_sample("bilinear", "reflection", True), [Const(x), g])


def test_nearest_gives_a_zero_grid_gradient():
    x = em.randn(1, 2, 4, 4, requires_grad=True)
    grid = em.tensor(_grid((1, 3, 3, 2), -0.9, 0.9).astype(np.float32), requires_grad=True)
    F.grid_sample(x, grid, "nearest", align_corners=False).sum().backward()
    assert grid.grad is not None and not np.any(grid.grad.numpy())
    assert np.isclose(float(x.grad.sum()), 2 * 9)  # each output reads one inside pixel


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_grid_sample_gradcheck(mode, padding_mode, align_corners):
    x = em.tensor(np.random.default_rng(6).standard_normal((2, 2, 4, 5)), requires_grad=True)
    grid = em.tensor(_away_from_kinks(2 * 3 * 4, (4, 5), align_corners, 7).reshape(2, 3, 4, 2), requires_grad=True)
    assert gradcheck(lambda a, b: F.grid_sample(a, b, mode, padding_mode, align_corners), [x, grid])


# -- grid_sample, 5-D (trilinear) ----------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_grid_sample_3d_matches_torch(mode, padding_mode, align_corners, dtype):
    x = np.random.default_rng(8).standard_normal((2, 2, 3, 4, 5))
    check_op(*_sample(mode, padding_mode, align_corners), [x, _grid((2, 2, 3, 4, 3), seed=9)], dtype=dtype,
             atol=ATOL[dtype])


@pytest.mark.parametrize("padding_mode", PADDINGS)
def test_grid_sample_3d_gradcheck(padding_mode):
    x = em.tensor(np.random.default_rng(10).standard_normal((1, 2, 3, 4, 5)), requires_grad=True)
    grid = em.tensor(_away_from_kinks(2 * 3 * 2, (3, 4, 5), False, 11).reshape(1, 2, 3, 2, 3), requires_grad=True)
    assert gradcheck(lambda a, b: F.grid_sample(a, b, "bilinear", padding_mode, False), [x, grid])


# -- affine_grid -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size", [(2, 3, 5, 7), (2, 1, 1, 4), (2, 3, 2, 4, 3)])
def test_affine_grid_matches_torch(size, align_corners, dtype):
    theta = np.random.default_rng(12).standard_normal((2, len(size) - 2, len(size) - 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the unit-size warning, tested below
        check_op(lambda t: F.affine_grid(t, size, align_corners), lambda t: TF.affine_grid(t, size, align_corners),
                 [theta], dtype=dtype)


def test_affine_grid_gradcheck():
    theta = em.tensor(np.random.default_rng(13).standard_normal((2, 2, 3)), requires_grad=True)
    assert gradcheck(lambda t: F.affine_grid(t, (2, 1, 3, 4), align_corners=False), [theta])


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("mode", MODES)
def test_rotation_matches_torch(mode, align_corners):
    angle = np.deg2rad(30.0)
    theta = np.array([[[np.cos(angle), -np.sin(angle), 0.1], [np.sin(angle), np.cos(angle), -0.2]]] * 2)
    x = np.random.default_rng(14).standard_normal((2, 3, 9, 8))

    def rotate(F_, t, img):
        grid = F_.affine_grid(t, img.shape, align_corners=align_corners)
        return F_.grid_sample(img, grid, mode, "zeros", align_corners)

    check_op(lambda t, img: rotate(F, t, img), lambda t, img: rotate(TF, t, img), [theta, x], dtype=np.float32,
             atol=ATOL[np.float32])


def test_identity_affine_grid_reproduces_the_input():
    x = em.randn(2, 3, 5, 6)
    theta = em.tensor(np.tile(np.eye(2, 3, dtype=np.float32), (2, 1, 1)))
    for align_corners in (False, True):
        grid = F.affine_grid(theta, x.shape, align_corners=align_corners)
        assert_close(F.grid_sample(x, grid, align_corners=align_corners), x, atol=1e-5)


# -- defaults and errors ---------------------------------------------------------------------------


def test_omitted_align_corners_warns_and_means_false():
    x, theta = em.randn(1, 1, 3, 3), em.tensor(np.eye(2, 3, dtype=np.float32)[None])
    with pytest.warns(UserWarning, match="align_corners=False"):
        grid = F.affine_grid(theta, (1, 1, 3, 3))
    with pytest.warns(UserWarning, match="align_corners=False"):
        y = F.grid_sample(x, grid)
    assert_close(y, F.grid_sample(x, grid, align_corners=False))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.grid_sample(x, grid, align_corners=True)
    with pytest.warns(UserWarning, match="unit-size"):
        F.affine_grid(theta, (1, 1, 1, 3), align_corners=True)


def test_errors_match_torch_kinds():
    x, grid = em.randn(1, 2, 3, 3), em.zeros(1, 2, 2, 2)
    cases = [
        (ValueError, lambda: F.grid_sample(x, grid, mode="area", align_corners=False)),
        (ValueError, lambda: F.grid_sample(x, grid, padding_mode="edge", align_corners=False)),
        (RuntimeError, lambda: F.grid_sample(x, em.zeros(1, 2, 2, 3), align_corners=False)),
        (RuntimeError, lambda: F.grid_sample(x, em.zeros(2, 2, 2, 2), align_corners=False)),
        (RuntimeError, lambda: F.grid_sample(x, em.zeros(1, 2, 2, 2, dtype=em.float64), align_corners=False)),
        (RuntimeError, lambda: F.grid_sample(em.randn(1, 1, 2, 2, 2), em.zeros(1, 1, 1, 1, 3), "bicubic",
                                             align_corners=False)),
        (ValueError, lambda: F.affine_grid(em.zeros(1, 3, 4), (1, 1, 3, 3), align_corners=False)),
        (ValueError, lambda: F.affine_grid(em.zeros(1, 2, 3, dtype=em.int64), (1, 1, 3, 3), align_corners=False)),
        (NotImplementedError, lambda: F.affine_grid(em.zeros(1, 2, 3), (1, 1, 3), align_corners=False)),
        (ValueError, lambda: F.affine_grid(em.zeros(1, 2, 3), (1, 1, 0, 3), align_corners=False)),
    ]
    for kind, call in cases:
        with pytest.raises(kind):
            call()


def test_torch_raises_the_same_kinds():
    # the oracle for the table above: PyTorch's own errors on the same arguments
    x, grid = to_torch(np.zeros((1, 2, 3, 3), np.float32)), torch.zeros(1, 2, 2, 2)
    with pytest.raises(ValueError):
        TF.grid_sample(x, grid, mode="area", align_corners=False)
    with pytest.raises(RuntimeError):
        TF.grid_sample(x, torch.zeros(1, 2, 2, 3), align_corners=False)
    with pytest.raises(RuntimeError):
        TF.grid_sample(torch.zeros(1, 1, 2, 2, 2), torch.zeros(1, 1, 1, 1, 3), "bicubic", align_corners=False)
    with pytest.raises(ValueError):
        TF.affine_grid(torch.zeros(1, 2, 3, dtype=torch.int64), (1, 1, 3, 3), align_corners=False)


def test_exported_in_functional():
    assert {"grid_sample", "affine_grid"} <= set(F.__all__)
