"""``ember search``: random hyperparameter search, coarse to fine, on the demo model (LeNet-5, 32×32 digits).

The data and model are those of ``ember demo``: the bundled digits resized to 32×32, split
70/10/20 (stratified) and normalised with μ, σ of the training part; LeNet-5 trained with
Adam under a cosine learning-rate schedule. Each trial trains a fresh model for a few epochs
(from the same initialisation, so only the hyperparameters differ) and scores its dev
accuracy; the test part is never looked at. The space (``default_space``):

    lr               LogUniform(1e-4, 3e-2)          Adam's learning rate α, log scale
    beta1            OneMinusLogUniform(0.8, 0.99)   Adam's β₁, log scale on 1−β₁
    batch_size       Choice([16, 32, 64, 128])
    label_smoothing  Uniform(0, 0.2)

A coarse round of ``--trials`` trials, then ``--zoom-rounds`` rounds zoomed around the
``--zoom-top`` best. Writes ``results.csv`` and ``search.png`` under ``--out``.

>>> results = search(trials=8, epochs=2, out="runs/search")     # doctest: +SKIP
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import ember as em
from ember import models
from ember.apps.arguments import non_negative_int, positive_int
from ember.apps.train import classifier_trainer, split_and_normalize
from ember.backend import to_numpy
from ember.data import DataLoader, TensorDataset, datasets
from ember.train.search import Choice, LogUniform, OneMinusLogUniform, RandomSearch, SearchResults, Uniform

__all__ = ["DigitsObjective", "add_arguments", "default_space", "load_digits_splits", "run", "search"]


def default_space() -> dict:
    """The search space of ``ember search`` (see the module docstring)."""
    return {"lr": LogUniform(1e-4, 3e-2), "beta1": OneMinusLogUniform(0.8, 0.99),
            "batch_size": Choice([16, 32, 64, 128]), "label_smoothing": Uniform(0.0, 0.2)}


@functools.lru_cache(maxsize=2)
def load_digits_splits(seed: int = 0) -> dict:
    """The demo's train and dev parts as NumPy arrays ``{'train': (X, y), 'dev': (X, y)}``, X: (N, 1, 32, 32).

    Cached per seed (loading and resizing take seconds): treat the arrays as read-only.
    """
    (X_tr, y_tr), (X_dev, y_dev), _ = split_and_normalize(*datasets.load("digits", 32).tensors, seed)
    return {"train": (to_numpy(X_tr), to_numpy(y_tr)), "dev": (to_numpy(X_dev), to_numpy(y_dev))}


class DigitsObjective:
    """Train LeNet-5 with ``params`` for ``epochs`` epochs and return its dev accuracy.

    A plain class holding NumPy arrays, so it pickles and trials can run in other processes.

    >>> objective = DigitsObjective(load_digits_splits(), epochs=2)
    >>> objective({"lr": 2e-3, "beta1": 0.9, "batch_size": 32, "label_smoothing": 0.1})   # doctest: +SKIP
    0.96...
    """

    def __init__(self, data: dict, epochs: int = 3, seed: int = 0):
        if epochs < 1:
            raise ValueError(f"DigitsObjective: epochs must be >= 1, got {epochs}")
        self.data, self.epochs, self.seed = data, int(epochs), seed

    def __call__(self, params: dict) -> float:
        em.manual_seed(self.seed)  # every trial starts from the same weights and batch order
        model = models.build("lenet5", num_classes=10)
        trainer = classifier_trainer(model, params["lr"], self.epochs, params.get("label_smoothing", 0.0),
                                     betas=(params.get("beta1", 0.9), 0.999), diagnose=False)
        train = DataLoader(TensorDataset(*self.data["train"]), batch_size=int(params["batch_size"]), shuffle=True,
                           seed=self.seed)
        trainer.fit(train, DataLoader(TensorDataset(*self.data["dev"]), batch_size=512), epochs=self.epochs)
        return float(trainer.history.last["dev_accuracy"])


def search(trials: int = 10, epochs: int = 3, seed: int = 0, zoom_rounds: int = 1, zoom_top: int = 3,
           n_jobs: int = 1, out="runs/search", space: dict | None = None, log=print) -> SearchResults:
    """Run the search, write ``results.csv`` and ``search.png`` into ``out``, print the table; return the results."""
    objective = DigitsObjective(load_digits_splits(seed), epochs=epochs, seed=seed)
    space = default_space() if space is None else space
    if log:
        log(f"random search: {trials} trials x {1 + zoom_rounds} rounds, {epochs} epochs each, space {space}")
    results = RandomSearch(objective, space, trials=trials, seed=seed, zoom_rounds=zoom_rounds, zoom_top=zoom_top,
                           mode="max", n_jobs=n_jobs, log=log).run()
    out = Path(out)
    csv_path, png_path = results.to_csv(out / "results.csv"), out / "search.png"
    results.plot(png_path)
    if log:
        log(f"\ntrials by dev accuracy (best first):\n{results.table(10)}")
        best = "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in results.best_params.items())
        log(f"\nbest dev accuracy {results.best['score']:.4f} with {best}\nwrote {csv_path}, {png_path}")
    return results


def add_arguments(parser) -> None:
    """The options of ``ember search`` on an argparse parser."""
    parser.add_argument("--trials", type=positive_int, default=10, help="trials per round (default 10)")
    parser.add_argument("--zoom-rounds", type=non_negative_int, default=1,
                        help="rounds zoomed around the best trials after the coarse one (default 1)")
    parser.add_argument("--zoom-top", type=positive_int, default=3,
                        help="best trials that define the zoomed region (default 3)")
    parser.add_argument("--epochs", type=positive_int, default=3, help="training epochs per trial (default 3)")
    parser.add_argument("--jobs", type=positive_int, default=1,
                        help="trials trained at once in local processes (default 1)")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="seed of the sampling, split, initialisation, shuffling")
    parser.add_argument("--out", default="runs/search", help="output directory for results.csv and search.png")


def run(args) -> int:
    """``ember search``: run ``search`` with the parsed options; returns the exit code."""
    try:
        search(trials=args.trials, epochs=args.epochs, seed=args.seed, zoom_rounds=args.zoom_rounds,
               zoom_top=args.zoom_top, n_jobs=args.jobs, out=args.out)
    except (ImportError, ValueError) as err:
        print(f"ember search: {err}", file=sys.stderr)
        return 2
    return 0

