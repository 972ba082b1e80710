"""Normalisation layers against their PyTorch twins: outputs, gradients, running statistics, state dicts."""
import inspect

import numpy as np
import pytest
import torch

import ember as em
from ember.nn.normalization import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    LayerNorm,
)
from ember.testing import gradcheck
from torch_parity import assert_close, check_module, copy_weights, to_torch

TOL = {np.float32: 1e-4, np.float64: 1e-10}
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}
SHAPES = {"BatchNorm1d": [(8, 4), (5, 4, 7)], "BatchNorm2d": [(4, 4, 5, 6)], "BatchNorm3d": [(3, 4, 2, 3, 4)],
          "InstanceNorm1d": [(3, 4, 9)], "InstanceNorm2d": [(3, 4, 5, 6)]}
OURS = {cls.__name__: cls for cls in (BatchNorm1d, BatchNorm2d, BatchNorm3d, InstanceNorm1d, InstanceNorm2d)}


def _data(*shape, seed=0, dtype=np.float32, scale=1.0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * 3 * scale + rng.standard_normal(shape[1])[:, None].reshape(
        (shape[1],) + (1,) * (len(shape) - 2)) * 2).astype(dtype)


def _pair(name, dtype, **kwargs):
    """Our layer and its PyTorch twin with the same arguments, γ and β drawn at random."""
    theirs = getattr(torch.nn, name)(**kwargs).to(TORCH_DTYPE[dtype])
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.randn(p.shape, dtype=p.dtype))
    return OURS.get(name, globals().get(name))(**kwargs, dtype=dtype), theirs


def _steps(ours, theirs, shape, dtype, steps=3):
    """Several forward/backward steps in the current mode; check_module compares everything after each."""
    for step in range(steps):
        data = _data(*shape, seed=step, dtype=dtype, scale=step + 1)
        check_module(ours, theirs, data, rtol=TOL[dtype], atol=TOL[dtype], seed=step, copy=step == 0)


# -- batch norm -------------------------------------------------------------------------------------------

