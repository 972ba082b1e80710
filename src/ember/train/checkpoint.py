"""Checkpoints: everything needed to resume training exactly as if it had never stopped.

A checkpoint holds the model's state, the optimizer's (moments, step counts), the
scheduler's, ember's global RNG state (so shuffling and dropout continue the same random
stream) and any extras (epoch, history, callback states). It is one safetensors file —
arrays under dotted keys, the rest as JSON in its header — written atomically, plus a
readable JSON sidecar (``last.safetensors`` → ``last.json``); see ``ember.serialization``.
No pickle is involved, so loading a checkpoint can never run code.

Loading checks every entry against the model, optimizer, scheduler and RNG before it
changes any of them, so a damaged or mismatched checkpoint raises and leaves all four as
they were, never half restored.
"""
from __future__ import annotations

import numbers

import numpy as np

from ember import random as _random
from ember.autograd.tensor import Tensor
from ember.optim.optimizer import Optimizer
from ember.serialization import load, save

__all__ = ["load_checkpoint", "save_checkpoint"]

_KIND = "ember.checkpoint"
_ENTRIES = ("model", "optimizer", "scheduler", "rng", "extra")


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
    Every entry is checked first — the model's keys and shapes, the optimizer's groups,
    indices and moment shapes, the scheduler's fields, the RNG state — and a ``ValueError``
    naming the file and the entry is raised before anything is changed.

    >>> extra = load_checkpoint("runs/last.safetensors", model, optimizer, scheduler)
    >>> start_epoch = extra["epoch"]
    """
    where = f"load_checkpoint: {str(path)!r}"
    state = load(path, device=device)
    if not isinstance(state, dict) or state.get("kind") != _KIND:
        raise ValueError(f"{where} is not an ember checkpoint (use em.load for plain files)")
    _check_entries(state, model, optimizer, scheduler, restore_rng, where)
    if model is not None:
        model.load_state_dict(state["model"])
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    if restore_rng:
        _random.set_rng_state(state["rng"])
    return state["extra"]


# -- checks: everything is validated before anything is restored -----------------------------


def _check_entries(state: dict, model, optimizer, scheduler, restore_rng: bool, where: str) -> None:
    """Raise ``ValueError`` unless every entry that ``load_checkpoint`` will apply fits its target."""
    missing = [k for k in _ENTRIES if k not in state]
    if missing:
        raise ValueError(f"{where} has no {', '.join(missing)} entry")
    if not isinstance(state["extra"], dict):
        raise ValueError(f"{where}: 'extra' is a {type(state['extra']).__name__}, not a dict")
    for target, what in ((optimizer, "optimizer"), (scheduler, "scheduler")):
        if target is not None and state[what] is None:
            raise ValueError(f"{where} holds no {what} state, but a {what} was passed")
    if model is not None:
        _check_model(state["model"], model, where)
    if isinstance(optimizer, Optimizer):  # another optimizer's layout is unknown; its load_state_dict checks it
        index = _check_param_groups(state["optimizer"], optimizer, where)
        _check_optimizer_state(state["optimizer"]["state"], index, where)
    if scheduler is not None and hasattr(scheduler, "state_dict"):
        _check_like(state["scheduler"], scheduler.state_dict(), "scheduler", where, owner=type(scheduler).__name__)
    if restore_rng:
        _check_rng(state["rng"], where)


def _check_model(saved, model, where: str) -> None:
    if not isinstance(saved, dict):
        raise ValueError(f"{where}: 'model' is a {type(saved).__name__}, not a state dict")
    own = model.state_dict()
    problems = [f"{k} is a {type(v).__name__}, not an array" for k, v in saved.items()
                if not isinstance(v, (Tensor, np.ndarray))]
    missing, unexpected = [k for k in own if k not in saved], [k for k in saved if k not in own]
    problems += [f"missing keys {missing}"] if missing else []
    problems += [f"unexpected keys {unexpected}"] if unexpected else []
    problems += [f"size mismatch for {k}: {tuple(v.shape)} in the file, {tuple(own[k].shape)} in the model"
                 for k, v in saved.items() if k in own and hasattr(v, "shape") and tuple(v.shape) != own[k].shape]
    if problems:
        raise ValueError(f"{where}: the model state does not fit {type(model).__name__}: " + "; ".join(problems))


def _check_param_groups(saved, optimizer: Optimizer, where: str) -> dict:
    """Check the saved groups against the optimizer's; return {saved index: parameter}."""
    if not isinstance(saved, dict) or not isinstance(saved.get("state"), dict) \
            or not isinstance(saved.get("param_groups"), list):
        raise ValueError(f"{where}: 'optimizer' is not an optimizer state dict ('state' and 'param_groups')")
    groups = saved["param_groups"]
    if len(groups) != len(optimizer.param_groups):
        raise ValueError(f"{where}: 'optimizer' has {len(groups)} parameter groups, "
                         f"the {type(optimizer).__name__} has {len(optimizer.param_groups)}")
    index = {}
    for n, (group, own) in enumerate(zip(groups, optimizer.param_groups, strict=True)):
        field = f"optimizer.param_groups.{n}"
        if not isinstance(group, dict) or not isinstance(group.get("params"), list) \
                or len(group["params"]) != len(own["params"]):
            raise ValueError(f"{where}: {field} does not list the group's {len(own['params'])} parameters")
        missing = [k for k in optimizer.defaults if k not in group]
        if missing:
            raise ValueError(f"{where}: {field} lacks the options {missing}")
        _check_like({k: v for k, v in group.items() if k != "params"}, own, field, where)
        for i, p in zip(group["params"], own["params"], strict=True):
            if _as_index(i) is None or _as_index(i) in index:
                raise ValueError(f"{where}: {field}.params holds {i!r}, not a new parameter index")
            index[_as_index(i)] = p
    return index


