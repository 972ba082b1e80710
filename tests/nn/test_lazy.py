"""Lazy layers: shapes fixed by the first input, then the eager layer (PyTorch parity, optimisers, state dicts)."""
import math

import numpy as np
import pytest
import torch

import ember as em
from ember import nn, optim
from ember.nn.lazy import is_lazy
from torch_parity import assert_close, check_module, copy_weights

rng = np.random.default_rng(0)

# (ember lazy, torch lazy, constructor args, input shape)
CASES = {
    "LazyLinear": (nn.LazyLinear, torch.nn.LazyLinear, (6,), (4, 5)),
    "LazyLinear-nobias": (nn.LazyLinear, torch.nn.LazyLinear, (6, False), (2, 3, 5)),
    "LazyConv1d": (nn.LazyConv1d, torch.nn.LazyConv1d, (4, 3), (2, 3, 9)),
    "LazyConv2d": (nn.LazyConv2d, torch.nn.LazyConv2d, (4, 3, 2, 1), (2, 3, 7, 8)),
    "LazyConv2d-groups": (nn.LazyConv2d, torch.nn.LazyConv2d, (4, 3, 1, 0, 1, 2), (2, 6, 5, 5)),
    "LazyConv3d": (nn.LazyConv3d, torch.nn.LazyConv3d, (2, 2), (1, 3, 4, 5, 4)),
    "LazyConvTranspose1d": (nn.LazyConvTranspose1d, torch.nn.LazyConvTranspose1d, (4, 3, 2), (2, 3, 6)),
    "LazyConvTranspose2d": (nn.LazyConvTranspose2d, torch.nn.LazyConvTranspose2d, (4, 2, 2), (2, 3, 4, 5)),
    "LazyBatchNorm1d": (nn.LazyBatchNorm1d, torch.nn.LazyBatchNorm1d, (), (8, 5)),
    "LazyBatchNorm2d": (nn.LazyBatchNorm2d, torch.nn.LazyBatchNorm2d, (), (4, 3, 5, 5)),
    "LazyBatchNorm3d": (nn.LazyBatchNorm3d, torch.nn.LazyBatchNorm3d, (1e-3, None), (2, 3, 2, 4, 4)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_lazy_layer_becomes_its_eager_twin_and_matches_torch(case):
    ours_cls, torch_cls, args, shape = CASES[case]
    ours, theirs = ours_cls(*args, dtype=np.float64), torch_cls(*args, dtype=torch.float64)
    assert repr(ours) == repr(theirs)
    assert ours.has_uninitialized_params() and isinstance(ours.weight, nn.UninitializedParameter)
    x = rng.standard_normal(shape)
    ours(em.tensor(x))
    theirs(torch.tensor(x))
    assert type(ours).__name__ == type(theirs).__name__ and repr(ours) == repr(theirs)
    assert not any(is_lazy(t) for t in [*ours.parameters(), *ours.buffers()])
    assert [(n, p.shape) for n, p in ours.named_parameters()] == [(n, tuple(p.shape)) for n, p in
                                                                 theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    check_module(ours, theirs, x)


@pytest.mark.parametrize("case", ["LazyLinear", "LazyConv2d", "LazyConvTranspose1d"])
def test_materialised_weights_follow_pytorch_default_init(case):
    ours_cls, _, args, shape = CASES[case]
    layer = ours_cls(*args)
    layer(em.randn(*shape))
    w = layer.weight.detach().numpy()
    fan_in = w.shape[1] * int(np.prod(w.shape[2:]))
    bound = 1 / math.sqrt(fan_in)
    assert np.abs(w).max() <= bound and w.std() > bound / 4  # U(−1/√fan_in, 1/√fan_in), not zeros
    b = layer.bias.detach().numpy()
    assert np.abs(b).max() <= bound and np.any(b != 0)


def test_lazy_batch_norm_materialises_statistics_and_affine():
    bn = nn.LazyBatchNorm2d()
    bn.eval()
    bn(em.randn(2, 4, 3, 3))
    assert bn.num_features == 4 and type(bn) is nn.BatchNorm2d
    assert bn.weight.tolist() == [1.0] * 4 and bn.bias.tolist() == [0.0] * 4
    assert bn.running_mean.tolist() == [0.0] * 4 and bn.running_var.tolist() == [1.0] * 4
    assert int(bn.num_batches_tracked.item()) == 0


def _nets():
    theirs = torch.nn.Sequential(torch.nn.LazyConv2d(4, 3, padding=1), torch.nn.LazyBatchNorm2d(), torch.nn.ReLU(),
                                 torch.nn.Flatten(), torch.nn.LazyLinear(8), torch.nn.ReLU(), torch.nn.LazyLinear(3))
    ours = nn.Sequential(nn.LazyConv2d(4, 3, padding=1), nn.LazyBatchNorm2d(), nn.ReLU(), nn.Flatten(),
                         nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(3))
    return ours, theirs


@pytest.mark.parametrize("optimizer_before_dry_run", [False, True])
def test_optimiser_after_dry_run_trains_as_torch(optimizer_before_dry_run):
    ours, theirs = _nets()
    x = rng.standard_normal((4, 2, 5, 5)).astype(np.float32)
    y = rng.integers(0, 3, 4)
    if optimizer_before_dry_run:  # the parameters are materialised in place, so this works too
        opt = optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    ours(em.tensor(x))
    theirs(torch.tensor(x))
    copy_weights(ours, theirs)
    if not optimizer_before_dry_run:
        opt = optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    topt = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    for _ in range(3):
        opt.zero_grad()
        nn.CrossEntropyLoss()(ours(em.tensor(x)), em.tensor(y)).backward()
        opt.step()
        topt.zero_grad()
        torch.nn.CrossEntropyLoss()(theirs(torch.tensor(x)), torch.tensor(y)).backward()
        topt.step()
    for (name, p), tp in zip(ours.state_dict().items(), theirs.state_dict().values(), strict=True):
        assert_close(p, tp, name=name, check_dtype=False, rtol=1e-4, atol=1e-5)


def test_state_dict_round_trip_and_loading_into_an_unrun_lazy_layer():
    ours, theirs = _nets()
    x = rng.standard_normal((2, 2, 5, 5)).astype(np.float32)
    theirs(torch.tensor(x))
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    for lazy in (nn.LazyLinear(8), nn.LazyConv2d(4, 3, padding=1), nn.LazyBatchNorm2d()):  # a lazy root takes shapes
        key = {"LazyLinear": "4.", "LazyConv2d": "0.", "LazyBatchNorm2d": "1."}[type(lazy).__name__]
        lazy.load_state_dict({k[len(key):]: v for k, v in state.items() if k.startswith(key)})
        assert not type(lazy).__name__.startswith("Lazy")
    ours(em.tensor(x))
    ours.load_state_dict(state)
    again = _nets()[0]
    again(em.tensor(x))
    again.load_state_dict(ours.state_dict())
    ours.eval(), again.eval(), theirs.eval()
    assert_close(again(em.tensor(x)), theirs(torch.tensor(x)))


def test_a_model_of_unrun_lazy_layers_loads_a_torch_state_dict():
    theirs = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    ours = nn.Sequential(nn.LazyLinear(5), nn.ReLU(), nn.LazyLinear(3))
    copy_weights(ours, theirs)  # before any forward: the shapes come from the state dict
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    assert_close(ours(em.tensor(x)), theirs(torch.from_numpy(x)).detach())


def test_dtype_set_before_the_dry_run_is_kept():
    layer = nn.LazyLinear(3).double()
    layer(em.randn(2, 4, dtype=em.float64))
    assert layer.weight.dtype == np.float64 and layer.weight.shape == (3, 4)


def test_lazy_conv_rejects_channels_not_divisible_by_groups():
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.LazyConv2d(4, 3, groups=2)(em.randn(1, 3, 5, 5))


def test_uninitialized_parameter_materialises_in_place():
    p = nn.UninitializedParameter()
    assert repr(p) == "<UninitializedParameter>"
    p.materialize((3, 4))
    assert type(p) is nn.Parameter and p.shape == (3, 4) and p.requires_grad


# -- nn.modules import paths ------------------------------------------------------------------------

MODULE_PATHS = {
    "module": ["Module"], "linear": ["Identity", "Linear", "Bilinear", "LazyLinear"],
    "conv": ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "LazyConv2d"],
    "activation": ["ReLU", "Softmax", "MultiheadAttention"], "loss": ["CrossEntropyLoss", "MSELoss"],
    "container": ["Sequential", "ModuleList", "ModuleDict"], "batchnorm": ["BatchNorm2d", "LazyBatchNorm1d"],
    "instancenorm": ["InstanceNorm2d"], "normalization": ["LayerNorm", "GroupNorm"], "dropout": ["Dropout"],
    "rnn": ["RNN", "LSTM", "GRU", "LSTMCell"], "pooling": ["MaxPool2d", "AvgPool3d", "AdaptiveAvgPool2d"],
    "sparse": ["Embedding"], "padding": ["ZeroPad2d", "ReflectionPad1d"], "pixelshuffle": ["PixelShuffle"],
    "upsampling": ["Upsample", "UpsamplingBilinear2d"], "flatten": ["Flatten", "Unflatten"], "fold": ["Fold"],
    "distance": ["PairwiseDistance", "CosineSimilarity"], "lazy": ["LazyModuleMixin"], "transformer": [],
}


@pytest.mark.parametrize("path", sorted(MODULE_PATHS))
def test_nn_modules_paths_resolve_to_the_ember_layers(path):
    import importlib

    ours = importlib.import_module(f"ember.nn.modules.{path}")
    theirs = importlib.import_module(f"torch.nn.modules.{path}")
    for name in MODULE_PATHS[path]:
        assert hasattr(theirs, name), name
        assert getattr(ours, name) is getattr(nn, name, None) or name == "LazyModuleMixin", name
    for name in ours.__all__:  # every re-export is an ember layer, and the package exports it too
        assert getattr(nn.modules, name) is getattr(ours, name)
        assert getattr(nn, name, getattr(ours, name)) is getattr(ours, name)
    from ember.nn.modules.linear import Linear

    assert Linear is nn.Linear
