"""How a training loop spreads over processes: one ``Strategy`` object, chosen once, called at fixed points.

The ``Trainer`` never asks "am I distributed?"; it calls its strategy at the points where a
data-parallel run must act, and a one-process run does nothing there:

    fit begins           broadcast_parameters()          every rank starts from rank 0's weights
                         shard_loader(loader)            each rank reads its own share of the data
    after backward       average_gradients()             g ← (1/P) Σ_r g_r
    after the batch      any_rank(stop)                  all ranks stop at the same step
    epoch's end          sync_running_stats()            BatchNorm statistics: mean over ranks
                         reduce_sums(totals, count)      the epoch's logs over every rank's samples
    every callback hook  runs_callback(callback)         writers (``rank_zero_only``) on rank 0 only

``LocalStrategy`` is the one-process run: every hook leaves its argument as it is.
``DataParallel`` (``data_parallel.py``) is the MPI one: each hook is a collective over the
ranks of ``mpiexec``. This module knows nothing of the trainer or its callbacks: a callback
says for itself whether it writes, with a ``rank_zero_only`` attribute.
"""
from __future__ import annotations

__all__ = ["LocalStrategy", "Strategy"]


class Strategy:
    """The hooks a training loop calls to run data-parallel; each is a no-op here, as on one process.

    Subclasses override the hooks their collectives implement (``DataParallel``: all of them).
    ``rank``, ``world_size`` and ``is_main`` say where this process stands.
    """

    rank, world_size = 0, 1

    @property
    def is_main(self) -> bool:
        """True on rank 0, the rank that logs and writes checkpoints."""
        return self.rank == 0

    def broadcast_parameters(self, src: int = 0) -> None:
        """Make every rank's model equal to rank ``src``'s."""

    def shard_loader(self, loader, train: bool = True):
        """This rank's share of ``loader`` (the whole loader on one process)."""
        return loader

    def average_gradients(self) -> None:
        """Replace each gradient by its mean over the ranks (after backward, before the step)."""

    def sync_running_stats(self) -> None:
        """Replace running statistics (BatchNorm) by their mean over the ranks."""

    def reduce_sums(self, totals: dict, count: int) -> tuple[dict, int]:
        """Per-rank sums of logs (name → Σ value·batch size) and sample counts, summed over the ranks."""
        return totals, count

    def any_rank(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is true on some rank."""
        return bool(flag)

    def runs_callback(self, callback) -> bool:
        """Whether ``callback`` runs on this rank: all do on rank 0; elsewhere those not ``rank_zero_only``.

        Progress bars, file loggers, plots and checkpoints set ``rank_zero_only = True``;
        schedulers, clipping and early stopping run everywhere, from the same reduced logs.
        """
        return self.is_main or not getattr(callback, "rank_zero_only", False)


class LocalStrategy(Strategy):
    """One process, the default: the data as given, gradients and logs as computed, every callback run.

    >>> Trainer(model, opt, loss_fn).strategy
    LocalStrategy()
    """

    def __repr__(self):
        return "LocalStrategy()"
