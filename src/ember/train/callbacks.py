"""Callbacks: everything around the training loop that is not the loop itself.

A ``Callback`` overrides any of the hooks the ``Trainer`` calls::

    on_train_begin(trainer)
      on_epoch_begin(trainer, epoch)
        on_batch_begin(trainer, batch)          for each mini-batch:
        on_before_step(trainer)                   forward, backward, [here], optimizer.step
        on_batch_end(trainer, batch, logs)        logs: loss and metrics of the batch
      on_epoch_end(trainer, epoch, logs)        logs: the epoch's row of the history
    on_train_end(trainer)

``epoch`` and ``batch`` count from 0; the ``epoch`` entry of the logs counts from 1.
A callback stops training with ``trainer.stop_training = True``. Callbacks run in
ascending ``order`` (then in the order given), so that, for example, the learning-rate
scheduler has stepped and early stopping has updated its counters before
``ModelCheckpoint`` captures them. A callback with state worth resuming returns it from
``state_dict()``; the trainer's checkpoints carry it.

A callback that prints or writes files sets ``rank_zero_only = True``: in a distributed run
only rank 0 runs it (one progress bar, one log, one checkpoint), while the others —
schedulers, clipping, early stopping — run on every rank, from the same reduced logs, so that
the ranks stay in step. ``fit`` calls the hooks; ``Trainer.step`` calls the batch hooks alone.
"""
from __future__ import annotations

import csv
import json
import math
import sys
import warnings
from pathlib import Path

import numpy as np

from ember import backend
from ember.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

__all__ = [
    "CSVLogger", "Callback", "EarlyStopping", "GradientClipping", "JSONLLogger", "LRSchedulerCallback",
    "ModelCheckpoint", "PlotCurves", "ProgressBar", "TerminateOnNaN",
]


class Callback:
    """Base class: every hook does nothing; subclasses override the ones they need.

    >>> class PrintLoss(Callback):
    ...     def on_epoch_end(self, trainer, epoch, logs):
    ...         print(epoch, logs["loss"])
    """

    order = 0
    rank_zero_only = False  # True: in a distributed run only rank 0 runs it (it prints or writes)

    def on_train_begin(self, trainer) -> None:
        """Before the first epoch (also when resuming)."""

    def on_epoch_begin(self, trainer, epoch: int) -> None:
        """Before the first batch of ``epoch`` (0-based)."""

    def on_batch_begin(self, trainer, batch: int) -> None:
        """Before the forward pass of mini-batch ``batch``."""

    def on_before_step(self, trainer) -> None:
        """After ``loss.backward()``, before ``optimizer.step()``: gradients are in ``p.grad``."""

    def on_batch_end(self, trainer, batch: int, logs: dict) -> None:
        """After the optimizer step; ``logs`` holds the batch's loss and metrics."""

    def on_epoch_end(self, trainer, epoch: int, logs: dict) -> None:
        """After the dev evaluation; ``logs`` is the epoch's history row (callbacks may add to it)."""

    def on_train_end(self, trainer) -> None:
        """After the last epoch, or after a callback stopped training."""

    def state_dict(self) -> dict:
        """State to carry in a checkpoint (counters, best values); empty by default."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` returned."""


def _monitored(logs: dict, monitor: str, who: str) -> float:
    if monitor not in logs:
        raise KeyError(f"{who}: monitored metric {monitor!r} is not in the logs {sorted(logs)}; "
                       "dev_* metrics need a dev_loader")
    return float(logs[monitor])


class _BestTracker(Callback):
    """The bookkeeping ``EarlyStopping`` and ``ModelCheckpoint`` share: the best value of ``monitor`` so far.

    ``mode='auto'`` means ``'max'`` for names that read as scores (``acc``, ``f1``, ``auc``,
    ``precision``, ``recall``) and ``'min'`` otherwise. A fresh run forgets the best value;
    a resumed one keeps what the checkpoint restored.
    """

    def __init__(self, monitor: str, mode: str, min_delta: float = 0.0):
        if mode == "auto":
            mode = "max" if any(word in monitor for word in ("acc", "f1", "auc", "precision", "recall")) else "min"
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min', 'max' or 'auto', got {mode!r}")
        self.monitor, self.mode, self.min_delta = monitor, mode, float(min_delta)
        self._reset()

    def _reset(self) -> None:
        self.best = None

    def on_train_begin(self, trainer):
        if trainer.start_epoch == 0:
            self._reset()

    def _improved(self, value: float) -> bool:
        """Whether ``value`` beats the best by more than ``min_delta`` (the first non-NaN value always does)."""
        if self.best is None:
            return not math.isnan(value)
        return value < self.best - self.min_delta if self.mode == "min" else value > self.best + self.min_delta

    def state_dict(self):
        return {"best": self.best}

    def load_state_dict(self, state):
        self.best = state["best"]


