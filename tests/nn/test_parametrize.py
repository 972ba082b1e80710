"""Parametrizations: register/remove against PyTorch's, and the parametrized weight and spectral norms
trained side by side with PyTorch's after loading their state dicts."""
import numpy as np
import pytest
import torch

import ember as em
from ember.nn.utils import parametrizations, parametrize
from torch_parity import assert_close


class Symmetric:
    """X ↦ triu(X) + triu(X, 1)ᵀ, in either framework's module class."""

    @staticmethod
    def of(lib):
        class Sym(lib.nn.Module):
            def forward(self, X):
                return X.triu() + X.triu(1).mT

        return Sym()


def loaded_twins(make, wrap_ours, wrap_theirs):
    theirs = wrap_theirs(make(torch))
    ours = wrap_ours(make(em))
    ours.load_state_dict({k: em.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


def train_side_by_side(ours, theirs, shape, steps=3):
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


LAYERS = [
    ("linear", lambda lib: lib.nn.Linear(5, 3), (4, 5)),
    ("conv2d", lambda lib: lib.nn.Conv2d(2, 3, 3), (2, 2, 6, 6)),
    ("conv_transpose2d", lambda lib: lib.nn.ConvTranspose2d(3, 2, 3), (2, 3, 4, 4)),
]


@pytest.mark.parametrize("dim", [0, None])
@pytest.mark.parametrize("name, make, shape", LAYERS, ids=[row[0] for row in LAYERS])
def test_parametrized_weight_norm_trains_as_torchs(name, make, shape, dim):
    ours, theirs = loaded_twins(make, lambda m: parametrizations.weight_norm(m, dim=dim),
                                lambda m: torch.nn.utils.parametrizations.weight_norm(m, dim=dim))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert type(ours).__name__ == type(theirs).__name__
    train_side_by_side(ours, theirs, shape)
    parametrize.remove_parametrizations(ours, "weight")
    torch.nn.utils.parametrize.remove_parametrizations(theirs, "weight")
    assert list(ours.state_dict()) == list(theirs.state_dict()) and type(ours).__name__ == type(theirs).__name__
    assert_close(ours.weight, theirs.weight, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name, make, shape", LAYERS, ids=[row[0] for row in LAYERS])
def test_parametrized_spectral_norm_trains_as_torchs(name, make, shape):
    ours, theirs = loaded_twins(make, lambda m: parametrizations.spectral_norm(m, n_power_iterations=2),
                                lambda m: torch.nn.utils.parametrizations.spectral_norm(m, n_power_iterations=2))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    train_side_by_side(ours, theirs, shape)
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
