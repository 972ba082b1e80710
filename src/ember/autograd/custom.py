"""User-defined differentiable ops, written as PyTorch's ``torch.autograd.Function``.

>>> class Cube(em.autograd.Function):
...     @staticmethod
...     def forward(ctx, x):
...         ctx.save_for_backward(x)
...         return x ** 3
...     @staticmethod
...     def backward(ctx, gy):
...         (x,) = ctx.saved_tensors
...         return 3 * x ** 2 * gy            # written in tensor ops: differentiable again
>>> y = Cube.apply(em.tensor([2.0], requires_grad=True))

``forward`` runs on tensors with recording off; ``apply`` then makes one graph node whose
backward calls the class's ``backward`` with the output gradients as tensors. Under
``create_graph=True`` that call is recorded, so a ``backward`` written in ember ops gives
second derivatives too; decorate it with ``once_differentiable`` when it is not (e.g. it works
on ``.numpy()`` arrays).

The built-in ops keep their own anatomy (``ember.autograd.function.Function``: arrays in and
out, no tensors on the fast path); this class is the public, PyTorch-compatible way.
"""
from __future__ import annotations

import functools

from ember.autograd import function as node_base
from ember.autograd import grad_mode
from ember.autograd.tensor import Tensor, _differentiable, _wrap


class FunctionCtx:
    """What ``forward`` and ``backward`` share: saved tensors, flags, and any attribute set on it."""

    def __init__(self, args):
        self.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        self.materialize_grads = True
        self.to_save, self.non_differentiable = (), set()

    def save_for_backward(self, *tensors):
        """Keep tensors (inputs, outputs or None) for ``backward``; in-place changes to them are caught."""
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward: expects tensors or None, got {type(t).__name__}")
        self.to_save = tensors

    @property
    def saved_tensors(self):
        if self.to_save is None:
            raise RuntimeError("saved_tensors: trying to backward through the graph a second time (the saved "
                               "tensors were freed); pass retain_graph=True to the first backward")
        return tuple(self.to_save)

    def mark_non_differentiable(self, *outputs):
        """These outputs (e.g. indices) never require grad; ``backward`` still gets a (zero) gradient slot."""
        self.non_differentiable.update(id(t) for t in outputs)

    def set_materialize_grads(self, value: bool):
        """False: ``backward`` gets None, not zeros, for outputs no gradient reached."""
        self.materialize_grads = bool(value)

    def mark_dirty(self, *tensors):
        raise NotImplementedError("mark_dirty: in-place custom Functions are not supported; return a new tensor")


class Function:
    """Base class of user-defined ops: subclass with static ``forward(ctx, *args)`` and
    ``backward(ctx, *grad_outputs)``, call ``MyOp.apply(*args)`` (see the module docstring).

    ``backward`` returns one gradient per ``forward`` argument (None for non-tensors or where
    ``ctx.needs_input_grad`` is False). ``forward(*args)`` with a separate
    ``setup_context(ctx, inputs, output)`` works too, as in PyTorch 2.
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("Function.forward: a custom Function must define a static forward")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("Function.backward: a custom Function must define a static backward")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = FunctionCtx(args)
        with grad_mode.no_grad():
            if cls.setup_context is not Function.setup_context:
                output = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, output)
            else:
                output = cls.forward(ctx, *args, **kwargs)
        single = not isinstance(output, tuple)
        outputs = tuple(_own(y, args) for y in ((output,) if single else output))
        tensors = [a for a in args if isinstance(a, Tensor)]
        if grad_mode.is_grad_enabled() and any(t.requires_grad for t in tensors):
            CustomBackward(cls, ctx, args).record(tensors, outputs)
        return outputs[0] if single else outputs

    def __init__(self, *args, **kwargs):
        raise RuntimeError(f"{type(self).__name__}: custom Functions are not instantiated; call "
                           f"{type(self).__name__}.apply(...)")


def once_differentiable(backward):
    """Mark a custom Function's ``backward`` as not differentiable itself (it may use NumPy).

    Its gradients are exact; a second derivative through them raises an error naming the op.
    """
    @functools.wraps(backward)
    def wrapper(ctx, *grad_outputs):
        with grad_mode.no_grad():
            return backward(ctx, *grad_outputs)

    wrapper.once_differentiable = True
    return wrapper


class CustomBackward(node_base.Function):
    """The graph node of one ``apply``: the engine calls it like any op (``y.grad_fn``)."""

    def __init__(self, cls, ctx, args):
        self.cls, self.ctx = cls, ctx
        self.positions = [k for k, a in enumerate(args) if isinstance(a, Tensor)]
        self.n_args = len(args)

    @property
    def op_name(self) -> str:
        return self.cls.__name__

    def name(self) -> str:
        return f"{self.cls.__name__}Backward"

    @property
    def materialize_grads(self):
        return self.ctx.materialize_grads

    def record(self, tensors, outputs):
        """Make this node the creator of the differentiable outputs."""
        self.inputs = tuple(tensors)
        self.needs_input_grad = tuple(t.requires_grad for t in tensors)
        for y in outputs:
            if isinstance(y, Tensor) and id(y) not in self.ctx.non_differentiable and _differentiable(y.dtype):
                y.requires_grad, y.creator = True, self
        self.outputs = tuple(_weak(y) for y in outputs)
        self.output_meta = tuple((y.shape, y.dtype) if isinstance(y, Tensor) else None for y in outputs)
        saved = [t for t in self.ctx.to_save if t is not None]
        self.saved = tuple(t.array for t in saved)
        self._versions = [(t._version_box, t._version_box[0], t.shape) for t in saved]

    def backward(self, *gys):
        with grad_mode.no_grad():
            grads = self._call_user([None if g is None else _wrap(g) for g in gys])
        return tuple(None if g is None else g.array for g in grads)

    def vjp(self, *gys):
        if getattr(self.cls.backward, "once_differentiable", False):
            return node_base.once_differentiable_vjp(self, gys)
        return self._call_user(list(gys))

    def _call_user(self, gys):
        """The class's backward on tensors; its per-argument gradients mapped onto the tensor inputs."""
        grads = self.cls.backward(self.ctx, *gys)
        grads = grads if isinstance(grads, tuple) else (grads,)
        if len(grads) < self.n_args:
            raise RuntimeError(f"{self.op_name}.backward: returned an incorrect number of gradients (expected "
                               f"{self.n_args}, got {len(grads)})")
        picked = [grads[k] for k in self.positions]
        return tuple(g if g is None or isinstance(g, Tensor) else _wrap(g) for g in picked)

    def release(self):
        self.saved = None
        self.ctx.to_save = None


def _own(y, args):
    """A returned input becomes a new tensor on the same memory, so the graph has no self-loop."""
    if isinstance(y, Tensor) and any(y is a for a in args):
        out = _wrap(y.array)
        out._version_box = y._version_box
        return out
    return y


def _weak(y):
    import weakref

    return weakref.ref(y) if isinstance(y, Tensor) else (lambda: None)
