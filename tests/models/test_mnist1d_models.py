"""The MNIST-1D baselines: structure against the paper's PyTorch code, learning, and the paper's table rows."""
import time

import numpy as np
import pytest
import torch

import ember as em
from ember import models, nn
from ember.models.mnist1d import MNIST1DGRU, MNIST1DMLP, PAPER_RECIPE, MNIST1DConvNet, mnist1d_setup
from ember.train import Trainer
from torch_parity import assert_close, check_module

# -- the paper's models (greydanus/mnist1d, notebooks/models.py), written in PyTorch -------------


class ConvBase(torch.nn.Module):
    def __init__(self, output_size=10, channels=25, linear_in=125):
        super().__init__()
        self.conv1 = torch.nn.Conv1d(1, channels, 5, stride=2, padding=1)
        self.conv2 = torch.nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.conv3 = torch.nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.linear = torch.nn.Linear(linear_in, output_size)

    def forward(self, x):
        x = x.view(-1, 1, x.shape[-1])
        h = self.conv3(self.conv2(self.conv1(x).relu()).relu()).relu()
        return self.linear(h.view(h.shape[0], -1))


class MLPBase(torch.nn.Module):
    def __init__(self, input_size=40, output_size=10, hidden_size=100, residual=True):
        super().__init__()
        self.residual = residual
        self.linear1 = torch.nn.Linear(input_size, hidden_size)
        self.linear2 = torch.nn.Linear(hidden_size, hidden_size)
        self.linear3 = torch.nn.Linear(hidden_size, output_size)

    def forward(self, x):
        h = self.linear1(x).relu()
        h2 = self.linear2(h).relu()
        return self.linear3(h + h2 if self.residual else h2)


class GRU(torch.nn.Module):
    def __init__(self, input_size=1, output_size=10, hidden_size=6, time_steps=40, bidirectional=True):
        super().__init__()
        self.gru = torch.nn.GRU(input_size, hidden_size, batch_first=True, bidirectional=bidirectional)
        flat_size = 2 * hidden_size * time_steps if bidirectional else hidden_size * time_steps
        self.linear = torch.nn.Linear(flat_size, output_size)
        self.bidirectional, self.hidden_size, self.time_steps = bidirectional, hidden_size, time_steps

    def forward(self, x, h0=None):
        x = x.view(*x.shape[:2], 1)
        k = 2 if self.bidirectional else 1
        h0 = torch.zeros(k, x.shape[0], self.hidden_size, dtype=x.dtype) if h0 is None else h0
        output, hn = self.gru(x, h0)
        return self.linear(output.reshape(-1, self.time_steps * k * self.hidden_size))


def _signals(n=6, length=40, seed=0):
    return np.random.default_rng(seed).standard_normal((n, length)).astype(np.float32)


def _n_params(module):
    return sum(int(np.prod(p.shape)) for p in module.parameters())


# -- structure -----------------------------------------------------------------------------------


def test_cnn_layer_lengths_and_output_shape():
    net = MNIST1DConvNet()
    x = em.tensor(_signals(8))
    h1 = net.conv1(x.unsqueeze(1))
    h2 = net.conv2(h1)
    h3 = net.conv3(h2)
    assert (h1.shape, h2.shape, h3.shape) == ((8, 25, 19), (8, 25, 10), (8, 25, 5))
    assert net.linear.in_features == 125
    assert net(x).shape == (8, 10)
    np.testing.assert_array_equal(net(x).detach().numpy(), net(x.unsqueeze(1)).detach().numpy())
    assert MNIST1DConvNet(num_classes=3, channels=8, input_length=64).linear.in_features == 8 * 8


def test_mlp_output_shape():
    net = MNIST1DMLP()
    x = em.tensor(_signals(5))
    assert net(x).shape == (5, 10)
    np.testing.assert_array_equal(net(x).detach().numpy(), net(x.unsqueeze(1)).detach().numpy())


@pytest.mark.parametrize("ours, theirs, count", [(MNIST1DConvNet, ConvBase, 5210), (MNIST1DMLP, MLPBase, 15210),
                                                 (MNIST1DGRU, GRU, 5134)])
def test_parameters_match_the_paper(ours, theirs, count):
    net, twin = ours(), theirs()
    # ``count`` is what the paper's benchmark notebook prints for ConvBase and MLPBase.
    assert _n_params(net) == _n_params(twin) == count
    assert {k: tuple(v.shape) for k, v in net.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in twin.state_dict().items()}


def test_cnn_loads_the_torch_state_dict_and_matches():
    net, twin = MNIST1DConvNet(), ConvBase()
    out = check_module(net, twin, _signals(7))  # forward, input and parameter gradients
    assert out.shape == (7, 10)
    assert_close(net(em.tensor(_signals(7)[:, None])), twin(torch.from_numpy(_signals(7))), name="(N, 1, L) input")


