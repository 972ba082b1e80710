"""MLP and the model registry: structure, PyTorch equivalence, learning, registry behaviour."""
import numpy as np
import pytest
import torch

import ember as em
from ember import models, nn, optim
from ember.models import MLP


def test_structure_names_and_parameter_count():
    net = MLP(64, hidden=(32, 16), out_features=10, dropout=0.25)
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    assert list(net.state_dict()) == ["0.weight", "0.bias", "3.weight", "3.bias", "6.weight", "6.bias"]
    assert sum(p.numel() for p in net.parameters()) == 64 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10
    assert [type(m).__name__ for m in MLP(4, 8, 2, activation="tanh")] == ["Linear", "Tanh", "Linear"]
    assert len(MLP(4, (), 2)) == 1  # no hidden layer: logistic / softmax regression


def test_images_are_flattened():
    net = MLP(64, (16,), 10)
    assert net(em.randn(5, 1, 8, 8)).shape == (5, 10)
    with pytest.raises(ValueError, match=r"expected input \(N, 64\).*got shape \(5, 1, 7, 7\)"):
        net(em.randn(5, 1, 7, 7))


@pytest.mark.parametrize("activation, torch_act", [("relu", torch.nn.ReLU), ("tanh", torch.nn.Tanh),
                                                    ("gelu", torch.nn.GELU), (nn.Sigmoid, torch.nn.Sigmoid)])
def test_matches_pytorch_twin_forward_and_backward(activation, torch_act):
    net = MLP(6, (5, 4), 3, activation=activation, dropout=0.5).eval()
    twin = torch.nn.Sequential(torch.nn.Linear(6, 5), torch_act(), torch.nn.Dropout(0.5), torch.nn.Linear(5, 4),
                               torch_act(), torch.nn.Dropout(0.5), torch.nn.Linear(4, 3)).eval()
    twin.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in net.state_dict().items()})
    x = np.random.default_rng(0).normal(size=(7, 6)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1, 2, 0])
    out = net(em.tensor(x))
    nn.CrossEntropyLoss()(out, em.tensor(y)).backward()
    ref = twin(torch.from_numpy(x))
    torch.nn.functional.cross_entropy(ref, torch.from_numpy(y)).backward()
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-6)
    for (name, p), q in zip(net.named_parameters(), twin.parameters(), strict=True):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=name)


def test_dropout_active_only_in_training():
    net = MLP(8, (64,), 2, dropout=0.5)
    x = em.randn(4, 8)
    assert not np.array_equal(net(x).detach().numpy(), net(x).detach().numpy())
    net.eval()
    np.testing.assert_array_equal(net(x).detach().numpy(), net(x).detach().numpy())


def test_loss_falls_on_a_tiny_batch():
    net = MLP(10, (32,), 3)
    opt = optim.Adam(net.parameters(), lr=1e-2)
    x, y = em.randn(16, 10), em.tensor(np.arange(16) % 3)
    losses = []
    for _ in range(50):
        opt.zero_grad()
        loss = nn.CrossEntropyLoss()(net(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0]


def test_bad_arguments():
    with pytest.raises(ValueError, match="positive integers"):
        MLP(0, (4,), 2)
    with pytest.raises(ValueError, match="dropout"):
        MLP(4, (4,), 2, dropout=1.0)
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        MLP(4, (4,), 2, activation="swish")
    with pytest.raises(TypeError, match="class or name"):
        MLP(4, (4,), 2, activation=nn.ReLU())


# -- registry ---------------------------------------------------------------------------------


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.setattr(models, "_REGISTRY", dict(models._REGISTRY))


def test_registry_get_register_available(registry):
    assert {"mlp", "digits_mlp"} <= set(models.available())
    net = models.get("MLP", in_features=4, hidden=(3,), out_features=2)
    assert isinstance(net, MLP) and net.out_features == 2
    default = models.get("digits_mlp")
    assert default(em.randn(2, 1, 8, 8)).shape == (2, 10)

    @models.register("tiny")
    def tiny(num_classes=3):
        return nn.Linear(2, num_classes)

    @models.register
    class Other(nn.Module):
        pass

    assert "tiny" in models.available() and "other" in models.available()
    assert models.get("tiny", num_classes=5).out_features == 5
    with pytest.raises(ValueError, match="already registered"):
        models.register("tiny")(lambda: None)
    with pytest.raises(KeyError, match="unknown model 'nope'; available: .*'mlp'"):
        models.get("nope")
