"""The array backend: NumPy on the CPU, CuPy on an NVIDIA GPU.

Every op asks ``get_array_module(array)`` for ``xp`` and writes its maths once
against that module. CuPy is optional and imported here and nowhere else. A device
(``em.device('cuda', 0)``, or just the name ``'cuda:0'``) says which of the two a tensor
lives on.
"""
from __future__ import annotations

import ctypes
import os
import sys

import numpy as np

_cupy = None


def keep_freed_memory() -> bool:
    """Ask glibc's allocator to keep freed memory in the process rather than hand it back.

    NOTE: NumPy allocates every activation, gradient and im2col buffer afresh and frees it a
    moment later. glibc's defaults give such blocks back to the OS (trimming the heap top,
    unmapping every block above the mmap threshold), so each training step page-faults its
    memory in again: measured, a third of a LeNet-5 step and a sixth of a large convolution.
    Serving all blocks from the heap (mallopt M_MMAP_MAX = 0) and trimming only above 1 GiB
    free (M_TRIM_THRESHOLD) keeps them for reuse; the cost is that the peak memory stays
    resident. ember calls this on import unless the environment sets
    EMBER_KEEP_FREED_MEMORY=0; off glibc it does nothing. Returns whether it applied.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_max = -1, -4
        return bool(libc.mallopt(m_trim_threshold, 1 << 30)) and bool(libc.mallopt(m_mmap_max, 0))
    except (OSError, AttributeError):  # musl or another libc without mallopt
        return False


if os.environ.get("EMBER_KEEP_FREED_MEMORY", "1") != "0":
    keep_freed_memory()


# -- devices ---------------------------------------------------------------------------------------
# The device types PyTorch's parser knows; ember runs on 'cpu' and 'cuda', and a tensor moved
# to another type fails there with a clear error, so `device('mps')` may still be written.
DEVICE_TYPES = ("cpu", "cuda", "mps", "meta", "xpu", "xla", "hpu", "mtia", "privateuseone")


def _parse(kind: str, index) -> str:
    kind, sep, tail = kind.partition(":")
    if sep:
        if index is not None:
            raise RuntimeError(f"device: {kind + sep + tail!r} includes an index; do not also pass index={index}")
        if not tail.isdigit():
            raise RuntimeError(f"Invalid device string: '{kind}{sep}{tail}'")
        index = int(tail)
    if kind not in DEVICE_TYPES:
        raise RuntimeError(f"Expected one of {', '.join(DEVICE_TYPES)} device type at start of device string: {kind}")
    if index is None:
        return kind
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise RuntimeError(f"Device index must be a non-negative integer, got {index!r}")
    return f"{kind}:{index}"


class device(str):  # noqa: N801 - PyTorch's name
    """Where a tensor lives: a type (``'cpu'``, ``'cuda'``) and an optional index.

    ``device('cuda:1')`` and ``device('cuda', 1)`` are the same device; ``.type`` is
    ``'cuda'`` and ``.index`` is ``1`` (``None`` when no index was given). Two devices are
    equal when both type and index are (``device('cuda') != device('cuda:0')``, as in PyTorch).

    NOTE: the class derives from ``str`` (its value is the device's name, ``'cuda:1'``) so that
    every place that takes a device name takes a device too, and ``x.device == 'cpu'`` keeps
    working; PyTorch's ``device('cpu') == 'cpu'`` is False, ember's is True.

    >>> em.device('cuda', 0)
    device(type='cuda', index=0)
    >>> em.zeros(2).device == em.device('cpu')
    True
    """

    __slots__ = ()

    def __new__(cls, type, index=None):  # noqa: A002 - PyTorch's argument name
        if isinstance(type, device) and index is None:
            return type
        if isinstance(type, int) and not isinstance(type, bool):  # torch.device(0): the accelerator's device 0
            type, index = "cuda", type
        if not isinstance(type, str):
            raise TypeError(f"device: expected a device name such as 'cpu' or 'cuda:0', got {type!r}")
        return super().__new__(cls, _parse(type, index))

    @property
    def type(self) -> str:
        """The device type: ``'cpu'``, ``'cuda'``, …"""
        return str.partition(self, ":")[0]

    @property
    def index(self):  # shadows str.index: a device is read as a device, not searched as text
        """The device's index, or ``None`` when none was given."""
        tail = str.partition(self, ":")[2]
        return int(tail) if tail else None

    def __repr__(self) -> str:
        index = self.index
        return f"device(type='{self.type}')" if index is None else f"device(type='{self.type}', index={index})"

    def __reduce__(self):
        return (device, (str(self),))


CPU = device("cpu")
CUDA = device("cuda")


# -- array modules ---------------------------------------------------------------------------------
def cupy():
    """Return the ``cupy`` module, or raise a clear error when it is not installed."""
    global _cupy
    if _cupy is None:
        try:
            import cupy as cp  # noqa: PLC0415 - optional, imported lazily
        except ImportError as err:
            raise RuntimeError(
                "device='cuda' needs CuPy, which is not installed: "
                "pip install 'ember[cuda12]' (or [cuda13]) on a machine with an NVIDIA GPU"
            ) from err
        _cupy = cp
    return _cupy


def compiled_kernels() -> bool:
    """Whether ember's optional compiled kernels (numba, ``pip install 'ember[fast]'``) are in use:
    numba is installed and the environment does not set EMBER_COMPILED=0.

    The kernels fuse hot loops NumPy runs as many passes (word2vec's skip-gram batch, the
    recurrent layers' per-step gate maths); the NumPy code they replace stays, and the tests hold
    each kernel equal to it. Only NumPy arrays take them, never CuPy's.
    """
    if os.environ.get("EMBER_COMPILED", "1") == "0":
        return False
    import importlib.util  # noqa: PLC0415 - only asked when a kernel could run

    return importlib.util.find_spec("numba") is not None


def cuda_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    try:
        return cupy().cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - any failure means "no usable GPU"
        return False


def normalize_device(device) -> str:
    """Map ``None``, ``'cpu'``, ``'cuda'``, ``'cuda:0'`` or an ``em.device`` to the device ember computes on.

    The answer is ``em.device('cpu')`` or ``em.device('cuda')`` (the current GPU), which
    compare equal to the names ``'cpu'`` and ``'cuda'``.
    """
    if device is None:
        return CPU
    name = str(device).split(":")[0]
    if name not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: expected 'cpu' or 'cuda'")
    return CPU if name == "cpu" else CUDA


def get_array_module(array):
    """The module (``numpy`` or ``cupy``) that owns ``array``."""
    if isinstance(array, np.ndarray) or _cupy is None:
        return np
    return _cupy.get_array_module(array)


def xp_for(device) -> object:
    """The array module for a device name."""
    return np if normalize_device(device) == "cpu" else cupy()


def device_of(array) -> str:
    """``em.device('cpu')`` for NumPy arrays and scalars, ``em.device('cuda')`` for CuPy arrays."""
    return CPU if get_array_module(array) is np else CUDA


def to_device(array, device):
    """Copy ``array`` to ``device`` (a no-op when it is already there)."""
    device = normalize_device(device)
    if device_of(array) == device:
        return array
    if device == "cpu":
        return array.get()
    return cupy().asarray(array)


def to_numpy(array) -> np.ndarray:
    """A host NumPy array with the values of ``array``."""
    return array if isinstance(array, np.ndarray) else np.asarray(to_device(array, "cpu"))


# -- tensors, arrays and lists as arrays -----------------------------------------------------------
# NOTE: a Tensor is recognised by its ``.array`` attribute, not by its class: the Tensor lives in
# ember.autograd, above this module, and the base layer imports nothing of ember. Three helpers,
# because callers need three different things: the value as it is (numbers stay numbers), an
# array on the device it is on, or a host NumPy array.


def unwrap(x):
    """A Tensor's backend array; anything else (an array, a number, a list) exactly as it is.

    For values that meet backend arrays in arithmetic, such as a distribution's bounds: a Python
    number stays a number, which mixes with NumPy and CuPy arrays alike, whereas ``np.asarray``
    would make it a host array that a CuPy array refuses.

    >>> unwrap(em.ones(2)), unwrap(0.5)
    (array([1., 1.], dtype=float32), 0.5)
    """
    return x.array if hasattr(x, "array") else x


def as_array(x):
    """``x`` as a backend array, left on its device: a Tensor's array, a CuPy array as is, and
    anything else (a NumPy array, a list, a number, another array-like) through ``np.asarray``,
    which returns a NumPy array itself without a copy.

    Nothing moves between host and GPU, so GPU values stay on the GPU (loading GPU weights into a
    GPU model copies no data to the host).

    >>> as_array([[0, 0, 2, 2]]).shape
    (1, 4)
    """
    x = unwrap(x)
    return x if device_of(x) == CUDA else np.asarray(x)


def as_numpy(x) -> np.ndarray:
    """``x`` (a Tensor, a NumPy or CuPy array, a list, a number) as a host NumPy array; GPU values are copied over.

    For what only the host reads: images, histograms, files.

    >>> as_numpy(em.zeros(2, 3)).shape
    (2, 3)
    """
    return to_numpy(unwrap(x))
