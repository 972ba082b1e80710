"""``Trainer(..., distributed=True)`` under ``mpiexec``; and the one-process run it must reproduce.

    mpiexec -n 2 python tests/distributed/mpi_trainer.py OUT_DIR
    mpiexec -n 2 python tests/distributed/mpi_trainer.py OUT_DIR --uneven   # rank r gets 3 + r batches

Each rank writes ``OUT_DIR/trainer_rank<r>.npz`` (its final state dict) and
``OUT_DIR/trainer_rank<r>.json`` (its history and the test evaluation); rank 0 alone writes
the CSV log and the checkpoints under ``OUT_DIR/run``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ember import nn, optim
from ember.data import DataLoader, TensorDataset
from ember.distributed import get_rank
from ember.train import CSVLogger, GradientClipping, LRSchedulerCallback, ModelCheckpoint, Trainer

B, EPOCHS, SEED, N_DEV = 8, 3, 7, 21


def _equivalence():
    import mpi_equivalence  # beside this file: the model and the training data

    return mpi_equivalence


def dev_set() -> TensorDataset:
    rng = np.random.default_rng(1)
    return TensorDataset(rng.standard_normal((N_DEV, 1, 6, 6)).astype(np.float32), rng.integers(0, 3, N_DEV))


def run(batch_size: int, out: Path | None, distributed: bool):
    """Train the ``sgd`` case with the Trainer; returns (state arrays, history rows, test metrics)."""
    eq = _equivalence()
    model, opt = eq.build("sgd", eq.INIT_SEED + (get_rank() if distributed else 0))
    callbacks = [LRSchedulerCallback(optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)),
                 GradientClipping(max_norm=0.5)]
    if out is not None:
        callbacks += [CSVLogger(out / "metrics.csv"), ModelCheckpoint(out, monitor="dev_loss")]
    trainer = Trainer(model, opt, nn.CrossEntropyLoss(), callbacks=callbacks, distributed=distributed)
    train_loader = DataLoader(eq.dataset(np.float32), batch_size=batch_size, shuffle=True, seed=SEED)
    trainer.fit(train_loader, DataLoader(dev_set(), batch_size=4), epochs=EPOCHS)
    test = trainer.evaluate(DataLoader(dev_set(), batch_size=5))
    return eq.state_arrays(model), trainer.history.rows, test


def run_uneven(out: Path) -> None:
    """Train on per-rank lists of batches of different lengths; record the error each rank raises."""
    eq, rank = _equivalence(), get_rank()
    model, opt = eq.build("sgd", eq.INIT_SEED)
    data = eq.dataset(np.float32)
    batches = [data[i * B:(i + 1) * B] for i in range(3 + rank)]
    try:
        Trainer(model, opt, nn.CrossEntropyLoss(), distributed=True).fit(batches, epochs=1)
        message = "no error"
    except RuntimeError as err:
        message = str(err)
    (out / f"uneven_rank{rank}.txt").write_text(message)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--uneven", action="store_true", help="give the ranks loaders of different lengths")
    args = parser.parse_args()
    rank = get_rank()
    if args.uneven:
        return run_uneven(args.out)
    state, history, test = run(B, args.out / "run", distributed=True)
    np.savez(args.out / f"trainer_rank{rank}.npz", **state)
    (args.out / f"trainer_rank{rank}.json").write_text(json.dumps({"history": history, "test": test}))


if __name__ == "__main__":
    main()
