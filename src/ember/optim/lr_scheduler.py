"""Learning-rate schedules: each scheduler sets every parameter group's ``'lr'`` once per ``step()``.

Call ``scheduler.step()`` once per epoch (or per iteration, for warmup), after
``optimizer.step()``. Except for ``ReduceLROnPlateau``, each scheduler computes the
rate in closed form from the group's initial rate α0 and the epoch counter, so the
sequences equal PyTorch's and a restored scheduler continues exactly. To change the
rate by hand mid-run, set ``scheduler.base_lrs`` (a change to ``group['lr']`` lasts
only until the next ``step()``).

>>> sched = em.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
>>> for epoch in range(30):
...     train_one_epoch(); sched.step()
"""
from __future__ import annotations

import bisect
import math
from collections.abc import Callable

from ember.optim.optimizer import Optimizer


class LRScheduler:
    """Base class: ``get_lr()`` returns each group's rate at epoch ``last_epoch``.

    Construction records each group's starting rate as ``'initial_lr'`` (``base_lrs``)
    and applies the rate of epoch 0; ``last_epoch`` other than -1 resumes a schedule,
    which needs ``'initial_lr'`` in every group (it is part of the optimiser's state dict).
    """

    _unsaved = ("optimizer",)

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
        self.last_epoch = self.last_epoch + 1 if epoch is None else int(epoch)
        self._set_lrs(self.get_lr())

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


# -- PyTorch's schedules -----------------------------------------------------------------------
class LambdaLR(LRScheduler):
    """α = α0·f(epoch), with one function for all groups or a list with one per group.

    The functions are not part of ``state_dict()``: recreate the scheduler with them.

    >>> sched = LambdaLR(opt, lambda epoch: 0.95 ** epoch)
    """

    _unsaved = ("optimizer", "lr_lambdas")

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable | list[Callable], last_epoch: int = -1):
        n = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise ValueError(f"LambdaLR: expected {n} lr_lambdas (one per param group), got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * n
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * f(self.last_epoch) for base, f in zip(self.base_lrs, self.lr_lambdas, strict=True)]


