"""Convolution ops against PyTorch and finite differences, over a grid of their arguments."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember as em
from ember.ops import conv
from ember.ops.conv import conv1d, conv2d, conv_transpose2d, grouped_matmul_nt, same_padding
from ember.testing import gradcheck
from torch_parity import check_op

rng = np.random.default_rng(0)


def _inputs(x_shape, w_shape, bias):
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
    return arrays + [rng.standard_normal(w_shape[0])] if bias else arrays


# (N, C, H, W), (O, kh, kw), stride, padding, dilation, groups
CONV2D_CASES = [
    ((2, 3, 7, 7), (4, 3, 3), 1, 0, 1, 1),
    ((2, 3, 8, 9), (5, 3, 3), 1, 1, 1, 1),
    ((1, 2, 9, 7), (3, 5, 5), 2, 2, 1, 1),
    ((2, 4, 10, 11), (6, 3, 2), (2, 1), (1, 0), 1, 2),
    ((1, 3, 11, 10), (2, 3, 3), 1, 2, 2, 1),
    ((2, 2, 12, 9), (4, 2, 3), (3, 2), (0, 1), (2, 1), 1),
    ((1, 6, 8, 8), (6, 3, 3), 1, 1, 1, 6),  # depthwise
    ((2, 4, 6, 6), (4, 1, 1), 1, 0, 1, 1),  # 1×1
    ((2, 3, 9, 9), (4, 3, 3), 3, 0, 1, 1),  # kernel = stride (patchify)
    ((2, 3, 7, 8), (4, 3, 3), 1, "same", 1, 1),
    ((2, 3, 7, 8), (4, 4, 2), 1, "same", 1, 1),  # even kernel: asymmetric 'same'
    ((2, 3, 9, 8), (4, 3, 3), 1, "same", 2, 1),
    ((2, 3, 6, 7), (4, 3, 3), 1, "valid", 1, 1),
    ((2, 3, 5, 21), (4, 3, 3), (1, 1), 1, 1, 1),  # wide output: the batch-major col2im path
    ((1, 4, 4, 40), (4, 2, 3), (1, 2), (0, 1), (1, 2), 2),
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_shape,w,stride,padding,dilation,groups", CONV2D_CASES)
def test_conv2d_matches_torch(x_shape, w, stride, padding, dilation, groups, bias, dtype):
    w_shape = (w[0], x_shape[1] // groups) + w[1:]
    check_op(
        lambda x, W, b=None: conv2d(x, W, b, stride, padding, dilation, groups),
        lambda x, W, b=None: TF.conv2d(x, W, b, stride, padding, dilation, groups),
        _inputs(x_shape, w_shape, bias), dtype=dtype,
    )


@pytest.mark.parametrize("size,kernel,stride,dilation",
                         [(7, 3, 2, 1), (8, 3, 2, 1), (9, 4, 3, 1), (10, 3, 2, 2), (5, 1, 2, 1)])
def test_same_padding_with_stride_matches_tensorflow_rule(size, kernel, stride, dilation):
    """'same' at stride s gives ⌈n/s⌉ outputs with the odd pixel padded at the end (TensorFlow)."""
    lo, hi = same_padding(size, kernel, stride, dilation)
    assert hi - lo in (0, 1)
    x_shape, w_shape = (2, 2, size, size + 1), (3, 2, kernel, kernel)
    pad_w = same_padding(size + 1, kernel, stride, dilation)
    y = check_op(
        lambda x, W: conv2d(x, W, None, stride, "same", dilation),
        lambda x, W: TF.conv2d(TF.pad(x, (*pad_w, lo, hi)), W, None, stride, 0, dilation),
        _inputs(x_shape, w_shape, False), dtype=np.float64,
    )[0]
    assert y.shape[2:] == (-(-size // stride), -(-(size + 1) // stride))


def test_asymmetric_padding_pairs_match_explicit_pad():
    pads = ((1, 2), (0, 3))
    check_op(
        lambda x, W: conv2d(x, W, None, 1, pads),
        lambda x, W: TF.conv2d(TF.pad(x, (0, 3, 1, 2)), W),
        _inputs((2, 3, 5, 6), (4, 3, 3, 3), False), dtype=np.float64,
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("L,O,k,stride,padding,dilation,groups", [
    (20, 4, 5, 1, 0, 1, 1), (21, 6, 3, 2, 1, 1, 2), (40, 5, 5, 2, 1, 1, 1), (17, 3, 3, 1, "same", 2, 1),
    (16, 4, 4, 1, "same", 1, 1), (15, 2, 3, 3, 2, 1, 1),
])
def test_conv1d_matches_torch(L, O, k, stride, padding, dilation, groups, dtype):
    C = 2 * groups
    check_op(
        lambda x, W, b: conv1d(x, W, b, stride, padding, dilation, groups),
        lambda x, W, b: TF.conv1d(x, W, b, stride, padding, dilation, groups),
        _inputs((3, C, L), (O, C // groups, k), True), dtype=dtype,
    )


# (N, C, H, W), (O, kh, kw), stride, padding, output_padding, groups, dilation
TRANSPOSE_CASES = [
    ((2, 4, 5, 6), (3, 3, 3), 1, 0, 0, 1, 1),
    ((2, 4, 5, 6), (3, 3, 3), 2, 1, 1, 1, 1),
    ((1, 4, 4, 4), (6, 3, 2), (2, 3), (1, 0), (1, 2), 2, 1),
    ((2, 2, 3, 3), (2, 2, 2), 2, 0, 0, 1, 1),
    ((2, 2, 4, 3), (3, 3, 3), 1, 1, 0, 1, 2),
    ((1, 3, 7, 7), (5, 4, 4), 2, 1, 0, 1, 1),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape,w,stride,padding,output_padding,groups,dilation", TRANSPOSE_CASES)
def test_conv_transpose2d_matches_torch(x_shape, w, stride, padding, output_padding, groups, dilation, dtype):
    w_shape = (x_shape[1], w[0] // groups) + w[1:]
    check_op(
        lambda x, W, b: conv_transpose2d(x, W, b, stride, padding, output_padding, groups, dilation),
        lambda x, W, b: TF.conv_transpose2d(x, W, b, stride, padding, output_padding, groups, dilation),
        [rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w[0])], dtype=dtype,
    )


@pytest.mark.parametrize("case", [0, 3, 5, 6, 10, 13, 14])
def test_conv2d_gradcheck(case):
    x_shape, w, stride, padding, dilation, groups = CONV2D_CASES[case]
    x = em.tensor(rng.standard_normal(x_shape), requires_grad=True)
    W = em.tensor(rng.standard_normal((w[0], x_shape[1] // groups) + w[1:]), requires_grad=True)
    b = em.tensor(rng.standard_normal(w[0]), requires_grad=True)
    assert gradcheck(lambda x, W, b: conv2d(x, W, b, stride, padding, dilation, groups), [x, W, b])


def test_conv1d_and_transpose_gradcheck():
    x = em.tensor(rng.standard_normal((2, 4, 9)), requires_grad=True)
    W = em.tensor(rng.standard_normal((4, 2, 3)), requires_grad=True)
    assert gradcheck(lambda x, W: conv1d(x, W, None, 2, 1, 1, 2), [x, W])
    x = em.tensor(rng.standard_normal((2, 2, 3, 4)), requires_grad=True)
    W = em.tensor(rng.standard_normal((2, 3, 3, 2)), requires_grad=True)
    b = em.tensor(rng.standard_normal(3), requires_grad=True)
    assert gradcheck(lambda x, W, b: conv_transpose2d(x, W, b, 2, 1, 1), [x, W, b])


def test_conv_transpose_is_the_adjoint_of_conv():
    """⟨conv(x), y⟩ = ⟨x, conv_transpose(y)⟩ for the same weight: the defining property."""
    x, W = rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((4, 3, 3, 3))
    y = conv2d(em.tensor(x), em.tensor(W), stride=2, padding=1).numpy()
    g = rng.standard_normal(y.shape)
    back = conv_transpose2d(em.tensor(g), em.tensor(W), stride=2, padding=1, output_padding=(0, 1)).numpy()
    assert back.shape == x.shape
    np.testing.assert_allclose((y * g).sum(), (x * back).sum(), rtol=1e-10)


def test_conv_keeps_float32_and_is_contiguous():
    x, W = em.randn(2, 3, 8, 8), em.randn(4, 3, 3, 3)
    y = conv2d(x, W, padding=1)
    assert y.dtype == em.float32 and y.array.flags.c_contiguous


@pytest.mark.parametrize("call,message", [
    (lambda: conv2d(em.randn(2, 3, 8), em.randn(4, 3, 3, 3)), "expected input of shape (N, C, H, W)"),
    (lambda: conv2d(em.randn(2, 3, 8, 8), em.randn(4, 2, 3, 3)), "expects 2 input channels"),
    (lambda: conv2d(em.randn(2, 3, 2, 2), em.randn(4, 3, 3, 3)), "does not fit"),
    (lambda: conv2d(em.randn(2, 3, 8, 8), em.randn(4, 3, 3, 3), em.randn(5)), "bias must have shape (4,)"),
    (lambda: conv2d(em.randn(2, 3, 8, 8), em.randn(4, 3, 3, 3), padding="full"), "padding must be"),
    (lambda: conv2d(em.randn(2, 3, 8, 8), em.randn(4, 3, 3, 3), stride=(1, 2, 3)), "stride must be"),
    (lambda: conv2d(em.randn(2, 3, 8, 8), em.randn(4, 3, 3, 3, dtype=em.float64)), "dtype"),
    (lambda: conv2d(em.randn(2, 4, 8, 8), em.randn(3, 2, 3, 3), groups=2), "not divisible by groups=2"),
    (lambda: conv_transpose2d(em.randn(1, 2, 3, 3), em.randn(2, 2, 3, 3), stride=2, output_padding=2),
     "output_padding"),
])
def test_conv_errors_name_the_op_and_shapes(call, message):
    with pytest.raises((ValueError, TypeError)) as err:
        call()
    assert message in str(err.value)


def test_torch_refuses_strided_same_but_we_define_it():
    with pytest.raises(RuntimeError):
        TF.conv2d(torch.zeros(1, 1, 7, 7), torch.zeros(1, 1, 3, 3), stride=2, padding="same")
    assert conv2d(em.zeros(1, 1, 7, 7), em.zeros(1, 1, 3, 3), stride=2, padding="same").shape == (1, 1, 4, 4)


@pytest.mark.parametrize("rows, inner, groups", [(6, 400, 1), (64, 40, 1), (8, 400, 2)])
def test_grouped_matmul_nt_is_a_times_b_transposed_per_group(rows, inner, groups):
    """dW = dy · colsᵀ per group, whichever operand order the shape picks (R ≥ 8Q or not)."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((4 * groups, inner)), rng.standard_normal((rows * groups, inner))
    expected = np.concatenate([a[g * 4:(g + 1) * 4] @ b[g * rows:(g + 1) * rows].T for g in range(groups)])
    np.testing.assert_allclose(grouped_matmul_nt(a, b, groups), expected, rtol=1e-12, atol=1e-12)


