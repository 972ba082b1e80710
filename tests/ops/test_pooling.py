"""Pooling ops against PyTorch (values, indices, input gradients) and finite differences, over a grid."""
import numpy as np
import pytest
import torch.nn.functional as TF

import ember as em
from ember.ops import pooling as P
from ember.testing import gradcheck
from torch_parity import assert_close, check_op, to_torch

rng = np.random.default_rng(0)
DTYPES = [np.float32, np.float64]


def distinct(shape):
    """Values with no ties (a permutation, scaled), so every window has one clear maximum."""
    return (rng.permutation(int(np.prod(shape))).reshape(shape) * 0.37 - 5.0).astype(np.float64)


def tied(shape):
    """Many ties, as after a ReLU: the gradient must go to each window's first maximum, as PyTorch."""
    return np.maximum(rng.integers(-2, 3, size=shape), 0).astype(np.float64)


# -- max pooling ----------------------------------------------------------------------------------

# (N, C, H, W), kernel_size, stride, padding, dilation, ceil_mode
MAX2D_CASES = [
    ((2, 3, 8, 8), 2, None, 0, 1, False),  # the LeNet/VGG hot path: kernel = stride
    ((2, 3, 9, 11), 2, None, 0, 1, False),  # odd sizes: the last row/column is dropped
    ((2, 3, 9, 11), 2, None, 0, 1, True),  # ceil_mode adds a partial last window
    ((1, 2, 5, 5), 2, 2, 1, 1, True),  # ceil_mode's window would start in the right padding: dropped
    ((2, 2, 10, 9), 3, 2, 1, 1, False),  # ResNet stem: overlapping windows
    ((2, 2, 10, 9), 3, 2, 1, 1, True),
    ((1, 3, 7, 10), (2, 3), (1, 2), (1, 0), 1, False),  # non-square everything
    ((1, 2, 11, 12), 3, 1, 1, 2, False),  # dilation
    ((1, 2, 12, 13), (3, 2), (2, 3), (1, 1), (2, 3), True),
    ((2, 2, 6, 6), 3, 1, 0, 1, False),  # stride 1
    ((2, 3, 4, 6), (1, 2), (1, 2), 0, 1, False),
    ((1, 2, 9, 10), 4, 3, 2, 1, True),
    ((2, 2, 7, 7), 7, None, 0, 1, False),  # global: one window read through the strided view
    ((1, 2, 13, 12), 6, 2, 3, 1, True),  # > 25 offsets, overlapping, padded
    ((1, 2, 12, 12), 6, None, 0, 1, False),  # > 25 offsets, disjoint
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,kernel,stride,padding,dilation,ceil_mode", MAX2D_CASES)
def test_max_pool2d_matches_torch(shape, kernel, stride, padding, dilation, ceil_mode, dtype):
    args = (kernel, stride, padding, dilation, ceil_mode, True)
    check_op(lambda x: P.max_pool2d(x, *args), lambda x: TF.max_pool2d(x, *args), [distinct(shape)], dtype=dtype)


@pytest.mark.parametrize("shape,kernel,stride,padding,dilation,ceil_mode", MAX2D_CASES)
def test_max_pool2d_with_ties_matches_torch(shape, kernel, stride, padding, dilation, ceil_mode):
    args = (kernel, stride, padding, dilation, ceil_mode, True)
    check_op(lambda x: P.max_pool2d(x, *args), lambda x: TF.max_pool2d(x, *args), [tied(shape)])


@pytest.mark.parametrize("shape,kernel,stride,padding,dilation,ceil_mode", MAX2D_CASES[::2])
def test_max_pool2d_gradcheck(shape, kernel, stride, padding, dilation, ceil_mode):
    x = em.tensor(distinct(shape), requires_grad=True)
    assert gradcheck(lambda t: P.max_pool2d(t, kernel, stride, padding, dilation, ceil_mode), [x])


def test_max_pool2d_indices_without_grad_and_unbatched_input():
    x = distinct((3, 9, 8))
    y, idx = P.max_pool2d(em.tensor(x), 3, 2, 1, return_indices=True)
    ty, tidx = TF.max_pool2d(to_torch(x), 3, 2, 1, return_indices=True)
    assert_close(y, ty)
    assert idx.dtype == np.int64 and np.array_equal(idx.numpy(), tidx.numpy())


@pytest.mark.parametrize("pool,torch_pool", [
    (lambda x: P.max_pool2d(x, 2, return_indices=True), lambda x: TF.max_pool2d(x, 2, return_indices=True)),
    (lambda x: P.max_pool2d(x, 3, 1, return_indices=True), lambda x: TF.max_pool2d(x, 3, 1, return_indices=True)),
    (lambda x: P.max_pool2d(x, 8, return_indices=True), lambda x: TF.max_pool2d(x, 8, return_indices=True)),
    (lambda x: P.adaptive_max_pool2d(x, 3, True), lambda x: TF.adaptive_max_pool2d(x, 3, True)),
])
def test_max_pooling_propagates_nan_and_points_at_the_last_nan_as_torch(pool, torch_pool):
    x = distinct((1, 2, 8, 8))
    x[0, 0, 0, 0] = x[0, 0, 1, 1] = x[0, 0, 5, 4] = np.nan
    x[0, 1, 2, 3] = np.nan
    (y, idx), (ty, tidx) = pool(em.tensor(x)), torch_pool(to_torch(x))
    assert_close(y, ty)
    assert np.array_equal(idx.numpy(), tidx.numpy()), (idx.numpy(), tidx.numpy())


# (N, C, L), kernel_size, stride, padding, dilation, ceil_mode
MAX1D_CASES = [
    ((2, 3, 10), 2, None, 0, 1, False),
    ((2, 3, 11), 3, 2, 1, 1, True),
    ((1, 2, 15), 3, 1, 1, 3, False),
    ((2, 2, 9), 4, 3, 2, 1, True),
    ((3, 20), 5, 2, 2, 1, False),  # unbatched
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,kernel,stride,padding,dilation,ceil_mode", MAX1D_CASES)
def test_max_pool1d_matches_torch(shape, kernel, stride, padding, dilation, ceil_mode, dtype):
    args = (kernel, stride, padding, dilation, ceil_mode, True)
    check_op(lambda x: P.max_pool1d(x, *args), lambda x: TF.max_pool1d(x, *args), [distinct(shape)], dtype=dtype)
    check_op(lambda x: P.max_pool1d(x, *args), lambda x: TF.max_pool1d(x, *args), [tied(shape)], dtype=dtype)


def test_max_pool1d_gradcheck():
    x = em.tensor(distinct((2, 2, 11)), requires_grad=True)
    assert gradcheck(lambda t: P.max_pool1d(t, 3, 2, 1, 1, True), [x])


# -- average pooling ----------------------------------------------------------------------------

# (N, C, H, W), kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
AVG2D_CASES = [
    ((2, 3, 8, 8), 2, None, 0, False, True, None),
    ((2, 3, 9, 11), 2, None, 0, True, True, None),  # ceil_mode: the partial window counts what it covers
    ((2, 3, 9, 11), 2, None, 0, True, False, None),
    ((1, 2, 5, 5), 2, 2, 1, True, True, None),  # ceil_mode's window starting in the padding is dropped
    ((2, 2, 10, 9), 3, 2, 1, False, True, None),
    ((2, 2, 10, 9), 3, 2, 1, False, False, None),  # only the input's elements count
    ((2, 2, 10, 9), 3, 2, 1, True, True, None),  # the window past the padding is cut
    ((2, 2, 10, 9), 3, 2, 1, True, False, None),
    ((1, 3, 7, 10), (2, 3), (1, 2), (1, 0), False, True, None),
    ((1, 3, 7, 10), (2, 3), (1, 2), (1, 1), True, False, None),
    ((2, 2, 6, 7), 3, 1, 1, False, True, 4),  # divisor_override
    ((2, 2, 6, 7), (2, 3), 2, 1, True, False, -3),
    ((2, 2, 7, 7), 7, None, 0, False, True, None),  # global: one strided view
    ((1, 2, 13, 12), 6, 2, 3, True, False, None),  # > 25 offsets, overlapping, padded
    ((1, 2, 12, 12), 6, None, 0, False, True, None),  # > 25 offsets, disjoint
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,kernel,stride,padding,ceil_mode,include_pad,divisor", AVG2D_CASES)
def test_avg_pool2d_matches_torch(shape, kernel, stride, padding, ceil_mode, include_pad, divisor, dtype):
    args = (kernel, stride, padding, ceil_mode, include_pad, divisor)
    x = rng.standard_normal(shape)
    check_op(lambda t: P.avg_pool2d(t, *args), lambda t: TF.avg_pool2d(t, *args), [x], dtype=dtype)


@pytest.mark.parametrize("shape,kernel,stride,padding,ceil_mode,include_pad,divisor", AVG2D_CASES[::2])
def test_avg_pool2d_gradcheck(shape, kernel, stride, padding, ceil_mode, include_pad, divisor):
    x = em.tensor(rng.standard_normal(shape), requires_grad=True)
    assert gradcheck(lambda t: P.avg_pool2d(t, kernel, stride, padding, ceil_mode, include_pad, divisor), [x])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,kernel,stride,padding,ceil_mode,include_pad", [
    ((2, 3, 10), 2, None, 0, False, True), ((2, 3, 11), 3, 2, 1, True, False), ((2, 3, 11), 3, 2, 1, True, True),
    ((1, 2, 9), 4, 3, 2, False, False), ((3, 12), 3, None, 1, False, True),
])
def test_avg_pool1d_matches_torch(shape, kernel, stride, padding, ceil_mode, include_pad, dtype):
    args = (kernel, stride, padding, ceil_mode, include_pad)
    x = rng.standard_normal(shape)
    check_op(lambda t: P.avg_pool1d(t, *args), lambda t: TF.avg_pool1d(t, *args), [x], dtype=dtype)


def test_avg_pool1d_gradcheck():
    x = em.tensor(rng.standard_normal((2, 2, 11)), requires_grad=True)
    assert gradcheck(lambda t: P.avg_pool1d(t, 3, 2, 1, True, False), [x])


# -- adaptive pooling ---------------------------------------------------------------------------

# (N, C, H, W), output_size: divisible, non-divisible (overlapping bins), upsampling, None entries
ADAPTIVE2D_CASES = [
    ((2, 3, 8, 8), 4), ((2, 3, 8, 8), 1), ((2, 3, 7, 7), 3), ((2, 2, 10, 10), 4), ((1, 2, 5, 5), 7),
    ((2, 2, 7, 10), (3, 4)), ((2, 2, 9, 6), (None, 4)), ((1, 2, 6, 9), (2, None)), ((2, 3, 13, 11), (6, 5)),
    ((3, 7, 5), (2, 3)),  # unbatched
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,size", ADAPTIVE2D_CASES)
def test_adaptive_avg_pool2d_matches_torch(shape, size, dtype):
    check_op(lambda t: P.adaptive_avg_pool2d(t, size), lambda t: TF.adaptive_avg_pool2d(t, size),
             [rng.standard_normal(shape)], dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,size", ADAPTIVE2D_CASES)
def test_adaptive_max_pool2d_matches_torch(shape, size, dtype):
    for x in (distinct(shape), tied(shape)):
        check_op(lambda t: P.adaptive_max_pool2d(t, size, True), lambda t: TF.adaptive_max_pool2d(t, size, True),
                 [x], dtype=dtype)


@pytest.mark.parametrize("shape,size", ADAPTIVE2D_CASES[1::2])
def test_adaptive_pool2d_gradcheck(shape, size):
    x = em.tensor(distinct(shape), requires_grad=True)
    assert gradcheck(lambda t: P.adaptive_avg_pool2d(t, size), [x])
    assert gradcheck(lambda t: P.adaptive_max_pool2d(t, size), [x])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,size", [((2, 3, 12), 4), ((2, 3, 10), 4), ((2, 3, 7), 3), ((1, 2, 5), 7),
                                        ((2, 3, 9), 1), ((3, 11), 4), ((2, 2, 6), None)])
def test_adaptive_pool1d_matches_torch(shape, size, dtype):
    check_op(lambda t: P.adaptive_avg_pool1d(t, size), lambda t: TF.adaptive_avg_pool1d(t, size or shape[-1]),
             [rng.standard_normal(shape)], dtype=dtype)
    for x in (distinct(shape), tied(shape)):
        check_op(lambda t: P.adaptive_max_pool1d(t, size, True),
                 lambda t: TF.adaptive_max_pool1d(t, size or shape[-1], True), [x], dtype=dtype)


def test_adaptive_pool1d_gradcheck():
    x = em.tensor(distinct((2, 2, 10)), requires_grad=True)
    assert gradcheck(lambda t: P.adaptive_avg_pool1d(t, 4), [x])
    assert gradcheck(lambda t: P.adaptive_max_pool1d(t, 4), [x])


@pytest.mark.parametrize("n,out", [(7, 3), (10, 4), (5, 7), (13, 6), (8, 4), (1, 3)])
def test_adaptive_bins_follow_torchs_rule(n, out):
    start, end = P.adaptive_bins(n, out, np)
    assert np.array_equal(start, [i * n // out for i in range(out)])
    assert np.array_equal(end, [-(-(i + 1) * n // out) for i in range(out)])
    assert start[0] == 0 and end[-1] == n and np.all(end > start)


# -- properties and errors ----------------------------------------------------------------------


def test_pool_output_size_follows_the_ceil_mode_rule():
    assert P.pool_output_size(9, 2, 2, 0, 1, False) == 4
    assert P.pool_output_size(9, 2, 2, 0, 1, True) == 5  # the partial window starts inside the input
    assert P.pool_output_size(5, 2, 2, 1, 1, True) == 3  # a 4th would start in the right padding


def test_1d_pools_equal_the_2d_ones_on_a_height_1_input():
    x = em.tensor(rng.standard_normal((2, 3, 13)))
    x2 = x.reshape(2, 3, 1, 13)
    pairs = [(P.max_pool1d(x, 3, 2, 1), P.max_pool2d(x2, (1, 3), (1, 2), (0, 1))),
             (P.avg_pool1d(x, 3, 2, 1), P.avg_pool2d(x2, (1, 3), (1, 2), (0, 1))),
             (P.adaptive_max_pool1d(x, 5), P.adaptive_max_pool2d(x2, (1, 5))),
             (P.adaptive_avg_pool1d(x, 5), P.adaptive_avg_pool2d(x2, (1, 5)))]
    for y1, y2 in pairs:
        np.testing.assert_array_equal(y1.numpy(), y2.numpy()[:, :, 0])


def test_pooling_keeps_float32_and_float64():
    for dtype in (em.float32, em.float64):
        x = em.randn(2, 3, 9, 9, dtype=dtype)
        for y in (P.max_pool2d(x, 3, 2), P.avg_pool2d(x, 3, 2, 1), P.adaptive_avg_pool2d(x, 4),
                  P.adaptive_max_pool2d(x, 4)):
            assert y.dtype == dtype


@pytest.mark.parametrize("call,message", [
    (lambda x: P.max_pool2d(x, 5), r"max_pool2d: kernel_size=\(5, 5\) .* input of size \(4, 4\)"),
    (lambda x: P.max_pool2d(x, 3, padding=2), r"max_pool2d: padding must be between 0 and half the kernel"),
    (lambda x: P.max_pool2d(x, 0), r"max_pool2d: kernel_size must be positive"),
    (lambda x: P.max_pool2d(x, 2, dilation=0), r"max_pool2d: dilation must be positive"),
    (lambda x: P.max_pool2d(x, (2, 2, 2)), r"max_pool2d: kernel_size must be an int or a tuple of 2 ints"),
    (lambda x: P.max_pool2d(x[0, 0], 2), r"max_pool2d: expected input of shape \(N, C, H, W\) or \(C, H, W\), "
                                         r"got \(4, 4\)"),
    (lambda x: P.max_pool1d(x, 2), r"max_pool1d: expected input of shape \(N, C, L\) or \(C, L\), got \(1, 2, 4, 4\)"),
    (lambda x: P.max_pool1d(x[0], 5), r"max_pool1d: kernel_size=5 .* input of size 4"),
    (lambda x: P.avg_pool2d(x, 2, padding=(0, 2)), r"avg_pool2d: padding must be between 0 and half"),
    (lambda x: P.avg_pool2d(x, 2, divisor_override=0), r"avg_pool2d: divisor_override must be a non-zero int"),
    (lambda x: P.avg_pool1d(x[0], 2, stride=-1), r"avg_pool1d: stride must be positive, got -1"),
    (lambda x: P.adaptive_avg_pool2d(x, 0), r"adaptive_avg_pool2d: output_size must be a positive int"),
    (lambda x: P.adaptive_max_pool2d(x, (2, 2, 2)), r"adaptive_max_pool2d: output_size must be"),
    (lambda x: P.adaptive_avg_pool1d(x, 2), r"adaptive_avg_pool1d: expected input of shape \(N, C, L\)"),
])
def test_pooling_errors_name_the_op_and_the_values(call, message):
    with pytest.raises(ValueError, match=message):
        call(em.randn(1, 2, 4, 4))


@pytest.mark.parametrize("pool", [P.max_pool2d, P.avg_pool2d, P.max_pool1d, P.avg_pool1d])
def test_integer_input_is_refused_with_the_op_name(pool):
    x = em.tensor(np.ones((1, 2, 4, 4) if "2d" in pool.__name__ else (1, 2, 4), dtype=np.int64))
    with pytest.raises(TypeError, match=f"{pool.__name__}: expected a floating-point input, got int64"):
        pool(x, 2)


@pytest.mark.parametrize("ours,theirs", [
    (lambda t: P.max_pool2d(t, 3, 2, 1), lambda t: TF.max_pool2d(t, 3, 2, 1)),
    (lambda t: P.max_pool2d(t, 8, 1), lambda t: TF.max_pool2d(t, 8, 1)),
    (lambda t: P.avg_pool2d(t, 2), lambda t: TF.avg_pool2d(t, 2)),
    (lambda t: P.adaptive_max_pool2d(t, 3), lambda t: TF.adaptive_max_pool2d(t, 3)),
])
def test_non_contiguous_and_reversed_inputs_match_torch(ours, theirs):
    x = rng.standard_normal((2, 9, 8, 3))
    check_op(lambda t: ours(t.permute(0, 3, 1, 2)), lambda t: theirs(t.permute(0, 3, 1, 2)), [x])
    check_op(lambda t: ours(t.permute(0, 3, 1, 2)[:, :, ::-1]), lambda t: theirs(t.permute(0, 3, 1, 2).flip(2)), [x])


def test_max_pool2d_backward_twice_with_retain_graph():
    x = em.tensor(distinct((2, 3, 6, 6)), requires_grad=True)
    y = P.max_pool2d(x, 3, 1)
    gy = em.tensor(rng.standard_normal(y.shape))
    y.backward(gy, retain_graph=True)
    once = x.grad.numpy().copy()
    y.backward(gy)
    np.testing.assert_allclose(x.grad.numpy(), 2 * once)
