"""Learning-rate schedules: each scheduler sets every parameter group's ``'lr'`` once per ``step()``.

Call ``scheduler.step()`` once per epoch (or per batch, for warmup and the cyclical
schedules), after ``optimizer.step()``. Except for ``ReduceLROnPlateau`` and
``MultiplicativeLR``, each scheduler computes the rate in closed form from the group's
initial rate α0 and the epoch counter, so the sequences equal PyTorch's and a restored
scheduler continues exactly. To change the rate by hand mid-run, set
``scheduler.base_lrs`` (a change to ``group['lr']`` lasts only until the next ``step()``).

Two schedules on one optimiser combine through ``ChainedScheduler`` (both at once, as
PyTorch chains them) or ``SequentialLR`` (one after the other); stepping two schedulers side
by side without them leaves the rate of the last one stepped, where PyTorch would chain them.

>>> sched = em.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
>>> for epoch in range(30):
...     train_one_epoch(); sched.step()
"""
from __future__ import annotations

import bisect
import math
from collections.abc import Callable

from ember.optim.cyclic_lr import CosineAnnealingWarmRestarts, CyclicLR, OneCycleLR
from ember.optim.optimizer import Optimizer
from ember.optim.scheduler import LRScheduler, function_state

__all__ = ["LRScheduler", "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
           "ExponentialLR", "PolynomialLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "CyclicLR",
           "OneCycleLR", "SequentialLR", "ChainedScheduler", "ReduceLROnPlateau", "InverseTimeDecay",
           "InverseSqrtDecay", "LinearWarmup"]


_LRScheduler = LRScheduler  # PyTorch's older name, which custom schedulers still subclass


# -- PyTorch's schedules -----------------------------------------------------------------------
class _SavesLambdas(LRScheduler):
    """``lr_lambdas`` in the state dict as PyTorch keeps them: None for a plain function, the
    attributes of a callable object (restored into the one the new scheduler was built with)."""

    _unsaved = ("optimizer", "lr_lambdas")

    def state_dict(self) -> dict:
        return {**super().state_dict(), "lr_lambdas": [function_state(f) for f in self.lr_lambdas]}

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        for f, saved in zip(self.lr_lambdas, state_dict.get("lr_lambdas") or [], strict=False):
            if saved is not None:
                f.__dict__.update(saved)


class LambdaLR(_SavesLambdas):
    """α = α0·f(epoch), with one function for all groups or a list with one per group.

    Plain functions are not part of ``state_dict()``: recreate the scheduler with them.

    >>> sched = LambdaLR(opt, lambda epoch: 0.95 ** epoch)
    """

    _chainable = False  # α0·f(epoch) outright, in a chain too (as PyTorch's)

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable | list[Callable], last_epoch: int = -1):
        self.lr_lambdas = _lambdas("LambdaLR", optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * f(self.last_epoch) for base, f in zip(self.base_lrs, self.lr_lambdas, strict=True)]


class MultiplicativeLR(_SavesLambdas):
    """α_t = α_{t−1}·f(t): multiply the rate by f(epoch) at every step after the first.

    So α_t = α0·f(1)·f(2)·…·f(t). Unlike the closed-form schedules it keeps its running rate,
    as PyTorch's does; ``step(epoch)`` multiplies the groups' current rate by f(epoch), as in
    PyTorch. Plain functions are not part of ``state_dict()``.

    >>> sched = MultiplicativeLR(opt, lambda epoch: 0.95)
    """

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable | list[Callable], last_epoch: int = -1):
        self.lr_lambdas = _lambdas("MultiplicativeLR", optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def _advance(self, epoch) -> None:
        super()._advance(epoch)
        groups, t = self.optimizer.param_groups, self.last_epoch
        if epoch is not None:
            self._lrs = [g["lr"] * f(t) for g, f in zip(groups, self.lr_lambdas, strict=True)]
        elif t == 0:
            self._lrs = list(self.base_lrs)
        elif not hasattr(self, "_lrs"):  # resumed at last_epoch > 0: go on from the groups' rates
            self._lrs = [g["lr"] for g in groups]
        else:
            self._lrs = [lr * f(t) for lr, f in zip(self._lrs, self.lr_lambdas, strict=True)]

    def get_lr(self):
        return list(self._lrs)


def _lambdas(name: str, optimizer: Optimizer, lr_lambda) -> list[Callable]:
    """One function per parameter group (one given for all, or a list of them)."""
    n = len(optimizer.param_groups)
    if not isinstance(lr_lambda, (list, tuple)):
        lr_lambda = [lr_lambda] * n
    if len(lr_lambda) != n:
        raise ValueError(f"{name}: expected {n} lr_lambdas (one per param group), got {len(lr_lambda)}")
    for f in lr_lambda:
        if not callable(f):
            raise TypeError(f"{name}: lr_lambda should be a function, got {type(f).__name__}")
    return list(lr_lambda)


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


class ConstantLR(LRScheduler):
    """α = α0·factor for the first ``total_iters`` epochs, then α0.

    >>> sched = ConstantLR(opt, factor=0.5, total_iters=4)   # α0/2 for epochs 0-3, then α0
    """

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5, last_epoch: int = -1):
        if not 0 <= factor <= 1.0:
            raise ValueError(f"ConstantLR: factor must be between 0 and 1, got {factor}")
        self.factor, self.total_iters = factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        factor = self.factor if self.last_epoch < self.total_iters else 1.0
        return [base * factor for base in self.base_lrs]


