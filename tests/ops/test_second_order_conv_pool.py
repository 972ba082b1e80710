"""Second derivatives of the convolutions, pools, resampling and grid sampling: against PyTorch's
(float64, ``create_graph=True`` in both, the upstream gradient differentiated too) and against finite
differences of the first derivatives (``gradgradcheck``). Shapes stay small: gradgradcheck perturbs
every input and upstream element."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember as em
import ember.nn.functional as F
from ember.testing import gradgradcheck
from torch_parity import assert_close, check_second_order, make_inputs

rng = np.random.default_rng(0)


def _normal(*shape):
    return rng.standard_normal(shape)


def check_twice(ours, theirs, inputs):
    """Second derivatives against PyTorch's, and against finite differences of ember's first derivatives."""
    check_second_order(ours, theirs, inputs)
    assert gradgradcheck(ours, make_inputs(inputs, dtype=np.float64)[0])


def both(name, **kw):
    """The ember and PyTorch functionals of one name, with the same keyword arguments."""
    return (lambda *a: getattr(F, name)(*a, **kw)), (lambda *a: getattr(TF, name)(*a, **kw))


# -- convolutions ---------------------------------------------------------------------------------------
# (N, C, H, W), (O, kh, kw), stride, padding, dilation, groups
CONV2D = [
    ((1, 2, 5, 5), (3, 3, 3), 1, 0, 1, 1),
    ((2, 2, 5, 4), (2, 3, 2), 2, 1, 1, 1),
    ((1, 2, 6, 6), (2, 2, 2), (2, 1), (0, 1), (2, 1), 1),
    ((1, 4, 4, 5), (4, 3, 3), 1, 1, 1, 2),
    ((1, 3, 4, 4), (3, 3, 3), 1, "same", 1, 3),  # depthwise
    ((1, 2, 7, 5), (2, 3, 3), 2, 0, 1, 1),  # a trailing row no window reads
]


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("x_shape, w, stride, padding, dilation, groups", CONV2D)
def test_conv2d(x_shape, w, stride, padding, dilation, groups, bias):
    inputs = [_normal(*x_shape), _normal(w[0], x_shape[1] // groups, *w[1:])] + ([_normal(w[0])] if bias else [])
    check_twice(*both("conv2d", stride=stride, padding=padding, dilation=dilation, groups=groups), inputs)


@pytest.mark.parametrize("stride, padding, dilation, groups", [(1, 0, 1, 1), (2, 1, 1, 2), (1, "same", 2, 1)])
def test_conv1d(stride, padding, dilation, groups):
    inputs = [_normal(2, 2, 7), _normal(4, 2 // groups, 3), _normal(4)]
    check_twice(*both("conv1d", stride=stride, padding=padding, dilation=dilation, groups=groups), inputs)


# (N, C, H, W), (O, kh, kw), stride, padding, output_padding, groups, dilation
TRANSPOSED = [
    ((1, 2, 3, 3), (2, 3, 3), 1, 0, 0, 1, 1),
    ((1, 2, 3, 4), (3, 3, 2), 2, 1, 1, 1, 1),
    ((2, 4, 2, 3), (4, 2, 3), (2, 3), (1, 0), (1, 2), 2, 1),
    ((1, 2, 3, 3), (2, 2, 2), 1, 0, 1, 1, 2),  # output_padding ≥ stride (allowed below the dilation)
]


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("x_shape, w, stride, padding, output_padding, groups, dilation", TRANSPOSED)
def test_conv_transpose2d(x_shape, w, stride, padding, output_padding, groups, dilation, bias):
    inputs = [_normal(*x_shape), _normal(x_shape[1], w[0] // groups, *w[1:])] + ([_normal(w[0])] if bias else [])
    check_twice(*both("conv_transpose2d", stride=stride, padding=padding, output_padding=output_padding,
                      groups=groups, dilation=dilation), inputs)


def test_conv_transpose1d():
    inputs = [_normal(2, 2, 4), _normal(2, 3, 3), _normal(3)]
    check_twice(*both("conv_transpose1d", stride=2, padding=1, output_padding=1), inputs)


@pytest.mark.parametrize("stride, padding, dilation, groups, bias", [(1, 0, 1, 1, True), (2, 1, 1, 2, False),
                                                                     ((1, 2, 1), (1, 0, 1), (1, 1, 2), 1, True)])
def test_conv3d(stride, padding, dilation, groups, bias):
    inputs = [_normal(1, 2, 4, 4, 5), _normal(2, 2 // groups, 2, 2, 2)] + ([_normal(2)] if bias else [])
    check_twice(*both("conv3d", stride=stride, padding=padding, dilation=dilation, groups=groups), inputs)


def test_unfold_and_fold():
    check_twice(*both("unfold", kernel_size=(2, 3), dilation=(1, 2), padding=1, stride=2), [_normal(1, 2, 4, 5)])
    check_twice(*both("fold", output_size=(4, 5), kernel_size=2, padding=1, stride=2), [_normal(1, 8, 9)])


@pytest.mark.parametrize("op, kw, shapes", [
    ("conv2d", {"stride": 2, "padding": 1, "groups": 2}, [(1, 2, 5, 5), (2, 1, 3, 3)]),
    ("conv_transpose2d", {"stride": 2, "padding": 1}, [(1, 2, 3, 3), (2, 2, 3, 3)]),
    ("conv3d", {"padding": 1}, [(1, 1, 3, 3, 3), (2, 1, 2, 2, 2)]),
])
def test_third_derivative_matches_torch(op, kw, shapes):
    """The gradients are ops of the same kinds again, so every order is there: a fourth derivative against PyTorch's."""
    arrays = [_normal(*s) for s in shapes]
    found = []
    for lib, fn, grad in ((em, getattr(F, op), em.autograd.grad), (torch, getattr(TF, op), torch.autograd.grad)):
        x, W = (lib.tensor(a, requires_grad=True) for a in arrays)
        y = fn(x, W, **kw)
        u = lib.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)), requires_grad=True)
        (gx,) = grad((u * y * y).sum(), x, create_graph=True)
        (gW,) = grad((gx * gx).sum(), W, create_graph=True)
        found.append(grad((gW * gW).sum(), [x, W, u]))
    for ours, theirs in zip(*found, strict=True):
        assert_close(ours, theirs)