# Stride 1, O·H·W ≤ C·Ho·Wo and output maps at least BATCH_LAST_BELOW_WIDTH wide: dx is taken as
# the correlation of the padded dy with the flipped kernel (Conv2d._input_grad_by_correlation).
CORRELATION_CASES = [  # (N, C, H, W), (O, kh, kw), padding, dilation
    ((2, 4, 6, 18), (4, 3, 3), 1, 1),
    ((3, 5, 7, 20), (3, 3, 3), 0, 1),  # no padding: dy padded by k − 1 all round
    ((2, 3, 9, 22), (3, 3, 3), 2, 2),
    ((2, 3, 5, 17), (2, 2, 2), "same", 1),  # even kernel: padding (0, 1), dy padded (1, 0)
    ((2, 4, 5, 16), (4, 1, 1), 0, 1),  # 1×1: dx = Wᵀ dy
]


@pytest.fixture
def correlations(monkeypatch):
    """Counts the input gradients taken as correlations."""
    calls = []
    original = conv.Conv2d._input_grad_by_correlation

    def counted(self, gy, W):
        calls.append(gy.shape)
        return original(self, gy, W)

    monkeypatch.setattr(conv.Conv2d, "_input_grad_by_correlation", counted)
    return calls


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("chunk_bytes", [conv.COLUMN_CHUNK_BYTES, 1])  # 1: one image per chunk
@pytest.mark.parametrize("x_shape,w,padding,dilation", CORRELATION_CASES)
def test_input_grad_by_correlation_matches_torch(monkeypatch, correlations, x_shape, w, padding, dilation,
                                                 chunk_bytes):
    monkeypatch.setattr(conv, "COLUMN_CHUNK_BYTES", chunk_bytes)
    check_op(lambda x, W, b: conv2d(x, W, b, 1, padding, dilation),
             lambda x, W, b: TF.conv2d(x, W, b, 1, padding, dilation),
             _inputs(x_shape, (w[0], x_shape[1]) + w[1:], True), dtype=np.float32)
    assert correlations == [(x_shape[0], w[0], *correlations[0][2:])]


