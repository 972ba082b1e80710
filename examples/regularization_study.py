"""Regularisation study: one over-fitting network, six ways to fight its variance.

    python examples/regularization_study.py [--train-size 1000] [--epochs 60] [--out runs/regularization]

A wide MLP (40 → 256 → 256 → 10) learns MNIST-1D from a thousand signals: it reaches zero
training error while half of the dev signals stay wrong — high variance. The same network,
initialisation and batch order are then trained with

    none            plain cross-entropy J
    L2              J + (λ/2m) Σ_l ‖W^[l]‖²_F      (nn.utils.l2_penalty over the weights)
    L1              J + (λ₁/2m) Σ_l |W^[l]|         (nn.utils.l1_penalty over the weights)
    dropout         inverted dropout after each hidden layer
    early stopping  stop when the dev loss has not improved for 5 epochs; keep the best weights
    augmentation    every batch shifted by up to 3 positions, plus a little Gaussian noise

A table shows train and dev error per method with the bias/variance verdict
(``ember.train.diagnosis``), and ``dev_loss.png`` the dev cross-entropy per epoch of each
(penalties belong to training, so the dev loss is always the bare cross-entropy).
"""
import argparse
import sys
from pathlib import Path

import numpy as np

import ember as em
from ember import nn
from ember.data import DataLoader, TensorDataset, default_collate
from ember.data.datasets import mnist1d
from ember.nn.utils import l1_penalty, l2_penalty
from ember.train import EarlyStopping, Trainer
from ember.train.diagnosis import diagnose

METHODS = ("none", "L2", "L1", "dropout", "early stopping", "augmentation")
DEFAULTS = {"train_size": 1000, "epochs": 60, "hidden": 256, "l2": 10.0, "l1": 1.0, "dropout": 0.5, "seed": 0}


class Penalized:
    """Cross-entropy plus ``coef · penalty(weights)`` in training mode; the bare cross-entropy in evaluation."""

    def __init__(self, model, penalty, coef):
        self.model, self.penalty, self.coef = model, penalty, coef
        self.weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
        self.ce = nn.CrossEntropyLoss()

    def __call__(self, output, target):
        loss = self.ce(output, target)
        return loss + self.coef * self.penalty(self.weights) if self.model.training else loss


def shift_and_noise(batch, rng, shift=3, sigma=0.1):
    """Collate, then move each signal by a random offset in [-shift, shift] (edge fill) and add N(0, σ²) noise."""
    x, y = default_collate(batch)
    signals = x.numpy()
    n, length = signals.shape
    padded = np.pad(signals, ((0, 0), (shift, shift)), mode="edge")
    start = rng.integers(0, 2 * shift + 1, n)
    shifted = padded[np.arange(n)[:, None], start[:, None] + np.arange(length)]
    return em.tensor((shifted + rng.normal(0, sigma, shifted.shape)).astype(np.float32)), y


def load(train_size):
    """The first ``train_size`` MNIST-1D training signals, and the 1000 test signals as the dev set."""
    x, y = mnist1d(train=True).tensors
    return TensorDataset(x[:train_size], y[:train_size]), mnist1d(train=False)


def train_one(method, train_set, dev_set, cfg):
    """Train the wide MLP with one regularisation ``method``; returns (history, train error, dev error)."""
    em.manual_seed(cfg["seed"])
    dropout = cfg["dropout"] if method == "dropout" else 0.0
    model = em.models.MLP(40, hidden=(cfg["hidden"],) * 2, out_features=10, dropout=dropout)
    m = len(train_set)
    penalty = {"L2": (l2_penalty, cfg["l2"]), "L1": (l1_penalty, cfg["l1"])}.get(method)
    loss_fn = Penalized(model, penalty[0], penalty[1] / (2 * m)) if penalty else nn.CrossEntropyLoss()
    stop = [EarlyStopping("dev_loss", patience=5, restore_best_weights=True)] if method == "early stopping" else []
    rng = np.random.default_rng(cfg["seed"])
    collate = (lambda batch: shift_and_noise(batch, rng)) if method == "augmentation" else None
    trainer = Trainer(model, em.optim.Adam(model.parameters(), lr=1e-3), loss_fn, callbacks=stop, diagnose=False)
    loader = DataLoader(train_set, batch_size=32, shuffle=True, seed=cfg["seed"], collate_fn=collate)
    dev_loader = DataLoader(dev_set, batch_size=1000)
    history = trainer.fit(loader, dev_loader, epochs=cfg["epochs"])
    train_error = 1 - trainer.evaluate(DataLoader(train_set, batch_size=1000))["accuracy"]
    return history, train_error, 1 - trainer.evaluate(dev_loader)["accuracy"]


def study(methods=METHODS, **overrides):
    """Train every method under ``DEFAULTS`` updated by ``overrides``; returns {method: (history, train, dev error)}."""
    cfg = {**DEFAULTS, **overrides}
    train_set, dev_set = load(cfg["train_size"])
    return {method: train_one(method, train_set, dev_set, cfg) for method in methods}


def table(results) -> str:
    """One line per method: train error, dev error, their gap (the variance) and the bias/variance verdict."""
    lines = [f"{'method':<16}{'train err':>10}{'dev err':>10}{'gap':>8}  verdict"]
    for method, (_, train_err, dev_err) in results.items():
        verdict = diagnose(train_err, dev_err).verdict
        lines.append(f"{method:<16}{train_err:>10.3f}{dev_err:>10.3f}{dev_err - train_err:>8.3f}  {verdict}")
    return "\n".join(lines)


def plot_dev_loss(results, path):
    """The dev cross-entropy per epoch of every method, in one panel, saved as a PNG."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 4), layout="constrained")
    ax = fig.subplots()
    for method, (history, _, _) in results.items():
        ax.plot(history["epoch"], history["dev_loss"], label=method)
    ax.set(xlabel="epoch", ylabel="dev cross-entropy", title="dev loss per regularisation method")
    ax.grid(alpha=0.3)
    ax.legend()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


def main(argv=None):
    """Parse the options (each of ``DEFAULTS`` and ``--out``), run the study, print the table, draw the curves."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for key, value in DEFAULTS.items():
        parser.add_argument("--" + key.replace("_", "-"), type=type(value), default=value, help=f"(default {value})")
    parser.add_argument("--out", default="runs/regularization", help="where to write dev_loss.png")
    args = vars(parser.parse_args(argv))
    out = Path(args.pop("out"))
    results = study(**args)
    print(table(results))
    plot_dev_loss(results, out / "dev_loss.png")
    print(f"wrote {out / 'dev_loss.png'}")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
