"""In-place and random-fill methods of ``Tensor`` (``x.add_(y)``, ``x[i] = v``, ``w.uniform_(-a, a)``).

A mixin of ``Tensor``. Every method writes into the tensor's memory and bumps its version
counter, so that a backward which needs the old values refuses to run; on a tensor in the graph
the write is recorded as PyTorch records it (the tensor becomes the op's output).
"""
from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

import numpy as np

import ember
from ember import backend
from ember import random as em_random
from ember.autograd import grad_mode
from ember.autograd import tensor as _tensor  # Tensor imports this module: its names are looked up when called
from ember.autograd.function import memory_owner

if TYPE_CHECKING:
    from ember.autograd.tensor import Tensor


class InplaceMethods:
    """The in-place methods of ``Tensor``."""

    # -- in-place ops -----------------------------------------------------------------------
    # Every one writes into this tensor's memory and bumps its version counter, so a backward
    # that needs the old values refuses to run. Outside the graph (no_grad, or nothing requires
    # grad) they simply write. On a tensor in the graph they are recorded as PyTorch records
    # them: this tensor becomes the op's output and the op's input is its value before.
    def _inplace_target(self, op):
        if self.requires_grad and grad_mode.is_grad_enabled():
            raise RuntimeError(
                f"{op}: a tensor that requires grad is being modified in place; "
                "do it under em.no_grad() or use the out-of-place op"
            )
        self._version += 1
        return self.array

    def _write(self, name, values):
        """Copy ``values`` into this tensor's memory (PyTorch's casting rule: no float into int)."""
        values = values.array if isinstance(values, _tensor.Tensor) else values
        if not np.can_cast(values.dtype, self.dtype, "same_kind"):
            raise RuntimeError(f"{name}: result type {values.dtype} can't be cast to the tensor's dtype {self.dtype}")
        self._inplace_target(name)[...] = values
        return self

    def _inplace(self, name, op, *args, **kwargs):
        """``self = op(self, *args)`` in place: written into this memory, recorded when in the graph."""
        if grad_mode.is_grad_enabled() and (self.requires_grad or _any_requires_grad(args)):
            return self._record_inplace(name, op, args, kwargs)
        with grad_mode.no_grad():
            return self._write(name, op(self, *args, **kwargs))

    def _record_inplace(self, name, op, args, kwargs, view=False):
        """Make this tensor the output of ``op`` applied to its current value.

        The op reads a copy of the old values when its backward needs them (``mul_``, ``exp_``);
        ops whose backward never reads their input (``add_``, ``x[i] = v``, ``scatter_``) read
        this memory directly, so that filling a buffer step by step keeps no copies.
        """
        if self.is_leaf and self.requires_grad:
            self._inplace_target(name)  # raises: PyTorch forbids in-place ops on such leaves too
        if not view and _views_graph_memory(self):
            raise RuntimeError(f"{name}: this tensor is a view of another tensor in the graph, whose gradient "
                               "would miss the change; clone() the view first or use the out-of-place op")
        keep = view or (name in _BACKWARD_IGNORES_INPUT and not kwargs.get("reduce"))
        before = _tensor._wrap(self.array if keep else self.array.copy(), self.requires_grad, self.creator)
        if view:
            before._version_box = self._version_box
        _retarget(self.creator, self, before)
        args = tuple(before if a is self else a for a in args)  # y.add_(y) reads the old y twice
        out = op(before, *args, **kwargs)
        if view:
            self.array = out.array
        else:
            if not np.can_cast(out.dtype, self.dtype, "same_kind"):
                raise RuntimeError(f"{name}: result type {out.dtype} can't be cast to the tensor's dtype {self.dtype}")
            self.array[...] = out.array
            self._version += 1
        self.creator, self.requires_grad = out.creator, out.requires_grad
        _retarget(out.creator, out, self)
        return self

    def _inplace_view(self, name, op, *args):
        """A shape change in place (``unsqueeze_``, ``t_``, ...): this tensor becomes the view."""
        if grad_mode.is_grad_enabled() and self.requires_grad and not self.is_leaf:
            return self._record_inplace(name, op, args, {}, view=True)
        with grad_mode.no_grad():
            self.array = op(self, *args).array
        return self

    def copy_(self, src) -> Tensor:
        """Copy ``src``'s values (broadcast, cast to this dtype) into this tensor."""
        if grad_mode.is_grad_enabled() and (self.requires_grad or _any_requires_grad((src,))):
            return self._record_inplace("copy_", _copy_from, (src,), {})
        data = self._inplace_target("copy_")
        data[...] = _tensor._to_array(src)
        return self

    def fill_(self, value) -> Tensor:
        if grad_mode.is_grad_enabled() and (self.requires_grad or _any_requires_grad((value,))):
            return self._record_inplace("fill_", _copy_from, (value,), {})
        self._inplace_target("fill_").fill(value.item() if isinstance(value, _tensor.Tensor) else value)
        return self

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def add_(self, other, *, alpha=1) -> Tensor:
        if _any_requires_grad((self, other)) and grad_mode.is_grad_enabled():
            return self._inplace("add_", ember.ops.add, other if alpha == 1 else other * alpha)
        return self._apply_inplace("add_", "add", other if alpha == 1 else alpha * _tensor._to_array(other))

    def sub_(self, other, *, alpha=1) -> Tensor:
        if _any_requires_grad((self, other)) and grad_mode.is_grad_enabled():
            return self._inplace("sub_", ember.ops.sub, other if alpha == 1 else other * alpha)
        return self._apply_inplace("sub_", "subtract", other if alpha == 1 else alpha * _tensor._to_array(other))

    def mul_(self, other) -> Tensor:
        if _any_requires_grad((self, other)) and grad_mode.is_grad_enabled():
            return self._inplace("mul_", ember.ops.mul, other)
        return self._apply_inplace("mul_", "multiply", other)

    def div_(self, other, *, rounding_mode=None) -> Tensor:
        if rounding_mode is not None:
            return self._inplace("div_", ember.ops.div, other, rounding_mode=rounding_mode)
        if _any_requires_grad((self, other)) and grad_mode.is_grad_enabled():
            return self._inplace("div_", ember.ops.div, other)
        return self._apply_inplace("div_", "true_divide", other)

    divide_ = div_

    def true_divide_(self, other) -> Tensor:
        return self.div_(other)

    def floor_divide_(self, other) -> Tensor:
        return self._inplace("floor_divide_", ember.ops.floor_divide, other)

    def pow_(self, exponent) -> Tensor:
        return self._inplace("pow_", ember.ops.pow, exponent)

    def addcmul_(self, tensor1, tensor2, *, value=1) -> Tensor:
        return self._inplace("addcmul_", ember.ops.addcmul, tensor1, tensor2, value=value)

    def addcdiv_(self, tensor1, tensor2, *, value=1) -> Tensor:
        return self._inplace("addcdiv_", ember.ops.addcdiv, tensor1, tensor2, value=value)

    def lerp_(self, end, weight) -> Tensor:
        return self._inplace("lerp_", ember.ops.lerp, end, weight)

    def fmod_(self, other) -> Tensor:
        return self._inplace("fmod_", ember.ops.fmod, other)

    def remainder_(self, other) -> Tensor:
        return self._inplace("remainder_", ember.ops.remainder, other)

    def clamp_min_(self, min) -> Tensor:  # noqa: A002 - PyTorch's name
        return self._inplace("clamp_min_", ember.ops.clamp_min, min)

    def clamp_max_(self, max) -> Tensor:  # noqa: A002 - PyTorch's name
        return self._inplace("clamp_max_", ember.ops.clamp_max, max)

    def round_(self, decimals=0) -> Tensor:
        return self._inplace("round_", ember.ops.round, decimals=decimals)

    def logit_(self, eps=None) -> Tensor:
        return self._inplace("logit_", ember.ops.logit, eps)

    def neg_(self) -> Tensor:
        return self._inplace("neg_", ember.ops.neg)

    negative_ = neg_

    def exp_(self) -> Tensor:
        return self._inplace("exp_", ember.ops.exp)

    def clamp_(self, min=None, max=None) -> Tensor:  # noqa: A002 - PyTorch's names
        return self._inplace("clamp_", ember.ops.clamp, min, max)

    clip_ = clamp_

    def relu_(self) -> Tensor:
        return self._inplace("relu_", ember.ops.relu)

    def sigmoid_(self) -> Tensor:
        return self._inplace("sigmoid_", ember.ops.sigmoid)

    def tanh_(self) -> Tensor:
        return self._inplace("tanh_", ember.ops.tanh)

    def masked_fill_(self, mask, value) -> Tensor:
        return self._inplace("masked_fill_", ember.ops.masked_fill, mask, value)

    def index_fill_(self, dim, index, value) -> Tensor:
        return self._inplace("index_fill_", ember.ops.index_fill, dim, index, value)

    def index_add_(self, dim, index, source, *, alpha=1) -> Tensor:
        return self._inplace("index_add_", ember.ops.index_add, dim, index, source, alpha=alpha)

    def index_copy_(self, dim, index, source) -> Tensor:
        return self._inplace("index_copy_", ember.ops.index_copy, dim, index, source)

    def index_put_(self, indices, values, accumulate=False) -> Tensor:
        return self._inplace("index_put_", ember.ops.index_put, indices, values, accumulate)

    def masked_scatter_(self, mask, source) -> Tensor:
        return self._inplace("masked_scatter_", ember.ops.masked_scatter, mask, source)

    def scatter_(self, dim, index, src=None, value=None, *, reduce=None) -> Tensor:
        return self._inplace("scatter_", ember.ops.scatter, dim, index, src, value, reduce=reduce)

    def scatter_add_(self, dim, index, src) -> Tensor:
        if self.is_contiguous() and not (grad_mode.is_grad_enabled() and _any_requires_grad((self, src))):
            self._inplace_target("scatter_add_")
            ember.ops.indexing.scatter_add_inplace(self, dim, index, src)  # no copy in, no copy out
            return self
        return self._inplace("scatter_add_", ember.ops.scatter_add, dim, index, src)

    def scatter_reduce_(self, dim, index, src, reduce, *, include_self=True) -> Tensor:
        return self._inplace("scatter_reduce_", ember.ops.scatter_reduce, dim, index, src, reduce,
                             include_self=include_self)

    def unsqueeze_(self, dim) -> Tensor:
        return self._inplace_view("unsqueeze_", ember.ops.unsqueeze, dim)

    def squeeze_(self, dim=None) -> Tensor:
        return self._inplace_view("squeeze_", ember.ops.squeeze, dim)

    def t_(self) -> Tensor:
        return self._inplace_view("t_", ember.ops.t)

    def transpose_(self, dim0, dim1) -> Tensor:
        return self._inplace_view("transpose_", ember.ops.transpose, dim0, dim1)

    def __setitem__(self, index, value):
        if grad_mode.is_grad_enabled() and (self.requires_grad or _any_requires_grad((value,))):
            self._record_inplace("__setitem__", ember.ops.indexing.setitem, (index, value), {})
        else:
            self._inplace_target("__setitem__")[_tensor._unwrap_index(index)] = _tensor._to_array(value)

    def _apply_inplace(self, name, ufunc, other):
        data = self._inplace_target(name)
        getattr(self.xp, ufunc)(data, _tensor._to_array(other), out=data)  # int += float raises, as in PyTorch
        return self

    def _inplace_binary(self, name, ufunc, other, out_of_place):
        """``x op= y``: in place, except on a graph tensor, where the name is rebound out of place."""
        if self.requires_grad and grad_mode.is_grad_enabled() and not self.is_leaf:
            return out_of_place(self, other)
        return self._apply_inplace(name, ufunc, other)

    def __iadd__(self, other):
        return self._inplace_binary("+=", "add", other, ember.ops.add)

    def __isub__(self, other):
        return self._inplace_binary("-=", "subtract", other, ember.ops.sub)

    def __imul__(self, other):
        return self._inplace_binary("*=", "multiply", other, ember.ops.mul)

    def __itruediv__(self, other):
        return self._inplace_binary("/=", "divide", other, ember.ops.div)

    def __ifloordiv__(self, other):
        return self._inplace_binary("//=", "floor_divide", other, ember.ops.floor_divide)

    # -- random fills (from the global generator, or ``generator``) ------------------------
    def _fill_random(self, name, draw, generator):
        """Write ``draw(rng, shape)`` (host NumPy values) into this tensor."""
        rng = em_random.numpy_generator(generator) if generator is not None else em_random.generator()
        values = np.asarray(draw(rng, self.shape)).astype(self.dtype, copy=False)
        self._inplace_target(name)[...] = backend.to_device(values, self.device)
        return self

    def uniform_(self, from_=0.0, to=1.0, *, generator=None) -> Tensor:
        """Fill with samples of U(from_, to)."""
        return self._fill_random("uniform_", lambda rng, shape: rng.uniform(from_, to, shape), generator)

    def normal_(self, mean=0.0, std=1.0, *, generator=None) -> Tensor:
        """Fill with samples of N(mean, std²)."""
        return self._fill_random("normal_", lambda rng, shape: rng.normal(mean, std, shape), generator)

    def bernoulli_(self, p=0.5, *, generator=None) -> Tensor:
        """Fill with 1 with probability ``p`` (a number or a tensor of probabilities), else 0."""
        p = backend.to_numpy(p.array) if isinstance(p, _tensor.Tensor) else p
        return self._fill_random("bernoulli_", lambda rng, shape: rng.random(shape) < p, generator)

    def exponential_(self, lambd=1.0, *, generator=None) -> Tensor:
        """Fill with samples of the exponential distribution of rate ``lambd``."""
        return self._fill_random("exponential_", lambda rng, shape: rng.exponential(1.0 / lambd, shape), generator)

    def random_(self, from_=0, to=None, *, generator=None) -> Tensor:
        """Fill with integers drawn uniformly from [from_, to − 1]; ``random_(to)`` draws from
        [0, to − 1]; without bounds, from 0 to the largest integer the dtype holds exactly."""
        if to is None and from_ != 0:
            from_, to = 0, from_
        if to is None:
            to = 2 ** np.finfo(self.dtype).nmant + 1 if self.dtype.kind == "f" else (
                2 if self.dtype.kind == "b" else int(np.iinfo(self.dtype).max) + 1)
        return self._fill_random("random_", lambda rng, shape: rng.integers(from_, to, shape), generator)