def test_input_grad_by_correlation_gradcheck_and_large_layers(monkeypatch, correlations):
    x, W, b = _inputs((2, 3, 5, 16), (3, 3, 3, 3), True)
    assert gradcheck(lambda x, W, b: conv2d(x, W, b, 1, 1), [em.tensor(a, requires_grad=True) for a in (x, W, b)])
    monkeypatch.setattr(conv, "KEEP_COLUMNS_BELOW_BYTES", 0)  # the weight gradient from recomputed columns
    monkeypatch.setattr(conv, "COLUMN_CHUNK_BYTES", 1)
    check_op(lambda x, W, b: conv2d(x, W, b, 1, 1), lambda x, W, b: TF.conv2d(x, W, b, 1, 1), [x, W, b],
             dtype=np.float64)
    assert len(correlations) > 1


@pytest.mark.parametrize("x_shape,w,stride,padding", [
    ((2, 4, 6, 18), (4, 3, 3), 2, 1),  # strided
    ((2, 4, 6, 18), (8, 3, 3), 1, 1),  # more outputs than inputs: the correlation's columns are larger
    ((2, 4, 6, 10), (4, 3, 3), 1, 1),  # narrow maps: the batch-last col2im is quicker
    ((2, 4, 6, 18), (4, 3, 3), 1, 3),  # padding beyond k − 1
])
def test_other_layers_take_dx_from_columns(correlations, x_shape, w, stride, padding):
    check_op(lambda x, W: conv2d(x, W, None, stride, padding), lambda x, W: TF.conv2d(x, W, None, stride, padding),
             _inputs(x_shape, (w[0], x_shape[1]) + w[1:], False), dtype=np.float32)
    assert correlations == []
