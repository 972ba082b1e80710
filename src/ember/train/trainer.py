"""``Trainer``: the mini-batch training loop, with callbacks around it.

One epoch: ``model.train()``; for every mini-batch (x, y): ŷ = model(x), L = loss_fn(ŷ, y),
zero the gradients, ``L.backward()``, ``optimizer.step()``; then, with a dev loader, an
evaluation pass (``model.eval()``, no gradients). The epoch's mean loss and metrics go into
``trainer.history``. Everything else — progress bar, early stopping, checkpoints, LR
schedules, clipping, logs, plots — is a ``Callback``.
"""
from __future__ import annotations

import numbers
import time
from contextlib import contextmanager

from ember import backend
from ember.autograd.grad_mode import no_grad
from ember.autograd.tensor import Tensor
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
        distributed: data-parallel training over the ranks of ``mpiexec`` (``ember.distributed``):
            rank 0's weights are broadcast at ``fit``, every loader is sharded per rank
            (``batch_size`` is per rank), gradients are averaged before each step, BatchNorm
            statistics at each epoch's end, logs are reduced over all ranks, and only rank 0
            runs the callbacks that print or write (progress, loggers, plots, checkpoints).
            Without ``mpiexec`` it trains as one process.
        diagnose: after ``fit`` with a dev set, print the bias/variance diagnosis from the train
            and dev error (1 − accuracy; ``ember.train.diagnose``) unless a ``Diagnose`` callback
            is given; ``False`` for none.

    A batch is ``(x, y)``, or ``(x1, ..., xk, y)`` for models with several inputs. The
    history row of each epoch holds ``epoch`` (from 1), ``loss``, the metrics, ``dev_loss``
    and ``dev_<metric>`` with a dev loader, ``lr`` (of the first parameter group, during the
    epoch) and ``time`` (seconds).

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
        self._dp = None
        if distributed:
            from ember.distributed import DataParallel  # MPI is imported only for a distributed run

            self._dp = DataParallel(model)
        self.history = History()
        self.epoch = self.start_epoch = self.epochs = self.epochs_completed = self.global_step = 0
        self.num_batches = None
        self.stop_training = False

    # -- the loop --------------------------------------------------------------------------------
    def fit(self, train_loader, dev_loader=None, epochs: int = 1, resume_from=None) -> History:
        """Train for ``epochs`` epochs in total; return the history.

        ``resume_from`` (a checkpoint written by ``save_checkpoint`` or ``ModelCheckpoint``)
        restores the model, optimizer, scheduler, RNG, history and callback states, and the
        run continues from the epoch after the saved one as if it had never stopped. ``epochs=0``
        trains nothing; a negative or non-integer ``epochs`` raises ValueError.
        """
        if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 0:
            raise ValueError(f"Trainer.fit: epochs should be a non-negative integer, got {epochs!r}")
        self.epochs, self.stop_training, self.start_epoch = int(epochs), False, 0
        if resume_from is not None:
            self.load_checkpoint(resume_from)
        else:
            self.history, self.global_step, self.epochs_completed = History(), 0, 0
        if self._dp is not None:
            self._dp.broadcast_parameters()  # after any resume, every rank starts from rank 0's weights
            train_loader = self._dp.shard_loader(train_loader)
        try:
            self.num_batches = len(train_loader)
        except TypeError:  # a loader over an IterableDataset without __len__ (len raises, as in PyTorch)
            self.num_batches = None
        self._call("on_train_begin")
        for epoch in range(self.start_epoch, self.epochs):
            self.epoch = epoch
            self._run_epoch(train_loader, dev_loader, epoch)
            if self.stop_training:
                break
        self._call("on_train_end")
        return self.history

    def _run_epoch(self, train_loader, dev_loader, epoch: int) -> None:
        if hasattr(train_loader, "set_epoch"):
            train_loader.set_epoch(epoch)  # a seeded loader's order depends on the epoch alone
        self._call("on_epoch_begin", epoch)
        started, lr = time.perf_counter(), self._lr()
        logs = {"epoch": epoch + 1, **self._train_epoch(train_loader)}
        if self._dp is not None:
            self._dp.sync_running_stats()
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
        return _sample_means(self._train_steps(loader), "Trainer.fit: the training loader", self._dp)

    def _train_steps(self, loader):
        """Yield (logs, batch size) of each optimisation step, calling the batch hooks around it."""
        for batch_index, batch in enumerate(loader):
            self._call("on_batch_begin", batch_index)
            logs, n = self.train_step(batch)
            self.global_step += 1
            yield logs, n
            self._call("on_batch_end", batch_index, logs)
            if self._dp is not None:
                self.stop_training = self._dp.any_rank(self.stop_training)  # all ranks stop at the same step
            if self.stop_training:
                break

    def train_step(self, batch) -> tuple[dict, int]:
        """One optimisation step on ``batch``; returns the batch's logs (loss, metrics) and its size."""
        inputs, target = self._unpack(batch)
        output = self.model(*inputs)
        loss = self.loss_fn(output, target)
        self.optimizer.zero_grad()
        loss.backward()
        if self._dp is not None:
            self._dp.average_gradients()
        self._call("on_before_step")
        self.optimizer.step()
        return self._batch_logs(loss, output, target), _batch_size(target)

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
        if self._dp is not None:
            loader = self._dp.shard_loader(loader, train=False)
        with self._inference():
            return _sample_means(self._eval_steps(loader), "Trainer.evaluate: the loader", self._dp)

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
        if self._dp is not None and not self._dp.is_main:
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
            if self._dp is None or self._dp.runs_callback(c):
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


def _sample_means(steps, source: str, dp=None) -> dict:
    """Each log's mean over samples (batches weighted by size) from the (logs, batch size) pairs of ``steps``;
    with ``dp`` (a ``DataParallel``), over the samples of every rank."""
    totals, count = {}, 0
    for logs, n in steps:
        count += n
        for k, v in logs.items():
            totals[k] = totals.get(k, 0.0) + v * n
    if dp is not None:
        totals, count = dp.reduce_sums(totals, count)
    if count == 0:
        raise ValueError(f"{source} yielded no batches")
    return {k: v / count for k, v in totals.items()}


def _batch_size(target) -> int:
    return int(target.shape[0]) if getattr(target, "ndim", 0) else 1


def _callback_key(index: int, callback: Callback) -> str:
    return f"{index}:{type(callback).__name__}"
