"""Pooling layers against their PyTorch twins: outputs, input gradients, state dicts, reprs and errors."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from torch import nn as tnn

import ember as em
from ember.nn import Conv2d, Flatten, Linear, ReLU, Sequential
from ember.nn.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    GlobalAvgPool2d,
    GlobalMaxPool2d,
    MaxPool1d,
    MaxPool2d,
    SpatialPyramidPooling,
)
from ember.testing import gradcheck
from torch_parity import assert_close, check_module, check_op, to_torch

rng = np.random.default_rng(0)

# (ember class, torch class, constructor args, input shape)
LAYER_CASES = [
    (MaxPool2d, tnn.MaxPool2d, (2,), (4, 6, 28, 28)),
    (MaxPool2d, tnn.MaxPool2d, (3, 2, 1), (2, 8, 15, 15)),
    (MaxPool2d, tnn.MaxPool2d, ((2, 3), (1, 2), (1, 1), (2, 1), False, True), (2, 3, 11, 12)),
    (MaxPool2d, tnn.MaxPool2d, (3,), (3, 9, 10)),  # unbatched
    (MaxPool1d, tnn.MaxPool1d, (3, 2, 1, 2, False, True), (2, 4, 21)),
    (AvgPool2d, tnn.AvgPool2d, (2,), (4, 6, 28, 28)),
    (AvgPool2d, tnn.AvgPool2d, (3, 2, 1, True, False), (2, 8, 14, 15)),
    (AvgPool2d, tnn.AvgPool2d, ((3, 2), 1, (1, 1), False, True, 5), (2, 3, 9, 8)),
    (AvgPool1d, tnn.AvgPool1d, (4, 3, 2, True, False), (2, 4, 22)),
    (AdaptiveAvgPool2d, tnn.AdaptiveAvgPool2d, ((1, 1),), (2, 16, 7, 7)),
    (AdaptiveAvgPool2d, tnn.AdaptiveAvgPool2d, ((3, None),), (2, 4, 10, 9)),
    (AdaptiveAvgPool2d, tnn.AdaptiveAvgPool2d, (6,), (2, 4, 13, 13)),
    (AdaptiveAvgPool1d, tnn.AdaptiveAvgPool1d, (4,), (2, 4, 10)),
    (AdaptiveMaxPool2d, tnn.AdaptiveMaxPool2d, ((4, 3),), (2, 4, 10, 7)),
    (AdaptiveMaxPool2d, tnn.AdaptiveMaxPool2d, (1,), (2, 4, 9, 9)),
    (AdaptiveMaxPool1d, tnn.AdaptiveMaxPool1d, (3,), (2, 4, 7)),
]


def distinct(shape):
    return (rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1 - 3.0).astype(np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ours,theirs,args,shape", LAYER_CASES)
def test_layer_matches_torch(ours, theirs, args, shape, dtype):
    check_module(ours(*args), theirs(*args), distinct(shape).astype(dtype))


@pytest.mark.parametrize("ours,theirs,args,shape", LAYER_CASES)
def test_repr_equals_torchs(ours, theirs, args, shape):
    assert repr(ours(*args)) == repr(theirs(*args))


@pytest.mark.parametrize("ours,theirs,args", [
    (MaxPool2d, tnn.MaxPool2d, dict(kernel_size=[2, 2])), (MaxPool2d, tnn.MaxPool2d, dict(kernel_size=3, stride=1)),
    (MaxPool1d, tnn.MaxPool1d, dict(kernel_size=2, ceil_mode=True)),
    (AvgPool1d, tnn.AvgPool1d, dict(kernel_size=(3,), stride=2)), (AvgPool1d, tnn.AvgPool1d, dict(kernel_size=3)),
    (AvgPool2d, tnn.AvgPool2d, dict(kernel_size=(2, 4), padding=(1, 2))),
    (AdaptiveMaxPool2d, tnn.AdaptiveMaxPool2d, dict(output_size=(None, 2), return_indices=True)),
    (AdaptiveMaxPool1d, tnn.AdaptiveMaxPool1d, dict(output_size=5, return_indices=True)),
])
def test_repr_with_keywords_equals_torchs(ours, theirs, args):
    assert repr(ours(**args)) == repr(theirs(**args))


def test_pools_have_no_state_and_load_torchs_empty_state_dict():
    for layer in (MaxPool2d(2), AvgPool2d(2), AdaptiveAvgPool2d(1), GlobalMaxPool2d(), SpatialPyramidPooling()):
        assert layer.state_dict() == {} and list(layer.parameters()) == []
        layer.load_state_dict(tnn.MaxPool2d(2).state_dict())


@pytest.mark.parametrize("ours,theirs", [(MaxPool2d(3, 2, 1, return_indices=True),
                                          tnn.MaxPool2d(3, 2, 1, return_indices=True)),
                                         (MaxPool1d(2, return_indices=True), tnn.MaxPool1d(2, return_indices=True)),
                                         (AdaptiveMaxPool2d(3, True), tnn.AdaptiveMaxPool2d(3, True)),
                                         (AdaptiveMaxPool1d(3, True), tnn.AdaptiveMaxPool1d(3, True))])
def test_return_indices_layers_return_torchs_indices(ours, theirs):
    shape = (2, 3, 10) if "1d" in type(ours).__name__ else (2, 3, 10, 9)
    x = distinct(shape).astype(np.float32)
    (y, idx), (ty, tidx) = ours(em.tensor(x)), theirs(to_torch(x))
    assert_close(y, ty)
    assert np.array_equal(idx.numpy(), tidx.numpy())


# -- global and pyramid pooling -----------------------------------------------------------------


@pytest.mark.parametrize("ours,theirs", [(GlobalAvgPool2d, tnn.AdaptiveAvgPool2d),
                                         (GlobalMaxPool2d, tnn.AdaptiveMaxPool2d)])
def test_global_pools_equal_adaptive_pool_1_then_flatten(ours, theirs):
    x = distinct((3, 5, 6, 7))
    check_module(ours(), tnn.Sequential(theirs(1), tnn.Flatten()), x)
    check_module(ours(flatten=False), theirs(1), x)
    assert ours()(em.tensor(x)).shape == (3, 5)
    assert ours()(em.tensor(x[0])).shape == (5,)  # unbatched (C, H, W) → (C,)
    assert repr(ours()) == f"{ours.__name__}(flatten=True)"


def torch_spp(x, levels, mode):
    pool = TF.adaptive_max_pool2d if mode == "max" else TF.adaptive_avg_pool2d
    return torch.cat([pool(x, n).flatten(1) for n in levels], dim=1)


class TorchSPP(tnn.Module):
    def __init__(self, levels, mode):
        super().__init__()
        self.levels, self.mode = levels, mode

    def forward(self, x):
        return torch_spp(x, self.levels, self.mode)


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("levels", [(1, 2, 4), (1, 3, 6), (2,)])
def test_spp_gives_a_fixed_length_equal_to_concatenated_adaptive_pools(levels, mode):
    spp = SpatialPyramidPooling(levels, mode)
    C = 3
    for shape in ((2, C, 13, 13), (2, C, 10, 17), (1, C, 8, 8), (2, C, 5, 6), (2, C, 32, 24)):
        y = check_module(spp, TorchSPP(levels, mode), distinct(shape))
        assert y.shape == (shape[0], C * sum(n * n for n in levels)) == (shape[0], spp.output_features(C))


def test_spp_feeds_a_linear_head_for_any_input_size():
    model = Sequential(Conv2d(3, 8, 3, padding=1), ReLU(), SpatialPyramidPooling((1, 2, 4)), Linear(8 * 21, 5))
    for size in ((16, 16), (23, 19), (9, 31)):
        y = model(em.randn(2, 3, *size))
        assert y.shape == (2, 5)
    assert repr(SpatialPyramidPooling()) == "SpatialPyramidPooling(levels=(1, 2, 4), mode='max')"


def test_lenet_like_stack_matches_torch():
    ours = Sequential(Conv2d(1, 6, 5, padding=2), ReLU(), MaxPool2d(2), Conv2d(6, 16, 5), ReLU(), AvgPool2d(2),
                      AdaptiveAvgPool2d((3, 3)), Flatten(), Linear(144, 10))
    theirs = tnn.Sequential(tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Conv2d(6, 16, 5),
                            tnn.ReLU(), tnn.AvgPool2d(2), tnn.AdaptiveAvgPool2d((3, 3)), tnn.Flatten(),
                            tnn.Linear(144, 10))
    check_module(ours, theirs, rng.standard_normal((4, 1, 28, 28)).astype(np.float32), rtol=1e-4, atol=1e-5)


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("build,message", [
    (lambda: MaxPool2d(3, padding=2), r"MaxPool2d: padding must be between 0 and half the kernel size, got padding="
                                      r"\(2, 2\) for kernel_size=\(3, 3\)"),
    (lambda: MaxPool2d(0), r"MaxPool2d: kernel_size must be positive"),
    (lambda: MaxPool1d(2, stride=0), r"MaxPool1d: stride must be positive, got 0"),
    (lambda: MaxPool1d((2, 2)), r"MaxPool1d: kernel_size must be an int or a tuple of 1 ints"),
    (lambda: AvgPool2d(2, padding=3), r"AvgPool2d: padding must be between 0 and half"),
    (lambda: AvgPool2d(2, divisor_override=0), r"AvgPool2d: divisor_override must be a non-zero int"),
    (lambda: AvgPool1d(4, padding=3), r"AvgPool1d: padding must be between 0 and half the kernel size, got "
                                      r"padding=3 for kernel_size=4"),
    (lambda: AdaptiveAvgPool2d(-1), r"AdaptiveAvgPool2d: output_size must be a positive int"),
    (lambda: AdaptiveMaxPool1d((2, 3)), r"AdaptiveMaxPool1d: output_size must be"),
    (lambda: SpatialPyramidPooling((1, 0)), r"SpatialPyramidPooling: levels must be positive ints"),
    (lambda: SpatialPyramidPooling(mode="sum"), r"SpatialPyramidPooling: mode must be 'max' or 'avg'"),
])
def test_bad_arguments_name_the_layer(build, message):
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize("layer,shape,message", [
    (MaxPool2d(5), (1, 2, 4, 4), r"MaxPool2d\(kernel_size=5, .*\) on input of shape \(1, 2, 4, 4\): max_pool2d: "
                                 r"kernel_size=\(5, 5\)"),
    (MaxPool2d(2), (8, 8), r"MaxPool2d\(kernel_size=2, .*\) on input of shape \(8, 8\): max_pool2d: expected input "
                           r"of shape \(N, C, H, W\)"),
    (AvgPool1d(3), (2, 3, 2), r"AvgPool1d\(kernel_size=\(3,\), .*\) on input of shape \(2, 3, 2\): avg_pool1d"),
    (AdaptiveAvgPool2d(2), (2, 3, 4, 4, 4), r"AdaptiveAvgPool2d\(output_size=2\) on input of shape "),
    (GlobalMaxPool2d(), (3, 4), r"GlobalMaxPool2d\(flatten=True\) on input of shape \(3, 4\): adaptive_max_pool2d"),
    (SpatialPyramidPooling(), (3, 4, 4), r"SpatialPyramidPooling\(.*\): expected input of shape \(N, C, H, W\), "
                                         r"got \(3, 4, 4\)"),
])
def test_bad_inputs_name_the_layer_and_the_shape(layer, shape, message):
    with pytest.raises(ValueError, match=message):
        layer(em.randn(*shape))


# -- unpooling --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kernel, stride, padding, shape, size", [
    (2, None, 0, (2, 3, 8, 8), None), ((3, 2), (2, 2), (1, 0), (1, 2, 7, 6), None), (2, 2, 0, (1, 1, 9, 9), (9, 9)),
])
def test_max_unpool2d_matches_torch_with_gradients(kernel, stride, padding, shape, size):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    ty, ti = TF.max_pool2d(torch.tensor(x), kernel, stride, padding, return_indices=True)
    ours_in = em.tensor(ty.numpy(), requires_grad=True)
    theirs_in = ty.detach().requires_grad_()
    ours = em.nn.MaxUnpool2d(kernel, stride, padding)(ours_in, em.tensor(ti.numpy()), output_size=size)
    theirs = tnn.MaxUnpool2d(kernel, stride, padding)(theirs_in, ti, output_size=size)
    assert_close(ours, theirs)
    w = np.random.default_rng(1).standard_normal(theirs.shape).astype(np.float32)
    (ours * em.tensor(w)).sum().backward()
    (theirs * torch.tensor(w)).sum().backward()
    assert_close(ours_in.grad, theirs_in.grad)


def test_max_unpool1d_and_the_pool_round_trip():
    x = np.random.default_rng(2).standard_normal((2, 3, 10)).astype(np.float32)
    y, i = em.nn.functional.max_pool1d(em.tensor(x), 2, return_indices=True)
    ty, ti = TF.max_pool1d(torch.tensor(x), 2, return_indices=True)
    assert_close(em.nn.functional.max_unpool1d(y, i, 2), TF.max_unpool1d(ty, ti, 2))
    assert em.nn.MaxUnpool1d(2)(y, i).shape == (2, 3, 10)


def test_max_unpool_refuses_bad_indices():
    y = em.ones(1, 1, 2, 2)
    with pytest.raises(ValueError, match="invalid max index"):
        em.nn.functional.max_unpool2d(y, em.full((1, 1, 2, 2), 16, dtype=em.int64), 2)
    with pytest.raises(ValueError, match="must have the input's shape"):
        em.nn.functional.max_unpool2d(y, em.zeros(1, 1, 2, dtype=em.int64), 2)


# -- power-average pooling and the channel shuffle --------------------------------------------------
@pytest.mark.parametrize("layer, shape", [
    (lambda lib: lib.nn.LPPool2d(2, 3, stride=2), (2, 3, 9, 9)),
    (lambda lib: lib.nn.LPPool2d(3, (2, 3), ceil_mode=True), (1, 2, 7, 8)),
    (lambda lib: lib.nn.LPPool1d(2, 3), (2, 3, 10)),
    (lambda lib: lib.nn.LPPool1d(1.5, 2, stride=1), (1, 2, 6)),
])
def test_lp_pool_matches_torch_with_gradients(layer, shape):
    x = np.abs(np.random.default_rng(3).standard_normal(shape)) + 0.1  # x^p of a fractional p needs x > 0
    check_op(layer(em), layer(torch), [x])
    assert gradcheck(layer(em), [em.tensor(x, requires_grad=True)])


def test_channel_shuffle_matches_torch():
    x = np.random.default_rng(4).standard_normal((2, 6, 3, 3))
    check_op(lambda t: em.nn.ChannelShuffle(3)(t), lambda t: torch.nn.ChannelShuffle(3)(t), [x])
    check_op(lambda t: em.nn.functional.channel_shuffle(t, 2), lambda t: TF.channel_shuffle(t, 2), [x])
    assert repr(em.nn.ChannelShuffle(3)) == repr(torch.nn.ChannelShuffle(3))
    with pytest.raises(ValueError, match="divisible by groups 4"):
        em.nn.ChannelShuffle(4)(em.tensor(x))
