"""Conv3d, ConvTranspose1d and the 3-D pools against PyTorch (ops and layers) and finite differences."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember as em
import ember.nn.functional as F
from ember import nn
from ember.testing import gradcheck
from torch_parity import assert_close, check_module, check_op

rng = np.random.default_rng(0)
DTYPES = [np.float32, np.float64]
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}


def distinct(shape):
    """Values without ties, so every pooling window has one clear maximum."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.37 - 5.0


# -- conv3d ------------------------------------------------------------------------------------

# input (N, C, D, H, W), weight (O, C/groups, kd, kh, kw), stride, padding, dilation, groups
CONV3D_CASES = [
    ((2, 3, 4, 5, 6), (4, 3, 2, 3, 2), 1, 0, 1, 1),
    ((2, 3, 4, 5, 6), (4, 3, 2, 3, 2), (1, 2, 1), 1, (2, 1, 1), 1),
    ((1, 4, 5, 5, 5), (6, 2, 3, 3, 3), 2, (1, 0, 1), 1, 2),
    ((2, 2, 3, 4, 5), (3, 2, 3, 3, 3), 1, "same", 1, 1),
    ((2, 2, 3, 4, 5), (3, 2, 1, 2, 2), 1, "valid", 1, 1),
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_shape,w_shape,stride,padding,dilation,groups", CONV3D_CASES)
def test_conv3d_matches_torch(x_shape, w_shape, stride, padding, dilation, groups, bias, dtype):
    inputs = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)] + ([rng.standard_normal(w_shape[0])] if bias
                                                                            else [])
    check_op(lambda x, W, b=None: F.conv3d(x, W, b, stride, padding, dilation, groups),
             lambda x, W, b=None: TF.conv3d(x, W, b, stride, padding, dilation, groups), inputs, dtype=dtype)


@pytest.mark.parametrize("x_shape,w_shape,stride,padding,dilation,groups", CONV3D_CASES[:3])
def test_conv3d_gradcheck(x_shape, w_shape, stride, padding, dilation, groups):
    x, W, b = (em.tensor(rng.standard_normal(s), requires_grad=True) for s in (x_shape, w_shape, w_shape[:1]))
    assert gradcheck(lambda *t: F.conv3d(*t, stride, padding, dilation, groups), [x, W, b])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=3), dict(kernel_size=(1, 3, 2), stride=(1, 2, 1), padding=(0, 1, 1), bias=False),
    dict(kernel_size=3, padding=1, groups=2), dict(kernel_size=3, padding="same", dilation=(1, 2, 1)),
    dict(kernel_size=3, padding=1, padding_mode="reflect"), dict(kernel_size=2, padding=1, padding_mode="circular"),
    dict(kernel_size=3, padding=(1, 2, 0), padding_mode="replicate"),
])
def test_conv3d_layer_matches_torch(kwargs, dtype):
    theirs = torch.nn.Conv3d(4, 6, **kwargs).to(TORCH_DTYPE[dtype])
    ours = nn.Conv3d(4, 6, **kwargs, dtype=dtype)
    assert repr(ours) == repr(theirs)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == [(n, tuple(p.shape)) for n, p in
                                                                 theirs.named_parameters()]
    check_module(ours, theirs, rng.standard_normal((2, 4, 4, 5, 6)).astype(dtype))


def test_conv3d_rejects_a_4d_input():
    with pytest.raises(ValueError, match=r"\(N, C, D, H, W\)"):
        nn.Conv3d(2, 3, 3)(em.randn(2, 5, 5, 5))


# -- conv_transpose1d ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("w_shape,stride,padding,output_padding,groups,dilation", [
    ((4, 3, 3), 1, 0, 0, 1, 1), ((4, 3, 4), 2, 1, 1, 1, 1), ((4, 2, 3), 3, 2, 2, 2, 1), ((4, 3, 2), 1, 1, 0, 1, 3),
])
def test_conv_transpose1d_matches_torch(w_shape, stride, padding, output_padding, groups, dilation, dtype):
    inputs = [rng.standard_normal((2, 4, 7)), rng.standard_normal(w_shape), rng.standard_normal(w_shape[1] * groups)]
    check_op(lambda x, W, b: F.conv_transpose1d(x, W, b, stride, padding, output_padding, groups, dilation),
             lambda x, W, b: TF.conv_transpose1d(x, W, b, stride, padding, output_padding, groups, dilation), inputs,
             dtype=dtype)


def test_conv_transpose1d_gradcheck():
    x, W, b = (em.tensor(rng.standard_normal(s), requires_grad=True) for s in ((2, 4, 5), (4, 3, 3), (3,)))
    assert gradcheck(lambda *t: F.conv_transpose1d(*t, stride=2, padding=1, output_padding=1), [x, W, b])


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=2, stride=2), dict(kernel_size=3, stride=2, padding=1, output_padding=1),
    dict(kernel_size=3, groups=2, bias=False), dict(kernel_size=3, dilation=2),
])
def test_conv_transpose1d_layer_matches_torch(kwargs):
    theirs = torch.nn.ConvTranspose1d(4, 6, **kwargs).double()
    ours = nn.ConvTranspose1d(4, 6, **kwargs, dtype=em.float64)
    assert repr(ours) == repr(theirs)
    check_module(ours, theirs, rng.standard_normal((2, 4, 7)))


