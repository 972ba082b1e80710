"""PyTorch's ``torch.multiprocessing``: Python's ``multiprocessing`` under the name programs import,
and ``spawn``.

Tensors moved into shared memory with ``share_memory_()`` (or a model's ``share_memory()``) before
the workers start are one memory for all of them under the ``fork`` start method (Linux's default):
Hogwild training, where each process updates the same parameters, works as in PyTorch. Under
``spawn`` a tensor is pickled and the child gets a copy.

>>> import ember.multiprocessing as mp
>>> model.share_memory()
>>> workers = [mp.Process(target=train, args=(model,)) for _ in range(2)]
"""
import multiprocessing as _multiprocessing
from multiprocessing import *  # noqa: F403 - the whole of multiprocessing, as torch.multiprocessing re-exports it
from multiprocessing import __all__ as _all

__all__ = [*_all, "ProcessContext", "spawn"]


class ProcessContext:
    """The processes ``spawn(..., join=False)`` started; ``join()`` waits for them and raises if one failed."""

    def __init__(self, processes):
        self.processes = processes

    def pids(self):
        return [p.pid for p in self.processes]

    def join(self, timeout=None) -> bool:
        """Wait for every process; True when all have ended. A failed one raises, naming its index and code."""
        for p in self.processes:
            p.join(timeout)
        for i, p in enumerate(self.processes):
            if p.exitcode not in (None, 0):
                raise RuntimeError(f"spawn: process {i} terminated with exit code {p.exitcode}")
        return all(p.exitcode is not None for p in self.processes)


def spawn(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """Run ``fn(i, *args)`` in ``nprocs`` processes, i = 0 … nprocs − 1 (PyTorch's ``mp.spawn``); wait for
    them unless ``join=False``, which returns their ``ProcessContext``."""
    context = _multiprocessing.get_context(start_method)
    processes = [context.Process(target=fn, args=(i, *args), daemon=daemon) for i in range(nprocs)]
    for p in processes:
        p.start()
    workers = ProcessContext(processes)
    if not join:
        return workers
    workers.join()
    return None
