"""Conv layers against their PyTorch twins: construction, init, state dicts, outputs and gradients."""
import numpy as np
import pytest
import torch

import ember as em
from ember import nn
from torch_parity import assert_close, check_module, copy_weights

TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}


def _data(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=3), dict(kernel_size=3, padding=1, bias=False),
    dict(kernel_size=(3, 5), stride=(2, 1), padding=(1, 2)),
    dict(kernel_size=3, padding="same", dilation=2), dict(kernel_size=2, padding="valid", stride=2),
    dict(kernel_size=3, padding=1, groups=2), dict(kernel_size=3, padding=2, padding_mode="reflect"),
    dict(kernel_size=3, padding=1, padding_mode="replicate"),
    dict(kernel_size=3, padding=(1, 2), padding_mode="circular"),
    dict(kernel_size=4, padding="same", padding_mode="reflect"),
])
def test_conv2d_layer_matches_torch(kwargs, dtype):
    theirs = torch.nn.Conv2d(4, 6, **kwargs).to(TORCH_DTYPE[dtype])
    ours = nn.Conv2d(4, 6, **kwargs, dtype=dtype)
    assert repr(ours) == repr(theirs)
    check_module(ours, theirs, _data(2, 4, 9, 10).astype(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=5), dict(kernel_size=5, stride=2, padding=1), dict(kernel_size=3, padding="same", dilation=2),
    dict(kernel_size=3, groups=3, bias=False), dict(kernel_size=3, padding=1, padding_mode="reflect"),
])
def test_conv1d_layer_matches_torch(kwargs, dtype):
    theirs = torch.nn.Conv1d(3, 6, **kwargs).to(TORCH_DTYPE[dtype])
    ours = nn.Conv1d(3, 6, **kwargs, dtype=dtype)
    assert repr(ours) == repr(theirs)
    check_module(ours, theirs, _data(4, 3, 20).astype(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=2, stride=2), dict(kernel_size=3, stride=2, padding=1, output_padding=1),
    dict(kernel_size=(3, 2), stride=(1, 2), groups=2, bias=False), dict(kernel_size=3, dilation=2),
])
def test_conv_transpose2d_layer_matches_torch(kwargs, dtype):
    theirs = torch.nn.ConvTranspose2d(4, 6, **kwargs).to(TORCH_DTYPE[dtype])
    ours = nn.ConvTranspose2d(4, 6, **kwargs, dtype=dtype)
    assert repr(ours) == repr(theirs)
    check_module(ours, theirs, _data(2, 4, 5, 6).astype(dtype))


def test_conv_transpose2d_output_size_picks_output_padding():
    theirs = torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1).double()
    ours = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, dtype=em.float64)
    copy_weights(ours, theirs)
    x = _data(1, 3, 7, 7)
    y = ours(em.tensor(x), output_size=(14, 13))
    assert_close(y, theirs(torch.tensor(x), output_size=(14, 13)))


@pytest.mark.parametrize("cls,args",
                         [(nn.Conv2d, (16, 32, 3)), (nn.Conv1d, (8, 16, 5)), (nn.ConvTranspose2d, (16, 8, 4))])
def test_default_init_follows_torch_bounds(cls, args):
    """W, b ~ U(−1/√fan_in, 1/√fan_in): the ranges and spread of PyTorch's default init."""
    layer, twin = cls(*args), getattr(torch.nn, cls.__name__)(*args)
    assert layer.weight.shape == tuple(twin.weight.shape) and layer.bias.shape == tuple(twin.bias.shape)
    bound = 1 / np.sqrt(np.prod(layer.weight.shape[1:]))
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    assert bound * 0.9 < np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.1 * bound / np.sqrt(3)  # the std of U(−b, b) is b/√3


def test_state_dict_round_trip_from_torch():
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Conv2d(4, 2, 3, bias=False))
    ours = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 3, bias=False))
    copy_weights(ours, theirs)
    x = _data(3, 1, 8, 8).astype(np.float32)
    assert_close(ours(em.tensor(x)), theirs(torch.tensor(x)))
    assert list(ours.state_dict()) == list(theirs.state_dict())


@pytest.mark.parametrize("call,message", [
    (lambda: nn.Conv2d(3, 4, 3)(em.randn(2, 5, 8, 8)), "Conv2d(in_channels=3): expected input"),
    (lambda: nn.Conv1d(3, 4, 3)(em.randn(2, 3, 8, 8)), "Conv1d(in_channels=3): expected input of shape (N, C, L)"),
    (lambda: nn.Conv2d(3, 4, 3, groups=2), "divisible by groups"),
    (lambda: nn.Conv2d(3, 4, 0), "must be positive"),
    (lambda: nn.Conv2d(0, 4, 3), "in_channels must be a positive integer"),
    (lambda: nn.Conv2d(3, 4, 3, padding_mode="mirror"), "padding_mode must be one of"),
    (lambda: nn.Conv2d(3, 4, 3, padding="full"), "padding must be"),
    (lambda: nn.ConvTranspose2d(3, 4, 3, padding="same"), "padding must be an int or a tuple"),
])
def test_layer_errors_name_the_layer(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert message in str(err.value)