def _format_logs(logs: dict) -> str:
    parts = []
    for key, value in logs.items():
        if key == "epoch" or not isinstance(value, (int, float)):
            continue
        text = f"{value:.3g}" if key == "lr" else f"{value:.2f}s" if key == "time" else f"{value:.4f}"
        parts.append(f"{key} {text}")
    return "  ".join(parts)


# -- progress ----------------------------------------------------------------------------------


class ProgressBar(Callback):
    """A tqdm bar over each epoch's batches, and one line of metrics per epoch.

    Args:
        disable: ``True`` hides the bar, ``None`` (default) hides it when stderr is not a
            terminal (logs, CI), ``False`` always shows it.
        print_metrics: print ``epoch 3/20  loss 0.1234  accuracy 0.9650 ...`` after each epoch.
        file: where the metric lines go (default ``sys.stdout``).

    >>> Trainer(model, opt, loss_fn, callbacks=[ProgressBar()])
    """

    order = -20
    rank_zero_only = True

    def __init__(self, disable: bool | None = None, print_metrics: bool = True, file=None):
        self.disable, self.print_metrics, self.file = disable, print_metrics, file
        self._bar = None

    def on_epoch_begin(self, trainer, epoch):
        from tqdm.auto import tqdm

        disable = self.disable
        if disable is None:
            disable = not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty())
        total = trainer.num_batches
        self._bar = tqdm(total=total, desc=_epoch_of(epoch, trainer.epochs), disable=disable, leave=False,
                         unit="batch", dynamic_ncols=True)

    def on_batch_end(self, trainer, batch, logs):
        if self._bar is not None and not self._bar.disable:
            self._bar.set_postfix(loss=f"{logs['loss']:.4f}", refresh=False)
            self._bar.update(1)

    def on_epoch_end(self, trainer, epoch, logs):
        self._close()
        if self.print_metrics:
            print(f"{_epoch_of(epoch, trainer.epochs)}  {_format_logs(logs)}", file=self.file or sys.stdout,
                  flush=True)

    def on_train_end(self, trainer):
        self._close()

    def _close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _epoch_of(epoch: int, epochs: int | None) -> str:
    """``epoch 3/20``, or ``epoch 3`` when the count is open (``fit(max_steps=...)`` on a loader without length)."""
    return f"epoch {epoch + 1}" if epochs is None else f"epoch {epoch + 1}/{epochs}"


# -- stopping ----------------------------------------------------------------------------------


