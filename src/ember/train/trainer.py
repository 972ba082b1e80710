"""``Trainer``: the mini-batch training loop, with callbacks around it.

One epoch: ``model.train()``; for every mini-batch (x, y): ŷ = model(x), L = loss_fn(ŷ, y),
zero the gradients, ``L.backward()``, ``optimizer.step()``; then, with a dev loader, an
evaluation pass (``model.eval()``, no gradients). The epoch's mean loss and metrics go into
``trainer.history``. Everything else — progress bar, early stopping, checkpoints, LR
schedules, clipping, logs, plots — is a ``Callback``.

Three ways to change it, from the most common:

- callbacks, for what happens around the steps (see ``callbacks.py``);
- a subclass overriding ``train_step(batch)``, for what one step computes — truncated BPTT
  carrying a hidden state from batch to batch (``text.language_model.BPTTTrainer``), a model that
  computes its own loss, several losses;
- driving it yourself: ``trainer.step(batch)`` runs one step with its batch hooks, without
  ``fit`` (a live playground steps it between frames), and ``fit(..., max_steps=n)`` stops
  after n steps in total.

Distributed runs change nothing here: the trainer calls its ``strategy`` (``LocalStrategy``
on one process, ``DataParallel`` over MPI ranks) at fixed points, and each callback says with
``rank_zero_only`` whether it runs on rank 0 alone.
"""
from __future__ import annotations

import math
import numbers
import time
from contextlib import contextmanager

from ember import backend
from ember.autograd.grad_mode import no_grad
from ember.autograd.tensor import Tensor
from ember.distributed.data_parallel import DataParallel
from ember.distributed.strategy import LocalStrategy, Strategy
from ember.ops import concat
from ember.train.callbacks import Callback, LRSchedulerCallback
from ember.train.checkpoint import load_checkpoint, save_checkpoint
from ember.train.diagnosis import Diagnose
from ember.train.metrics import get_metric

__all__ = ["History", "Trainer"]


class History:
    """The per-epoch records of a run: ``history[i]`` is epoch i's dict, ``history["loss"]`` a column.

    >>> history = trainer.fit(train_loader, dev_loader, epochs=10)
    >>> history["dev_accuracy"][-1], history.last["loss"]
    """

    def __init__(self, rows=None):
        self.rows: list[dict] = [dict(r) for r in (rows or [])]

    def append(self, row: dict) -> None:
        self.rows.append(row)

    def __getitem__(self, key):
        if isinstance(key, str):
            return [row.get(key) for row in self.rows]
        return self.rows[key]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    @property
    def last(self) -> dict:
        """The latest epoch's record ({} before the first epoch)."""
        return self.rows[-1] if self.rows else {}

    def keys(self) -> list[str]:
        """Every key that appears in some record, in first-seen order."""
        return list(dict.fromkeys(k for row in self.rows for k in row))

    def __repr__(self):
        return f"History({len(self)} epochs, keys={self.keys()})"


def _resolve_metrics(metrics) -> dict:
    if metrics is None:
        return {}
    if isinstance(metrics, dict):
        return {name: get_metric(m) for name, m in metrics.items()}
    if isinstance(metrics, str) or callable(metrics):
        metrics = [metrics]
    return {m if isinstance(m, str) else m.__name__: get_metric(m) for m in metrics}


