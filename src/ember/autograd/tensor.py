"""``Tensor``: an array of the backend (NumPy or CuPy) plus what autograd needs.

Operators and methods are defined here and delegate to the functional ops in
``ember.ops``; every op is a ``Function`` that records itself as the ``creator`` of
its output when a gradient is wanted.
"""
from __future__ import annotations

import itertools
import math
import mmap
import sys

import numpy as np

from ember import backend, dtypes
from ember.autograd import engine
from ember.autograd.function import memory_owner
from ember.autograd.inplace_methods import InplaceMethods
from ember.autograd.math_methods import MathMethods
from ember.autograd.op_methods import OpMethods, shape_args

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


class Tensor(MathMethods, OpMethods, InplaceMethods):
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
    def is_cuda(self) -> bool:
        return self.device == "cuda"

    def data_ptr(self) -> int:
        """The address of the first element: equal for tensors that share memory from the same start."""
        return _address(self.array)

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

    def storage_offset(self) -> int:
        """Elements from the start of the memory this tensor views to its first element."""
        return (_address(self.array) - _address(memory_owner(self.array))) // self.array.dtype.itemsize

    def is_floating_point(self) -> bool:
        return dtypes.is_floating_dtype(self.dtype)

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
        only those tensors (leaves or not) receive a ``.grad``. With ``create_graph=True`` the
        backward pass is recorded too, so ``.grad`` has a graph and can be differentiated again
        (``retain_graph`` then defaults to True, as in PyTorch).
        """
        retain_graph = create_graph if retain_graph is None else bool(retain_graph)
        if inputs is None and not create_graph:
            return engine.backward(self, gradient, retain_graph)  # the first-order fast path
        if isinstance(inputs, Tensor):
            inputs = [inputs]
        engine.run_backward([self], [gradient], retain_graph, create_graph, None if inputs is None else list(inputs))

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

    def to(self, *args, dtype=None, device=None, non_blocking=False, copy=False, memory_format=None) -> Tensor:
        """Move to a device and/or cast: ``x.to('cuda')``, ``x.to(em.float64)``, ``x.to(other)``; this tensor
        itself when nothing changes, unless ``copy``. ``non_blocking`` and ``memory_format`` are accepted
        (ember's copies are synchronous, its tensors row-major)."""
        for arg in args:
            if isinstance(arg, str):
                device = arg
            elif isinstance(arg, Tensor):
                device, dtype = arg.device, arg.dtype
            elif not isinstance(arg, bool):  # a bool is the old positional non_blocking: nothing to do
                dtype = arg
        out = self
        if device is not None and backend.normalize_device(device) != self.device:
            out = ops.to_device(out, backend.normalize_device(device))
        if dtype is not None and np.dtype(dtype) != self.dtype:
            out = ops.cast(out, dtype)
        return ops.clone(out) if copy and out is self else out

    def cpu(self, memory_format=None):
        return self.to("cpu")

    def cuda(self, device=None, non_blocking=False, memory_format=None):
        return self.to("cuda" if device is None else device)

    def pin_memory(self, device=None):
        """This tensor: without CUDA there is no page-locked memory to copy into (PyTorch's DataLoader flag
        ``pin_memory`` is accepted for the same reason)."""
        return self

    def is_pinned(self, device=None) -> bool:
        return False

    def share_memory_(self):
        """Move the values into memory shared with processes forked later (``multiprocessing``, Hogwild
        training: every worker updates the same parameters); in place, returns this tensor."""
        if self.device == "cpu" and not self.is_shared():
            shared = _shared_array(self.array.shape, self.array.dtype)
            shared[...] = self.array
            self.array = shared
        return self

    def is_shared(self) -> bool:
        """Whether the values live in memory shared across forked processes (``share_memory_``)."""
        buffer = getattr(memory_owner(self.array), "base", None)  # what owns the memory: here a memoryview
        return isinstance(getattr(buffer, "obj", None), mmap.mmap)

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

    def type(self, dtype=None, non_blocking=False):
        """With no argument, PyTorch's name of this tensor's type (``'torch.FloatTensor'``,
        ``'torch.cuda.LongTensor'``); else this tensor cast to ``dtype``: a dtype, a legacy type
        (``em.LongTensor``) or such a name."""
        if dtype is None:
            prefix = "torch." if self.device == "cpu" else "torch.cuda."
            return prefix + _LEGACY_NAMES.get(np.dtype(self.dtype), np.dtype(self.dtype).name)
        if isinstance(dtype, str):
            name = dtype.rsplit(".", 1)[-1]
            if name not in _LEGACY_DTYPES:
                raise ValueError(f"type: invalid type {dtype!r}")
            return self.to(_LEGACY_DTYPES[name]).to("cuda" if ".cuda." in dtype else self.device)
        return self.to(dtype)

    def astype(self, dtype):
        return self.to(dtype)

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
        return self._new(np.zeros(shape_args(size)), dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return self._new(np.ones(shape_args(size)), dtype, device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return self._new(np.empty(shape_args(size)), dtype, device, requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
        return self._new(np.full(shape_args((size,)), fill_value), dtype, device, requires_grad)

    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False) -> Tensor:
        """A copy of ``data`` with this tensor's dtype and device (unless given)."""
        data = backend.to_numpy(data.array) if isinstance(data, Tensor) else np.asarray(data)
        return self._new(data.copy(), dtype, device, requires_grad)

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

    # -- printing -------------------------------------------------------------------------
    def __repr__(self):
        body = np.array2string(backend.to_numpy(self.array), separator=", ", prefix="tensor(", **PRINT_OPTIONS)
        extras = []
        if self.dtype not in (np.float32, np.int64, np.bool_):
            extras.append(f"dtype={self.dtype}")
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self.creator is not None:
            extras.append(f"grad_fn=<{self.creator.name()}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body, *extras]) + ")"


class Parameter(Tensor):
    """A tensor that a ``Module`` registers as a learnable weight (``requires_grad=True``)."""

    def __init__(self, data, requires_grad=True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


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


def _shared_array(shape, dtype):
    """A NumPy array in an anonymous shared mapping: after a fork, parent and children see one memory."""
    dtype = np.dtype(dtype)
    size = max(1, math.prod(shape) * dtype.itemsize)
    buffer = mmap.mmap(-1, size, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
    return np.frombuffer(buffer, dtype=dtype, count=math.prod(shape)).reshape(shape)


def _address(array) -> int:
    """Where the first element of a NumPy or CuPy array lies in memory."""
    return int(array.data.ptr) if hasattr(array.data, "ptr") else int(array.__array_interface__["data"][0])


# -- printing options ------------------------------------------------------------------------
# The keyword arguments of np.array2string that set_printoptions has set (none: NumPy's defaults).
PRINT_OPTIONS: dict = {}
_PRINT_PROFILES = {"default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
                   "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
                   "full": dict(precision=4, threshold=math.inf, edgeitems=3, linewidth=80)}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    """How tensors print (PyTorch's ``torch.set_printoptions``): digits after the point, the element
    count above which the middle is summarised, the items kept at each edge then, the line width;
    ``profile`` sets all four ("default", "short", "full"); ``sci_mode`` True forces scientific
    notation, False suppresses it, None chooses. Options never set keep NumPy's printing.

    >>> em.set_printoptions(precision=2)
    >>> em.tensor([1.23456])
    tensor([1.23])
    """
    options = dict(_PRINT_PROFILES[profile]) if profile is not None else {}
    given = dict(precision=precision, threshold=threshold, edgeitems=edgeitems, linewidth=linewidth)
    options.update({k: v for k, v in given.items() if v is not None})
    for key, value in options.items():
        if key == "threshold" and value == math.inf:
            value = sys.maxsize
        PRINT_OPTIONS["max_line_width" if key == "linewidth" else key] = value
    PRINT_OPTIONS.pop("formatter", None)
    PRINT_OPTIONS.pop("suppress_small", None)
    if sci_mode:
        digits = PRINT_OPTIONS.get("precision", 4)
        PRINT_OPTIONS["formatter"] = {"float_kind": lambda v: f"{v:.{digits}e}"}
    elif sci_mode is not None:
        PRINT_OPTIONS["suppress_small"] = True


# -- PyTorch's legacy names --------------------------------------------------------------------
class _VariableType(type):
    def __call__(cls, data, requires_grad=False, volatile=False):
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        return data.detach().requires_grad_(requires_grad)

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor)


class Variable(metaclass=_VariableType):
    """PyTorch's deprecated ``Variable(tensor, requires_grad=False)``: a tensor sharing ``tensor``'s data,
    a leaf that requires grad as asked. Every tensor is an instance (``isinstance(x, Variable)``)."""


class _LegacyTensorType(type):
    """``em.FloatTensor(...)`` builds a tensor of that dtype; ``isinstance(x, em.FloatTensor)`` checks it."""

    def __call__(cls, *data, device=None):
        if len(data) == 1 and not _is_size(data[0]):
            return Tensor(data[0], dtype=cls.dtype, device=device)
        return Tensor(*data, device=device).to(cls.dtype)  # sizes: an uninitialised tensor

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype


def _legacy_type(name: str, dtype) -> _LegacyTensorType:
    """PyTorch's legacy constructor of ``dtype`` tensors: ``name([1, 2])``, ``name(2, 3)``."""
    dtype = np.dtype(dtype)
    return _LegacyTensorType(name, (), {"dtype": dtype, "__doc__": f"Legacy constructor of {dtype.name} tensors."})


_LEGACY_DTYPES = {"FloatTensor": np.float32, "DoubleTensor": np.float64, "HalfTensor": np.float16,
                  "LongTensor": np.int64, "IntTensor": np.int32, "ShortTensor": np.int16, "CharTensor": np.int8,
                  "ByteTensor": np.uint8, "BoolTensor": np.bool_}
_LEGACY_NAMES = {np.dtype(d): n for n, d in _LEGACY_DTYPES.items()}
(FloatTensor, DoubleTensor, HalfTensor, LongTensor, IntTensor, ShortTensor, CharTensor, ByteTensor,
 BoolTensor) = (_legacy_type(n, d) for n, d in _LEGACY_DTYPES.items())


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
