"""Module backward hooks: ``register_full_backward_hook`` and ``register_full_backward_pre_hook``.

As in PyTorch, a hooked module's call wraps its tensor inputs and outputs in identity ops. The
outputs' identity sees grad_output (the pre-hooks run there and may replace it); the inputs'
identity sees grad_input, once every path through the module has delivered it, and runs
``hook(module, grad_input, grad_output)``, whose non-None result replaces grad_input.
"""
from __future__ import annotations

from ember.autograd.function import Function
from ember.autograd.tensor import Tensor, _wrap


class _Call:
    """One forward call of a hooked module: what its two identity ops share."""

    def __init__(self, module, hooks, n_args):
        self.module, self.hooks, self.n_args = module, hooks, n_args
        self.grad_output = None
        self.inputs_hooked = False

    def outputs_reached(self, grad_output):
        for hook in list(self.hooks["backward_pre"].values()):
            result = hook(self.module, grad_output)
            if result is not None:
                grad_output = _as_tuple(result)
        self.grad_output = grad_output
        if not self.inputs_hooked:  # no input requires grad: the hooks run now, with grad_input all None
            self.inputs_reached([], positions=[])
        return grad_output

    def inputs_reached(self, grads, positions):
        grad_input = [None] * self.n_args
        for k, g in zip(positions, grads, strict=True):
            grad_input[k] = g
        grad_input = tuple(grad_input)
        for hook in list(self.hooks["backward"].values()):
            result = hook(self.module, grad_input, self.grad_output)
            if result is not None:
                grad_input = _as_tuple(result)
        return [grad_input[k] for k in positions]


class _Identity(Function):
    """y = x for each tensor; backward hands the gradients to the call's hooks."""

    def __init__(self, call, positions=None):
        self.call, self.positions = call, positions

    def forward(self, *xs):
        return xs if len(xs) > 1 else xs[0]

    def backward(self, *gys):
        return tuple(None if g is None else g.array for g in self.vjp(*[_wrap(g) for g in gys]))

    def vjp(self, *gys):
        if self.positions is None:
            return tuple(self.call.outputs_reached(tuple(gys)))
        return tuple(self.call.inputs_reached(list(gys), self.positions))


def call_with_backward_hooks(module, args, kwargs, hooks):
    """Run ``module.forward`` with its positional tensor inputs and its outputs wrapped for the hooks."""
    call = _Call(module, hooks, len(args))
    positions = [k for k, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    if positions:
        call.inputs_hooked = True
        wrapped = _as_tuple(_Identity(call, positions)(*[args[k] for k in positions]))
        args = list(args)
        for k, t in zip(positions, wrapped, strict=True):
            args[k] = t
    output = module.forward(*args, **kwargs)
    single = isinstance(output, Tensor)
    outputs = (output,) if single else output
    if not isinstance(outputs, (tuple, list)) or not all(isinstance(y, Tensor) for y in outputs):
        return output  # PyTorch hooks tensors and tuples of them; anything else runs unhooked
    wrapped = _as_tuple(_Identity(call)(*outputs))
    return wrapped[0] if single else type(outputs)(wrapped)


def _as_tuple(x):
    return x if isinstance(x, tuple) else tuple(x) if isinstance(x, list) else (x,)
