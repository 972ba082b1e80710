"""Layers against their PyTorch twins: copy the weights, compare outputs and gradients."""
import math

import numpy as np
import pytest
import torch

import ember as em
from ember import nn
from ember.testing import gradcheck
from torch_parity import check_module

TOL = {np.float32: 1e-5, np.float64: 1e-10}


def _data(*shape, seed=0):
    x = np.random.default_rng(seed).standard_normal(shape) * 2
    x[np.abs(x) < 1e-2] = 0.5  # away from the kinks of ReLU-like activations
    return x


# -- Linear ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(6, 4), (2, 3, 4), (4,)])
def test_linear_matches_torch(dtype, bias, shape):
    theirs = torch.nn.Linear(4, 3, bias=bias).to(torch.float64 if dtype == np.float64 else torch.float32)
    ours = nn.Linear(4, 3, bias=bias, dtype=dtype)
    check_module(ours, theirs, _data(*shape).astype(dtype), rtol=TOL[dtype], atol=TOL[dtype])


def test_linear_gradcheck():
    layer = nn.Linear(3, 2).double()
    x = em.randn(4, 3, dtype=em.float64, requires_grad=True)
    assert gradcheck(lambda x, w, b: nn.functional.linear(x, w, b), [x, layer.weight, layer.bias])


def test_linear_shapes_repr_and_state_dict_match_torch():
    ours, theirs = nn.Linear(20, 30), torch.nn.Linear(20, 30)
    assert ours.weight.shape == tuple(theirs.weight.shape) and ours.bias.shape == tuple(theirs.bias.shape)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    no_bias = nn.Linear(2, 3, bias=False)
    assert no_bias.bias is None and [n for n, _ in no_bias.named_parameters()] == ["weight"]
    assert repr(no_bias) == repr(torch.nn.Linear(2, 3, bias=False))


def test_linear_default_init_is_pytorchs():
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)  # kaiming_uniform_(a=√5) gives U(±1/√fan_in), the bias the same bound
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    assert np.abs(b).max() <= bound and b.std() == pytest.approx(bound / math.sqrt(3), rel=0.15)
    assert layer.weight.dtype == np.float32 and layer.weight.requires_grad


def test_linear_reset_parameters_redraws():
    layer = nn.Linear(5, 5)
    before = layer.weight.detach().numpy().copy()
    layer.reset_parameters()
    assert not np.allclose(before, layer.weight.detach().numpy())


def test_linear_errors_name_the_layer_and_shapes():
    layer = nn.Linear(4, 3)
    with pytest.raises(ValueError, match=r"Linear\(in_features=4\).*\(\*, 4\).*\(2, 5\)"):
        layer(em.randn(2, 5))
    with pytest.raises(TypeError, match="Linear: input dtype float64"):
        layer(em.randn(2, 4, dtype=em.float64))
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(-1, 3)
    with pytest.raises(ValueError, match="out_features"):
        nn.Linear(3, 2.5)


# -- activations -------------------------------------------------------------------------------
ACTIVATION_PAIRS = [
    ("ReLU", (), {}), ("ReLU", (), {"inplace": True}), ("ReLU6", (), {}), ("LeakyReLU", (), {}),
    ("LeakyReLU", (0.2,), {}), ("Sigmoid", (), {}), ("LogSigmoid", (), {}), ("Tanh", (), {}), ("ELU", (0.5,), {}),
    ("GELU", (), {}), ("GELU", (), {"approximate": "tanh"}), ("Softplus", (2.0, 3.0), {}), ("SiLU", (), {}),
    ("Hardtanh", (-0.5, 0.7), {}), ("Softmax", (1,), {}), ("LogSoftmax", (), {"dim": -1}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,args,kwargs", ACTIVATION_PAIRS)
def test_activation_modules_match_torch(name, args, kwargs, dtype):
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    data = _data(3, 5)
    data[np.abs(np.abs(data) - 0.5) < 1e-2] = 0.3  # away from Hardtanh's corners
    data[np.abs(data - 0.7) < 1e-2] = 0.3
    if kwargs.get("inplace"):  # torch's in-place ReLU cannot run on a leaf that requires grad
        theirs = getattr(torch.nn, name)(*args)
    theirs.to(torch.float64 if dtype == np.float64 else torch.float32)
    check_module(ours, theirs, data.astype(dtype), rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("name,args,kwargs", ACTIVATION_PAIRS)
def test_activation_module_gradcheck(name, args, kwargs):
    module = getattr(nn, name)(*args, **kwargs)
    x = em.tensor(_data(2, 3) * 0.7, dtype=em.float64, requires_grad=True)
    assert gradcheck(module, [x])


def test_activation_argument_errors():
    with pytest.raises(ValueError, match="GELU: approximate"):
        nn.GELU("fast")
    with pytest.raises(ValueError, match="Hardtanh: min_val"):
        nn.Hardtanh(1.0, -1.0)


def test_softmax_module_without_dim_uses_torchs_legacy_rule():
    data = _data(4, 3).astype(np.float32)
    with pytest.warns(UserWarning):
        y = nn.Softmax()(em.tensor(data))
    np.testing.assert_allclose(y.numpy().sum(axis=1), 1.0, rtol=1e-6)


# -- dropout -----------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_is_inverted_in_training(p):
    drop = nn.Dropout(p)
    y = drop(em.ones(200, 500)).numpy()
    assert abs((y == 0).mean() - p) < 0.01
    np.testing.assert_allclose(y[y != 0], 1 / (1 - p), rtol=1e-6)
    assert y.mean() == pytest.approx(1.0, abs=0.03)  # the expectation is preserved


def test_dropout_gradient_uses_the_same_mask():
    x = em.ones(50, 40, requires_grad=True)
    y = nn.Dropout(0.3)(x)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())


def test_dropout_is_identity_in_eval_and_edge_probabilities():
    drop = nn.Dropout(0.5).eval()
    x = em.randn(10, 10)
    np.testing.assert_array_equal(drop(x).numpy(), x.numpy())
    assert np.all(nn.Dropout(1.0)(em.ones(5)).numpy() == 0)
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).numpy(), x.numpy())


