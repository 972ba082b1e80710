"""Each callback's behaviour inside a real Trainer run."""
import csv
import io
import json

import numpy as np
import pytest

from ember import nn, optim
from ember.optim import lr_scheduler
from ember.train import (
    Callback,
    CSVLogger,
    EarlyStopping,
    GradientClipping,
    JSONLLogger,
    LRSchedulerCallback,
    ModelCheckpoint,
    PlotCurves,
    ProgressBar,
    TerminateOnNaN,
    Trainer,
    load_checkpoint,
)
from ember.viz import plot_curves


class Scripted(Callback):
    """Writes a scripted value under ``key`` into each epoch's logs and snapshots the weights."""

    order = -100

    def __init__(self, key, values):
        self.key, self.values, self.snapshots = key, values, []

    def on_epoch_end(self, trainer, epoch, logs):
        logs[self.key] = self.values[epoch]
        self.snapshots.append({k: v.numpy().copy() for k, v in trainer.model.state_dict().items()})


def _fit(model, opt, loaders, callbacks, epochs, **kw):
    train, dev = loaders
    return Trainer(model, opt, nn.CrossEntropyLoss(), callbacks=callbacks, **kw).fit(train, dev, epochs=epochs)


# -- early stopping --------------------------------------------------------------------------


def test_early_stopping_stops_after_patience_and_restores_best_weights(model, sgd, loaders):
    script = Scripted("score", [3.0, 1.0, 2.0, 2.0, 0.5, 0.1])
    stop = EarlyStopping(monitor="score", patience=2, restore_best_weights=True)
    history = _fit(model, sgd, loaders, [stop, script], epochs=6)
    assert len(history) == 4 and stop.stopped_epoch == 3 and stop.best == 1.0 and stop.best_epoch == 1
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), script.snapshots[1][k])
    assert not np.array_equal(script.snapshots[1]["0.weight"], script.snapshots[3]["0.weight"])


def test_early_stopping_max_mode_min_delta_and_no_restore(model, sgd, loaders):
    script = Scripted("dev_acc", [0.5, 0.52, 0.6, 0.605, 0.61, 0.7])
    stop = EarlyStopping(monitor="dev_acc", patience=2, min_delta=0.02)  # 'acc' → mode max
    history = _fit(model, sgd, loaders, [stop, script], epochs=6)
    assert stop.mode == "max" and len(history) == 5 and stop.best == 0.6
    for k, v in model.state_dict().items():  # without restore_best_weights the last weights stay
        np.testing.assert_array_equal(v.numpy(), script.snapshots[-1][k])


def test_early_stopping_errors(model, sgd, loaders):
    with pytest.raises(KeyError, match="'dev_loss' is not in the logs"):
        Trainer(model, sgd, nn.CrossEntropyLoss(), callbacks=[EarlyStopping()]).fit(loaders[0], epochs=1)
    with pytest.raises(ValueError, match="mode must be"):
        EarlyStopping(mode="up")


def test_terminate_on_nan(model, loaders):
    opt = optim.SGD(model.parameters(), lr=1e30)
    stopper = TerminateOnNaN()
    with pytest.warns(UserWarning, match="TerminateOnNaN"), np.errstate(all="ignore"):
        history = _fit(model, opt, loaders, [stopper], epochs=20)
    assert len(history) < 20


# -- checkpoints -------------------------------------------------------------------------------


def test_model_checkpoint_writes_best_and_last(tmp_path, model, sgd, loaders):
    script = Scripted("dev_accuracy", [0.5, 0.9, 0.7, 0.8])
    ckpt = ModelCheckpoint(tmp_path / "ck", monitor="dev_accuracy")
    _fit(model, sgd, loaders, [ckpt, script], epochs=4)
    names = sorted(p.name for p in (tmp_path / "ck").iterdir())
    assert names == ["best.json", "best.safetensors", "last.json", "last.safetensors"]
    assert load_checkpoint(ckpt.best_path, model)["epoch"] == 2  # epoch index 1 → 2 epochs completed
    extra = load_checkpoint(ckpt.last_path, model)
    assert extra["epoch"] == 4 and len(extra["history"]) == 4
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), script.snapshots[-1][k])
    assert ckpt.best == 0.9


def test_model_checkpoint_without_monitor_warns_and_keeps_last(tmp_path, model, sgd, loaders):
    ckpt = ModelCheckpoint(tmp_path, monitor="dev_accuracy")
    with pytest.warns(UserWarning, match="no best checkpoint"):
        Trainer(model, sgd, nn.CrossEntropyLoss(), callbacks=[ckpt]).fit(loaders[0], epochs=2)
    assert ckpt.last_path.exists() and not ckpt.best_path.exists()
    with pytest.raises(ValueError, match="mode must be"):
        ModelCheckpoint(tmp_path, mode="up")


# -- learning rate and clipping -------------------------------------------------------------------


def test_lr_scheduler_per_epoch_and_per_step(model, loaders):
    opt = optim.SGD(model.parameters(), lr=0.1)
    history = _fit(model, opt, loaders, [LRSchedulerCallback(lr_scheduler.StepLR(opt, 1, gamma=0.5))], epochs=3)
    assert history["lr"] == pytest.approx([0.1, 0.05, 0.025])
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0125)

    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.9)
    _fit(model, opt, loaders, [LRSchedulerCallback(sched, interval="step")], epochs=2)
    steps = 2 * len(loaders[0])
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.9**steps)