def _check_optimizer_state(state: dict, index: dict, where: str) -> None:
    flat = (sum(int(np.prod(p.shape)) for p in index.values()),)  # L-BFGS's vectors span all the parameters
    for i, values in state.items():
        field = f"optimizer.state.{i}"
        p = index.get(_as_index(i))
        if p is None:
            raise ValueError(f"{where}: {field} belongs to no parameter (indices {sorted(index)})")
        if not isinstance(values, dict):
            raise ValueError(f"{where}: {field} is a {type(values).__name__}, not a dict")
        for key, v in values.items():
            for item in v if isinstance(v, list) else [v]:  # L-BFGS keeps its history in lists
                _check_state_value(item, key, p.shape, flat, f"{where}: {field}.{key}")


def _check_state_value(item, key: str, shape: tuple, flat: tuple, field: str) -> None:
    """One optimizer state entry: an array of its parameter's shape (or one value for 'step'), a number, or None."""
    if isinstance(item, (Tensor, np.ndarray)):
        have = tuple(item.shape)
        if not (np.prod(have) == 1 if key == "step" or not have else have in (shape, flat)):
            need = "one value" if key == "step" else f"shape {shape}"
            raise ValueError(f"{field} has shape {have}; its parameter needs {need}")
    elif not _is_number(item) and item is not None:
        raise ValueError(f"{field} is a {type(item).__name__}, not an array or a number")


def _check_like(saved, current, field: str, where: str, owner: str | None = None) -> None:
    """Raise unless ``saved`` holds the same kinds of value as ``current`` (numbers, strings, lists, dicts).

    A dict may leave out keys of ``current``; given ``owner`` (the target's class name) it may not add any.
    """
    if current is None:
        return
    if isinstance(current, dict):
        if not isinstance(saved, dict):
            raise ValueError(f"{where}: {field} is a {type(saved).__name__}, not a dict")
        unexpected = [k for k in saved if k not in current]
        if owner and unexpected:
            raise ValueError(f"{where}: {field} has fields {unexpected} that a {owner} does not have")
        for k in saved:
            if k in current:
                _check_like(saved[k], current[k], f"{field}.{k}", where, owner)
    elif isinstance(current, (list, tuple)):
        if not isinstance(saved, (list, tuple)):
            raise ValueError(f"{where}: {field} is a {type(saved).__name__}, not a list")
        for i, (a, b) in enumerate(zip(saved, current, strict=False)):
            _check_like(a, b, f"{field}.{i}", where, owner)
    elif (_is_number(current) and not _is_number(saved)) or (isinstance(current, str) and not isinstance(saved, str)):
        raise ValueError(f"{where}: {field} is {saved!r}, not a {'number' if _is_number(current) else 'string'}")


def _check_rng(saved, where: str) -> None:
    # A fresh generator of the global one's kind takes the state first: a bad one fails there, harmlessly.
    trial = type(_random.generator().bit_generator)()
    try:
        trial.state = saved
    except Exception as err:  # NumPy raises TypeError, ValueError, KeyError or OverflowError here
        raise ValueError(f"{where}: 'rng' is not a {type(trial).__name__} state ({type(err).__name__}: {err})") from err


def _is_number(value) -> bool:
    return isinstance(value, (numbers.Number, np.bool_))


def _as_index(i):
    """A parameter index as saved (int, or its string form after JSON); ``None`` for anything else."""
    if isinstance(i, int) and not isinstance(i, bool) and i >= 0:
        return i
    return int(i) if isinstance(i, str) and i.isdigit() else None
