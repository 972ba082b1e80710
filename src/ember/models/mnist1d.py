"""The MNIST-1D baselines of Greydanus (2020) and the paper's training recipe.

S. Greydanus, "Scaling down Deep Learning" (arXiv:2011.14439, 2020) benchmarks small
models on MNIST-1D (length-40 signals, 10 classes, 4000 training / 1000 test samples).
Its results table reads: logistic regression 32%, MLP 68%, CNN 94%, GRU 91%, human 96%
test accuracy. The three models here are the repository's ``MLPBase``, ``ConvBase`` and
``GRU`` (``notebooks/models.py``), with the same parameter names, so a state dict exported
from them loads unchanged, and ``mnist1d_setup`` reproduces ``notebooks/train.py``: Adam with
lr 1e-2 and no weight decay, batches of 100 taken in order, 6000 steps.
"""
from __future__ import annotations

import math
from typing import NamedTuple

from ember import nn
from ember import random as _random
from ember.data.dataloader import DataLoader
from ember.data.datasets.mnist1d import mnist1d
from ember.models import register
from ember.nn import functional as F
from ember.optim import Adam

__all__ = ["MNIST1DConvNet", "MNIST1DGRU", "MNIST1DMLP", "MNIST1DSetup", "PAPER_RECIPE", "mnist1d_setup"]

#: notebooks/train.py's ``get_model_args`` with the benchmark's ``total_steps = 6000``.
PAPER_RECIPE = {"lr": 1e-2, "weight_decay": 0.0, "batch_size": 100, "steps": 6000}


def _signals(x, length: int, who: str):
    """(N, L) or (N, 1, L) → (N, L), with an error naming ``who`` for any other shape."""
    if x.ndim == 3 and x.shape[1] == 1:
        x = x.reshape(x.shape[0], x.shape[2])
    if x.ndim != 2 or x.shape[1] != length:
        raise ValueError(f"{who}: expected signals of shape (N, {length}) or (N, 1, {length}), got {tuple(x.shape)}")
    return x


# -- models ------------------------------------------------------------------------------------


@register("mnist1d_cnn")
class MNIST1DConvNet(nn.Module):
    """The paper's CNN row (≈94% test accuracy): ``ConvBase`` of the MNIST-1D repository.

    Three strided convolutions with ReLU, then a linear classifier on the flattened features:

        x (N, 1, 40) → conv1 (25, k5, s2, p1) → (N, 25, 19) → conv2 (25, k3, s2, p1) → (N, 25, 10)
          → conv3 (25, k3, s2, p1) → (N, 25, 5) → flatten (N, 125) → linear → logits (N, 10)

    Each length follows ⌊(L + 2p − k)/s⌋ + 1. With the defaults the model has 5210
    parameters, named ``conv1``, ``conv2``, ``conv3`` and ``linear`` as in the paper's code.
    Inputs may be (N, L) signals, as ``ember.data.datasets.mnist1d`` yields them, or (N, 1, L).

    Args:
        num_classes: output logits (10).
        channels: filters in every convolution (25).
        input_length: L, the signal length (40); it fixes the classifier's input size.

    >>> net = MNIST1DConvNet()
    >>> net(em.randn(8, 40)).shape
    (8, 10)
    """

    def __init__(self, num_classes: int = 10, channels: int = 25, input_length: int = 40):
        super().__init__()
        for arg, value in (("num_classes", num_classes), ("channels", channels), ("input_length", input_length)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"MNIST1DConvNet: {arg} must be a positive integer, got {value!r}")
        length = input_length
        for k in (5, 3, 3):
            length = (length + 2 - k) // 2 + 1
        if length < 1:
            raise ValueError(f"MNIST1DConvNet: input_length {input_length} is too short for three stride-2 "
                             "convolutions (need at least 3)")
        self.input_length = input_length
        self.conv1 = nn.Conv1d(1, channels, 5, stride=2, padding=1)
        self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.linear = nn.Linear(channels * length, num_classes)

    def forward(self, x):
        x = _signals(x, self.input_length, "MNIST1DConvNet").unsqueeze(1)
        h = F.relu(self.conv3(F.relu(self.conv2(F.relu(self.conv1(x))))))
        return self.linear(h.reshape(h.shape[0], -1))

    def extra_repr(self) -> str:
        return f"input_length={self.input_length}"


