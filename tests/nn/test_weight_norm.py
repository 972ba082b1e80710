"""weight_norm and spectral_norm, as hooks and as parametrizations, and custom parametrizations, against
PyTorch's after loading their state dicts."""
import warnings

import numpy as np
import pytest
import torch

import ember as em
from ember.nn.utils import (
    parametrizations,
    parametrize,
    remove_spectral_norm,
    remove_weight_norm,
    spectral_norm,
    weight_norm,
)
from torch_parity import assert_close


def twins(make_ours, make_theirs, wrap_ours, wrap_theirs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # PyTorch deprecates the hook form for parametrizations
        theirs = wrap_theirs(make_theirs())
    ours = wrap_ours(make_ours())
    ours.load_state_dict({k: em.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


LAYERS = [
    ("linear", lambda lib: lib.nn.Linear(5, 3), (4, 5)),
    ("conv2d", lambda lib: lib.nn.Conv2d(2, 3, 3), (2, 2, 6, 6)),
    ("conv_transpose2d", lambda lib: lib.nn.ConvTranspose2d(3, 2, 3), (2, 3, 4, 4)),
]


def compare_steps(ours, theirs, shape, steps=3):
    """Forward and gradients equal, then the same after SGD steps; returns nothing."""
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    opt_e, opt_t = em.optim.SGD(ours.parameters(), lr=0.01), torch.optim.SGD(theirs.parameters(), lr=0.01)
    for _ in range(steps):
        ye, yt = ours(em.tensor(x)), theirs(torch.tensor(x))
        assert_close(ye, yt, rtol=1e-4, atol=1e-5)
        opt_e.zero_grad()
        opt_t.zero_grad()
        (ye * ye).sum().backward()
        (yt * yt).sum().backward()
        for (name, p), q in zip(ours.named_parameters(), theirs.parameters(), strict=True):
            assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-5, name=name)
        opt_e.step()
        opt_t.step()


@pytest.mark.parametrize("dim", [0, None, 1])
@pytest.mark.parametrize("name, make, shape", LAYERS, ids=[row[0] for row in LAYERS])
def test_weight_norm_trains_as_torchs(name, make, shape, dim):
    ours, theirs = twins(lambda: make(em), lambda: make(torch), lambda m: weight_norm(m, dim=dim),
                         lambda m: torch.nn.utils.weight_norm(m, dim=dim))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.weight_g.shape == tuple(theirs.weight_g.shape)
    compare_steps(ours, theirs, shape)
    remove_weight_norm(ours)
    torch.nn.utils.remove_weight_norm(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert_close(ours.weight, theirs.weight)


@pytest.mark.parametrize("name, make, shape", LAYERS, ids=[row[0] for row in LAYERS])
def test_spectral_norm_trains_as_torchs(name, make, shape):
    ours, theirs = twins(lambda: make(em), lambda: make(torch), lambda m: spectral_norm(m, n_power_iterations=2),
                         lambda m: torch.nn.utils.spectral_norm(m, n_power_iterations=2))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    compare_steps(ours, theirs, shape)
    assert_close(ours.weight_u, theirs.weight_u, rtol=1e-4, atol=1e-5)  # the power iteration ran alike
    ours.eval()
    theirs.eval()
    u = ours.weight_u.numpy().copy()
    x = np.ones(shape, np.float32)
    assert_close(ours(em.tensor(x)), theirs(torch.tensor(x)), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(ours.weight_u.numpy(), u)  # no iteration in eval mode
    remove_spectral_norm(ours)
    torch.nn.utils.remove_spectral_norm(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_spectral_norm_bounds_the_largest_singular_value():
    em.manual_seed(0)
    layer = spectral_norm(em.nn.Linear(30, 20), n_power_iterations=20)
    layer(em.ones(1, 30))
    sigma = np.linalg.svd(layer.weight.detach().numpy(), compute_uv=False)[0]
    assert abs(sigma - 1.0) < 1e-3


def test_hooks_refuse_doubles_and_missing_names():
    layer = weight_norm(em.nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match="two weight_norm hooks"):
        weight_norm(layer)
    with pytest.raises(ValueError, match="weight_norm of 'bias' not found"):
        remove_weight_norm(layer, "bias")
    with pytest.raises(ValueError, match="n_power_iterations"):
        spectral_norm(em.nn.Linear(2, 2), n_power_iterations=0)


# -- the parametrization forms ----------------------------------------------------------------------
class Symmetric:
    """X ↦ triu(X) + triu(X, 1)ᵀ, in either framework's module class."""

    @staticmethod
    def of(lib):
        class Sym(lib.nn.Module):
            def forward(self, X):
                return X.triu() + X.triu(1).mT

        return Sym()


@pytest.mark.parametrize("dim", [0, None])
@pytest.mark.parametrize("name, make, shape", LAYERS, ids=[row[0] for row in LAYERS])
def test_parametrized_weight_norm_trains_as_torchs(name, make, shape, dim):
    ours, theirs = twins(lambda: make(em), lambda: make(torch), lambda m: parametrizations.weight_norm(m, dim=dim),
                         lambda m: torch.nn.utils.parametrizations.weight_norm(m, dim=dim))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert type(ours).__name__ == type(theirs).__name__
    compare_steps(ours, theirs, shape)
    parametrize.remove_parametrizations(ours, "weight")
    torch.nn.utils.parametrize.remove_parametrizations(theirs, "weight")
    assert list(ours.state_dict()) == list(theirs.state_dict()) and type(ours).__name__ == type(theirs).__name__
    assert_close(ours.weight, theirs.weight, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name, make, shape", LAYERS, ids=[row[0] for row in LAYERS])
def test_parametrized_spectral_norm_trains_as_torchs(name, make, shape):
    ours, theirs = twins(lambda: make(em), lambda: make(torch),
                         lambda m: parametrizations.spectral_norm(m, n_power_iterations=2),
                         lambda m: torch.nn.utils.parametrizations.spectral_norm(m, n_power_iterations=2))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    compare_steps(ours, theirs, shape)
    assert_close(ours.parametrizations.weight[0]._u, theirs.parametrizations.weight[0]._u, rtol=1e-4, atol=1e-5)
    ours.eval()
    theirs.eval()
    x = np.ones(shape, np.float32)
    assert_close(ours(em.tensor(x)), theirs(torch.tensor(x)), rtol=1e-4, atol=1e-5)


def test_a_custom_parametrization_registers_and_removes_as_torchs():
    weight = np.random.default_rng(1).standard_normal((3, 3)).astype(np.float32)
    ours, theirs = em.nn.Linear(3, 3), torch.nn.Linear(3, 3)
    ours.load_state_dict({k: em.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    for lib, layer, reg in ((em, ours, parametrize.register_parametrization),
                            (torch, theirs, torch.nn.utils.parametrize.register_parametrization)):
        with (em.no_grad() if lib is em else torch.no_grad()):
            layer.weight.copy_(lib.tensor(weight))
        reg(layer, "weight", Symmetric.of(lib))
    assert parametrize.is_parametrized(ours) and parametrize.is_parametrized(ours, "weight")
    assert not parametrize.is_parametrized(ours, "bias")
    assert_close(ours.weight, theirs.weight)
    np.testing.assert_allclose(ours.weight.detach().numpy(), ours.weight.detach().numpy().T)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = np.ones((2, 3), np.float32)
    ours(em.tensor(x)).sum().backward()
    theirs(torch.tensor(x)).sum().backward()
    assert_close(ours.parametrizations.weight.original.grad, theirs.parametrizations.weight.original.grad)
    parametrize.remove_parametrizations(ours, "weight", leave_parametrized=False)
    assert type(ours) is em.nn.Linear and not parametrize.is_parametrized(ours)
    np.testing.assert_allclose(ours.weight.detach().numpy(), weight)
    with pytest.raises(ValueError, match="does not have a parametrization on weight"):
        parametrize.remove_parametrizations(ours, "weight")