@pytest.mark.parametrize("residual", [True, False])
def test_mlp_loads_the_torch_state_dict_and_matches(residual):
    net, twin = MNIST1DMLP(residual=residual), MLPBase(residual=residual)
    check_module(net, twin, _signals(7))
    other = MLPBase(residual=not residual)
    other.load_state_dict(twin.state_dict())  # the same weights without (or with) the skip connection
    assert not np.allclose(net(em.tensor(_signals(7))).detach().numpy(),
                           other(torch.from_numpy(_signals(7))).detach().numpy(), atol=1e-4)


def test_gru_shapes():
    net = MNIST1DGRU()
    x = em.tensor(_signals(8))
    output, h_n = net.gru(x.unsqueeze(2))
    assert (output.shape, h_n.shape, net.linear.in_features) == ((8, 40, 12), (2, 8, 6), 480)
    assert net(x).shape == (8, 10)
    np.testing.assert_array_equal(net(x).detach().numpy(), net(x.unsqueeze(1)).detach().numpy())
    small = MNIST1DGRU(num_classes=3, hidden_size=4, input_length=16, bidirectional=False)
    assert small.linear.in_features == 64 and small(em.randn(5, 16)).shape == (5, 3)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_gru_loads_the_torch_state_dict_and_matches(bidirectional):
    net, twin = MNIST1DGRU(bidirectional=bidirectional), GRU(bidirectional=bidirectional)
    check_module(net.double(), twin.double(), _signals(7).astype(np.float64))  # float64: outputs and every gradient
    net, twin = MNIST1DGRU(bidirectional=bidirectional), GRU(bidirectional=bidirectional)
    check_module(net, twin, _signals(5, seed=1))
    assert_close(net(em.tensor(_signals(5)[:, None])), twin(torch.from_numpy(_signals(5))), name="(N, 1, L) input")


def test_gru_reads_the_sequence_in_both_directions():
    # The first sample reaches every forward output but, of the backward direction's, only the one at t = 0.
    net = MNIST1DGRU().double()
    x = _signals(2).astype(np.float64)
    y = x.copy()
    y[:, 0] += 1.0
    a, _ = net.gru(em.tensor(x).unsqueeze(2))
    b, _ = net.gru(em.tensor(y).unsqueeze(2))
    moved = np.abs(a.detach().numpy() - b.detach().numpy()).max(axis=0)  # (40, 12)
    assert (moved[:, :6] > 0).all() and (moved[0, 6:] > 0).all()  # it fades (1e-9 by t = 39) but never vanishes
    np.testing.assert_array_equal(moved[1:, 6:], 0.0)


def test_float64():
    net = MNIST1DConvNet().double()
    assert net(em.tensor(_signals(3).astype(np.float64))).dtype == np.float64


def test_repr_and_registry():
    assert "conv1): Conv1d(1, 25, kernel_size=(5,), stride=(2,), padding=(1,))" in repr(MNIST1DConvNet())
    assert "residual=False" in repr(MNIST1DMLP(residual=False))
    assert "(gru): GRU(1, 6, batch_first=True, bidirectional=True)" in repr(MNIST1DGRU())
    assert isinstance(models.get("mnist1d_gru", hidden_size=8), MNIST1DGRU)
    assert isinstance(models.get("mnist1d_cnn"), MNIST1DConvNet)
    assert isinstance(models.get("mnist1d_mlp", hidden_size=32), MNIST1DMLP)
    assert {"mnist1d_cnn", "mnist1d_mlp", "mnist1d_gru"} <= set(models.available())


def test_bad_input_and_arguments():
    with pytest.raises(ValueError, match=r"MNIST1DConvNet: expected signals of shape \(N, 40\).*got \(4, 41\)"):
        MNIST1DConvNet()(em.randn(4, 41))
    with pytest.raises(ValueError, match=r"MNIST1DConvNet: .*got \(4, 2, 40\)"):
        MNIST1DConvNet()(em.randn(4, 2, 40))
    with pytest.raises(ValueError, match=r"MNIST1DMLP: expected signals of shape \(N, 40\).*got \(40,\)"):
        MNIST1DMLP()(em.randn(40))
    with pytest.raises(ValueError, match="MNIST1DConvNet: channels must be a positive integer, got 0"):
        MNIST1DConvNet(channels=0)
    with pytest.raises(ValueError, match="input_length 2 is too short"):
        MNIST1DConvNet(input_length=2)
    with pytest.raises(ValueError, match="MNIST1DMLP: hidden_size must be a positive integer"):
        MNIST1DMLP(hidden_size=1.5)
    with pytest.raises(ValueError, match=r"MNIST1DGRU: expected signals of shape \(N, 40\).*got \(4, 40, 1\)"):
        MNIST1DGRU()(em.randn(4, 40, 1))
    with pytest.raises(ValueError, match="MNIST1DGRU: hidden_size must be a positive integer, got 0"):
        MNIST1DGRU(hidden_size=0)