class Trainer:
    """Train ``model`` with ``optimizer`` on ``loss_fn``, calling ``callbacks`` around the loop.

    Args:
        model: a ``Module``; called as ``model(*inputs)``.
        optimizer: an ``ember.optim`` optimizer over the model's parameters.
        loss_fn: ``loss_fn(output, target)`` → scalar tensor (e.g. ``nn.CrossEntropyLoss()``).
        callbacks: ``Callback`` instances (run in ascending ``order``).
        metrics: names (``'accuracy'``) or functions ``f(output, target) -> float``, or a
            dict name → function; ``None`` for none. Averaged over each epoch.
        device: move the model and every batch there (``'cpu'``/``'cuda'``).
        distributed: ``True`` for data-parallel training over the ranks of ``mpiexec`` (the
            ``DataParallel`` strategy of ``ember.distributed``): rank 0's weights are broadcast
            at ``fit``, every loader is sharded per rank (``batch_size`` is per rank), gradients
            are averaged before each step, BatchNorm statistics at each epoch's end, logs are
            reduced over all ranks, and only rank 0 runs the ``rank_zero_only`` callbacks, those
            that print or write (progress, loggers, plots, checkpoints). Without ``mpiexec`` it
            trains as one process. A ``Strategy`` instance is used as it is.
        diagnose: after ``fit`` with a dev set, print the bias/variance diagnosis from the train
            and dev error (1 − accuracy; ``ember.train.diagnose``) unless a ``Diagnose`` callback
            is given; ``False`` for none.

    A batch is ``(x, y)``, or ``(x1, ..., xk, y)`` for models with several inputs. The
    history row of each epoch holds ``epoch`` (from 1), ``loss``, the metrics, ``dev_loss``
    and ``dev_<metric>`` with a dev loader, ``lr`` (of the first parameter group, during the
    epoch) and ``time`` (seconds). ``strategy`` is the ``Strategy`` chosen from ``distributed``.

    >>> trainer = Trainer(model, optim.Adam(model.parameters(), lr=1e-3), nn.CrossEntropyLoss(),
    ...                   callbacks=[ProgressBar(), EarlyStopping(patience=3)])
    >>> history = trainer.fit(train_loader, dev_loader, epochs=20)
    >>> trainer.evaluate(test_loader)["accuracy"]
    """

    def __init__(self, model, optimizer, loss_fn, callbacks=(), metrics=("accuracy",), device=None,
                 distributed=False, diagnose=True):
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.metrics = _resolve_metrics(metrics)
        callbacks = list(callbacks)
        if diagnose and not any(isinstance(c, Diagnose) for c in callbacks):
            callbacks.append(Diagnose())  # prints bias/variance after fit when there is a dev set
        for c in callbacks:
            if not isinstance(c, Callback):
                raise TypeError(f"Trainer: callbacks must be Callback instances, got {type(c).__name__}")
        self.callbacks = sorted(callbacks, key=lambda c: c.order)  # stable: ties keep the given order
        self.device = None if device is None else backend.normalize_device(device)
        if self.device is not None:
            model.to(self.device)
        self.strategy = _strategy(distributed, model)
        # Everything a step or a callback reads exists from here on, so that ``step`` works without ``fit``.
        self.history = History()
        self.epoch = self.start_epoch = self.epochs = self.epochs_completed = self.global_step = 0
        self.num_batches = self.max_steps = None
        self.stop_training = False

    # -- the loop --------------------------------------------------------------------------------
    def fit(self, train_loader, dev_loader=None, epochs: int | None = None, resume_from=None,
            max_steps: int | None = None) -> History:
        """Train for ``epochs`` epochs in total, or until ``max_steps`` optimisation steps in total; return the history.

        ``epochs`` defaults to 1, or, with ``max_steps``, to as many as the steps need (as
        Lightning's ``max_steps``); with both, training stops at whichever comes first. An
        epoch cut short by ``max_steps`` still ends as the others do (dev evaluation,
        ``on_epoch_end``, a history row). ``resume_from`` (a checkpoint written by
        ``save_checkpoint`` or ``ModelCheckpoint``) restores the model, optimizer, scheduler,
        RNG, history, step count and callback states, and the run continues from the epoch
        after the saved one as if it had never stopped. ``epochs=0`` trains nothing; a negative
        or non-integer ``epochs`` or ``max_steps`` raises ValueError.

        >>> trainer.fit(train_loader, dev_loader, max_steps=1000)   # ⌈1000 / len(train_loader)⌉ epochs
        """
        epochs, max_steps = _count("epochs", epochs), _count("max_steps", max_steps)
        self.stop_training, self.start_epoch, self.max_steps = False, 0, max_steps
        if resume_from is not None:
            self.load_checkpoint(resume_from)
        else:
            self.history, self.global_step, self.epochs_completed = History(), 0, 0
        self.strategy.broadcast_parameters()  # after any resume, every rank starts from rank 0's weights
        train_loader = self.strategy.shard_loader(train_loader)
        try:
            self.num_batches = len(train_loader)
        except TypeError:  # a loader over an IterableDataset without __len__ (len raises, as in PyTorch)
            self.num_batches = None
        self.epochs = self._planned_epochs(epochs)
        self._call("on_train_begin")
        epoch = self.start_epoch
        while (self.epochs is None or epoch < self.epochs) and not self._steps_done():
            self.epoch = epoch
            self._run_epoch(train_loader, dev_loader, epoch)
            if self.stop_training:
                break
            epoch += 1
        self._call("on_train_end")
        return self.history

    def _planned_epochs(self, epochs):
        """``epochs``, or without it the epochs that ``max_steps`` needs (None when the loader has no length)."""
        if epochs is not None or self.max_steps is None:
            return 1 if epochs is None else epochs
        if self.num_batches is None:
            return None
        remaining = max(self.max_steps - self.global_step, 0)
        return self.start_epoch + math.ceil(remaining / max(self.num_batches, 1))

    def _steps_done(self) -> bool:
        return self.max_steps is not None and self.global_step >= self.max_steps

    def _run_epoch(self, train_loader, dev_loader, epoch: int) -> None:
        if hasattr(train_loader, "set_epoch"):
            train_loader.set_epoch(epoch)  # a seeded loader's order depends on the epoch alone
        self._call("on_epoch_begin", epoch)
        started, lr = time.perf_counter(), self._lr()
        logs = {"epoch": epoch + 1, **self._train_epoch(train_loader)}
        self.strategy.sync_running_stats()
        if dev_loader is not None:
            logs.update({f"dev_{k}": v for k, v in self.evaluate(dev_loader).items()})
        if lr is not None:
            logs["lr"] = lr
        logs["time"] = time.perf_counter() - started
        self.history.append(logs)
        self.epochs_completed = epoch + 1
        self._call("on_epoch_end", epoch, logs)

    def _train_epoch(self, loader) -> dict:
        self.model.train()
        return _sample_means(self._train_steps(loader), "Trainer.fit: the training loader", self.strategy)

    def _train_steps(self, loader):
        """Yield (logs, batch size) of each optimisation step until the loader ends or training must stop."""
        for batch_index, batch in enumerate(loader):
            yield self.step(batch, batch_index)
            self.stop_training = self.strategy.any_rank(self.stop_training)  # all ranks stop at the same step
            if self.stop_training or self._steps_done():
                break

    def step(self, batch, batch_index: int | None = None) -> tuple[dict, int]:
        """One optimisation step on ``batch`` with its hooks: ``on_batch_begin``, ``train_step``, ``on_batch_end``.

        ``fit`` calls it for every batch; call it yourself to drive training from outside,
        one batch at a time (put the model in train mode first, as ``fit`` does every epoch).
        ``batch_index`` is what the batch hooks receive (default: the steps done so far,
        ``global_step``). Returns the batch's logs, as ``train_step`` made them, and its size.

        >>> trainer.model.train()
        >>> for batch in itertools.islice(stream, 100):
        ...     logs, n = trainer.step(batch)
        """
        batch_index = self.global_step if batch_index is None else batch_index
        self._call("on_batch_begin", batch_index)
        logs, n = self.train_step(batch)
        self.global_step += 1
        record = dict(logs)  # the epoch's means count what the step computed, whatever a callback adds
        self._call("on_batch_end", batch_index, logs)
        return record, n

    def train_step(self, batch) -> tuple[dict, int]:
        """One optimisation step on ``batch``; returns the batch's logs (loss, metrics) and its size.

        The extension point for what a step computes: a subclass overrides it, computes a loss
        its own way and hands it to ``optimize(loss)``, which backpropagates and steps (with the
        gradient averaging of a distributed run and the ``on_before_step`` hook). The size weighs
        the batch in the epoch's means (samples here; a language model counts tokens). It reads
        nothing that only ``fit`` sets up, so ``step`` may call it outside ``fit``.

        >>> class CarryState(Trainer):                      # truncated BPTT, as text.language_model's
        ...     def train_step(self, batch):
        ...         x, y = batch
        ...         logits, self.state = self.model(x, detach_state(self.state))
        ...         loss = self.loss_fn(logits, y)
        ...         self.optimize(loss)
        ...         return {"loss": loss.item()}, y.numel()
        """
        inputs, target = self._unpack(batch)
        output = self.model(*inputs)
        loss = self.loss_fn(output, target)
        self.optimize(loss)
        return self._batch_logs(loss, output, target), _batch_size(target)

    def optimize(self, loss) -> None:
        """The end of every step: zero the gradients, ``loss.backward()``, average them over the ranks,
        run ``on_before_step`` (clipping), ``optimizer.step()``. A ``train_step`` override calls it on its loss."""
        self.optimizer.zero_grad()
        loss.backward()
        self.strategy.average_gradients()
        self._call("on_before_step")
        self.optimizer.step()

    def _batch_logs(self, loss, output, target) -> dict:
        logs = {"loss": float(loss.item())}
        if self.metrics:
            output = output.detach()  # a metric may call .numpy(), which a tensor in the graph refuses
            with no_grad():
                for name, fn in self.metrics.items():
                    logs[name] = float(fn(output, target))
        return logs

    # -- evaluation ------------------------------------------------------------------------------
    def evaluate(self, loader) -> dict:
        """Mean loss and metrics over ``loader`` in eval mode without gradients (the mode is restored).

        >>> trainer.evaluate(test_loader)
        {'loss': 0.081, 'accuracy': 0.975}
        """
        loader = self.strategy.shard_loader(loader, train=False)
        with self._inference():
            return _sample_means(self._eval_steps(loader), "Trainer.evaluate: the loader", self.strategy)

    def _eval_steps(self, loader):
        for batch in loader:
            inputs, target = self._unpack(batch)
            output = self.model(*inputs)
            yield self._batch_logs(self.loss_fn(output, target), output, target), _batch_size(target)

    def predict(self, loader) -> Tensor:
        """The model's outputs for every batch of ``loader`` (inputs only, or (inputs, target)), concatenated."""
        with self._inference():
            return concat([self.model(*self._inputs(batch)) for batch in loader], 0)

    @contextmanager
    def _inference(self):
        """Eval mode without gradients; the model's mode is restored afterwards, even on an error."""
        was_training = self.model.training
        self.model.eval()
        try:
            with no_grad():
                yield
        finally:
            self.model.train(was_training)

    # -- checkpoints -----------------------------------------------------------------------------
    @property
    def scheduler(self):
        """The scheduler of the first ``LRSchedulerCallback``, if any (it is saved in checkpoints)."""
        for c in self.callbacks:
            if isinstance(c, LRSchedulerCallback):
                return c.scheduler
        return None

    def save_checkpoint(self, path, **extra) -> None:
        """Write a full checkpoint of the run after ``epochs_completed`` epochs (see ``fit(resume_from=...)``).

        In a distributed run only rank 0 writes.
        """
        if not self.strategy.is_main:
            return
        callbacks = {_callback_key(i, c): c.state_dict() for i, c in enumerate(self.callbacks)}
        save_checkpoint(path, self.model, self.optimizer, self.scheduler, epoch=self.epochs_completed,
                        global_step=self.global_step, history=self.history.rows, callbacks=callbacks, **extra)

    def load_checkpoint(self, path) -> dict:
        """Restore a checkpoint written by ``save_checkpoint``; training continues after its epoch."""
        extra = load_checkpoint(path, self.model, self.optimizer, self.scheduler, device=self.device)
        self.start_epoch = self.epochs_completed = int(extra["epoch"])
        self.global_step = int(extra.get("global_step", 0))
        self.history = History(extra.get("history", []))
        states = extra.get("callbacks", {})
        for i, c in enumerate(self.callbacks):
            if _callback_key(i, c) in states:
                c.load_state_dict(states[_callback_key(i, c)])
        return extra

    # -- helpers ---------------------------------------------------------------------------------
    def _call(self, hook: str, *args) -> None:
        for c in self.callbacks:
            if self.strategy.runs_callback(c):
                getattr(c, hook)(self, *args)

    def _lr(self):
        groups = getattr(self.optimizer, "param_groups", None)
        return float(groups[0]["lr"]) if groups and "lr" in groups[0] else None

    def _unpack(self, batch):
        """(inputs, target) of a batch ``(x1, ..., xk, y)``, as tensors on the trainer's device."""
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            size = f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else ""
            raise ValueError(f"Trainer: a batch must be a tuple (inputs..., target), "
                             f"got a {type(batch).__name__}{size}")
        *inputs, target = (self._to_device(b) for b in batch)
        return inputs, target

    def _inputs(self, batch) -> list:
        """The model inputs of a prediction batch: a lone tensor, ``(x,)``, or ``(inputs..., target)``."""
        if isinstance(batch, Tensor):
            batch = (batch,)
        if not isinstance(batch, (tuple, list)):
            raise ValueError(f"Trainer.predict: a batch must be a tensor or a tuple, got a {type(batch).__name__}")
        return [self._to_device(b) for b in (batch[:-1] if len(batch) > 1 else batch)]

    def _to_device(self, x):
        if not isinstance(x, Tensor):
            x = Tensor(x)
        return x if self.device is None else x.to(self.device)


