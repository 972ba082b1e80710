"""Cyclical schedules, stepped once per batch or per epoch: CyclicLR (triangular waves between two
rates), OneCycleLR (one warm-up and one anneal over the whole run) and CosineAnnealingWarmRestarts
(SGDR's cosine with restarts). The first two also cycle the momentum (or Adam's β1) against the rate."""
from __future__ import annotations

import math
from collections.abc import Callable

from ember.optim.optimizer import Optimizer
from ember.optim.scheduler import LRScheduler, function_state, per_group


class _CyclesMomentum:
    """The momentum side of a cyclical schedule: ``momentum``, or β1 of an optimiser with ``betas``."""

    def _init_momentum(self, optimizer: Optimizer, base_momentum, max_momentum, last_epoch: int) -> None:
        if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
            raise ValueError(f"{type(self).__name__}: the optimizer must have a momentum or betas option "
                             "for cycle_momentum=True")
        self.use_beta1 = "betas" in optimizer.defaults
        self.base_momentums = per_group("base_momentum", optimizer, base_momentum)
        self.max_momentums = per_group("max_momentum", optimizer, max_momentum)
        if last_epoch == -1:
            self._set_momentums(optimizer, self.max_momentums)
            for group, b, m in zip(optimizer.param_groups, self.base_momentums, self.max_momentums, strict=True):
                group["max_momentum"], group["base_momentum"] = m, b

    def _set_momentums(self, optimizer: Optimizer, momentums) -> None:
        for group, m in zip(optimizer.param_groups, momentums, strict=True):
            if self.use_beta1:
                group["betas"] = (m, *group["betas"][1:])
            else:
                group["momentum"] = m


