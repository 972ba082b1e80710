"""Activation checkpointing (PyTorch's ``torch.utils.checkpoint``): trade compute for memory.

``checkpoint(fn, *args)`` runs ``fn`` without recording a graph, so none of its intermediate
activations are kept; the result is one graph node holding only the inputs. Its backward runs
``fn`` again with recording on (restoring the random-number state, so dropout draws the same
masks) and backpropagates through that fresh graph: the inputs receive their gradients and the
parameters used inside ``fn`` accumulate theirs, exactly as without checkpointing.

With ``use_reentrant=False`` (PyTorch's recommended mode) the node takes part in the graph even
when no input requires grad, so the parameters inside still get gradients; with
``use_reentrant=True`` such a call has no graph, as in PyTorch.

>>> y = checkpoint(block, x, use_reentrant=False)      # block's activations are recomputed in backward
"""
from __future__ import annotations

import warnings

from ember import random as em_random
from ember.autograd import grad_mode
from ember.autograd.custom import Function
from ember.autograd.engine import run_backward
from ember.autograd.tensor import Tensor
from ember.creation import zeros

__all__ = ["checkpoint", "checkpoint_sequential"]


class _Recomputed(Function):
    """The graph node of one checkpointed call: forward without a graph, backward by recomputing."""

    @staticmethod
    def forward(ctx, run, preserve_rng_state, _anchor, *args):
        ctx.run, ctx.args = run, args
        ctx.rng_state = em_random.get_rng_state() if preserve_rng_state else None
        ctx.save_for_backward(*(a for a in args if isinstance(a, Tensor)))
        outputs = run(*args)
        ctx.single = not isinstance(outputs, tuple)
        return outputs

    @staticmethod
    def backward(ctx, *grads):
        saved = iter(ctx.saved_tensors)
        inputs = [_fresh_leaf(next(saved)) if isinstance(a, Tensor) else a for a in ctx.args]
        current = em_random.get_rng_state() if ctx.rng_state is not None else None
        if ctx.rng_state is not None:
            em_random.set_rng_state(ctx.rng_state)
        try:
            with grad_mode.enable_grad():
                outputs = ctx.run(*inputs)
        finally:
            if current is not None:
                em_random.set_rng_state(current)
        outputs = (outputs,) if ctx.single else tuple(outputs)
        pairs = [(y, g) for y, g in zip(outputs, grads, strict=True)
                 if isinstance(y, Tensor) and y.requires_grad and g is not None]
        if pairs:
            with grad_mode.no_grad():
                run_backward([y for y, _ in pairs], [g.array for _, g in pairs])
        input_grads = [x.grad if isinstance(x, Tensor) and x.requires_grad else None for x in inputs]
        return (None, None, None, *input_grads)


def _fresh_leaf(x):
    """A new leaf sharing x's values, requiring grad as x does: the recomputation's input."""
    leaf = x.detach()
    return leaf.requires_grad_(x.requires_grad)


def checkpoint(function, *args, use_reentrant=None, context_fn=None, determinism_check="default", debug=False,
               preserve_rng_state=True, **kwargs):
    """``function(*args, **kwargs)`` with its activations recomputed in backward instead of kept.

    ``use_reentrant`` should be given, as PyTorch asks: False (recommended) also gives the
    parameters inside gradients when no input requires grad. ``preserve_rng_state`` replays the
    random draws (dropout) of the first run. ``context_fn``, ``determinism_check`` and ``debug``
    are accepted for compatibility.
    """
    if use_reentrant is None:
        warnings.warn("checkpoint: pass use_reentrant=False (recommended) or True explicitly, as PyTorch asks; "
                      "the default is True", stacklevel=2)
        use_reentrant = True
    run = (lambda *a: function(*a, **kwargs)) if kwargs else function
    if not grad_mode.is_grad_enabled():
        return run(*args)
    tensors = [a for a in args if isinstance(a, Tensor)]
    anchor = None
    if not use_reentrant:  # an input that always requires grad keeps the node in the graph
        anchor = zeros(0, device=tensors[0].device if tensors else None, requires_grad=True)
    elif not any(t.requires_grad for t in tensors):
        warnings.warn("checkpoint: none of the inputs have requires_grad=True; gradients will be None",
                      stacklevel=2)
    return _Recomputed.apply(run, preserve_rng_state, anchor, *args)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):  # noqa: A002
    """Run a ``Sequential`` (or a list of modules) in ``segments`` chunks, checkpointing every chunk but
    the last, whose activations backward needs right away anyway."""
    modules = list(functions.children()) if hasattr(functions, "children") else list(functions)
    size = len(modules) // segments
    for k in range(segments - 1):
        chunk = modules[k * size:(k + 1) * size]
        input = checkpoint(lambda x, chunk=chunk: _run_all(chunk, x), input, use_reentrant=use_reentrant,
                           **kwargs)
    return _run_all(modules[(segments - 1) * size:], input)


def _run_all(modules, x):
    for module in modules:
        x = module(x)
    return x
