"""F.pad's four modes and the padding layers against PyTorch (values, gradients, errors) and finite differences."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember as em
import ember.nn.functional as F
from ember import nn
from ember.testing import gradcheck
from torch_parity import check_module, check_op

rng = np.random.default_rng(0)
DTYPES = [np.float32, np.float64]

# input shape, pad widths
SHAPES = [
    ((2, 3, 6), (2, 1)),  # 1-D padding of (N, C, W)
    ((3, 6), (0, 3)),  # unbatched (C, W)
    ((2, 3, 5, 6), (2, 1, 1, 3)),  # 2-D padding of (N, C, H, W)
    ((3, 5, 6), (1, 0, 2, 2)),
    ((1, 2, 3, 4, 5), (1, 2, 2, 0, 1, 1)),  # 3-D padding of (N, C, D, H, W)
    ((2, 3, 5, 6), (0, 0, 4, 1)),  # only H
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,widths", SHAPES)
def test_pad_modes_match_torch(shape, widths, mode, dtype):
    check_op(lambda x: F.pad(x, widths, mode), lambda x: TF.pad(x, widths, mode), [rng.standard_normal(shape)],
             dtype=dtype)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,widths", SHAPES[::2])
def test_pad_modes_gradcheck(shape, widths, mode):
    x = em.tensor(rng.standard_normal(shape), requires_grad=True)
    assert gradcheck(lambda t: F.pad(t, widths, mode), [x])


@pytest.mark.parametrize("shape,widths,value", [
    ((2, 3, 4), (1, 2), 0.0), ((2, 3, 4), (1, 2, 0, 1), 1.5), ((2, 3, 4, 5), (-1, 2, 1, -2), -0.5),
    ((4,), (3, 0), 2.0), ((2, 3, 4), (1, 1, 1, 1, 1, 1), None),
])
def test_constant_pad_matches_torch_with_cropping(shape, widths, value):
    check_op(lambda x: F.pad(x, widths, "constant", value), lambda x: TF.pad(x, widths, "constant", value),
             [rng.standard_normal(shape)])
    x = em.tensor(rng.standard_normal(shape), requires_grad=True)
    assert gradcheck(lambda t: F.pad(t, widths, "constant", value), [x])


def test_pad_errors_follow_torch():
    x = em.randn(1, 1, 3)
    with pytest.raises(RuntimeError, match="less than the corresponding input dimension"):
        F.pad(x, (3, 3), mode="reflect")
    with pytest.raises(RuntimeError, match="wrapping around more than once"):
        F.pad(x, (4, 0), mode="circular")
    with pytest.raises(NotImplementedError, match="not supported"):
        F.pad(em.randn(2, 3, 4, 5), (1, 1), mode="reflect")
    with pytest.raises(NotImplementedError, match="padding mode"):
        F.pad(x, (1, 1), mode="bogus")
    with pytest.raises(RuntimeError, match="value"):
        F.pad(x, (1, 1), mode="reflect", value=2.0)
    assert F.pad(x, (1, 1), mode="reflect", value=0.0).shape == (1, 1, 5)


LAYERS = [
    ("ZeroPad1d", (2,), (2, 3, 5)), ("ZeroPad1d", ((1, 3),), (3, 5)), ("ZeroPad2d", (2,), (2, 3, 4, 5)),
    ("ZeroPad2d", ((1, 2, 3, 0),), (2, 3, 4, 5)), ("ZeroPad3d", (1,), (1, 2, 3, 4, 5)),
    ("ConstantPad1d", (2, 3.5), (2, 3, 5)), ("ConstantPad2d", ((1, 0, 2, 1), -1.0), (2, 3, 4, 5)),
    ("ConstantPad3d", (1, 0.5), (1, 2, 3, 4, 5)),
    ("ReflectionPad1d", (2,), (2, 3, 5)), ("ReflectionPad1d", ((3, 1),), (3, 5)),
    ("ReflectionPad2d", ((1, 2, 3, 0),), (2, 3, 4, 5)), ("ReflectionPad3d", (1,), (1, 2, 3, 4, 5)),
    ("ReplicationPad1d", ((4, 1),), (2, 3, 5)), ("ReplicationPad2d", (2,), (2, 3, 4, 5)),
    ("ReplicationPad3d", ((1, 0, 2, 1, 0, 3),), (1, 2, 3, 4, 5)),
    ("CircularPad1d", (2,), (2, 3, 5)), ("CircularPad2d", ((1, 2, 3, 0),), (2, 3, 4, 5)),
    ("CircularPad3d", (1,), (1, 2, 3, 4, 5)),
]


@pytest.mark.parametrize("name,args,shape", LAYERS)
def test_padding_layers_match_torch(name, args, shape):
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs)
    assert ours.padding == theirs.padding
    check_module(ours, theirs, rng.standard_normal(shape))


def test_padding_layer_rejects_a_wrong_number_of_widths():
    with pytest.raises(ValueError, match="tuple of 4 ints"):
        nn.ReflectionPad2d((1, 2))


def test_conv_padding_modes_still_match_torch():
    theirs = torch.nn.Conv2d(2, 3, 3, padding=2, padding_mode="reflect").double()
    ours = nn.Conv2d(2, 3, 3, padding=2, padding_mode="reflect", dtype=em.float64)
    check_module(ours, theirs, rng.standard_normal((2, 2, 6, 7)))