BN_CASES = [(name, shape) for name in ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d") for shape in SHAPES[name]]
BN_OPTIONS = [{}, {"momentum": None}, {"momentum": 0.5}, {"affine": False}, {"bias": False},
              {"track_running_stats": False}, {"affine": False, "track_running_stats": False}, {"eps": 1e-2}]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, shape", BN_CASES)
@pytest.mark.parametrize("options", BN_OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
def test_batch_norm_training_then_eval_matches_torch(dtype, name, shape, options):
    ours, theirs = _pair(name, dtype, num_features=4, **options)
    _steps(ours, theirs, shape, dtype)  # training: batch statistics, running statistics updated
    if ours.track_running_stats:
        assert int(ours.num_batches_tracked) == int(theirs.num_batches_tracked) == 3
    ours.eval(), theirs.eval()
    _steps(ours, theirs, shape, dtype, steps=2)  # evaluation: running statistics (batch ones if untracked)


def test_batch_norm_loads_a_trained_torch_state_dict_and_matches_in_eval():
    theirs = torch.nn.BatchNorm2d(5)
    for step in range(4):
        theirs(to_torch(_data(6, 5, 3, 3, seed=step, scale=step + 1)))
    theirs.eval()
    ours = BatchNorm2d(5)
    copy_weights(ours, theirs)
    assert int(ours.num_batches_tracked) == 4 and ours.num_batches_tracked.dtype == np.int64
    x = _data(2, 5, 4, 4, seed=9)
    assert_close(ours.eval()(em.tensor(x)), theirs(to_torch(x)), rtol=1e-5, atol=1e-5)


def test_batch_norm_buffers_and_state_dict_keys_match_torch():
    for options in ({}, {"track_running_stats": False}, {"affine": False}, {"bias": False}):
        ours, theirs = BatchNorm2d(3, **options), torch.nn.BatchNorm2d(3, **options)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        for key, value in theirs.state_dict().items():
            assert_close(ours.state_dict()[key], value, name=key, check_dtype=False)
    bn = BatchNorm1d(3).double()
    assert bn.running_mean.dtype == np.float64 and bn.num_batches_tracked.dtype == np.int64


def test_batch_norm_eval_is_a_fixed_affine_map_independent_of_the_batch():
    bn = BatchNorm1d(3)
    for step in range(3):
        bn(em.tensor(_data(8, 3, seed=step)))
    bn.eval()
    x = _data(6, 3, seed=5)
    alone = np.concatenate([bn(em.tensor(x[i : i + 1])).detach().numpy() for i in range(6)])
    assert_close(bn(em.tensor(x)), alone)
    scale = bn.weight.detach().numpy() / np.sqrt(bn.running_var.numpy() + bn.eps)
    assert_close(bn(em.tensor(x)), (x - bn.running_mean.numpy()) * scale + bn.bias.detach().numpy(), rtol=1e-5)


def test_batch_norm_layer_gradcheck():
    bn = BatchNorm2d(3).double()
    with em.no_grad():
        bn.weight.copy_(np.array([0.5, 1.5, -2.0]))
        bn.bias.copy_(np.array([0.1, -0.3, 0.2]))
    x = em.tensor(_data(3, 3, 2, 2, dtype=np.float64), requires_grad=True)
    assert gradcheck(lambda x, w, b: bn(x), [x, bn.weight, bn.bias])


# -- instance norm ----------------------------------------------------------------------------------------

IN_OPTIONS = [{}, {"affine": True}, {"affine": True, "bias": False}, {"track_running_stats": True},
              {"affine": True, "track_running_stats": True, "momentum": 0.4},
              {"track_running_stats": True, "momentum": None}]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["InstanceNorm1d", "InstanceNorm2d"])
@pytest.mark.parametrize("options", IN_OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
def test_instance_norm_training_then_eval_matches_torch(dtype, name, options):
    ours, theirs = _pair(name, dtype, num_features=4, **options)
    _steps(ours, theirs, SHAPES[name][0], dtype)
    ours.eval(), theirs.eval()
    _steps(ours, theirs, SHAPES[name][0], dtype, steps=2)


def test_instance_norm_accepts_unbatched_input_as_torch():
    ours, theirs = _pair("InstanceNorm2d", np.float32, num_features=3, affine=True, track_running_stats=True)
    check_module(ours, theirs, _data(1, 3, 5, 4)[0], rtol=1e-4, atol=1e-5)


def test_instance_norm_without_parameters_only_warns_about_channels_as_torch():
    with pytest.warns(UserWarning, match=r"InstanceNorm2d\(num_features=3\).*got \(2, 5, 4, 4\)"):
        y = InstanceNorm2d(3)(em.tensor(_data(2, 5, 4, 4)))
    assert_close(y, torch.nn.functional.instance_norm(to_torch(_data(2, 5, 4, 4))))


# -- layer and group norm --------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("normalized_shape, shape", [(6, (4, 6)), ((6,), (2, 3, 6)), ((3, 4), (2, 5, 3, 4)),
                                                     ([5, 3, 4], (2, 5, 3, 4))])