class StepLR(LRScheduler):
    """α = α0·γ^⌊epoch / step_size⌋: multiply the rate by γ every ``step_size`` epochs.

    >>> sched = StepLR(opt, step_size=30, gamma=0.1)   # 0.05 for 30 epochs, then 0.005, ...
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        if int(step_size) < 1:
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size}")
        self.step_size, self.gamma = int(step_size), gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """α = α0·γ^k, with k the number of milestones reached (a repeated milestone counts twice).

    >>> sched = MultiStepLR(opt, milestones=[30, 80], gamma=0.1)
    """

    def __init__(self, optimizer: Optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        self.milestones, self.gamma = sorted(int(m) for m in milestones), gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        k = bisect.bisect_right(self.milestones, self.last_epoch)
        return [base * self.gamma**k for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """α = α0·γ^epoch (the course's exponential decay, e.g. γ = 0.95).

    >>> sched = ExponentialLR(opt, gamma=0.95)
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * self.gamma**self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """α = η_min + (α0 − η_min)·(1 + cos(π·epoch/T_max))/2.

    Falls from α0 to ``eta_min`` over ``T_max`` epochs; past T_max it rises again (period
    2·T_max), as PyTorch's does.

    >>> sched = CosineAnnealingLR(opt, T_max=100, eta_min=1e-5)
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        if T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be positive, got {T_max}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        c = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (base - self.eta_min) * c for base in self.base_lrs]


# -- the course's decays -----------------------------------------------------------------------
class InverseTimeDecay(LRScheduler):
    """α = α0/(1 + decay_rate·epoch) (the course's 1/t decay; α0 at epoch 0).

    >>> sched = InverseTimeDecay(opt, decay_rate=1.0)   # α0, α0/2, α0/3, ...
    """

    def __init__(self, optimizer: Optimizer, decay_rate: float, last_epoch: int = -1):
        if decay_rate < 0:
            raise ValueError(f"InverseTimeDecay: decay_rate must be >= 0, got {decay_rate}")
        self.decay_rate = decay_rate
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base / (1 + self.decay_rate * self.last_epoch) for base in self.base_lrs]


class InverseSqrtDecay(LRScheduler):
    """α = k·α0/√max(epoch, 1) (the course's k/√t decay).

    Epochs count from 0, so epoch 0 uses √1 like epoch 1: the first two epochs both run
    at k·α0, then k·α0/√2, k·α0/√3, ...

    >>> sched = InverseSqrtDecay(opt, k=1.0)
    """

    def __init__(self, optimizer: Optimizer, k: float = 1.0, last_epoch: int = -1):
        self.k = k
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [self.k * base / math.sqrt(max(self.last_epoch, 1)) for base in self.base_lrs]


class LinearWarmup(LRScheduler):
    """A linear ramp from ``start_factor``·α0 up to α0 over ``warmup_steps`` steps, then
    constant α0, or the schedule ``after_scheduler`` with its epochs counted from the end
    of the warmup:

        α = α0·(s + (1 − s)·epoch/warmup_steps)    for epoch < warmup_steps (s = start_factor)

    ``after_scheduler`` must be built first, on the same optimiser; step only the warmup.

    >>> cosine = CosineAnnealingLR(opt, T_max=95)
    >>> sched = LinearWarmup(opt, warmup_steps=5, start_factor=0.1, after_scheduler=cosine)
    """

    _unsaved = ("optimizer", "after_scheduler")

    def __init__(self, optimizer: Optimizer, warmup_steps: int, start_factor: float = 0.0,
                 after_scheduler: LRScheduler | None = None, last_epoch: int = -1):
        if int(warmup_steps) < 1 or not 0.0 <= start_factor <= 1.0:
            raise ValueError(f"LinearWarmup: need warmup_steps >= 1 and 0 <= start_factor <= 1, "
                             f"got warmup_steps={warmup_steps}, start_factor={start_factor}")
        if after_scheduler is not None and (isinstance(after_scheduler, ReduceLROnPlateau)
                                            or after_scheduler.optimizer is not optimizer):
            raise ValueError("LinearWarmup: after_scheduler must be an epoch-based scheduler on the same optimizer")
        self.warmup_steps, self.start_factor = int(warmup_steps), start_factor
        self.after_scheduler = after_scheduler
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        epoch = self.last_epoch
        if epoch < self.warmup_steps:
            factor = self.start_factor + (1 - self.start_factor) * epoch / self.warmup_steps
            return [base * factor for base in self.base_lrs]
        if self.after_scheduler is None:
            return list(self.base_lrs)
        after = self.after_scheduler
        after.last_epoch = epoch - self.warmup_steps
        after._last_lr = after.get_lr()
        return after._last_lr

    def state_dict(self) -> dict:
        state = super().state_dict()
        if self.after_scheduler is not None:
            state["after_scheduler"] = self.after_scheduler.state_dict()
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        if self.after_scheduler is not None and "after_scheduler" in state_dict:
            self.after_scheduler.load_state_dict(state_dict["after_scheduler"])


# -- feedback ----------------------------------------------------------------------------------
class ReduceLROnPlateau(LRScheduler):
    """Multiply the rate by ``factor`` when a metric stops improving (PyTorch's rules).

    ``step(metric)`` once per epoch: after more than ``patience`` epochs without an
    improvement (better than the best by ``threshold``, relative or absolute), every
    group's rate becomes max(lr·factor, min_lr); then ``cooldown`` epochs pass before
    bad epochs count again. It changes ``group['lr']`` itself, so manual changes stay.

    >>> sched = ReduceLROnPlateau(opt, mode='min', factor=0.5, patience=3)
    >>> sched.step(dev_loss)
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0, min_lr=0, eps: float = 1e-8):
        self._attach(optimizer)
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be < 1, got {factor}")
        if mode not in ("min", "max") or threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max' and threshold_mode 'rel' or 'abs', "
                             f"got {mode!r}, {threshold_mode!r}")
        n = len(optimizer.param_groups)
        min_lrs = list(min_lr) if isinstance(min_lr, (list, tuple)) else [min_lr] * n
        if len(min_lrs) != n:
            raise ValueError(f"ReduceLROnPlateau: expected {n} min_lrs (one per param group), got {len(min_lrs)}")
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown, self.min_lrs, self.eps = (
            threshold, threshold_mode, cooldown, min_lrs, eps)
        self.last_epoch, self._step_count = 0, 0
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = 0
        self._last_lr = self.get_lr()

    def step(self, metrics, epoch: int | None = None) -> None:
        """Record this epoch's metric (a number or one-element tensor) and cut the rate if it plateaus."""
        current = float(metrics)
        self._step_count += 1
        self.last_epoch = self.last_epoch + 1 if epoch is None else int(epoch)
        if self._is_better(current):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = self.get_lr()

    def _is_better(self, a: float) -> bool:
        best, th = self.best, self.threshold
        if self.mode == "min":
            return a < (best * (1 - th) if self.threshold_mode == "rel" else best - th)
        return a > (best * (1 + th) if self.threshold_mode == "rel" else best + th)

    def _reduce_lr(self) -> None:
        for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs, strict=True):
            old = float(group["lr"])
            new = max(old * self.factor, min_lr)
            if old - new > self.eps:  # skip changes too small to matter
                group["lr"] = new

    def get_lr(self) -> list[float]:
        """The groups' current rates (this scheduler keeps no closed form)."""
        return [group["lr"] for group in self.optimizer.param_groups]