def test_reduce_on_plateau_is_fed_the_monitored_metric(model, loaders):
    opt = optim.SGD(model.parameters(), lr=0.1)
    plateau = lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=1)
    script = Scripted("dev_loss", [1.0, 1.0, 1.0, 1.0, 1.0])
    history = _fit(model, opt, loaders, [LRSchedulerCallback(plateau), script], epochs=5)
    # bad epochs 1, 2 → cut after epoch 2; the counter restarts, bad epochs 3, 4 → cut after epoch 4
    assert history["lr"] == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05])
    assert opt.param_groups[0]["lr"] == pytest.approx(0.025)
    with pytest.raises(ValueError, match="interval='epoch'"):
        LRSchedulerCallback(plateau, interval="step")


def test_closed_form_schedule_refuses_a_monitor(model):
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="StepLR.step takes an epoch, not the metric 'dev_loss'"):
        LRSchedulerCallback(lr_scheduler.StepLR(opt, 1), monitor="dev_loss")


class _GradProbe(Callback):
    """Runs after clipping (higher order) and records the gradients the optimizer will use."""

    order = 50

    def __init__(self):
        self.norms, self.max_abs = [], []

    def on_before_step(self, trainer):
        grads = [p.grad.numpy() for p in trainer.model.parameters()]
        self.norms.append(float(np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in grads))))
        self.max_abs.append(max(float(np.abs(g).max()) for g in grads))


def test_gradient_clipping_by_norm_and_by_value(model, sgd, loaders):
    probe, clip = _GradProbe(), GradientClipping(max_norm=0.05)
    _fit(model, sgd, loaders, [probe, clip], epochs=1)
    assert clip.last_norm > 0.05  # clipping was needed ...
    assert max(probe.norms) <= 0.05 * (1 + 1e-4)  # ... and applied before the step

    probe, clip = _GradProbe(), GradientClipping(clip_value=0.01)
    _fit(model, sgd, loaders, [probe, clip], epochs=1)
    assert max(probe.max_abs) <= 0.01 + 1e-7
    with pytest.raises(ValueError, match="exactly one"):
        GradientClipping()


# -- logging and plots -------------------------------------------------------------------------


def test_csv_and_jsonl_loggers(tmp_path, model, sgd, loaders):
    csv_path, jsonl_path = tmp_path / "logs" / "m.csv", tmp_path / "m.jsonl"
    history = _fit(model, sgd, loaders, [CSVLogger(csv_path), JSONLLogger(jsonl_path)], epochs=3)
    with csv_path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["epoch", "loss", "accuracy", "dev_loss", "dev_accuracy", "lr", "time"]
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert [float(r["dev_loss"]) for r in rows] == pytest.approx(history["dev_loss"])
    records = [json.loads(line) for line in jsonl_path.read_text().splitlines()]
    assert records == list(history)
    # a new run overwrites, an appending logger keeps the old rows under the same header
    _fit(model, sgd, loaders, [CSVLogger(csv_path), JSONLLogger(jsonl_path, append=True)], epochs=1)
    assert len(csv_path.read_text().splitlines()) == 2
    assert len(jsonl_path.read_text().splitlines()) == 4


def test_loggers_drop_rows_of_the_interrupted_run_when_resuming(tmp_path, model, sgd, loaders):
    csv_path, jsonl_path = tmp_path / "m.csv", tmp_path / "m.jsonl"
    script = Scripted("dev_accuracy", [0.5, 0.9, 0.7])
    loggers = [CSVLogger(csv_path), JSONLLogger(jsonl_path)]
    _fit(model, sgd, loaders, [*loggers, ModelCheckpoint(tmp_path), script], epochs=3)  # best: epoch 2
    train, dev = loaders
    trainer = Trainer(model, sgd, nn.CrossEntropyLoss(), callbacks=[CSVLogger(csv_path), JSONLLogger(jsonl_path)])
    trainer.fit(train, dev, epochs=4, resume_from=tmp_path / "best.safetensors")
    with csv_path.open(newline="") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [1, 2, 3, 4]
    assert [json.loads(line)["epoch"] for line in jsonl_path.read_text().splitlines()] == [1, 2, 3, 4]


def test_plot_curves_writes_png(tmp_path, model, sgd, loaders):
    path = tmp_path / "plots" / "curves.png"
    _fit(model, sgd, loaders, [PlotCurves(path)], epochs=2)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fig = plot_curves({"loss": [3, 2, 1], "dev_loss": [3, 2.5, 2]}, tmp_path / "d.png", title="t")
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 2 and (tmp_path / "d.png").exists()
    with pytest.raises(KeyError, match="'accuracy'"):
        plot_curves({"loss": [1.0]}, metrics=["accuracy"])


def test_progress_bar_prints_epoch_lines_and_can_be_silenced(model, sgd, loaders, capsys):
    out = io.StringIO()
    _fit(model, sgd, loaders, [ProgressBar(disable=True, file=out)], epochs=2)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2  loss ") and "dev_accuracy" in lines[1]
    quiet = io.StringIO()
    _fit(model, sgd, loaders, [ProgressBar(disable=True, print_metrics=False, file=quiet)], epochs=1)
    assert quiet.getvalue() == ""
    _fit(model, sgd, loaders, [ProgressBar(disable=False, print_metrics=False)], epochs=1)
    assert "epoch 1/1" in capsys.readouterr().err  # the bar itself goes to stderr


def test_callback_base_hooks_are_no_ops(model, sgd, loaders):
    history = _fit(model, sgd, loaders, [Callback()], epochs=1)
    assert len(history) == 1 and Callback().state_dict() == {}
