"""Checkpoints: everything needed to resume training exactly as if it had never stopped.

A checkpoint holds the model's state, the optimizer's (moments, step counts), the
scheduler's, ember's global RNG state (so shuffling and dropout continue the same random
stream) and any extras (epoch, history, callback states). It is one safetensors file —
arrays under dotted keys, the rest as JSON in its header — written atomically, plus a
readable JSON sidecar (``last.safetensors`` → ``last.json``); see ``ember.serialization``.
No pickle is involved, so loading a checkpoint can never run code.
"""
from __future__ import annotations

from ember import random as _random
from ember.serialization import load, save

__all__ = ["load_checkpoint", "save_checkpoint"]

_KIND = "ember.checkpoint"


def save_checkpoint(path, model, optimizer=None, scheduler=None, **extra) -> None:
    """Write model, optimizer and scheduler states, the global RNG state and ``extra`` to ``path``.

    ``extra`` values may be numbers, strings, lists, dicts or arrays (``epoch=3``,
    ``history=[...]``, ``best_accuracy=0.97``).

    >>> save_checkpoint("runs/last.safetensors", model, optimizer, scheduler, epoch=3)
    """
    state = {
        "kind": _KIND,
        "model": model.state_dict(),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "rng": _random.get_rng_state(),
        "extra": extra,
    }
    save(state, path, sidecar=True)


def load_checkpoint(path, model=None, optimizer=None, scheduler=None, restore_rng: bool = True, device=None) -> dict:
    """Restore what ``save_checkpoint`` wrote into the given objects; return the extras.

    The model's values are copied into its existing parameters (their device and dtype
    kept); the optimizer and scheduler get ``load_state_dict``; the global RNG continues
    where it was when the checkpoint was written (``restore_rng=False`` leaves it alone).

    >>> extra = load_checkpoint("runs/last.safetensors", model, optimizer, scheduler)
    >>> start_epoch = extra["epoch"]
    """
    state = load(path, device=device)
    if not isinstance(state, dict) or state.get("kind") != _KIND:
        raise ValueError(f"load_checkpoint: {str(path)!r} is not an ember checkpoint (use em.load for plain files)")
    if model is not None:
        model.load_state_dict(state["model"])
    _restore(optimizer, state["optimizer"], "optimizer", path)
    _restore(scheduler, state["scheduler"], "scheduler", path)
    if restore_rng:
        _random.set_rng_state(state["rng"])
    return state["extra"]


def _restore(target, saved, what, path) -> None:
    if target is None:
        return
    if saved is None:
        raise ValueError(f"load_checkpoint: {str(path)!r} holds no {what} state, but a {what} was passed")
    target.load_state_dict(saved)