class CyclicLR(_CyclesMomentum, LRScheduler):
    """The cyclical learning rate (Smith): a triangle wave between ``base_lr`` and ``max_lr``.

    With x ∈ [0, 1) the position in the current cycle (``step_size_up`` steps up, then
    ``step_size_down`` down) and h = x/r on the way up, (1 − x)/(1 − r) on the way down
    (r = up/(up + down)):

        α = base_lr + (max_lr − base_lr)·h·scale
        scale = 1 ('triangular'), 1/2^(cycle − 1) ('triangular2'), γ^iteration ('exp_range'),
                or ``scale_fn`` of the cycle number or of the iteration (``scale_mode``)

    With ``cycle_momentum`` the momentum (β1 for Adam-like optimisers) moves the other way,
    from ``max_momentum`` down to ``base_momentum`` at the peak rate. Step once per batch.
    A custom ``scale_fn`` that is a plain function is not part of ``state_dict()``: recreate
    the scheduler with it.

    >>> sched = CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=10, mode="triangular2")
    """

    _chainable = False  # its own rate outright, in a chain too (as PyTorch's)

    _unsaved = ("optimizer", "_scale_fn_custom")

    def __init__(self, optimizer: Optimizer, base_lr, max_lr, step_size_up: int = 2000,
                 step_size_down: int | None = None, mode: str = "triangular", gamma: float = 1.0,
                 scale_fn: Callable[[float], float] | None = None, scale_mode: str = "cycle",
                 cycle_momentum: bool = True, base_momentum=0.8, max_momentum=0.9, last_epoch: int = -1):
        self._attach(optimizer)
        base_lrs = per_group("base_lr", optimizer, base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups, strict=True):
                group["lr"] = lr
        self.max_lrs = per_group("max_lr", optimizer, max_lr)
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        self.total_size, self.step_ratio = up + down, up / (up + down)
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise ValueError(f"CyclicLR: mode must be 'triangular', 'triangular2' or 'exp_range' (or give a "
                             f"scale_fn), got {mode!r}")
        self.mode, self.gamma, self._scale_fn_custom = mode, gamma, scale_fn
        # the built-in modes fix what their scale is a function of
        self.scale_mode = scale_mode if scale_fn is not None else ("iterations" if mode == "exp_range" else "cycle")
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self._init_momentum(optimizer, base_momentum, max_momentum, last_epoch)
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def state_dict(self) -> dict:
        return {**super().state_dict(), "_scale_fn_custom": function_state(self._scale_fn_custom)}

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        if state_dict.get("_scale_fn_custom") is not None:
            self._scale_fn_custom.__dict__.update(state_dict["_scale_fn_custom"])

    def scale_fn(self, x: float) -> float:
        """The amplitude's scale at cycle (or iteration) x."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        return 1 / (2.0 ** (x - 1)) if self.mode == "triangular2" else self.gamma**x

    def get_lr(self):
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        h = x / self.step_ratio if x <= self.step_ratio else (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        if self.cycle_momentum:
            self._set_momentums(self.optimizer, [m - (m - b) * h * scale for b, m in
                                                 zip(self.base_momentums, self.max_momentums, strict=True)])
        return [base + (top - base) * h * scale for base, top in zip(self.base_lrs, self.max_lrs, strict=True)]


class OneCycleLR(_CyclesMomentum, LRScheduler):
    """The 1cycle policy (Smith and Topin), PyTorch's schedule exactly; step once per batch.

    The rate warms up from α0 = max_lr/div_factor to ``max_lr`` over the first ``pct_start``
    of ``total_steps`` (or ``epochs``·``steps_per_epoch``), then anneals down to
    α_min = α0/final_div_factor; with ``three_phase`` it comes back down to α0 symmetrically
    and only then anneals to α_min. Each phase interpolates by

        cos: end + (start − end)·(1 + cos(π·pct))/2        linear: start + (end − start)·pct

    and the momentum (β1 for Adam-like optimisers) moves the other way between
    ``max_momentum`` and ``base_momentum`` when ``cycle_momentum``. Stepping past
    ``total_steps`` is an error.

    >>> sched = OneCycleLR(opt, max_lr=0.1, epochs=10, steps_per_epoch=len(loader))
    """

    _chainable = False  # its own rate outright, in a chain too (as PyTorch's)

    def __init__(self, optimizer: Optimizer, max_lr, total_steps: int | None = None, epochs: int | None = None,
                 steps_per_epoch: int | None = None, pct_start: float = 0.3, anneal_strategy: str = "cos",
                 cycle_momentum: bool = True, base_momentum=0.85, max_momentum=0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False, last_epoch: int = -1):
        self._attach(optimizer)
        self.total_steps = _total_steps(total_steps, epochs, steps_per_epoch)
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ValueError(f"OneCycleLR: pct_start must be a float between 0 and 1, got {pct_start!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        self._anneal_func_type = anneal_strategy
        up = float(pct_start * self.total_steps) - 1
        phases = [(up, "initial_lr", "max_lr", "max_momentum", "base_momentum")]
        if three_phase:
            phases.append((float(2 * pct_start * self.total_steps) - 2, "max_lr", "initial_lr", "base_momentum",
                           "max_momentum"))
            phases.append((self.total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"))
        else:
            phases.append((self.total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"))
        keys = ("end_step", "start_lr", "end_lr", "start_momentum", "end_momentum")
        self._schedule_phases = [dict(zip(keys, phase, strict=True)) for phase in phases]
        if last_epoch == -1:
            for group, top in zip(optimizer.param_groups, per_group("max_lr", optimizer, max_lr), strict=True):
                group["initial_lr"] = top / div_factor
                group["max_lr"], group["min_lr"] = top, group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self._init_momentum(optimizer, base_momentum, max_momentum, last_epoch)
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        t = self.last_epoch
        if t > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {t} times; the schedule has total_steps={self.total_steps}")
        lrs, momentums = [], []
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, phase in enumerate(self._schedule_phases):
                if t <= phase["end_step"] or i == len(self._schedule_phases) - 1:
                    pct = (t - start) / (phase["end_step"] - start)
                    lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
                    if self.cycle_momentum:
                        momentums.append(self._anneal(group[phase["start_momentum"]], group[phase["end_momentum"]],
                                                      pct))
                    break
                start = phase["end_step"]
        if self.cycle_momentum:
            self._set_momentums(self.optimizer, momentums)
        return lrs


def _total_steps(total_steps, epochs, steps_per_epoch) -> int:
    """``total_steps``, or ``epochs``·``steps_per_epoch``: positive integers either way."""
    if total_steps is not None:
        if not isinstance(total_steps, int) or total_steps <= 0:
            raise ValueError(f"OneCycleLR: expected a positive integer total_steps, got {total_steps!r}")
        return total_steps
    if epochs is None or steps_per_epoch is None:
        raise ValueError("OneCycleLR: give either total_steps or both epochs and steps_per_epoch")
    for name, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"OneCycleLR: expected a positive integer {name}, got {value!r}")
    return epochs * steps_per_epoch


class CosineAnnealingWarmRestarts(LRScheduler):
    """SGDR (Loshchilov and Hutter): cosine annealing that restarts every T_i epochs.

        α = η_min + (α0 − η_min)·(1 + cos(π·T_cur/T_i))/2

    T_cur counts the epochs since the last restart; the first period is T_i = ``T_0`` and each
    restart multiplies it by ``T_mult``. ``step(epoch)`` takes a fractional epoch too, so the
    rate can follow the batches: ``sched.step(epoch + i / len(loader))``.

    >>> sched = CosineAnnealingWarmRestarts(opt, T_0=10, T_mult=2, eta_min=1e-4)
    """

    _chainable = False  # its own rate outright, in a chain too (as PyTorch's)

    def __init__(self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0, last_epoch: int = -1):
        if not isinstance(T_0, int) or T_0 <= 0:
            raise ValueError(f"CosineAnnealingWarmRestarts: expected a positive integer T_0, got {T_0!r}")
        if not isinstance(T_mult, int) or T_mult < 1:
            raise ValueError(f"CosineAnnealingWarmRestarts: expected an integer T_mult >= 1, got {T_mult!r}")
        if not isinstance(eta_min, (float, int)):
            raise ValueError(f"CosineAnnealingWarmRestarts: expected a number eta_min, got {eta_min!r}")
        self.T_0, self.T_i, self.T_mult, self.eta_min, self.T_cur = T_0, T_0, T_mult, eta_min, last_epoch
        super().__init__(optimizer, last_epoch)

    def _advance(self, epoch) -> None:
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur += 1
            if self.T_cur >= self.T_i:
                self.T_cur, self.T_i = self.T_cur % self.T_i, self.T_i * self.T_mult
        elif epoch < 0:
            raise ValueError(f"CosineAnnealingWarmRestarts: expected a non-negative epoch, got {epoch}")
        elif epoch < self.T_0:
            self.T_i, self.T_cur = self.T_0, epoch
        elif self.T_mult == 1:
            self.T_cur = epoch % self.T_0
        else:  # the restart n with T_0·(T_mult^n − 1)/(T_mult − 1) <= epoch
            n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
            self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
            self.T_i = self.T_0 * self.T_mult**n
        self.last_epoch = math.floor(epoch)

    def get_lr(self):
        c = 1 + math.cos(math.pi * self.T_cur / self.T_i)
        return [self.eta_min + (base - self.eta_min) * c / 2 for base in self.base_lrs]
