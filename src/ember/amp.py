"""Automatic mixed precision: PyTorch's ``autocast`` and ``GradScaler``.

ember computes every op in the dtype of its inputs; ``autocast`` is accepted (as a context
manager or a decorator) and changes nothing, so a PyTorch program written for mixed precision
runs in full precision. ``GradScaler`` is PyTorch's loss scaling, step for step: it multiplies
the loss by a scale, divides the gradients by it before the step, skips steps whose gradients
overflowed and adapts the scale. Scaling by a power of two is exact, so in full precision the
result is the unscaled training's.
"""
from __future__ import annotations

import functools
import warnings

import numpy as np

from ember import backend


class autocast:  # noqa: N801 - PyTorch's name
    """Mixed-precision region (PyTorch's ``torch.autocast``): a documented no-op in ember.

    Inside it PyTorch runs selected ops in ``dtype`` (float16/bfloat16); ember keeps every op in
    its inputs' dtype, so the block computes exactly as it would outside.

    >>> with em.autocast(device_type="cpu", dtype=em.bfloat16):
    ...     y = model(x)
    """

    def __init__(self, device_type="cuda", dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"autocast: expected device_type as a string, got {type(device_type).__name__}")
        self.device_type, self.fast_dtype, self.enabled = device_type, dtype, bool(enabled)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def run_inside(*args, **kwargs):
            with self:
                return func(*args, **kwargs)

        return run_inside


def custom_fwd(fwd=None, *, device_type="cuda", cast_inputs=None):
    """Decorator for a custom Function's forward under autocast: returns it unchanged (autocast is a no-op)."""
    return (lambda f: f) if fwd is None else fwd


def custom_bwd(bwd=None, *, device_type="cuda"):
    """Decorator for a custom Function's backward under autocast: returns it unchanged."""
    return (lambda f: f) if bwd is None else bwd


def is_autocast_available(device_type: str) -> bool:
    """Whether ``autocast`` accepts ``device_type`` (it accepts every device and does nothing)."""
    return True


# -- GradScaler ------------------------------------------------------------------------------------
_READY, _UNSCALED, _STEPPED = "ready", "unscaled", "stepped"


class GradScaler:
    """Dynamic loss scaling (PyTorch's ``torch.amp.GradScaler``).

    ``scale(loss)`` = loss · s; ``unscale_(opt)`` divides the gradients by s and records whether
    any is inf/NaN; ``step(opt)`` unscales (unless done) and calls ``opt.step()`` only when none
    was; ``update()`` halves s (``backoff_factor``) after an overflow and doubles it
    (``growth_factor``) after ``growth_interval`` clean steps. Disabled (``enabled=False``, or
    ``device='cuda'`` without a GPU, as in PyTorch) every method is the identity and
    ``get_scale()`` is 1.0.

    >>> scaler = em.amp.GradScaler("cpu")
    >>> scaler.scale(loss).backward(); scaler.step(optimizer); scaler.update()
    """

    def __init__(self, device="cuda", init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        self._device = str(device)
        if enabled and backend.device(device).type == "cuda" and not backend.cuda_available():
            warnings.warn("GradScaler is enabled, but CUDA is not available.  Disabling.", stacklevel=2)
            enabled = False
        self._enabled = bool(enabled)
        self._scale, self._growth_tracker = float(np.float32(init_scale)), 0
        self._growth_factor, self._backoff_factor = growth_factor, backoff_factor
        self._growth_interval = growth_interval
        self._per_optimizer = {}  # id(optimizer) -> {"stage": ..., "found_inf": bool}

    def is_enabled(self) -> bool:
        return self._enabled

    def scale(self, outputs):
        """``outputs`` (a tensor, or a list/tuple of them) times the current scale."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        return outputs * self._scale

    def _state(self, optimizer) -> dict:
        return self._per_optimizer.setdefault(id(optimizer), {"stage": _READY, "found_inf": False})

    def unscale_(self, optimizer) -> None:
        """Divide ``optimizer``'s gradients by the scale in place (before clipping them, say)."""
        if not self._enabled:
            return
        state = self._state(optimizer)
        if state["stage"] == _UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        if state["stage"] == _STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        inv_scale = float(np.float32(1.0 / self._scale))
        found_inf = False
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.grad.array = p.grad.array * p.grad.array.dtype.type(inv_scale)
                    found_inf = found_inf or not bool(p.grad.xp.isfinite(p.grad.array).all())
        state.update(stage=_UNSCALED, found_inf=found_inf)

    def step(self, optimizer, *args, **kwargs):
        """``optimizer.step()`` unless the unscaled gradients hold an inf or NaN; returns its result."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        state = self._state(optimizer)
        if state["stage"] == _STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] == _READY:
            self.unscale_(optimizer)
        result = None if state["found_inf"] else optimizer.step(*args, **kwargs)
        state["stage"] = _STEPPED
        return result

    def update(self, new_scale=None) -> None:
        """Adapt the scale to the overflows seen since the last update (or set ``new_scale``)."""
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale = float(new_scale.item() if hasattr(new_scale, "item") else new_scale)
        else:
            if not self._per_optimizer:
                raise AssertionError("No inf checks were recorded prior to update.")
            self._grow_or_back_off(any(s["found_inf"] for s in self._per_optimizer.values()))
        self._per_optimizer = {}

    def _grow_or_back_off(self, found_inf: bool) -> None:
        scale = np.float32(self._scale)
        if found_inf:
            self._scale, self._growth_tracker = float(scale * np.float32(self._backoff_factor)), 0
            return
        self._growth_tracker += 1
        if self._growth_tracker == self._growth_interval:
            grown = scale * np.float32(self._growth_factor)
            if np.isfinite(grown):
                self._scale = float(grown)
            self._growth_tracker = 0

    # -- accessors and checkpointing ---------------------------------------------------------------
    def get_scale(self) -> float:
        return self._scale if self._enabled else 1.0

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def set_growth_factor(self, new_factor) -> None:
        self._growth_factor = new_factor

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def set_backoff_factor(self, new_factor) -> None:
        self._backoff_factor = new_factor

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def set_growth_interval(self, new_interval) -> None:
        self._growth_interval = new_interval

    def state_dict(self) -> dict:
        """The scale and its schedule (empty when disabled, as in PyTorch)."""
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state_dict: dict) -> None:
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        self._scale = float(state_dict["scale"])
        self._growth_factor, self._backoff_factor = state_dict["growth_factor"], state_dict["backoff_factor"]
        self._growth_interval, self._growth_tracker = state_dict["growth_interval"], state_dict["_growth_tracker"]
