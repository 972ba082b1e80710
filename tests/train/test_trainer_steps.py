"""Driving the Trainer step by step: fit(max_steps=...), step() without fit, train_step overrides, strategies."""
import ast
import io
from pathlib import Path

import numpy as np
import pytest
from train_problem import make_model

import ember as em
from ember import nn, optim
from ember.distributed import DataParallel, LocalStrategy, Strategy, destroy_process_group
from ember.train import (
    Callback,
    CSVLogger,
    Diagnose,
    EarlyStopping,
    GradientClipping,
    JSONLLogger,
    LRSchedulerCallback,
    ModelCheckpoint,
    PlotCurves,
    ProgressBar,
    TensorBoardLogger,
    Trainer,
)

SRC = Path(__file__).resolve().parents[2] / "src" / "ember"


class Events(Callback):
    """Records every hook it receives."""

    def __init__(self):
        self.events = []

    def on_train_begin(self, trainer):
        self.events.append("train_begin")

    def on_epoch_begin(self, trainer, epoch):
        self.events.append(f"epoch_begin{epoch}")

    def on_batch_begin(self, trainer, batch):
        self.events.append(f"batch_begin{batch}")

    def on_before_step(self, trainer):
        self.events.append("before_step")

    def on_batch_end(self, trainer, batch, logs):
        self.events.append(f"batch_end{batch}")

    def on_epoch_end(self, trainer, epoch, logs):
        self.events.append(f"epoch_end{epoch}")

    def on_train_end(self, trainer):
        self.events.append("train_end")


def _params(model):
    return [p.detach().numpy().copy() for p in model.parameters()]


# -- fit(max_steps=...) -----------------------------------------------------------------------------


def test_max_steps_cuts_the_last_epoch_and_still_writes_its_row(model, sgd, loaders):
    train, dev = loaders  # 6 batches of 30
    events = Events()
    trainer = Trainer(model, sgd, nn.CrossEntropyLoss(), callbacks=[events], diagnose=False)
    history = trainer.fit(train, dev, max_steps=8)
    assert trainer.global_step == 8 and trainer.epochs == 2 and trainer.epochs_completed == 2
    assert history["epoch"] == [1, 2] and history.last["dev_loss"] is not None
    assert events.events.count("before_step") == 8
    assert events.events[-3:] == ["batch_end1", "epoch_end1", "train_end"]


def test_max_steps_and_epochs_stop_at_whichever_comes_first(model, sgd, loaders):
    train, _ = loaders
    trainer = Trainer(model, sgd, nn.CrossEntropyLoss(), diagnose=False)
    assert len(trainer.fit(train, epochs=2, max_steps=100)) == 2 and trainer.global_step == 12
    assert len(trainer.fit(train, epochs=5, max_steps=7)) == 2 and trainer.global_step == 7
    assert len(trainer.fit(train, epochs=3, max_steps=12)) == 2  # the steps end with epoch 2: no empty epoch 3
    before = _params(model)
    assert len(trainer.fit(train, max_steps=0)) == 0
    for a, p in zip(before, model.parameters(), strict=True):
        np.testing.assert_array_equal(a, p.detach().numpy())


def test_a_cut_run_matches_the_same_steps_of_a_longer_one(loaders):
    train, _ = loaders
    runs = []
    for max_steps in (9, None):
        model = make_model(dropout=0.0, seed=3)
        trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), diagnose=False)
        trainer.fit(train, epochs=2, max_steps=max_steps)
        runs.append(trainer.history)
    assert runs[0]["loss"][0] == runs[1]["loss"][0]  # the first epoch is the same; the second is cut
    assert runs[0]["loss"][1] != runs[1]["loss"][1]


def test_max_steps_on_a_loader_without_length(model, sgd):
    x, y = em.randn(8, 2), em.tensor(np.arange(8) % 3)

    class Stream:
        def __iter__(self):
            for i in range(0, 8, 4):
                yield x[i:i + 4], y[i:i + 4]

    out = io.StringIO()
    trainer = Trainer(model, sgd, nn.CrossEntropyLoss(), callbacks=[ProgressBar(disable=True, file=out)],
                      diagnose=False)
    history = trainer.fit(Stream(), max_steps=5)  # 2 batches per pass: epochs 1, 2 and half of 3
    assert trainer.epochs is None and len(history) == 3 and trainer.global_step == 5
    assert out.getvalue().splitlines()[0].startswith("epoch 1  loss")


def test_resume_continues_the_step_count(model, sgd, loaders, tmp_path):
    train, _ = loaders
    trainer = Trainer(model, sgd, nn.CrossEntropyLoss(), callbacks=[ModelCheckpoint(tmp_path, save_best=False)],
                      diagnose=False)
    trainer.fit(train, max_steps=8)
    trainer.fit(train, max_steps=14, resume_from=tmp_path / "last.safetensors")
    assert trainer.global_step == 14 and trainer.history["epoch"] == [1, 2, 3]
    trainer.fit(train, max_steps=14, resume_from=tmp_path / "last.safetensors")
    assert trainer.global_step == 14 and len(trainer.history) == 3  # nothing left to do


@pytest.mark.parametrize("bad", [-1, 2.5, "3", True])
def test_max_steps_is_checked(model, sgd, loaders, bad):
    with pytest.raises(ValueError, match=r"Trainer.fit: max_steps should be a non-negative integer, got"):
        Trainer(model, sgd, nn.CrossEntropyLoss()).fit(loaders[0], max_steps=bad)


