"""``EpochLog``: the apps' one line per epoch, and the records their reports keep.

The apps print ``epoch 3/12  loss 0.1234  (41.5s)`` after each epoch, through the ``log``
function they are given (``print`` by default, ``None`` for silence), and save one record
per epoch, ``{'epoch', 'loss', 'seconds'}``, in their report.json; ``seconds`` counts from
the start of training, so the last record says how long the whole run took.
"""
from __future__ import annotations

import time

from ember.train.callbacks import Callback

__all__ = ["EpochLog"]


class EpochLog(Callback):
    """Record ``{'epoch' (from 1), 'loss', 'seconds' (since training began)}`` after each epoch and log it.

    Args:
        log: called with the epoch's line (``print``), or ``None`` to only record.

    >>> epochs = EpochLog(print)
    >>> Trainer(model, optimizer, loss_fn, callbacks=[epochs], metrics=None).fit(loader, epochs=2)  # doctest: +SKIP
    >>> epochs.history[-1]                                  # doctest: +SKIP
    {'epoch': 2, 'loss': 0.52, 'seconds': 3.1}
    """

    def __init__(self, log=print):
        self.log = log
        self.history: list[dict] = []
        self._started = None

    def on_train_begin(self, trainer) -> None:
        self.history, self._started = [], time.perf_counter()

    def on_epoch_end(self, trainer, epoch: int, logs: dict) -> None:
        record = {"epoch": epoch + 1, "loss": logs["loss"], "seconds": time.perf_counter() - self._started}
        self.history.append(record)
        if self.log:
            self.log(f"epoch {record['epoch']}/{trainer.epochs}  loss {record['loss']:.4f}  "
                     f"({record['seconds']:.1f}s)")
