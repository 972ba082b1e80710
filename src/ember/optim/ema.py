"""Exponentially weighted (moving) averages of metrics and of model weights."""
from __future__ import annotations

import contextlib

from ember import backend
from ember.autograd.tensor import Tensor


class ExponentialMovingAverage:
    """The course's exponentially weighted average v_t = β·v_{t−1} + (1 − β)·θ_t, with v_0 = 0.

    It averages over roughly the last 1/(1 − β) values. With ``bias_correction`` the
    reported value is v_t/(1 − β^t), which removes the pull towards v_0 = 0 in the first
    steps (keep it on for weight averaging, or the average starts near zero).

    Two uses:

    - metrics: ``ExponentialMovingAverage(beta=0.98)``, then ``update(loss)`` and read ``value``;
    - weight averaging: ``ExponentialMovingAverage(model, beta=0.999)`` (a Module or an
      iterable of tensors), ``update()`` after each optimiser step, then ``copy_to(model)``
      or ``with ema.average_parameters(): evaluate(model)``.

    >>> ema = ExponentialMovingAverage(beta=0.9, bias_correction=False)
    >>> for x in (1.0, 1.0): ema.update(x)
    >>> round(ema.value, 6)          # 0.9·0.1 + 0.1 = 0.19
    0.19
    """

    def __init__(self, params=None, beta: float = 0.9, bias_correction: bool = True):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"ExponentialMovingAverage: beta must lie in [0, 1), got {beta}")
        self.beta, self.bias_correction, self.num_updates = beta, bool(bias_correction), 0
        self.params = None if params is None else _tensors(params)
        self.shadow = None if params is None else [p.xp.zeros_like(p.array) for p in self.params]
        self._value = 0.0

    # -- averaging ----------------------------------------------------------------------------
    def update(self, value=None) -> None:
        """Fold in a new value: a metric, or (with no argument) the tracked parameters' current values."""
        b = self.beta
        self.num_updates += 1
        if self.params is None:
            if value is None:
                raise ValueError("ExponentialMovingAverage.update: give a value to average (this average "
                                 "tracks no parameters)")
            x = value.array if isinstance(value, Tensor) else value
            x = x.item() if getattr(x, "size", None) == 1 else x
            self._value = b * self._value + (1 - b) * x
            return
        if value is not None:
            raise ValueError("ExponentialMovingAverage.update: this average tracks parameters; call update()")
        for v, p in zip(self.shadow, self.params, strict=True):
            v *= b
            v += (1 - b) * p.array

    @property
    def correction(self) -> float:
        """The divisor 1 − β^t (1 without bias correction or before the first update)."""
        if not self.bias_correction or self.num_updates == 0:
            return 1.0
        return 1 - self.beta**self.num_updates

    @property
    def value(self):
        """The current average of a metric, bias-corrected if asked."""
        if self.params is not None:
            raise AttributeError("ExponentialMovingAverage.value: this average tracks parameters; "
                                 "use averages() or copy_to()")
        return self._value / self.correction

    def averages(self) -> list:
        """The averaged parameters as new backend arrays (bias-corrected if asked)."""
        self._check_params("averages")
        return [v / self.correction for v in self.shadow]

    # -- weight averaging -----------------------------------------------------------------------
    def copy_to(self, target=None) -> None:
        """Write the averages into ``target`` (a Module or tensors; default: the tracked parameters)."""
        targets = self._targets(target, "copy_to")
        for p, v in zip(targets, self.averages(), strict=True):
            p.array[...] = v
            p._version += 1

    @contextlib.contextmanager
    def average_parameters(self, target=None):
        """Swap the averages into the parameters for the ``with`` block, then restore them.

        >>> with ema.average_parameters():
        ...     dev_accuracy = evaluate(model)
        """
        targets = self._targets(target, "average_parameters")
        saved = [p.array.copy() for p in targets]
        self.copy_to(targets)
        try:
            yield
        finally:
            for p, data in zip(targets, saved, strict=True):
                p.array[...] = data
                p._version += 1

    def _targets(self, target, where):
        self._check_params(where)
        targets = self.params if target is None else _tensors(target)
        if [p.shape for p in targets] != [v.shape for v in self.shadow]:
            raise ValueError(f"ExponentialMovingAverage.{where}: the target's parameters "
                             f"{[tuple(p.shape) for p in targets]} do not match the averaged ones "
                             f"{[tuple(v.shape) for v in self.shadow]}")
        return targets

    def _check_params(self, where):
        if self.params is None:
            raise RuntimeError(f"ExponentialMovingAverage.{where}: this average tracks a metric, not parameters")

    # -- state ----------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """``beta``, ``bias_correction``, ``num_updates`` and the raw average: ``value`` (a float)
        for a metric, or ``shadow`` ({index: Tensor copy}) for parameters."""
        state = {"beta": self.beta, "bias_correction": self.bias_correction, "num_updates": self.num_updates}
        if self.params is None:
            state["value"] = self._value
        else:
            state["shadow"] = {i: Tensor(v.copy()) for i, v in enumerate(self.shadow)}
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a ``state_dict()``; integer keys that became strings (JSON) are accepted."""
        self.beta, self.bias_correction = state_dict["beta"], bool(state_dict["bias_correction"])
        self.num_updates = int(state_dict["num_updates"])
        if self.params is None:
            self._value = state_dict["value"]
            return
        shadow = {int(i): v for i, v in state_dict["shadow"].items()}
        if len(shadow) != len(self.shadow):
            raise ValueError(f"ExponentialMovingAverage.load_state_dict: {len(shadow)} saved averages, "
                             f"{len(self.shadow)} parameters")
        for i, v in enumerate(self.shadow):
            saved = shadow[i].array if isinstance(shadow[i], Tensor) else shadow[i]
            v[...] = backend.to_device(saved, backend.device_of(v))


def _tensors(params) -> list:
    """The floating-point tensors of a Module (its ``parameters()``) or of an iterable."""
    params = list(params.parameters() if hasattr(params, "parameters") else params)
    bad = [type(p).__name__ for p in params if not isinstance(p, Tensor)]
    if bad:
        raise TypeError(f"ExponentialMovingAverage: expected tensors or a Module, got {bad[0]}")
    return params