# -- step() without fit -----------------------------------------------------------------------------


def test_step_without_fit_runs_the_batch_hooks_and_matches_fit(loaders):
    train, _ = loaders
    batches = list(train)

    def trainer_of(callbacks=()):
        model = make_model(dropout=0.0, seed=1)
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        return Trainer(model, opt, nn.CrossEntropyLoss(), callbacks=[GradientClipping(max_norm=0.5), *callbacks])

    events = Events()
    stepped = trainer_of([events])
    stepped.model.train()
    logs = [stepped.step(batch) for batch in batches]
    assert stepped.global_step == len(batches) and stepped.history.rows == []
    assert events.events[:3] == ["batch_begin0", "before_step", "batch_end0"]
    assert "train_begin" not in events.events and "epoch_begin0" not in events.events
    assert all(set(row) == {"loss", "accuracy"} and n == 30 for row, n in logs)
    fitted = trainer_of()
    fitted.fit(train, epochs=1)
    for a, b in zip(_params(stepped.model), _params(fitted.model), strict=True):
        np.testing.assert_array_equal(a, b)
    assert np.mean([row["loss"] for row, _ in logs]) == pytest.approx(fitted.history.last["loss"])


def test_step_counts_its_own_batch_index_and_callbacks_may_stop(model, sgd, loaders):
    batch = next(iter(loaders[0]))
    seen = []

    class StopAtTwo(Callback):
        def on_batch_end(self, trainer, index, logs):
            seen.append(index)
            trainer.stop_training = index == 2

    trainer = Trainer(model, sgd, nn.CrossEntropyLoss(), callbacks=[StopAtTwo()])
    while not trainer.stop_training:
        trainer.step(batch)
    trainer.step(batch, batch_index=7)
    assert seen == [0, 1, 2, 7]


def test_a_train_step_override_is_what_fit_runs(loaders):
    train, _ = loaders

    class HalfLoss(Trainer):
        def train_step(self, batch):
            (x,), y = self._unpack(batch)
            loss = 0.5 * self.loss_fn(self.model(x), y)
            self.optimize(loss)
            return {"loss": loss.item()}, 1

    models = [make_model(dropout=0.0, seed=2) for _ in range(2)]
    half = HalfLoss(models[0], optim.SGD(models[0].parameters(), lr=0.2), nn.CrossEntropyLoss(), diagnose=False)
    full = Trainer(models[1], optim.SGD(models[1].parameters(), lr=0.1), nn.CrossEntropyLoss(), diagnose=False)
    half.fit(train, epochs=2)
    full.fit(train, epochs=2)
    assert half.history.keys() == ["epoch", "loss", "lr", "time"]
    for a, b in zip(_params(models[0]), _params(models[1]), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)  # SGD at 2·lr on L/2 takes the same steps


# -- strategies and rank_zero_only --------------------------------------------------------------------


class RankOne(Strategy):
    """A stand-in for rank 1 of 2: the data and the collectives as on one process."""

    rank, world_size = 1, 2


def test_the_strategy_is_chosen_at_construction(model, sgd):
    assert isinstance(Trainer(model, sgd, nn.CrossEntropyLoss()).strategy, LocalStrategy)
    try:  # without a launcher: the one-process group
        assert isinstance(Trainer(model, sgd, nn.CrossEntropyLoss(), distributed=True).strategy, DataParallel)
    finally:
        destroy_process_group()
    given = RankOne()
    assert Trainer(model, sgd, nn.CrossEntropyLoss(), distributed=given).strategy is given


def test_writing_callbacks_are_rank_zero_only(tmp_path):
    opt = optim.SGD(make_model().parameters(), lr=0.1)
    writers = [ProgressBar(), CSVLogger(tmp_path / "a.csv"), JSONLLogger(tmp_path / "a.jsonl"),
               PlotCurves(tmp_path / "a.png"), ModelCheckpoint(tmp_path), Diagnose(),
               TensorBoardLogger(tmp_path / "tb")]
    others = [EarlyStopping(), GradientClipping(max_norm=1.0),
              LRSchedulerCallback(optim.lr_scheduler.StepLR(opt, 1)), Callback()]
    assert all(c.rank_zero_only for c in writers) and not any(c.rank_zero_only for c in others)
    assert all(LocalStrategy().runs_callback(c) for c in writers + others)
    assert [RankOne().runs_callback(c) for c in writers + others] == [False] * len(writers) + [True] * len(others)


def test_rank_one_runs_no_writer_and_saves_no_checkpoint(model, sgd, loaders, tmp_path):
    train, dev = loaders
    events = Events()
    trainer = Trainer(model, sgd, nn.CrossEntropyLoss(), distributed=RankOne(),
                      callbacks=[CSVLogger(tmp_path / "log.csv"), ModelCheckpoint(tmp_path), events])
    trainer.fit(train, dev, epochs=1)
    trainer.save_checkpoint(tmp_path / "manual.safetensors")
    assert list(tmp_path.iterdir()) == [] and events.events[0] == "train_begin"


def test_distributed_does_not_import_from_the_layers_above():
    for path in sorted((SRC / "distributed").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            for name in names:
                assert not name.startswith(("ember.train", "ember.apps", "ember.cli")), f"{path.name} imports {name}"
