"""``Optimizer``: the base of every update rule.

An optimiser holds ``param_groups`` (dicts of parameters plus their options, such as
``lr``) and a lazily created per-parameter ``state`` (momentum buffers, moment
estimates, step counts). ``step()`` walks every parameter that has a gradient and hands
its backend arrays to the subclass's ``_update``, which changes ``p.array`` in place.

``state_dict()`` uses PyTorch's layout, with parameters replaced by their position::

    {'state': {0: {'step': 3, 'exp_avg': Tensor, ...}, ...},
     'param_groups': [{'lr': 0.001, ..., 'params': [0, 1]}, ...]}

Its values are ember Tensors (copies) or plain Python numbers, bools, tuples and
strings, so a checkpoint can keep the arrays in safetensors and the rest in JSON.
"""
from __future__ import annotations

import copy

import numpy as np

from ember import backend
from ember.autograd.grad_mode import enable_grad, no_grad
from ember.autograd.tensor import Tensor


class Optimizer:
    """Base class: subclass it, pass the defaults up, and write ``_update``.

    ``params`` is an iterable of tensors, of ``(name, tensor)`` pairs, or of dicts
    (parameter groups) with a ``'params'`` entry and per-group options that override
    ``defaults``:

    >>> opt = em.optim.SGD([{'params': model.fc1.parameters()},
    ...                     {'params': model.fc2.parameters(), 'lr': 1e-3}], lr=1e-2, momentum=0.9)
    >>> opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()
    """

    _nonnegative: tuple[str, ...] = ()  # options that must be >= 0, besides lr

    def __init__(self, params, defaults: dict):
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of tensors or of dicts, got a single Tensor; "
                "wrap it in a list"
            )
        self.defaults = dict(defaults)
        self.state: dict = {}
        self.param_groups: list[dict] = []
        groups = self._ordered(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # -- parameter groups ----------------------------------------------------------------------
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters (a dict with ``'params'`` and optional per-group options).

        Options the group leaves out take the optimiser's defaults. A parameter may belong
        to one group only.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"{type(self).__name__}.add_param_group: expected a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params, names = self._split_params(group.get("params"))
        group["params"] = params
        if names is not None:
            group["param_names"] = names
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check_group(group)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or any(id(p) in seen for p in params):
            raise ValueError(f"{type(self).__name__}: some parameters appear in more than one parameter group "
                             "(or twice in one)")
        self.param_groups.append(group)

    def _split_params(self, params):
        """The group's tensors as a list, and their names when given as ``(name, tensor)`` pairs."""
        name = type(self).__name__
        if params is None:
            raise ValueError(f"{name}: a parameter group needs a 'params' entry")
        params = [params] if isinstance(params, Tensor) else self._ordered(params)
        names = None
        if params and isinstance(params[0], tuple):
            names, params = [n for n, _ in params], [p for _, p in params]
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{name} can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{name} can't optimize a non-leaf Tensor (the result of an op); "
                                 "use a Parameter or a tensor created with requires_grad=True")
            if p.dtype.kind != "f":
                raise TypeError(f"{name} can only optimize floating-point tensors, got dtype {p.dtype}")
        return params, names

    def _ordered(self, params) -> list:
        """``params`` as a list, refusing a set (its order, and so the state's, varies from run to run)."""
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{type(self).__name__}: parameters must be an ordered collection, not a set "
                            "(its order varies from run to run)")
        return list(params)

    def _check_group(self, group: dict) -> None:
        """Reject out-of-range options; subclasses list theirs in ``_nonnegative``."""
        for key in ("lr", *self._nonnegative):
            if key in group and not group[key] >= 0:
                raise ValueError(f"{type(self).__name__}: invalid {key} {group[key]!r} (must be >= 0)")

    # -- the update loop -----------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient: drop it (``set_to_none``) or fill it with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.array.fill(0)

    def step(self, closure=None):
        """Update every parameter that has a gradient; return ``closure()``'s loss if given.

        ``closure`` re-evaluates the model and returns the loss (it runs with grad enabled).
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state.get(p)
                    if state is None:
                        state = self.state[p] = self._init_state(p.array, group)
                    self._update(p.array, p.grad.array, state, group)
                    p._version += 1  # a graph that saved p before the step must not reuse it silently
        return loss

    def _init_state(self, p, group: dict) -> dict:
        """The new state of the array ``p`` at its first update (buffers like ``p``, a step count)."""
        return {}

    def _update(self, p, g, state: dict, group: dict) -> None:
        """Change the array ``p`` in place from its gradient ``g`` (never modify ``g``)."""
        raise NotImplementedError(f"{type(self).__name__} must implement _update")

    @staticmethod
    def _grad(p, g, group: dict, weight_decay):
        """The gradient a rule follows: g (−g with ``maximize``) plus the L2 term λ·w, λ = ``weight_decay``.

        ``g`` is never modified; a new array is made only when the result differs from it.
        """
        if not weight_decay:
            return -g if group["maximize"] else g
        xp = backend.get_array_module(p)
        out = xp.multiply(p, weight_decay)
        return xp.subtract(out, g, out=out) if group["maximize"] else xp.add(out, g, out=out)

    @staticmethod
    def _float32(value) -> float:
        """``value`` rounded to float32, as a Python number: for the scalars of the state (NAdam's μ
        product, ASGD's η and μ).

        PyTorch keeps these in float32 tensors and rounds with them at every step; rounding alike
        keeps ember's iterates equal to PyTorch's in float64 too.
        """
        return float(np.float32(value))

    # -- state dict ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """The optimiser's state in PyTorch's layout (parameters replaced by their index).

        Arrays are copied into ember Tensors, so the result does not change as training goes on.
        """
        params = [p for group in self.param_groups for p in group["params"]]
        index = {id(p): i for i, p in enumerate(params)}
        groups = [{**{k: v for k, v in group.items() if k != "params"},
                   "params": [index[id(p)] for p in group["params"]]} for group in self.param_groups]
        state = {i: {k: _save_value(v) for k, v in self.state[p].items()}
                 for i, p in enumerate(params) if self.state.get(p)}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a ``state_dict()`` (from ember, or a PyTorch one with tensors turned into arrays).

        Groups must match in number and size. Integer keys that became strings (JSON) are
        accepted; floating-point arrays are cast to their parameter's dtype and device.
        """
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{type(self).__name__}.load_state_dict: the state dict has {len(saved_groups)} "
                             f"parameter groups, the optimizer has {len(self.param_groups)}")
        by_index = {}
        for group, saved in zip(self.param_groups, saved_groups, strict=True):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(f"{type(self).__name__}.load_state_dict: a saved group has {len(saved['params'])} "
                                 f"parameters, the optimizer's has {len(group['params'])}")
            by_index.update({int(i): p for i, p in zip(saved["params"], group["params"], strict=True)})
        self.state = {}
        for i, values in state_dict["state"].items():
            p = by_index[int(i)]
            self.state[p] = {k: _load_value(k, v, p) for k, v in values.items()}
        for n, (group, saved) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            options = {k: _like(group.get(k), copy.deepcopy(v)) for k, v in saved.items() if k != "params"}
            self.param_groups[n] = {**options, "params": group["params"]}

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k not in ("params", "param_names")]
        return "\n".join(lines + [")"])


def _save_value(value):
    """A state value for ``state_dict``: arrays become Tensor copies, numbers stay numbers, lists (L-BFGS's
    history) are saved item by item."""
    if isinstance(value, list):
        return [_save_value(v) for v in value]
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return Tensor(backend.get_array_module(value).array(value, copy=True))
    return value


def _load_value(key, value, p):
    """A state value from ``load_state_dict``: arrays land on ``p``'s device (floats in its dtype)."""
    if isinstance(value, list):
        return [_load_value(key, v, p) for v in value]
    if isinstance(value, Tensor):
        value = value.array
    if not (hasattr(value, "shape") and hasattr(value, "dtype")):
        return copy.deepcopy(value)
    if key == "step" and value.size == 1:  # PyTorch keeps the step count as a 0-d float tensor
        return int(backend.to_numpy(value).reshape(()).item())
    array = backend.to_device(value, p.device)
    dtype = p.dtype if np.dtype(array.dtype).kind == "f" else array.dtype
    return backend.get_array_module(array).array(array, dtype=dtype, copy=True)


def _like(current, value):
    """Restore tuples (``betas``) that JSON turned into lists."""
    if isinstance(current, tuple) and isinstance(value, list):
        return tuple(value)
    return value