# In-place ops whose recorded Function saves nothing of the tensor's old values.
_BACKWARD_IGNORES_INPUT = frozenset({
    "add_", "sub_", "neg_", "fill_", "copy_", "masked_fill_", "index_fill_", "index_put_", "index_add_",
    "index_copy_", "scatter_", "scatter_add_", "masked_scatter_", "__setitem__",
})


def _unary_inplace(name):
    """The method ``x.<name>_()``: ``x = em.<name>(x)`` written into x's memory (see ``_inplace``)."""
    def method(self):
        return self._inplace(name + "_", getattr(ember.ops, name))

    method.__name__ = method.__qualname__ = name + "_"
    method.__doc__ = f"``em.{name}`` in place."
    return method


for _name in ("sqrt", "rsqrt", "reciprocal", "square", "log", "log1p", "log2", "log10", "exp2", "expm1", "abs",
              "absolute", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh",
              "floor", "ceil", "trunc", "fix", "frac", "sign", "erf", "erfc"):
    setattr(InplaceMethods, _name + "_", _unary_inplace(_name))


def _any_requires_grad(values) -> bool:
    return any(isinstance(v, _tensor.Tensor) and v.requires_grad for v in values)


def _views_graph_memory(t) -> bool:
    """True when ``t`` was made as a view of a tensor that requires grad (writing into it would
    change that tensor's values behind its graph's back)."""
    if t.creator is None or t.creator.inputs is None or getattr(t.array, "base", None) is None:
        return False
    owner = memory_owner(t.array)
    return any(x.requires_grad and memory_owner(x.array) is owner for x in t.creator.inputs)


def _retarget(fn, old, new):
    """Point ``fn``'s output reference at ``new`` instead of ``old`` (an in-place op's rewiring)."""
    if fn is not None and fn.outputs is not None:
        fn.outputs = tuple(weakref.ref(new) if ref() is old else ref for ref in fn.outputs)


def _copy_from(x, src):
    """``x.copy_(src)`` as an op: src's values (broadcast, cast), a zero gradient for x's old ones."""
    src = _tensor.as_tensor(src, like=x)
    src = src if src.dtype == x.dtype else ember.ops.cast(src, x.dtype)
    return ember.ops.where(x.xp.ones(x.shape, bool), src, x)


