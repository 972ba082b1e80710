"""``LRScheduler``: the base of every learning-rate schedule (the schedules live in ``lr_scheduler``).

A scheduler owns an epoch counter, ``last_epoch``, and computes each group's rate from the
group's initial rate α0 (``base_lrs``) in closed form: ``step()`` advances the counter
(``_advance``) and then writes ``get_lr()`` into every group's ``'lr'``. Keeping the two
apart lets a composite schedule (``SequentialLR``, ``ChainedScheduler``) advance its
members and combine their rates before anything is written.
"""
from __future__ import annotations

import types

from ember.optim.optimizer import Optimizer


class LRScheduler:
    """Base class: ``get_lr()`` returns each group's rate at epoch ``last_epoch``.

    Construction records each group's starting rate as ``'initial_lr'`` (``base_lrs``)
    and applies the rate of epoch 0; ``last_epoch`` other than -1 resumes a schedule,
    which needs ``'initial_lr'`` in every group (it is part of the optimiser's state dict).

    >>> class Halving(LRScheduler):
    ...     def get_lr(self):
    ...         return [base * 0.5 ** self.last_epoch for base in self.base_lrs]
    """

    _unsaved = ("optimizer",)
    _chainable = True  # False: a ChainedScheduler takes this schedule's rate as it is (PyTorch's non-chainable ones)

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        self._attach(optimizer)
        for i, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(f"{type(self).__name__}: param group {i} has no 'initial_lr', needed to resume "
                               f"at last_epoch={last_epoch}; load the optimizer's state dict first")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self.step()

    def _attach(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an ember Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer

    def get_lr(self) -> list[float]:
        """Each group's learning rate at epoch ``self.last_epoch``."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_lr")

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch (or jump to ``epoch``) and set every group's ``'lr'``."""
        self._step_count += 1
        self._advance(epoch)
        self._set_lrs(self.get_lr())

    def _advance(self, epoch) -> None:
        """Move the counters on by one epoch, or to ``epoch``; set nothing."""
        self.last_epoch = self.last_epoch + 1 if epoch is None else int(epoch)

    def _chain(self, lrs, old, new) -> list[float]:
        """The rates ``lrs`` (set by the schedules before this one in a chain) changed as this schedule
        changed its own, from ``old`` to ``new``: PyTorch's recursive form, a factor new/old."""
        if not self._chainable:
            return list(new)
        return [lr * n / o if o else lr for lr, o, n in zip(lrs, old, new, strict=True)]

    def _set_lrs(self, lrs) -> None:
        for group, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            group["lr"] = float(lr)
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the latest ``step()``."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """The scheduler's counters and options (plain numbers and lists: JSON-able)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()
                if k not in self._unsaved}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a ``state_dict()``; load the optimiser's own state dict alongside."""
        self.__dict__.update({k: v for k, v in state_dict.items() if k not in self._unsaved})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, last_lr={self.get_last_lr()})"


def per_group(name: str, optimizer: Optimizer, value) -> list:
    """``value`` once per parameter group: a list or tuple as given (checked for length), else repeated."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{name} must have one value per param group ({n}), got {len(value)}")
        return list(value)
    return [value] * n


def function_state(f):
    """How a state dict keeps a user's function, as PyTorch does: None for a plain function (it cannot
    be saved), the attributes (``__dict__``) of a callable object, restored into the object the new
    scheduler was built with."""
    return None if f is None or isinstance(f, types.FunctionType) else dict(f.__dict__)