class EarlyStopping(_BestTracker):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    ``mode`` ``'min'`` (losses) or ``'max'`` (accuracies); ``'auto'`` picks ``'max'`` for
    names containing ``acc``. With ``restore_best_weights`` the model gets back the
    parameters of its best epoch when training ends.

    >>> EarlyStopping(monitor="dev_loss", patience=5, restore_best_weights=True)
    """

    def __init__(self, monitor: str = "dev_loss", patience: int = 5, min_delta: float = 0.0, mode: str = "auto",
                 restore_best_weights: bool = False):
        if patience < 0 or min_delta < 0:
            raise ValueError(f"EarlyStopping: patience and min_delta must be >= 0, got {patience}, {min_delta}")
        super().__init__(monitor, mode, min_delta)
        self.patience, self.restore_best_weights = int(patience), restore_best_weights

    def _reset(self):
        self.best, self.best_epoch, self.wait, self.stopped_epoch, self.best_weights = None, None, 0, None, None

    def on_epoch_end(self, trainer, epoch, logs):
        value = _monitored(logs, self.monitor, "EarlyStopping")
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = {k: backend.to_numpy(v.array).copy() for k, v in trainer.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            trainer.stop_training = True

    def on_train_end(self, trainer):
        if self.restore_best_weights and self.best_weights is not None:
            trainer.model.load_state_dict(self.best_weights)

    def state_dict(self):
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait, "best_weights": self.best_weights}

    def load_state_dict(self, state):
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]
        self.best_weights = state["best_weights"]


class TerminateOnNaN(Callback):
    """Stop as soon as a batch loss is NaN or infinite (a diverged run wastes no more time)."""

    def on_batch_end(self, trainer, batch, logs):
        if not math.isfinite(logs["loss"]):
            warnings.warn(f"TerminateOnNaN: loss {logs['loss']} at epoch {trainer.epoch + 1}, batch {batch}; stopping",
                          stacklevel=2)
            trainer.stop_training = True


# -- checkpoints -------------------------------------------------------------------------------


class ModelCheckpoint(_BestTracker):
    """Save checkpoints under ``dirpath``: ``last.safetensors`` every epoch, ``best.safetensors``
    whenever ``monitor`` improves (each with its ``.json`` sidecar).

    The checkpoints are full ``Trainer.save_checkpoint`` ones (model, optimizer,
    scheduler, RNG, epoch, history, callback states): ``trainer.fit(...,
    resume_from=ckpt.last_path)`` continues exactly. It runs after the other callbacks.

    >>> ckpt = ModelCheckpoint("runs/exp1", monitor="dev_accuracy")
    """

    order = 100
    rank_zero_only = True

    def __init__(self, dirpath, monitor: str = "dev_loss", mode: str = "auto", save_best: bool = True,
                 save_last: bool = True):
        super().__init__(monitor, mode)
        self.dirpath, self.save_best, self.save_last = Path(dirpath), save_best, save_last
        self._warned = False

    @property
    def best_path(self) -> Path:
        return self.dirpath / "best.safetensors"

    @property
    def last_path(self) -> Path:
        return self.dirpath / "last.safetensors"

    def on_epoch_end(self, trainer, epoch, logs):
        if self.save_best and self._monitor_available(logs):
            value = float(logs[self.monitor])
            if self._improved(value):
                self.best = value
                trainer.save_checkpoint(self.best_path)
        if self.save_last:
            trainer.save_checkpoint(self.last_path)

    def _monitor_available(self, logs) -> bool:
        if self.monitor in logs:
            return True
        if not self._warned:
            warnings.warn(f"ModelCheckpoint: {self.monitor!r} is not in the logs {sorted(logs)}; "
                          "no best checkpoint is kept", stacklevel=3)
            self._warned = True
        return False


# -- optimisation --------------------------------------------------------------------------------


class LRSchedulerCallback(Callback):
    """Step a learning-rate scheduler every epoch (``interval='epoch'``) or every batch (``'step'``).

    ``ReduceLROnPlateau`` (or a scheduler of your own, given a ``monitor``) is fed the
    monitored metric, ``scheduler.step(logs[monitor])`` (``monitor`` defaults to
    ``dev_loss``, falling back to ``loss`` without a dev set). The closed-form schedules
    (``StepLR``, ``ExponentialLR``, ...) take an epoch, not a metric, so a ``monitor`` for
    them is an error. The scheduler's state travels in the trainer's checkpoints.

    >>> sched = lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
    >>> Trainer(model, opt, loss_fn, callbacks=[LRSchedulerCallback(sched)])
    """

    order = -10

    def __init__(self, scheduler, interval: str = "epoch", monitor: str | None = None):
        if interval not in ("epoch", "step"):
            raise ValueError(f"LRSchedulerCallback: interval must be 'epoch' or 'step', got {interval!r}")
        if interval == "step" and isinstance(scheduler, ReduceLROnPlateau):
            raise ValueError("LRSchedulerCallback: ReduceLROnPlateau needs an epoch metric; use interval='epoch'")
        if monitor is not None and isinstance(scheduler, LRScheduler) and not isinstance(scheduler, ReduceLROnPlateau):
            raise ValueError(f"LRSchedulerCallback: {type(scheduler).__name__}.step takes an epoch, not the "
                             f"metric {monitor!r}; leave monitor unset")
        self.scheduler, self.interval, self.monitor = scheduler, interval, monitor

    def on_batch_end(self, trainer, batch, logs):
        if self.interval == "step":
            self.scheduler.step()

    def on_epoch_end(self, trainer, epoch, logs):
        if self.interval != "epoch":
            return
        if isinstance(self.scheduler, ReduceLROnPlateau) or self.monitor is not None:
            monitor = self.monitor or ("dev_loss" if "dev_loss" in logs else "loss")
            self.scheduler.step(_monitored(logs, monitor, "LRSchedulerCallback"))
        else:
            self.scheduler.step()


class GradientClipping(Callback):
    """Clip gradients between backward and the optimizer step.

    ``max_norm``: rescale all gradients together when their global L2 norm ‖g‖ exceeds it
    (g ← g · max_norm / ‖g‖, ``nn.utils.clip_grad_norm_``); ``clip_value``: clamp every
    component to [−clip_value, clip_value] (``clip_grad_value_``). ``last_norm`` holds the
    norm before clipping of the latest step.

    >>> GradientClipping(max_norm=1.0)
    """

    def __init__(self, max_norm: float | None = None, clip_value: float | None = None, norm_type: float = 2.0):
        if (max_norm is None) == (clip_value is None):
            raise ValueError("GradientClipping: give exactly one of max_norm and clip_value")
        self.max_norm, self.clip_value, self.norm_type = max_norm, clip_value, norm_type
        self.last_norm = None

    def on_before_step(self, trainer):
        from ember.nn import utils

        params = trainer.model.parameters()  # the clipping functions skip parameters without a gradient
        if self.max_norm is not None:
            self.last_norm = float(utils.clip_grad_norm_(params, self.max_norm, norm_type=self.norm_type))
        else:
            utils.clip_grad_value_(params, self.clip_value)


# -- logging and plots ---------------------------------------------------------------------------


class _FileLogger(Callback):
    """Shared logic: a new file on a fresh run, appended to with ``append``; when resuming, the
    rows after the checkpoint's epoch (written by the interrupted run) are dropped first."""

    order = 10
    rank_zero_only = True

    def __init__(self, path, append: bool = False):
        self.path, self.append = Path(path), append

    def on_train_begin(self, trainer):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        resuming = trainer.start_epoch > 0
        if not (self.append or resuming) or not self.path.exists():
            self.path.write_text("")
        elif resuming:
            self._keep_epochs_up_to(trainer.start_epoch)

    def _keep_epochs_up_to(self, epoch: int) -> None:
        """Remove the rows of epochs after ``epoch``."""