def _sample_means(steps, source: str, strategy: Strategy) -> dict:
    """Each log's mean over samples (batches weighted by size) from the (logs, batch size) pairs of ``steps``,
    over the samples of every rank of ``strategy``."""
    totals, count = {}, 0
    for logs, n in steps:
        count += n
        for k, v in logs.items():
            totals[k] = totals.get(k, 0.0) + v * n
    totals, count = strategy.reduce_sums(totals, count)
    if count == 0:
        raise ValueError(f"{source} yielded no batches")
    return {k: v / count for k, v in totals.items()}


def _strategy(distributed, model) -> Strategy:
    """The strategy of ``Trainer(distributed=...)``: a given ``Strategy``, MPI data parallel for True, else local."""
    if isinstance(distributed, Strategy):
        return distributed
    return DataParallel(model) if distributed else LocalStrategy()


def _count(name: str, value):
    """``value`` (``epochs``, ``max_steps``) as an int, None kept; a negative or non-integer one raises."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"Trainer.fit: {name} should be a non-negative integer, got {value!r}")
    return int(value)


def _batch_size(target) -> int:
    return int(target.shape[0]) if getattr(target, "ndim", 0) else 1


def _callback_key(index: int, callback: Callback) -> str:
    return f"{index}:{type(callback).__name__}"
