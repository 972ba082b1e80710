"""``Tensor``: an array of the backend (NumPy or CuPy) plus what autograd needs.

Operators and methods are defined here and delegate to the functional ops in
``ember.ops``; every op is a ``Function`` that records itself as the ``creator`` of
its output when a gradient is wanted.
"""
from __future__ import annotations

import itertools
import weakref

import numpy as np

from ember import backend, dtypes
from ember import random as em_random
from ember.autograd import engine, grad_mode
from ember.autograd.function import memory_owner
from ember.autograd.math_methods import MathMethods

DEFAULT_DTYPE = np.float32
NUMERIC_KINDS = "biufc"  # NumPy dtype kinds a tensor can hold: bool, ints, floats, complex


def _to_array(data, dtype=None, device=None):
    """Convert data to a backend array following PyTorch's dtype rules.

    ndarrays keep their dtype; Python floats (and lists of them) become float32;
    integers stay integer (int64) and booleans stay bool.
    """
    if isinstance(data, Tensor):
        data = data.array
    xp = backend.xp_for(device) if device is not None else backend.get_array_module(data)
    if dtype is not None:
        array = xp.asarray(data, dtype=dtype)
    elif hasattr(data, "dtype") and hasattr(data, "shape"):
        array = xp.asarray(data)
        if array.dtype.kind not in NUMERIC_KINDS and not dtypes.is_floating_dtype(array.dtype):
            raise TypeError(f"tensor: cannot convert an array of dtype {array.dtype}; "
                            "tensors hold numbers and booleans only")
    else:
        array = np.asarray(data)
        if array.dtype == np.float64:
            array = array.astype(DEFAULT_DTYPE)
        elif array.dtype.kind == "i":
            array = array.astype(np.int64)
        elif array.dtype.kind in "USV":
            raise ValueError(f"tensor: cannot make a tensor of strings or bytes, got {data!r:.60}")
        elif array.dtype.kind not in NUMERIC_KINDS:
            raise TypeError(f"tensor: cannot convert {type(data).__name__} to a tensor")
        array = xp.asarray(array)
    return array


def _is_size(n) -> bool:
    return isinstance(n, int) and not isinstance(n, bool)


_INFER = object()  # "no dtype argument": Tensor(list) then follows torch.Tensor (float), tensor() passes None


def _constructor_array(args, dtype, device):
    """``Tensor(data)`` or ``Tensor(*sizes)``, as ``torch.Tensor`` reads them.

    ``Tensor(2, 3)`` is an uninitialised float tensor of that shape; ``Tensor([1, 2])`` holds
    floats, as in PyTorch; an array or a tensor keeps its dtype. Given a ``dtype`` argument
    (``None`` included, as ``em.tensor`` passes it), one argument is data (``Tensor(5, dtype=None)``
    is the number 5) following ``em.tensor``'s rules.
    """
    if len(args) == 1 and (dtype is not _INFER or not _is_size(args[0])):
        data = args[0]
        if dtype is _INFER:
            dtype = DEFAULT_DTYPE if isinstance(data, (list, tuple, float, bool)) else None
        return _to_array(data, dtype, device)
    if not args:
        args = (0,)
    if not all(_is_size(n) for n in args):
        raise TypeError(f"Tensor(): expected data or integer sizes, got {args!r:.80}")
    xp = backend.xp_for(device) if device is not None else np
    return xp.empty(args, dtype=DEFAULT_DTYPE if dtype is _INFER or dtype is None else dtype)