class CSVLogger(_FileLogger):
    """Append each epoch's row of the history (``epoch, loss, accuracy, dev_loss, ..., lr``) to a CSV file.

    >>> CSVLogger("runs/exp1/metrics.csv")
    """

    def __init__(self, path, append: bool = False, separator: str = ","):
        super().__init__(path, append)
        self.separator = separator

    def on_epoch_end(self, trainer, epoch, logs):
        fields = self._fields(logs)
        new = self.path.stat().st_size == 0
        with self.path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fields, delimiter=self.separator, extrasaction="ignore", restval="")
            if new:
                writer.writeheader()
            writer.writerow({k: _plain(v) for k, v in logs.items()})

    def _keep_epochs_up_to(self, epoch):
        with self.path.open(newline="") as f:
            rows = list(csv.reader(f, delimiter=self.separator))
        if not rows or "epoch" not in rows[0]:
            return
        column = rows[0].index("epoch")
        kept = [rows[0]] + [r for r in rows[1:] if r and int(r[column]) <= epoch]
        with self.path.open("w", newline="") as f:
            csv.writer(f, delimiter=self.separator).writerows(kept)

    def _fields(self, logs) -> list[str]:
        # Appending to a file keeps its columns, so rows stay aligned with its header.
        if self.path.stat().st_size:
            with self.path.open(newline="") as f:
                return next(csv.reader(f, delimiter=self.separator))
        return list(logs)


class JSONLLogger(_FileLogger):
    """Append each epoch's row of the history as one JSON object per line.

    >>> JSONLLogger("runs/exp1/metrics.jsonl")
    """

    def on_epoch_end(self, trainer, epoch, logs):
        with self.path.open("a") as f:
            f.write(json.dumps({k: _plain(v) for k, v in logs.items()}) + "\n")

    def _keep_epochs_up_to(self, epoch):
        lines = self.path.read_text().splitlines()
        kept = [line for line in lines if line.strip() and json.loads(line).get("epoch", 0) <= epoch]
        self.path.write_text("".join(line + "\n" for line in kept))


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    return value


class PlotCurves(Callback):
    """Draw the loss and metric curves (train and dev) to a PNG when training ends.

    ``every_epoch=True`` redraws after each epoch (to watch a long run).

    >>> PlotCurves("runs/exp1/curves.png")
    """

    order = 20
    rank_zero_only = True

    def __init__(self, path, metrics=None, every_epoch: bool = False):
        self.path, self.metrics, self.every_epoch = Path(path), metrics, every_epoch

    def on_epoch_end(self, trainer, epoch, logs):
        if self.every_epoch:
            self._draw(trainer)

    def on_train_end(self, trainer):
        if len(trainer.history):
            self._draw(trainer)

    def _draw(self, trainer):
        from ember.viz.plots import plot_curves

        plot_curves(trainer.history, self.path, metrics=self.metrics)