@register("mnist1d_mlp")
class MNIST1DMLP(nn.Module):
    """The paper's MLP row (≈68% test accuracy): ``MLPBase`` of the MNIST-1D repository.

    h₁ = ReLU(W₁x + b₁), h₂ = h₁ + ReLU(W₂h₁ + b₂), logits = W₃h₂ + b₃, with
    40 → 100 → 100 → 10 units (15 210 parameters, named ``linear1``, ``linear2``,
    ``linear3``). The skip connection around the second layer is the paper's code;
    ``residual=False`` drops it (h₂ = ReLU(W₂h₁ + b₂)), a plain three-layer MLP with the
    same parameters. Inputs are (N, 40) signals or (N, 1, 40).

    Args:
        input_size: features per signal (40).
        num_classes: output logits (10).
        hidden_size: units in both hidden layers (100).
        residual: add h₁ to the second hidden layer's output (True, as the paper).

    >>> net = MNIST1DMLP()
    >>> net(em.randn(8, 40)).shape
    (8, 10)
    """

    def __init__(self, input_size: int = 40, num_classes: int = 10, hidden_size: int = 100, residual: bool = True):
        super().__init__()
        for arg, value in (("input_size", input_size), ("num_classes", num_classes), ("hidden_size", hidden_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"MNIST1DMLP: {arg} must be a positive integer, got {value!r}")
        self.input_size, self.residual = input_size, bool(residual)
        self.linear1 = nn.Linear(input_size, hidden_size)
        self.linear2 = nn.Linear(hidden_size, hidden_size)
        self.linear3 = nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        h = F.relu(self.linear1(_signals(x, self.input_size, "MNIST1DMLP")))
        h2 = F.relu(self.linear2(h))
        return self.linear3(h + h2 if self.residual else h2)

    def extra_repr(self) -> str:
        return f"residual={self.residual}"


@register("mnist1d_gru")
class MNIST1DGRU(nn.Module):
    """The paper's GRU row (≈91% test accuracy): ``GRU`` of the MNIST-1D repository.

    A bidirectional GRU reads the signal one value per time step (input size 1, hidden size
    6 each way); a linear classifier sees all its outputs, flattened:

        x (N, 40) → (N, 40, 1) → gru (batch_first) → (N, 40, 2·6) → flatten (N, 480) → linear → logits (N, 10)

    with PyTorch's GRU cell, h_t = (1 − z) ⊙ n + z ⊙ h_{t−1} (see ``nn.GRU``), started from
    zeros. This is the paper's ``GRU(input_size=1, output_size=10, hidden_size=6,
    time_steps=40, bidirectional=True)``: 5134 parameters (324 in the GRU, 4810 in the
    classifier), named ``gru.weight_ih_l0``, ``gru.weight_ih_l0_reverse``, …, ``linear.weight``
    as in the paper's code. Classifying from all 40 outputs, not only the final state, is the
    paper's choice; it keeps the model close to the CNN's 5210 parameters. Inputs are (N, L)
    signals or (N, 1, L).

    Args:
        num_classes: output logits (10).
        hidden_size: GRU units per direction (6).
        input_length: L, the number of time steps (40); it fixes the classifier's input size.
        bidirectional: run a second GRU backwards in time and concatenate (True, as the paper).

    >>> net = MNIST1DGRU()
    >>> net(em.randn(8, 40)).shape
    (8, 10)
    """

    def __init__(self, num_classes: int = 10, hidden_size: int = 6, input_length: int = 40,
                 bidirectional: bool = True):
        super().__init__()
        for arg, value in (("num_classes", num_classes), ("hidden_size", hidden_size),
                           ("input_length", input_length)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"MNIST1DGRU: {arg} must be a positive integer, got {value!r}")
        self.input_length = input_length
        self.gru = nn.GRU(1, hidden_size, batch_first=True, bidirectional=bool(bidirectional))
        self.linear = nn.Linear(self.gru.num_directions * hidden_size * input_length, num_classes)

    def forward(self, x):
        x = _signals(x, self.input_length, "MNIST1DGRU")
        output, _ = self.gru(x.unsqueeze(2))
        return self.linear(output.reshape(output.shape[0], -1))

    def extra_repr(self) -> str:
        return f"input_length={self.input_length}"


# -- the paper's training recipe ------------------------------------------------------------------


class MNIST1DSetup(NamedTuple):
    """What ``mnist1d_setup`` builds: hand the first four to a ``Trainer`` and ``fit`` for ``epochs``."""

    model: nn.Module
    optimizer: Adam
    train_loader: DataLoader
    test_loader: DataLoader
    epochs: int


_MODELS = {"cnn": MNIST1DConvNet, "mlp": MNIST1DMLP, "gru": MNIST1DGRU}


def mnist1d_setup(model: str = "cnn", seed: int | None = 0, steps: int = PAPER_RECIPE["steps"],
                  batch_size: int = PAPER_RECIPE["batch_size"], lr: float = PAPER_RECIPE["lr"],
                  weight_decay: float = PAPER_RECIPE["weight_decay"], shuffle: bool = False,
                  **dataset_args) -> MNIST1DSetup:
    """The paper's benchmark run, ready for a ``Trainer``: model, Adam, the MNIST-1D loaders, epochs.

    The data is ``mnist1d()``'s standard split (4000 training and 1000 test signals from
    the package's seed 42; ``dataset_args`` such as ``num_samples`` or ``seed`` override
    it). As in the paper, the training batches are consecutive slices of the (already
    shuffled) training set, the same order every epoch; ``shuffle=True`` draws a fresh
    order per epoch instead. ``steps`` is rounded up to whole epochs (6000 steps of 100 =
    150 epochs). ``seed`` reseeds ember's global generator before the model is built
    (``None`` leaves it alone), which fixes the initial weights and any shuffling.

    Args:
        model: ``'cnn'`` (``MNIST1DConvNet``), ``'mlp'`` (``MNIST1DMLP``) or ``'gru'`` (``MNIST1DGRU``).

    >>> setup = mnist1d_setup("cnn", seed=0)
    >>> trainer = Trainer(setup.model, setup.optimizer, nn.CrossEntropyLoss(), callbacks=[ProgressBar()])
    >>> trainer.fit(setup.train_loader, epochs=setup.epochs)
    >>> trainer.evaluate(setup.test_loader)["accuracy"]
    0.93...
    """
    if model not in _MODELS:
        raise ValueError(f"mnist1d_setup: model must be 'cnn', 'mlp' or 'gru', got {model!r}")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"mnist1d_setup: steps must be a positive integer, got {steps!r}")
    if seed is not None:
        _random.manual_seed(seed)
    train_set, test_set = mnist1d(train=True, **dataset_args), mnist1d(train=False, **dataset_args)
    length = train_set.tensors[0].shape[1]
    net = MNIST1DMLP(input_size=length) if model == "mlp" else _MODELS[model](input_length=length)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=shuffle)
    epochs = math.ceil(steps / len(train_loader))
    return MNIST1DSetup(net, Adam(net.parameters(), lr=lr, weight_decay=weight_decay), train_loader,
                        DataLoader(test_set, batch_size=1000), epochs)
