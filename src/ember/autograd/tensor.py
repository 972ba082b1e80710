"""``Tensor``: an array of the backend (NumPy or CuPy) plus what autograd needs.

Operators and methods are defined here and delegate to the functional ops in
``ember.ops``; every op is a ``Function`` that records itself as the ``creator`` of
its output when a gradient is wanted.
"""
from __future__ import annotations

import numpy as np

from ember import backend
from ember.autograd import engine, grad_mode
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
        if array.dtype.kind not in NUMERIC_KINDS:
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


class Tensor(MathMethods):
    """A multi-dimensional array that can record the operations applied to it.

    >>> x = em.tensor([[1.0, 2.0]], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([[2., 4.]])
    """

    # ndarray (+) Tensor defers to Tensor's reflected operator instead of broadcasting
    # the ndarray over Tensor objects.
    __array_priority__ = 1000
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False, dtype=None, device=None):
        array = _to_array(data, dtype, device)
        if requires_grad and array.dtype.kind not in "fc":
            raise RuntimeError(f"only floating-point tensors can require grad, got dtype {array.dtype}")
        self._set(array, bool(requires_grad), None)

    def _set(self, array, requires_grad, creator):
        """Every field of a tensor, in one place (``__init__`` and the ops' fast ``_wrap``)."""
        self.array, self.requires_grad, self.grad, self.creator = array, requires_grad, None, creator
        self._version_box = [0]  # shared with detached aliases, which see the same memory
        self._retains_grad = False

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
        if array.dtype.kind not in "fc" and self.requires_grad:
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
    def T(self):  # noqa: N802 - PyTorch's name
        return ops.permute(self, tuple(range(self.ndim))[::-1])

    def size(self, dim=None):
        """The shape, or its length along ``dim`` (PyTorch's ``Tensor.size``)."""
        return self.shape if dim is None else self.shape[dim]

    def numel(self) -> int:
        return int(self.array.size)

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
    def backward(self, grad=None, retain_graph=False):
        """Compute the gradient of this tensor w.r.t. every leaf and add it to ``leaf.grad``."""
        engine.backward(self, grad, retain_graph)

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
        if requires_grad and self.dtype.kind not in "fc":
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

    def long(self):
        return self.to(np.int64)

    def int(self):
        return self.to(np.int32)

    def bool(self):
        return self.to(np.bool_)

    def type(self, dtype):
        return self.to(dtype)

    astype = type

    def clone(self):
        return ops.clone(self)

    def contiguous(self):
        return self

    # -- in-place (bumps the version; forbidden on leaves that require grad) ------------
    def _inplace_target(self, op):
        if self.requires_grad and grad_mode.is_grad_enabled():
            raise RuntimeError(
                f"{op}: a tensor that requires grad is being modified in place; "
                "do it under em.no_grad() or use the out-of-place op"
            )
        self._version += 1
        return self.array

    def copy_(self, src) -> Tensor:
        data = self._inplace_target("copy_")
        data[...] = _to_array(src)
        return self

    def fill_(self, value) -> Tensor:
        self._inplace_target("fill_").fill(value)
        return self

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def add_(self, other, alpha=1) -> Tensor:
        return self._apply_inplace("add_", "add", other if alpha == 1 else alpha * _to_array(other))

    def mul_(self, other) -> Tensor:
        return self._apply_inplace("mul_", "multiply", other)

    def __setitem__(self, index, value):
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

    def __invert__(self):
        return ops.logical_not(self)

    def __and__(self, other):
        return ops.logical_and(self, other)

    def __or__(self, other):
        return ops.logical_or(self, other)

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

    def any(self):
        """True where any element is non-zero (no gradient)."""
        return Tensor(self.array.any())

    def all(self):
        """True where every element is non-zero (no gradient)."""
        return Tensor(self.array.all())

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
        return ops.clip(self, min, max)

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

    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return ops.sum(self, _pick(axis, dim), _pick(keepdims, keepdim))

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return ops.mean(self, _pick(axis, dim), _pick(keepdims, keepdim))

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

    view = reshape

    def view_as(self, other):
        return ops.reshape(self, other.shape)

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
    return Tensor(x)


from ember import ops  # noqa: E402 - the ops need Tensor defined first