def test_conv_transpose1d_output_size_picks_output_padding():
    theirs = torch.nn.ConvTranspose1d(3, 2, 3, stride=2, padding=1).double()
    ours = nn.ConvTranspose1d(3, 2, 3, stride=2, padding=1, dtype=em.float64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = rng.standard_normal((1, 3, 5))
    y = ours(em.tensor(x), output_size=[10])
    assert_close(y, theirs(torch.tensor(x), output_size=[10]))
    assert y.shape == (1, 2, 10)


# -- 3-D pooling -----------------------------------------------------------------------------------

# input shape, kernel_size, stride, padding, dilation, ceil_mode
MAX3D_CASES = [
    ((2, 3, 4, 6, 6), 2, None, 0, 1, False),
    ((1, 2, 5, 7, 6), 3, 2, 1, 1, True),
    ((1, 2, 5, 7, 6), (1, 2, 3), (1, 2, 2), (0, 1, 1), (1, 2, 1), False),
    ((2, 2, 6, 5, 7), 2, 1, 1, 1, True),
    ((2, 2, 4, 5, 6), 3, 3, 1, (1, 1, 2), True),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,kernel,stride,padding,dilation,ceil_mode", MAX3D_CASES)
def test_max_pool3d_matches_torch_with_indices(shape, kernel, stride, padding, dilation, ceil_mode, dtype):
    args = (kernel, stride, padding, dilation, ceil_mode, True)
    check_op(lambda x: F.max_pool3d(x, *args), lambda x: TF.max_pool3d(x, *args), [distinct(shape)], dtype=dtype)


@pytest.mark.parametrize("shape,kernel,stride,padding,dilation,ceil_mode", MAX3D_CASES[:3])
def test_max_pool3d_ties_and_gradcheck(shape, kernel, stride, padding, dilation, ceil_mode):
    args = (kernel, stride, padding, dilation, ceil_mode)
    tied = np.maximum(rng.integers(-2, 3, size=shape), 0).astype(np.float64)
    check_op(lambda x: F.max_pool3d(x, *args), lambda x: TF.max_pool3d(x, *args), [tied])
    x = em.tensor(distinct(shape), requires_grad=True)
    assert gradcheck(lambda t: F.max_pool3d(t, *args), [x])


AVG3D_CASES = [
    ((2, 3, 4, 6, 6), 2, None, 0, False, True, None),
    ((1, 2, 5, 7, 6), 3, 2, 1, True, True, None),
    ((1, 2, 5, 7, 6), 3, 2, 1, True, False, None),
    ((1, 2, 5, 7, 6), (1, 2, 3), (1, 2, 2), (0, 1, 1), False, False, None),
    ((2, 2, 4, 4, 4), 2, 1, 1, False, True, 3),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,kernel,stride,padding,ceil_mode,count_include_pad,divisor", AVG3D_CASES)
def test_avg_pool3d_matches_torch(shape, kernel, stride, padding, ceil_mode, count_include_pad, divisor, dtype):
    args = (kernel, stride, padding, ceil_mode, count_include_pad, divisor)
    check_op(lambda x: F.avg_pool3d(x, *args), lambda x: TF.avg_pool3d(x, *args), [rng.standard_normal(shape)],
             dtype=dtype)
    if dtype == np.float64:
        assert gradcheck(lambda t: F.avg_pool3d(t, *args), [em.tensor(rng.standard_normal(shape), requires_grad=True)])


@pytest.mark.parametrize("shape,out", [((2, 3, 4, 6, 6), 2), ((1, 2, 5, 7, 6), (3, 2, 4)), ((1, 2, 5, 7, 6), 1),
                                       ((2, 3, 4, 5, 6), (None, 3, 4)), ((3, 4, 5, 6), (2, 7, 3))])
def test_adaptive_avg_pool3d_matches_torch(shape, out):
    check_op(lambda x: F.adaptive_avg_pool3d(x, out), lambda x: TF.adaptive_avg_pool3d(x, out),
             [rng.standard_normal(shape)])
    assert gradcheck(lambda t: F.adaptive_avg_pool3d(t, out), [em.tensor(rng.standard_normal(shape),
                                                                         requires_grad=True)])


@pytest.mark.parametrize("ours,theirs", [
    (lambda: nn.MaxPool3d(2), lambda: torch.nn.MaxPool3d(2)),
    (lambda: nn.MaxPool3d((1, 2, 2), stride=1, padding=(0, 1, 1)),
     lambda: torch.nn.MaxPool3d((1, 2, 2), stride=1, padding=(0, 1, 1))),
    (lambda: nn.AvgPool3d(2), lambda: torch.nn.AvgPool3d(2)),
    (lambda: nn.AvgPool3d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
     lambda: torch.nn.AvgPool3d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    (lambda: nn.AdaptiveAvgPool3d((2, 3, 1)), lambda: torch.nn.AdaptiveAvgPool3d((2, 3, 1))),
    (lambda: nn.BatchNorm3d(3, dtype=em.float64), lambda: torch.nn.BatchNorm3d(3).double()),
])
def test_3d_layers_match_torch(ours, theirs):
    ours, theirs = ours(), theirs()
    assert repr(ours) == repr(theirs)
    check_module(ours, theirs, distinct((2, 3, 4, 5, 6)))


def test_max_pool3d_layer_returns_indices_for_unbatched_input():
    x = distinct((2, 4, 4, 4))
    y, idx = nn.MaxPool3d(2, return_indices=True)(em.tensor(x))
    ty, tidx = torch.nn.MaxPool3d(2, return_indices=True)(torch.tensor(x))
    assert_close(y, ty)
    assert idx.dtype == np.int64 and np.array_equal(idx.numpy(), tidx.numpy())