# -- pooling ---------------------------------------------------------------------------------------------------
# Random normal inputs: no ties within a window, so the chosen positions survive finite differences.
POOLS = [
    ("max_pool2d", {"kernel_size": 2}, (2, 2, 4, 4)),
    ("max_pool2d", {"kernel_size": 3, "stride": 2, "padding": 1, "dilation": 1}, (1, 2, 5, 6)),  # overlapping
    ("max_pool2d", {"kernel_size": (2, 3), "stride": 1, "dilation": (2, 1), "ceil_mode": True}, (1, 1, 6, 5)),
    ("max_pool2d", {"kernel_size": 6}, (1, 2, 6, 6)),  # global: the strided-view path
    ("max_pool1d", {"kernel_size": 3, "stride": 2, "padding": 1}, (2, 2, 7)),
    ("max_pool3d", {"kernel_size": 2, "stride": 1}, (1, 2, 3, 3, 3)),
    ("avg_pool2d", {"kernel_size": 2}, (2, 2, 4, 4)),
    ("avg_pool2d", {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False}, (1, 2, 5, 6)),
    ("avg_pool2d", {"kernel_size": 2, "ceil_mode": True, "divisor_override": 3}, (1, 1, 5, 5)),
    ("avg_pool2d", {"kernel_size": 6}, (1, 2, 6, 6)),
    ("avg_pool1d", {"kernel_size": 3, "stride": 2, "padding": 1}, (2, 2, 7)),
    ("avg_pool3d", {"kernel_size": 2, "stride": 1, "padding": 1}, (1, 1, 3, 3, 2)),
    ("adaptive_avg_pool2d", {"output_size": (2, 3)}, (1, 2, 4, 6)),  # equal bins: avg_pool2d
    ("adaptive_avg_pool2d", {"output_size": (3, 2)}, (1, 2, 5, 5)),  # unequal, overlapping bins
    ("adaptive_avg_pool1d", {"output_size": 3}, (2, 2, 7)),
    ("adaptive_avg_pool3d", {"output_size": (2, 2, 3)}, (1, 1, 3, 4, 4)),
    ("adaptive_max_pool2d", {"output_size": (2, 2)}, (1, 2, 4, 4)),  # equal bins: max_pool2d
    ("adaptive_max_pool2d", {"output_size": (3, 2)}, (1, 2, 5, 5)),
    ("adaptive_max_pool1d", {"output_size": 3}, (2, 2, 7)),
]