class Tensor(MathMethods):
    """A multi-dimensional array that can record the operations applied to it.

    ``Tensor(data)`` wraps data (an array keeps its dtype, a list becomes floats, as
    ``torch.Tensor``); ``Tensor(2, 3)`` is an uninitialised float tensor of shape (2, 3).
    ``em.tensor(data)`` is the usual constructor.

    >>> x = em.tensor([[1.0, 2.0]], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([[2., 4.]])
    """

    # ndarray (+) Tensor defers to Tensor's reflected operator instead of broadcasting
    # the ndarray over Tensor objects.
    __array_priority__ = 1000
    __array_ufunc__ = None

    def __init__(self, *data, requires_grad=False, dtype=_INFER, device=None):
        array = _constructor_array(data, dtype, device)
        if requires_grad and not _differentiable(array.dtype):
            raise RuntimeError(f"only floating-point tensors can require grad, got dtype {array.dtype}")
        self._set(array, bool(requires_grad), None)

    def _set(self, array, requires_grad, creator):
        """Every field of a tensor, in one place (``__init__`` and the ops' fast ``_wrap``)."""
        self.array, self.requires_grad, self.grad, self.creator = array, requires_grad, None, creator
        self._version_box = [0]  # shared with detached aliases, which see the same memory
        self._retains_grad = False
        self._hooks = None  # {handle id: fn} once register_hook is called

    # -- properties ---------------------------------------------------------------------
    @property
    def data(self) -> Tensor:
        """This tensor's values as a new tensor cut from the graph, sharing the memory (PyTorch's ``.data``).

        Writes through it (``p.data.add_(-lr * p.grad)``, ``w.data.uniform_(-a, a)``) change this
        tensor without being recorded or version-checked, as in PyTorch; ``detach()`` is the
        checked form. Assigning ``x.data = other`` swaps the values in. The backend array
        itself is ``.array``.
        """
        return _wrap(self.array)

    @data.setter
    def data(self, value):
        array = value.array if isinstance(value, Tensor) else _to_array(value)
        if self.requires_grad and not _differentiable(array.dtype):
            raise RuntimeError(f"data: a tensor that requires grad cannot take {array.dtype} values")
        self.array = array

    @property
    def shape(self) -> tuple:
        return self.array.shape

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def device(self) -> str:
        return backend.device_of(self.array)

    @property
    def xp(self):
        return backend.get_array_module(self.array)

    @property
    def is_leaf(self) -> bool:
        return self.creator is None

    @property
    def grad_fn(self):
        """The ``Function`` that made this tensor (None for a leaf), PyTorch's ``grad_fn``."""
        return self.creator

    @property
    def T(self):  # noqa: N802 - PyTorch's name
        return ops.permute(self, tuple(range(self.ndim))[::-1])

    @property
    def mT(self):  # noqa: N802 - PyTorch's name
        """The matrices of the last two dims transposed."""
        if self.ndim < 2:
            raise RuntimeError(f"mT: expects a tensor of at least 2 dims, got {self.ndim}")
        return ops.transpose(self, -2, -1)

    def size(self, dim=None):
        """The shape, or its length along ``dim`` (PyTorch's ``Tensor.size``)."""
        return self.shape if dim is None else self.shape[dim]

    def numel(self) -> int:
        return int(self.array.size)

    nelement = numel

    def element_size(self) -> int:
        """Bytes per element."""
        return self.array.dtype.itemsize

    @property
    def itemsize(self) -> int:
        return self.array.dtype.itemsize

    @property
    def nbytes(self) -> int:
        return int(self.array.nbytes)

    def stride(self, dim=None):
        """The step in elements between neighbours along each dim (or along ``dim``)."""
        strides = tuple(s // self.array.dtype.itemsize for s in self.array.strides)
        return strides if dim is None else strides[dim]

    def is_contiguous(self) -> bool:
        return bool(self.array.flags.c_contiguous)

    def dim(self) -> int:
        return self.ndim

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    __hash__ = object.__hash__

    # -- autograd -----------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Compute the gradient of this tensor w.r.t. every leaf and add it to ``leaf.grad``.

        ``gradient`` is d(loss)/d(this tensor) (needed unless it has one element); with ``inputs``
        only those tensors (leaves or not) receive a ``.grad``.
        """
        if create_graph:
            raise NotImplementedError("backward(create_graph=True): gradients of gradients are not supported")
        if inputs is None:
            return engine.backward(self, gradient, bool(retain_graph))
        _backward_into(self, gradient, bool(retain_graph), [inputs] if isinstance(inputs, Tensor) else inputs)

    def register_hook(self, hook):
        """Call ``hook(grad)`` with this tensor's gradient during backward; a tensor it returns
        replaces the gradient (for what flows on, and for ``.grad``). Returns a handle whose
        ``remove()`` unregisters it.

        >>> h = x.register_hook(lambda g: g.clamp(-1, 1))
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that doesn't require grad")
        if self._hooks is None:
            self._hooks = {}
        return _HookHandle(self._hooks, hook)

    def detach(self) -> Tensor:
        """A tensor sharing this data (and its in-place version counter), cut from the graph."""
        out = _wrap(self.array)
        out._version_box = self._version_box
        return out

    @property
    def _version(self) -> int:
        """How many times the data was modified in place (checked by backward for saved tensors)."""
        return self._version_box[0]

    @_version.setter
    def _version(self, value):
        self._version_box[0] = value

    def requires_grad_(self, requires_grad=True) -> Tensor:
        """Switch gradient recording on (or off) for this leaf; returns the tensor."""
        if not self.is_leaf:
            raise RuntimeError("requires_grad_: only leaf tensors can change requires_grad")
        if requires_grad and not _differentiable(self.dtype):
            raise RuntimeError(f"only floating-point tensors can require grad, got dtype {self.dtype}")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> Tensor:
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        self._retains_grad = True
        return self

    def _accumulate(self, g, fresh=False):
        """Add a backend-array gradient into ``.grad`` (a new array: no aliasing).

        ``fresh`` says ``g`` is a writable array nobody else holds, so it can be stored as is.
        """
        if self.grad is None:
            self.grad = _wrap(g if fresh else g.copy())
        else:
            self.grad = _wrap(self.grad.array + g)

    # -- conversion ---------------------------------------------------------------------
    def item(self):
        if self.numel() != 1:
            raise ValueError(f"item: only one-element tensors can be converted, got shape {self.shape}")
        return self.array.item()

    def numpy(self) -> np.ndarray:
        if self.requires_grad:
            raise RuntimeError("numpy: call .detach().numpy() on a tensor that requires grad")
        return backend.to_numpy(self.array)

    def tolist(self):
        return backend.to_numpy(self.array).tolist()

    def __array__(self, dtype=None, copy=None):
        array = backend.to_numpy(self.array)
        return array if dtype is None else array.astype(dtype)

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"`` formats a one-element tensor as its number, as PyTorch does."""
        if self.numel() == 1:
            return format(self.item(), spec)
        if spec:
            raise TypeError(f"unsupported format string {spec!r} for a tensor of shape {self.shape}")
        return str(self)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.dtype.kind not in "iub":
            raise TypeError("only integer tensors can be used as an index")
        return int(self.item())

    def __bool__(self):
        if self.numel() != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.numel()} elements is ambiguous")
        return bool(self.item())

    def to(self, *args, dtype=None, device=None) -> Tensor:
        """Move to a device and/or cast: ``x.to('cuda')``, ``x.to(em.float64)``."""
        for arg in args:
            if isinstance(arg, str):
                device = arg
            elif isinstance(arg, Tensor):
                device, dtype = arg.device, arg.dtype
            else:
                dtype = arg
        out = self
        if device is not None and backend.normalize_device(device) != self.device:
            out = ops.to_device(out, backend.normalize_device(device))
        if dtype is not None and np.dtype(dtype) != self.dtype:
            out = ops.cast(out, dtype)
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    def half(self):
        return self.to(np.float16)

    def bfloat16(self):
        return self.to(dtypes.load_bfloat16())

    def long(self):
        return self.to(np.int64)

    def int(self):
        return self.to(np.int32)

    def bool(self):
        return self.to(np.bool_)

    def type(self, dtype):
        return self.to(dtype)

    astype = type

    def type_as(self, other) -> Tensor:
        """This tensor cast to ``other``'s dtype."""
        return self.to(other.dtype)

    def clone(self):
        return ops.clone(self)

    def contiguous(self):
        """This tensor, or a row-major copy of it if its memory is strided otherwise."""
        return self if self.is_contiguous() else ops.clone(self)

    # -- new tensors like this one (dtype and device) -----------------------------------
    def _new(self, array, dtype, device, requires_grad):
        array = array.astype(self.dtype if dtype is None else dtype, copy=False)
        device = self.device if device is None else backend.normalize_device(device)
        return Tensor(backend.to_device(array, device), requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        """Zeros of ``size`` with this tensor's dtype and device (unless given)."""
        return self._new(np.zeros(_shape_args(size)), dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return self._new(np.ones(_shape_args(size)), dtype, device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return self._new(np.empty(_shape_args(size)), dtype, device, requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
        return self._new(np.full(_shape_args((size,)), fill_value), dtype, device, requires_grad)

    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False) -> Tensor:
        """A copy of ``data`` with this tensor's dtype and device (unless given)."""
        data = backend.to_numpy(data.array) if isinstance(data, Tensor) else np.asarray(data)
        return self._new(data.copy(), dtype, device, requires_grad)

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
        values = values.array if isinstance(values, Tensor) else values
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
        before = _wrap(self.array if keep else self.array.copy(), self.requires_grad, self.creator)
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
        data[...] = _to_array(src)
        return self

    def fill_(self, value) -> Tensor:
        if grad_mode.is_grad_enabled() and (self.requires_grad or _any_requires_grad((value,))):
            return self._record_inplace("fill_", _copy_from, (value,), {})
        self._inplace_target("fill_").fill(value.item() if isinstance(value, Tensor) else value)
        return self

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def add_(self, other, *, alpha=1) -> Tensor:
        if _any_requires_grad((self, other)) and grad_mode.is_grad_enabled():
            return self._inplace("add_", ops.add, other if alpha == 1 else other * alpha)
        return self._apply_inplace("add_", "add", other if alpha == 1 else alpha * _to_array(other))

    def sub_(self, other, *, alpha=1) -> Tensor:
        if _any_requires_grad((self, other)) and grad_mode.is_grad_enabled():
            return self._inplace("sub_", ops.sub, other if alpha == 1 else other * alpha)
        return self._apply_inplace("sub_", "subtract", other if alpha == 1 else alpha * _to_array(other))

    def mul_(self, other) -> Tensor:
        if _any_requires_grad((self, other)) and grad_mode.is_grad_enabled():
            return self._inplace("mul_", ops.mul, other)
        return self._apply_inplace("mul_", "multiply", other)

    def div_(self, other, *, rounding_mode=None) -> Tensor:
        if rounding_mode is not None:  # a rounded quotient has a zero gradient
            q = self.xp.true_divide(self.array, _to_array(other))
            return self.copy_(_wrap((self.xp.floor(q) if rounding_mode == "floor" else self.xp.trunc(q)).astype(
                self.dtype)))
        if _any_requires_grad((self, other)) and grad_mode.is_grad_enabled():
            return self._inplace("div_", ops.div, other)
        return self._apply_inplace("div_", "true_divide", other)

    def pow_(self, exponent) -> Tensor:
        return self._inplace("pow_", ops.pow, exponent)

    def neg_(self) -> Tensor:
        return self._inplace("neg_", ops.neg)

    negative_ = neg_

    def exp_(self) -> Tensor:
        return self._inplace("exp_", ops.exp)

    def clamp_(self, min=None, max=None) -> Tensor:  # noqa: A002 - PyTorch's names
        return self._inplace("clamp_", ops.clamp, min, max)

    clip_ = clamp_

    def relu_(self) -> Tensor:
        return self._inplace("relu_", ops.relu)

    def sigmoid_(self) -> Tensor:
        return self._inplace("sigmoid_", ops.sigmoid)

    def tanh_(self) -> Tensor:
        return self._inplace("tanh_", ops.tanh)

    def masked_fill_(self, mask, value) -> Tensor:
        return self._inplace("masked_fill_", ops.masked_fill, mask, value)

    def index_fill_(self, dim, index, value) -> Tensor:
        return self._inplace("index_fill_", ops.index_fill, dim, index, value)

    def index_add_(self, dim, index, source, *, alpha=1) -> Tensor:
        return self._inplace("index_add_", ops.index_add, dim, index, source, alpha=alpha)

    def index_copy_(self, dim, index, source) -> Tensor:
        return self._inplace("index_copy_", ops.index_copy, dim, index, source)

    def index_put_(self, indices, values, accumulate=False) -> Tensor:
        return self._inplace("index_put_", ops.index_put, indices, values, accumulate)

    def masked_scatter_(self, mask, source) -> Tensor:
        return self._inplace("masked_scatter_", ops.masked_scatter, mask, source)

    def scatter_(self, dim, index, src=None, value=None, *, reduce=None) -> Tensor:
        return self._inplace("scatter_", ops.scatter, dim, index, src, value, reduce=reduce)

    def scatter_add_(self, dim, index, src) -> Tensor:
        if self.is_contiguous() and not (grad_mode.is_grad_enabled() and _any_requires_grad((self, src))):
            self._inplace_target("scatter_add_")
            ops.indexing.scatter_add_inplace(self, dim, index, src)  # no copy in, no copy out
            return self
        return self._inplace("scatter_add_", ops.scatter_add, dim, index, src)

    def scatter_reduce_(self, dim, index, src, reduce, *, include_self=True) -> Tensor:
        return self._inplace("scatter_reduce_", ops.scatter_reduce, dim, index, src, reduce, include_self=include_self)

    def unsqueeze_(self, dim) -> Tensor:
        return self._inplace_view("unsqueeze_", ops.unsqueeze, dim)

    def squeeze_(self, dim=None) -> Tensor:
        return self._inplace_view("squeeze_", ops.squeeze, dim)

    def t_(self) -> Tensor:
        return self._inplace_view("t_", ops.t)

    def transpose_(self, dim0, dim1) -> Tensor:
        return self._inplace_view("transpose_", ops.transpose, dim0, dim1)

    def __setitem__(self, index, value):
        if grad_mode.is_grad_enabled() and (self.requires_grad or _any_requires_grad((value,))):
            self._record_inplace("__setitem__", ops.indexing.setitem, (index, value), {})
        else:
            self._inplace_target("__setitem__")[_unwrap_index(index)] = _to_array(value)

    def _apply_inplace(self, name, ufunc, other):
        data = self._inplace_target(name)
        getattr(self.xp, ufunc)(data, _to_array(other), out=data)  # int += float raises, as in PyTorch
        return self

    def _inplace_binary(self, name, ufunc, other, out_of_place):
        """``x op= y``: in place, except on a graph tensor, where the name is rebound out of place."""
        if self.requires_grad and grad_mode.is_grad_enabled() and not self.is_leaf:
            return out_of_place(self, other)
        return self._apply_inplace(name, ufunc, other)

    def __iadd__(self, other):
        return self._inplace_binary("+=", "add", other, ops.add)

    def __isub__(self, other):
        return self._inplace_binary("-=", "subtract", other, ops.sub)

    def __imul__(self, other):
        return self._inplace_binary("*=", "multiply", other, ops.mul)

    def __itruediv__(self, other):
        return self._inplace_binary("/=", "divide", other, ops.div)

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
        p = backend.to_numpy(p.array) if isinstance(p, Tensor) else p
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

    # -- arithmetic operators -----------------------------------------------------------
    def __add__(self, other):
        return ops.add(self, other)

    def __radd__(self, other):
        return ops.add(other, self)

    def __sub__(self, other):
        return ops.sub(self, other)

    def __rsub__(self, other):
        return ops.sub(other, self)

    def __mul__(self, other):
        return ops.mul(self, other)

    def __rmul__(self, other):
        return ops.mul(other, self)

    def __truediv__(self, other):
        return ops.div(self, other)

    def __rtruediv__(self, other):
        return ops.div(other, self)

    def __neg__(self):
        return ops.neg(self)

    def __pos__(self):
        return self

    def __pow__(self, exponent):
        return ops.pow(self, exponent)

    def __rpow__(self, base):
        return ops.pow(base, self)

    def __matmul__(self, other):
        return ops.matmul(self, other)

    def __rmatmul__(self, other):
        return ops.matmul(other, self)

    def __abs__(self):
        return ops.abs(self)

    # -- comparisons (no gradient) ------------------------------------------------------
    def __eq__(self, other):
        return ops.eq(self, other)

    def __ne__(self, other):
        return ops.ne(self, other)

    def __lt__(self, other):
        return ops.lt(self, other)

    def __le__(self, other):
        return ops.le(self, other)

    def __gt__(self, other):
        return ops.gt(self, other)

    def __ge__(self, other):
        return ops.ge(self, other)

    # -- indexing -----------------------------------------------------------------------
    def __getitem__(self, index):
        return ops.getitem(self, index)

    # -- method forms of the ops ----------------------------------------------------------
    def add(self, other):
        return ops.add(self, other)

    def sub(self, other):
        return ops.sub(self, other)

    def mul(self, other):
        return ops.mul(self, other)

    def div(self, other):
        return ops.div(self, other)

    def pow(self, exponent):
        return ops.pow(self, exponent)

    def neg(self):
        return ops.neg(self)

    def sign(self):
        return ops.sign(self)

    def eq(self, other):
        return ops.eq(self, other)

    def ne(self, other):
        return ops.ne(self, other)

    def lt(self, other):
        return ops.lt(self, other)

    def le(self, other):
        return ops.le(self, other)

    def gt(self, other):
        return ops.gt(self, other)

    def ge(self, other):
        return ops.ge(self, other)

    def index_select(self, dim, index):
        return ops.index_select(self, dim, index)

    def exp(self):
        return ops.exp(self)

    def log(self):
        return ops.log(self)

    def sqrt(self):
        return ops.sqrt(self)

    def abs(self):
        return ops.abs(self)

    def sin(self):
        return ops.sin(self)

    def cos(self):
        return ops.cos(self)

    def clip(self, min=None, max=None):  # noqa: A002 - PyTorch's names
        return ops.clamp(self, min, max)

    clamp = clip

    def maximum(self, other):
        return ops.maximum(self, other)

    def minimum(self, other):
        return ops.minimum(self, other)

    def sigmoid(self):
        return ops.sigmoid(self)

    def tanh(self):
        return ops.tanh(self)

    def relu(self):
        return ops.relu(self)

    def softmax(self, dim=-1):
        return ops.softmax(self, dim)

    def log_softmax(self, dim=-1):
        return ops.log_softmax(self, dim)

    def logsumexp(self, dim=None, keepdim=False):
        return ops.logsumexp(self, dim, keepdim)

    def max(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return ops.max(self, _pick(axis, dim), _pick(keepdims, keepdim))

    def min(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return ops.min(self, _pick(axis, dim), _pick(keepdims, keepdim))

    def amax(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return ops.amax(self, _pick(axis, dim), _pick(keepdims, keepdim))

    def amin(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return ops.amin(self, _pick(axis, dim), _pick(keepdims, keepdim))

    def var(self, axis=None, keepdims=False, *, dim=None, keepdim=None, unbiased=True, correction=None):
        return ops.var(self, _pick(axis, dim), _pick(keepdims, keepdim), unbiased, correction)

    def std(self, axis=None, keepdims=False, *, dim=None, keepdim=None, unbiased=True, correction=None):
        return ops.std(self, _pick(axis, dim), _pick(keepdims, keepdim), unbiased, correction)

    def argmax(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return ops.argmax(self, _pick(axis, dim), _pick(keepdims, keepdim))

    def argmin(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return ops.argmin(self, _pick(axis, dim), _pick(keepdims, keepdim))

    def reshape(self, *shape):
        return ops.reshape(self, _shape_args(shape))

    def view(self, *shape):
        """The same elements in a new shape (one size may be −1); ``view(dtype)`` reinterprets
        the bytes as another dtype (no gradient)."""
        if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list)):
            return _wrap(self.array.view(np.dtype(shape[0])))
        return ops.reshape(self, _shape_args(shape))

    def view_as(self, other):
        return ops.reshape(self, other.shape)

    reshape_as = view_as

    def transpose(self, dim0=None, dim1=None):
        if dim0 is None:
            return self.T
        return ops.transpose(self, dim0, dim1)

    def permute(self, *dims):
        return ops.permute(self, _shape_args(dims))

    def flatten(self, start_dim=0, end_dim=-1):
        return ops.flatten(self, start_dim, end_dim)

    def squeeze(self, dim=None):
        return ops.squeeze(self, dim)

    def unsqueeze(self, dim):
        return ops.unsqueeze(self, dim)

    def expand(self, *shape):
        return ops.expand(self, _shape_args(shape))

    def broadcast_to(self, shape):
        return ops.broadcast_to(self, shape)

    def expand_as(self, other):
        return ops.broadcast_to(self, other.shape)

    def split(self, split_size_or_sections, dim=0):
        return ops.split(self, split_size_or_sections, dim)

    def chunk(self, chunks, dim=0):
        return ops.chunk(self, chunks, dim)

    def matmul(self, other):
        return ops.matmul(self, other)

    def masked_fill(self, mask, value):
        return ops.masked_fill(self, mask, value)

    def where(self, condition, other):
        """``self`` where ``condition`` is true, else ``other``."""
        return ops.where(condition, self, other)

    # -- indexing, sorting and layout ops (see ember.ops.indexing, .sorting, .layout) -----
    def gather(self, dim, index, *, sparse_grad=False):
        return ops.gather(self, dim, index)

    def scatter(self, dim, index, src=None, value=None, *, reduce=None):
        return ops.scatter(self, dim, index, src, value, reduce=reduce)

    def scatter_add(self, dim, index, src):
        return ops.scatter_add(self, dim, index, src)

    def scatter_reduce(self, dim, index, src, reduce, *, include_self=True):
        return ops.scatter_reduce(self, dim, index, src, reduce, include_self=include_self)

    def index_add(self, dim, index, source, *, alpha=1):
        return ops.index_add(self, dim, index, source, alpha=alpha)

    def index_copy(self, dim, index, source):
        return ops.index_copy(self, dim, index, source)

    def index_fill(self, dim, index, value):
        return ops.index_fill(self, dim, index, value)

    def index_put(self, indices, values, accumulate=False):
        return ops.index_put(self, indices, values, accumulate)

    def masked_select(self, mask):
        return ops.masked_select(self, mask)

    def masked_scatter(self, mask, source):
        return ops.masked_scatter(self, mask, source)

    def nonzero(self, *, as_tuple=False):
        return ops.nonzero(self, as_tuple=as_tuple)

    def argwhere(self):
        return ops.argwhere(self)

    def sort(self, dim=-1, descending=False, *, stable=False):
        return ops.sort(self, dim, descending, stable=stable)

    def argsort(self, dim=-1, descending=False, stable=False):
        return ops.argsort(self, dim, descending, stable)

    def topk(self, k, dim=-1, largest=True, sorted=True):  # noqa: A002 - PyTorch's names
        return ops.topk(self, k, dim, largest, sorted)

    def kthvalue(self, k, dim=-1, keepdim=False):
        return ops.kthvalue(self, k, dim, keepdim)

    def median(self, dim=None, keepdim=False):
        return ops.median(self, dim, keepdim)

    def mode(self, dim=-1, keepdim=False):
        return ops.mode(self, dim, keepdim)

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
        return ops.unique(self, sorted, return_inverse, return_counts, dim)

    def bincount(self, weights=None, minlength=0):
        return ops.bincount(self, weights, minlength)

    def histc(self, bins=100, min=0, max=0):  # noqa: A002
        return ops.histc(self, bins, min, max)

    def tril(self, diagonal=0):
        return ops.tril(self, diagonal)

    def triu(self, diagonal=0):
        return ops.triu(self, diagonal)

    def diag(self, diagonal=0):
        return ops.diag(self, diagonal)

    def diagonal(self, offset=0, dim1=0, dim2=1):
        return ops.diagonal(self, offset, dim1, dim2)

    def trace(self):
        return ops.trace(self)

    def flip(self, *dims):
        return ops.flip(self, _shape_args(dims))

    def fliplr(self):
        return ops.fliplr(self)

    def flipud(self):
        return ops.flipud(self)

    def roll(self, shifts, dims=None):
        return ops.roll(self, shifts, dims)

    def rot90(self, k=1, dims=(0, 1)):
        return ops.rot90(self, k, dims)

    def narrow(self, dim, start, length):
        return ops.narrow(self, dim, start, length)

    def unbind(self, dim=0):
        return ops.unbind(self, dim)

    def t(self):
        return ops.t(self)

    def repeat(self, *sizes):
        """The tensor tiled ``sizes[i]`` times along dim i (PyTorch's ``repeat``, NumPy's ``tile``)."""
        return ops.layout.repeat(self, *sizes)

    def tile(self, *dims):
        return ops.tile(self, _shape_args(dims))

    def repeat_interleave(self, repeats, dim=None, *, output_size=None):
        return ops.repeat_interleave(self, repeats, dim)

    def unflatten(self, dim, sizes):
        return ops.unflatten(self, dim, sizes)

    def movedim(self, source, destination):
        return ops.movedim(self, source, destination)

    moveaxis = movedim

    def swapaxes(self, axis0, axis1):
        return ops.transpose(self, axis0, axis1)

    def swapdims(self, dim0, dim1):
        return ops.transpose(self, dim0, dim1)

    # -- printing -------------------------------------------------------------------------
    def __repr__(self):
        body = np.array2string(backend.to_numpy(self.array), separator=", ", prefix="tensor(")
        extras = []
        if self.dtype not in (np.float32, np.int64, np.bool_):
            extras.append(f"dtype={self.dtype}")
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self.creator is not None:
            extras.append(f"grad_fn=<{self.creator.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body, *extras]) + ")"


class Parameter(Tensor):
    """A tensor that a ``Module`` registers as a learnable weight (``requires_grad=True``)."""

    def __init__(self, data, requires_grad=True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


# In-place ops whose recorded Function saves nothing of the tensor's old values.
_BACKWARD_IGNORES_INPUT = frozenset({
    "add_", "sub_", "neg_", "fill_", "copy_", "masked_fill_", "index_fill_", "index_put_", "index_add_",
    "index_copy_", "scatter_", "scatter_add_", "masked_scatter_", "__setitem__",
})


def _any_requires_grad(values) -> bool:
    return any(isinstance(v, Tensor) and v.requires_grad for v in values)


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
    src = as_tensor(src, like=x)
    src = src if src.dtype == x.dtype else ops.cast(src, x.dtype)
    return ops.where(x.xp.ones(x.shape, bool), src, x)


def _graph_tensors(root):
    """Every tensor that the graph of ``root`` reads: leaves and intermediate results."""
    seen, stack, tensors = set(), [root.creator], {}
    while stack:
        fn = stack.pop()
        if fn is None or id(fn) in seen or fn.inputs is None:
            continue
        seen.add(id(fn))
        for x in fn.inputs:
            tensors[id(x)] = x
            stack.append(x.creator)
    return list(tensors.values())


def _backward_into(root, gradient, retain_graph, inputs):
    """``backward(inputs=...)``: run the pass, then undo what it wrote outside ``inputs``."""
    wanted = {id(t) for t in inputs}
    others = [t for t in _graph_tensors(root) + [root] if id(t) not in wanted]
    before = [(t, t.grad) for t in others]
    flagged = [t for t in inputs if not t.is_leaf and not t._retains_grad]
    for t in flagged:
        t._retains_grad = True
    try:
        engine.backward(root, gradient, retain_graph)
    finally:
        for t in flagged:
            t._retains_grad = False
        for t, grad in before:
            t.grad = grad


class _HookHandle:
    """What ``register_hook`` returns: ``remove()`` unregisters the hook."""

    _ids = itertools.count()

    def __init__(self, hooks, hook):
        self.hooks, self.id = hooks, next(self._ids)
        hooks[self.id] = hook

    def remove(self):
        self.hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class _LegacyTensorType(type):
    """``em.FloatTensor(...)`` builds a tensor of that dtype; ``isinstance(x, em.FloatTensor)`` checks it."""

    def __call__(cls, *data, device=None):
        if len(data) == 1 and not _is_size(data[0]):
            return Tensor(data[0], dtype=cls.dtype, device=device)
        return Tensor(*data, device=device).to(cls.dtype)  # sizes: an uninitialised tensor

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype


class FloatTensor(metaclass=_LegacyTensorType):
    """PyTorch's legacy constructor of float32 tensors: ``FloatTensor([1, 2])``, ``FloatTensor(2, 3)``."""

    dtype = np.dtype(np.float32)


class DoubleTensor(metaclass=_LegacyTensorType):
    """Legacy constructor of float64 tensors."""

    dtype = np.dtype(np.float64)


class HalfTensor(metaclass=_LegacyTensorType):
    """Legacy constructor of float16 tensors."""

    dtype = np.dtype(np.float16)


class LongTensor(metaclass=_LegacyTensorType):
    """Legacy constructor of int64 tensors: ``LongTensor([0, 2])``."""

    dtype = np.dtype(np.int64)


class IntTensor(metaclass=_LegacyTensorType):
    """Legacy constructor of int32 tensors."""

    dtype = np.dtype(np.int32)


class ShortTensor(metaclass=_LegacyTensorType):
    """Legacy constructor of int16 tensors."""

    dtype = np.dtype(np.int16)


class CharTensor(metaclass=_LegacyTensorType):
    """Legacy constructor of int8 tensors."""

    dtype = np.dtype(np.int8)


class ByteTensor(metaclass=_LegacyTensorType):
    """Legacy constructor of uint8 tensors."""

    dtype = np.dtype(np.uint8)


class BoolTensor(metaclass=_LegacyTensorType):
    """Legacy constructor of bool tensors."""

    dtype = np.dtype(np.bool_)


def _pick(numpy_style, torch_style):
    """Accept both NumPy's (axis, keepdims) and PyTorch's (dim, keepdim) spellings."""
    return numpy_style if torch_style is None else torch_style


def _shape_args(args):
    """``reshape(2, 3)`` and ``reshape((2, 3))`` both mean the shape (2, 3)."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


def _unwrap_index(index):
    """Replace tensors inside an index by their arrays."""
    if isinstance(index, Tensor):
        return index.array
    if isinstance(index, tuple):
        return tuple(i.array if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        return [i.array if isinstance(i, Tensor) else i for i in index]
    return index


def _differentiable(dtype) -> bool:
    """Whether tensors of ``dtype`` can require grad: floating point (bfloat16 included) and complex."""
    return dtype.kind == "c" or dtypes.is_floating_dtype(dtype)


def _wrap(array, requires_grad=False, creator=None) -> Tensor:
    """A tensor around an op's output array, skipping the conversions of ``Tensor()`` (hot path)."""
    if isinstance(array, np.generic) or not hasattr(array, "dtype"):  # NumPy gives scalars for some 0-d results
        array = np.asarray(array)
    t = object.__new__(Tensor)
    t._set(array, requires_grad, creator)
    return t


def as_tensor(x, like=None) -> Tensor:
    """Wrap ``x`` as a tensor; Python scalars take the dtype and device of ``like``.

    Following PyTorch, a Python number does not promote a tensor's dtype
    (float32 tensor * 2.0 stays float32); a float with an integer tensor gives float32.
    """
    if isinstance(x, Tensor):
        return x
    if like is not None and isinstance(x, (int, float, bool, np.number)):
        dtype = like.array.dtype
        if isinstance(x, (float, np.floating)) and dtype.kind not in "fc":
            dtype = DEFAULT_DTYPE
        elif dtype.kind == "b" and not isinstance(x, bool):
            dtype = np.asarray(x).dtype
        xp = np if isinstance(like.array, np.ndarray) else like.xp
        return _wrap(xp.asarray(x, dtype=dtype))
    return _wrap(_to_array(x))


from ember import ops  # noqa: E402 - the ops need Tensor defined first