class LinearLR(LRScheduler):
    """α = α0·(s + (e − s)·min(epoch, total_iters)/total_iters): the factor goes linearly from
    ``start_factor`` s to ``end_factor`` e over ``total_iters`` epochs, then stays at e.

    >>> sched = LinearLR(opt, start_factor=0.1, total_iters=5)   # a 5-epoch warmup to α0
    """

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1):
        if not 0 < start_factor <= 1.0:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor}")
        if not 0 <= end_factor <= 1.0:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor}")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        s, e, n = self.start_factor, self.end_factor, self.total_iters
        factor = s + (e - s) * min(n, self.last_epoch) / n
        return [base * factor for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """α = α0·γ^epoch (the course's exponential decay, e.g. γ = 0.95).

    >>> sched = ExponentialLR(opt, gamma=0.95)
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * self.gamma**self.last_epoch for base in self.base_lrs]


class PolynomialLR(LRScheduler):
    """α = α0·(1 − min(epoch, total_iters)/total_iters)^power: down to 0 in ``total_iters`` epochs.

    >>> sched = PolynomialLR(opt, total_iters=50, power=0.9)
    """

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1):
        self.total_iters, self.power = total_iters, power
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        factor = (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters) ** self.power
        return [base * factor for base in self.base_lrs]


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

    def _chain(self, lrs, old, new):
        """PyTorch's recursive cosine: the distance to η_min scaled by the step's factor (a step up from
        the bottom, where that factor is 0/0, adds the closed form's increment)."""
        eta = self.eta_min
        if (self.last_epoch - 1 - self.T_max) % (2 * self.T_max) == 0:
            return [lr + (n - o) for lr, o, n in zip(lrs, old, new, strict=True)]
        return [eta + (lr - eta) * (n - eta) / (o - eta) for lr, o, n in zip(lrs, old, new, strict=True)]


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
        after._advance(epoch - self.warmup_steps)
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


# -- composition -------------------------------------------------------------------------------
class _Composite(LRScheduler):
    """What SequentialLR and ChainedScheduler share: checked members, saved inside the state dict."""

    _unsaved = ("optimizer", "_schedulers")

    def _set_members(self, optimizer: Optimizer, schedulers) -> None:
        name = type(self).__name__
        if len(schedulers) < 1:
            raise ValueError(f"{name} expects at least one scheduler, got none")
        for i, scheduler in enumerate(schedulers):
            if not hasattr(scheduler, "optimizer"):
                raise TypeError(f"{name}: the scheduler at index {i} has no optimizer attribute")
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(f"{name} does not support ReduceLROnPlateau (at index {i}): its step needs a metric")
            if scheduler.optimizer is not optimizer:
                raise ValueError(f"{name} expects all schedulers to belong to the same optimizer, "
                                 f"but the one at index {i} ({type(scheduler).__name__}) has another")
        self.optimizer, self._schedulers, self._step_count = optimizer, list(schedulers), 0

    def state_dict(self) -> dict:
        return {**super().state_dict(), "_schedulers": [s.state_dict() for s in self._schedulers]}

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        for scheduler, state in zip(self._schedulers, state_dict["_schedulers"], strict=True):
            scheduler.load_state_dict(state)


class SequentialLR(_Composite):
    """The schedules one after another: ``schedulers[i]`` takes over at epoch ``milestones[i − 1]``
    and counts its own epochs from 0 there.

    Build the member schedulers first, on the same optimiser; then step only this one.

    >>> warmup = LinearLR(opt, start_factor=0.1, total_iters=5)
    >>> cosine = CosineAnnealingLR(opt, T_max=95)
    >>> sched = SequentialLR(opt, [warmup, cosine], milestones=[5])
    """

    _chainable = False

    def __init__(self, optimizer: Optimizer, schedulers: list[LRScheduler], milestones: list[int],
                 last_epoch: int = -1):
        self._set_members(optimizer, schedulers)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR expects one milestone fewer than schedulers, got {len(schedulers)} "
                             f"schedulers and {len(milestones)} milestones")
        self._milestones, self.last_epoch = list(milestones), last_epoch + 1
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        for scheduler in self._schedulers:
            _undo_initial_step(scheduler)  # each member applied its epoch 0 when built
        self._active = bisect.bisect_right(self._milestones, 0)
        first = self._schedulers[self._active]
        first._step_count = 0
        first.step()
        self._last_lr = first.get_last_lr()

    def step(self) -> None:
        """Advance one epoch: the active member steps, or the next one starts at its epoch 0."""
        self._step_count += 1
        self._advance(None)
        member = self._schedulers[self._active]
        member._step_count += 1
        member._set_lrs(member.get_lr())
        self._last_lr = member.get_last_lr()

    def _advance(self, epoch) -> None:
        self.last_epoch = self.last_epoch + 1 if epoch is None else int(epoch)
        self._active = bisect.bisect_right(self._milestones, self.last_epoch)
        start = self._milestones[self._active - 1] if self._active > 0 else 0
        member = self._schedulers[self._active]
        member._advance(None if epoch is None and self.last_epoch != start else self.last_epoch - start)

    def get_lr(self):
        return self._schedulers[self._active].get_lr()


def _undo_initial_step(scheduler) -> None:
    """Take back the step a scheduler made when it was built (in every member of a composite)."""
    if hasattr(scheduler, "_schedulers"):
        for member in scheduler._schedulers:
            _undo_initial_step(member)
    elif hasattr(scheduler, "last_epoch"):
        scheduler.last_epoch -= 1


class ChainedScheduler(_Composite):
    """Several schedules at once, PyTorch's chain: every ``step()`` steps them all in order, and each
    changes the rate the ones before it left by the factor its own rate changed by,

        α ← α·αᵢ(t)/αᵢ(t − 1)        (αᵢ: the rate schedule i alone would set)

    so for the multiplying schedules the rate is α0·∏ᵢ αᵢ/α0. As in PyTorch, CosineAnnealingLR
    scales the distance to its η_min, and LambdaLR, CyclicLR, OneCycleLR and
    CosineAnnealingWarmRestarts are not chainable: each sets its own rate outright.

    >>> sched = ChainedScheduler([ConstantLR(opt, factor=0.1, total_iters=2), ExponentialLR(opt, gamma=0.9)])
    """

    _chainable = False

    def __init__(self, schedulers: list[LRScheduler], optimizer: Optimizer | None = None):
        if len(schedulers) < 1:
            raise ValueError("ChainedScheduler expects at least one scheduler, got none")
        self._set_members(optimizer or schedulers[0].optimizer, schedulers)
        # each member set its own epoch-0 rate when built: chain them from α0
        lrs = [group["initial_lr"] for group in self.optimizer.param_groups]
        for member in self._schedulers:
            lrs = member._last_lr = member._chain(lrs, getattr(member, "base_lrs", lrs), member.get_last_lr())
        self._lrs = lrs
        self._set_lrs(lrs)

    def step(self) -> None:
        """Step every member, in order, on the rate the previous one left."""
        self._step_count += 1
        for member in self._schedulers:
            member._step_count += 1
        self._advance(None)
        self._set_lrs(self.get_lr())

    def _advance(self, epoch) -> None:
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        for member in self._schedulers:
            old = member.get_lr() if member._chainable else None
            member._advance(epoch)
            lrs = member._last_lr = member._chain(lrs, old, member.get_lr())
        self._lrs = lrs

    def get_lr(self):
        return list(self._lrs)