@pytest.mark.parametrize("op, kw, shape", POOLS, ids=[f"{op}-{i}" for i, (op, _, _) in enumerate(POOLS)])
def test_pool(op, kw, shape):
    check_twice(*both(op, **kw), [_normal(*shape)])


def test_max_pool_with_indices():
    ours, theirs = both("max_pool2d", kernel_size=2, return_indices=True)
    check_second_order(lambda x: ours(x)[0], lambda x: theirs(x)[0], [_normal(1, 2, 4, 4)])


# -- resampling -----------------------------------------------------------------------------------------------
INTERPOLATE = [
    ({"scale_factor": 2, "mode": "nearest"}, (1, 2, 3, 3)),
    ({"size": (5, 4), "mode": "nearest-exact"}, (1, 1, 3, 3)),
    ({"size": 5, "mode": "linear", "align_corners": False}, (2, 2, 3)),
    ({"scale_factor": 1.5, "mode": "bilinear", "align_corners": True}, (1, 2, 3, 4)),
    ({"size": (4, 3), "mode": "bilinear"}, (1, 1, 5, 6)),  # downsampling
    ({"size": (5, 4), "mode": "bicubic", "align_corners": False}, (1, 1, 3, 3)),
    ({"size": (3, 4, 2), "mode": "trilinear"}, (1, 1, 2, 2, 3)),
    ({"size": (2, 3), "mode": "area"}, (1, 2, 5, 5)),
]


@pytest.mark.parametrize("kw, shape", INTERPOLATE, ids=[kw["mode"] + str(i) for i, (kw, _) in enumerate(INTERPOLATE)])
def test_interpolate(kw, shape):
    check_twice(*both("interpolate", **kw), [_normal(*shape)])


def test_pixel_shuffle():
    check_twice(*both("pixel_shuffle", upscale_factor=2), [_normal(1, 4, 2, 3)])
    check_twice(*both("pixel_unshuffle", downscale_factor=2), [_normal(1, 1, 4, 2)])


# -- grid sampling ---------------------------------------------------------------------------------------------
def _grid(*shape, reach=1.1):
    """Grid points over [−reach, reach], some outside the input; none on a pixel boundary."""
    return rng.uniform(-reach, reach, shape)


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample(mode, padding_mode, align_corners):
    kw = {"mode": mode, "padding_mode": padding_mode, "align_corners": align_corners}
    check_twice(*both("grid_sample", **kw), [_normal(1, 2, 3, 4), _grid(1, 2, 3, 2)])


def test_grid_sample_3d():
    kw = {"mode": "bilinear", "padding_mode": "zeros", "align_corners": False}
    check_twice(*both("grid_sample", **kw), [_normal(1, 1, 2, 3, 3), _grid(1, 2, 1, 2, 3)])


def test_affine_grid():
    check_twice(*both("affine_grid", size=(1, 1, 3, 4), align_corners=False), [_normal(1, 2, 3)])


# -- third derivatives of the linear pairs and compositions ---------------------------------------------
@pytest.mark.parametrize("op, kw, shape", [
    ("max_pool2d", {"kernel_size": 3, "stride": 2, "padding": 1}, (1, 1, 5, 5)),
    ("avg_pool2d", {"kernel_size": 2, "stride": 1}, (1, 1, 3, 4)),
    ("adaptive_max_pool2d", {"output_size": (2, 3)}, (1, 1, 5, 5)),
    ("avg_pool3d", {"kernel_size": 2}, (1, 1, 2, 2, 4)),
    ("unfold", {"kernel_size": 2, "stride": 1}, (1, 1, 3, 3)),
    ("interpolate", {"scale_factor": 2, "mode": "bilinear"}, (1, 1, 2, 3)),
    ("grid_sample", {"mode": "bicubic", "align_corners": False}, None),
])
def test_third_derivative_by_finite_differences(op, kw, shape):
    """gradgradcheck of the gradient of Σ f³: the vjps' own vjps (the adjoint pairs again) against finite
    differences."""
    fn = both(op, **kw)[0]

    def gradient(*xs):
        return em.autograd.grad((fn(*xs) ** 3).sum(), xs, create_graph=True)

    inputs = [_normal(1, 1, 3, 3), _grid(1, 2, 2, 2)] if shape is None else [_normal(*shape)]
    assert gradgradcheck(gradient, make_inputs(inputs, dtype=np.float64)[0])