@pytest.mark.parametrize("options", [{}, {"elementwise_affine": False}, {"bias": False}, {"eps": 1e-3}])
def test_layer_norm_matches_torch(dtype, normalized_shape, shape, options):
    ours, theirs = _pair("LayerNorm", dtype, normalized_shape=normalized_shape, **options)
    for mode in (True, False):
        ours.train(mode), theirs.train(mode)
        _steps(ours, theirs, shape, dtype, steps=2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("groups, shape", [(3, (4, 6, 5, 5)), (2, (3, 6, 7)), (1, (2, 6, 3, 3)), (6, (2, 6, 3, 3)),
                                           (2, (5, 6))])
@pytest.mark.parametrize("options", [{}, {"affine": False}, {"bias": False}])
def test_group_norm_matches_torch(dtype, groups, shape, options):
    ours, theirs = _pair("GroupNorm", dtype, num_groups=groups, num_channels=6, **options)
    for mode in (True, False):
        ours.train(mode), theirs.train(mode)
        _steps(ours, theirs, shape, dtype, steps=2)


def test_layer_and_group_norm_gradcheck():
    ln, gn = LayerNorm((2, 3)).double(), GroupNorm(2, 4).double()
    for layer in (ln, gn):
        with em.no_grad():
            layer.weight.copy_(np.random.default_rng(1).standard_normal(layer.weight.shape))
            layer.bias.copy_(np.random.default_rng(2).standard_normal(layer.bias.shape))
    x = em.tensor(_data(2, 4, 2, 3, dtype=np.float64), requires_grad=True)
    assert gradcheck(lambda x, w, b: ln(x), [x, ln.weight, ln.bias])
    assert gradcheck(lambda x, w, b: gn(x), [x, gn.weight, gn.bias])


# -- repr and errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, kwargs", [
    ("BatchNorm1d", {"num_features": 3}), ("BatchNorm2d", {"num_features": 16, "momentum": None}),
    ("BatchNorm2d", {"num_features": 4, "affine": False, "track_running_stats": False, "eps": 1e-3}),
    ("BatchNorm3d", {"num_features": 4, "bias": False}), ("InstanceNorm1d", {"num_features": 5}),
    ("InstanceNorm2d", {"num_features": 3, "affine": True, "track_running_stats": True}),
    ("LayerNorm", {"normalized_shape": 10}), ("LayerNorm", {"normalized_shape": (3, 4), "bias": False}),
    ("LayerNorm", {"normalized_shape": [4], "elementwise_affine": False, "eps": 1e-6}),
    ("GroupNorm", {"num_groups": 2, "num_channels": 4}), ("GroupNorm", {"num_groups": 3, "num_channels": 6,
                                                                       "affine": False}),
])
def test_repr_matches_torch(name, kwargs):
    ours, theirs = _pair(name, np.float32, **kwargs)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("layer, shape, message", [
    (BatchNorm2d(16), (8, 3, 32, 32), r"BatchNorm2d\(num_features=16\): expected input of shape \(N, C, H, W\) "
                                      r"with C = 16, got \(8, 3, 32, 32\)"),
    (BatchNorm2d(16), (8, 16, 32), r"BatchNorm2d\(num_features=16\): expected 4D input .*got 3D input of shape "
                                   r"\(8, 16, 32\)"),
    (BatchNorm1d(4), (8, 4, 2, 2), r"BatchNorm1d\(num_features=4\): expected 2D or 3D input"),
    (BatchNorm1d(4), (1, 4), r"BatchNorm1d\(num_features=4\): expected more than 1 value per channel when "
                             r"training, got input of shape \(1, 4\)"),
    (BatchNorm2d(4), (1, 4, 1, 1), r"expected more than 1 value per channel"),
    (InstanceNorm2d(3, affine=True), (2, 5, 4, 4), r"InstanceNorm2d\(num_features=3\): expected input of shape "
                                                   r"\(N, C, H, W\) with C = 3, got \(2, 5, 4, 4\)"),
    (InstanceNorm2d(3), (3, 4, 5), None),  # unbatched (C, H, W) is fine
    (InstanceNorm2d(3), (2, 3), r"InstanceNorm2d\(num_features=3\): expected 3D or 4D input"),
    (LayerNorm(4), (2, 5), r"LayerNorm\(normalized_shape=\(4,\)\): expected input of shape \(\*, 4\), got \(2, 5\)"),
    (GroupNorm(2, 4), (2, 6, 3), r"GroupNorm\(num_groups=2, num_channels=4\): expected input of shape \(N, 4, \*\), "
                                 r"got \(2, 6, 3\)"),
])
def test_bad_input_errors_name_the_layer_and_shapes(layer, shape, message):
    x = em.randn(*shape)
    if message is None:
        assert layer(x).shape == shape
        return
    with pytest.raises(ValueError, match=message):
        layer(x)


def test_bad_arguments_errors():
    with pytest.raises(ValueError, match=r"GroupNorm: num_channels \(6\) must be divisible by num_groups \(4\)"):
        GroupNorm(4, 6)
    with pytest.raises(ValueError, match="BatchNorm2d: num_features must be a positive integer, got 0"):
        BatchNorm2d(0)
    with pytest.raises(ValueError, match="LayerNorm: normalized_shape must be a positive int"):
        LayerNorm((3, 0))


def test_one_value_per_channel_is_fine_in_eval():
    bn = BatchNorm1d(4).eval()
    assert bn(em.randn(1, 4)).shape == (1, 4)


# -- signatures ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["batch_norm", "instance_norm", "layer_norm", "group_norm"])
def test_functional_signature_and_export_match_torch(name):
    from ember.nn import functional as F

    ours = [(p.name, p.default) for p in inspect.signature(getattr(F, name)).parameters.values()]
    theirs = [(p.name, p.default) for p in inspect.signature(getattr(torch.nn.functional, name)).parameters.values()]
    assert ours == theirs and name in F.__all__


@pytest.mark.parametrize("name", ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d",
                                  "LayerNorm", "GroupNorm"])
def test_layer_signature_and_export_match_torch(name):
    from ember import nn

    def params(cls):
        return [(p.name, p.default, p.kind) for p in inspect.signature(cls.__init__).parameters.values()]

    assert params(getattr(nn, name)) == params(getattr(torch.nn, name))