# -- the recipe ------------------------------------------------------------------------------------


def test_setup_is_the_papers_recipe():
    setup = mnist1d_setup("cnn", seed=0)
    assert isinstance(setup.model, MNIST1DConvNet)
    group = setup.optimizer.param_groups[0]
    assert (group["lr"], group["weight_decay"]) == (PAPER_RECIPE["lr"], PAPER_RECIPE["weight_decay"]) == (1e-2, 0)
    assert len(setup.train_loader.dataset) == 4000 and len(setup.test_loader.dataset) == 1000
    assert setup.train_loader.batch_size == 100 and not setup.train_loader.shuffle
    assert setup.epochs * len(setup.train_loader) == PAPER_RECIPE["steps"] == 6000
    assert mnist1d_setup("mlp", steps=4001).epochs == 101  # rounded up to whole epochs
    assert isinstance(mnist1d_setup("gru").model, MNIST1DGRU)
    with pytest.raises(ValueError, match="model must be 'cnn', 'mlp' or 'gru', got 'lstm'"):
        mnist1d_setup("lstm")
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        mnist1d_setup("cnn", steps=0)


def test_setup_seed_fixes_the_initial_weights():
    a, b = mnist1d_setup("mlp", seed=3).model, mnist1d_setup("mlp", seed=3).model
    c = mnist1d_setup("mlp", seed=4).model
    np.testing.assert_array_equal(a.linear1.weight.detach().numpy(), b.linear1.weight.detach().numpy())
    assert not np.array_equal(a.linear1.weight.detach().numpy(), c.linear1.weight.detach().numpy())


@pytest.mark.parametrize("model", ["cnn", "mlp", "gru"])
def test_learns_on_a_small_subset(model):
    # 800 training signals, 200 steps of 50: far above chance (10%) on 200 unseen signals.
    setup = mnist1d_setup(model, seed=0, steps=200, batch_size=50, num_samples=1000)
    trainer = Trainer(setup.model, setup.optimizer, nn.CrossEntropyLoss())
    before = trainer.evaluate(setup.test_loader)["accuracy"]
    history = trainer.fit(setup.train_loader, epochs=setup.epochs)
    after = trainer.evaluate(setup.test_loader)["accuracy"]
    print(f"{model}: train loss {history['loss'][0]:.3f} -> {history['loss'][-1]:.3f}, "
          f"test accuracy {before:.3f} -> {after:.3f}")
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert before < 0.2 and after > 0.3  # measured: cnn 0.54, mlp 0.42, gru 0.52


# -- the paper's table, reproduced -----------------------------------------------------------------


def _paper_run(model, seed=0):
    setup = mnist1d_setup(model, seed=seed)
    trainer = Trainer(setup.model, setup.optimizer, nn.CrossEntropyLoss())
    started = time.perf_counter()
    trainer.fit(setup.train_loader, epochs=setup.epochs)
    accuracy = trainer.evaluate(setup.test_loader)["accuracy"]
    print(f"MNIST-1D {model}: test accuracy {accuracy:.3f} after {trainer.global_step} steps "
          f"in {time.perf_counter() - started:.0f} s")
    return accuracy


@pytest.mark.slow
def test_cnn_reaches_the_papers_cnn_row():
    # Paper: 94%. Measured, seeds 0-7: 0.913-0.946, mean 0.938; one seed's path moves with float rounding
    # (seed 0: 0.938 before the cross-entropy rewrite, 0.913 after), so the bound holds the mean of two.
    assert (_paper_run("cnn", seed=0) + _paper_run("cnn", seed=1)) / 2 >= 0.925


@pytest.mark.slow
def test_mlp_reaches_the_papers_mlp_row():
    # Paper: 68% (its notebook's rerun: 65%). Measured, seeds 0-7: 0.646-0.674, mean 0.659 (seed 0: 0.665-0.667).
    assert _paper_run("mlp") >= 0.64


@pytest.mark.slow
def test_gru_reaches_the_papers_gru_row():
    # Paper: 91%. Measured, seeds 0-2: 0.914 (0.918 after the cross_entropy rewrite), 0.892, 0.919, mean 0.908;
    # 56-108 s on 2 loaded cores, ~85% of it in the fused GRU op's per-step forward and backward loops.
    assert _paper_run("gru") >= 0.88