def test_dropout_is_seeded():
    em.manual_seed(3)
    a = nn.Dropout(0.5)(em.ones(100)).numpy()
    em.manual_seed(3)
    b = nn.Dropout(0.5)(em.ones(100)).numpy()
    np.testing.assert_array_equal(a, b)


def test_dropout_repr_and_errors_match_torch():
    assert repr(nn.Dropout(0.2)) == repr(torch.nn.Dropout(0.2))
    assert repr(nn.Dropout2d()) == repr(torch.nn.Dropout2d())
    with pytest.raises(ValueError, match=r"Dropout: dropout probability p must lie in \[0, 1\], got 1.5"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="Dropout2d"):
        nn.Dropout2d(-0.1)


def test_dropout2d_zeroes_whole_channels():
    y = nn.Dropout2d(0.4)(em.ones(40, 50, 3, 3)).numpy()
    per_channel = y.reshape(40, 50, 9)
    assert np.all(per_channel.min(axis=2) == per_channel.max(axis=2))  # each map all-zero or all-scaled
    assert abs((per_channel[..., 0] == 0).mean() - 0.4) < 0.05
    np.testing.assert_allclose(per_channel[per_channel != 0], 1 / 0.6, rtol=1e-6)
    x = em.randn(2, 3, 4, 4)
    np.testing.assert_array_equal(nn.Dropout2d(0.4).eval()(x).numpy(), x.numpy())


@pytest.mark.parametrize("cls", ["Sequential", "ModuleList"])
def test_sequence_containers_edit_like_torch(cls):
    def build(lib):
        make = getattr(lib, cls)
        layers = [lib.Linear(2, 2), lib.ReLU(), lib.Tanh(), lib.Sigmoid()]
        return make(*layers) if cls == "Sequential" else make(layers)

    ours, theirs = build(nn), build(torch.nn)
    for container, lib in ((ours, nn), (theirs, torch.nn)):
        container[1] = lib.ELU()
        del container[0]
        container.insert(1, lib.Identity())
        container.extend([lib.ReLU6()])
        del container[1:3]
    assert repr(ours) == repr(theirs)
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs] == ["ELU", "Sigmoid", "ReLU6"]
    assert list(ours._modules) == list(theirs._modules) == ["0", "1", "2"]
    assert type(ours[1:]) is type(ours) and len(ours[1:]) == 2 and ours[-1] is ours[2]
    with pytest.raises(IndexError, match="index 3 is out of range"):
        ours[3] = nn.ReLU()
    with pytest.raises(TypeError, match="not a Module"):
        ours[0] = 5


def test_sequential_head_replacement_keeps_order_and_trains():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 10))
    model[-1] = nn.Linear(8, 3)
    assert [n for n, _ in model.named_parameters()][-2:] == ["2.weight", "2.bias"]
    assert model(em.randn(5, 4)).shape == (5, 3)


def test_linear_passes_on_failures_that_are_not_the_inputs():
    layer = nn.Linear(4, 3)
    layer.bias = nn.Parameter(em.zeros(5))  # a broken layer, not a bad input
    with pytest.raises(ValueError, match="broadcast") as info:
        layer(em.randn(2, 4))
    assert "in_features" not in str(info.value)


def test_softmax_warning_points_at_the_caller():
    with pytest.warns(UserWarning, match="implicit dim") as record:
        nn.Softmax()(em.randn(2, 3))
        nn.functional.log_softmax(em.randn(2, 3))
    assert [w.filename for w in record] == [__file__, __file__]


def test_module_dict_like_torch():
    pairs = [("digit", (4, 10)), ("parity", (4, 2))]
    ours = nn.ModuleDict([(k, nn.Linear(*s)) for k, s in pairs])
    theirs = torch.nn.ModuleDict([(k, torch.nn.Linear(*s)) for k, s in pairs])
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.update({"extra": nn.ReLU()})
    theirs.update({"extra": torch.nn.ReLU()})
    assert type(ours.pop("digit")) is nn.Linear and type(theirs.pop("digit")) is torch.nn.Linear
    del ours["extra"], theirs["extra"]
    assert repr(ours) == repr(theirs) and list(ours) == ["parity"] and "parity" in ours
