"""The array backend: NumPy on the CPU, CuPy on an NVIDIA GPU.

Every op asks ``get_array_module(array)`` for ``xp`` and writes its maths once
against that module. CuPy is optional and imported here and nowhere else.
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


def cuda_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    try:
        return cupy().cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - any failure means "no usable GPU"
        return False


def normalize_device(device) -> str:
    """Map ``None``, ``'cpu'``, ``'cuda'``, ``'cuda:0'`` or a device-like object to ``'cpu'``/``'cuda'``."""
    if device is None:
        return "cpu"
    name = str(device).split(":")[0]
    if name not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: expected 'cpu' or 'cuda'")
    return name


def get_array_module(array):
    """The module (``numpy`` or ``cupy``) that owns ``array``."""
    if isinstance(array, np.ndarray) or _cupy is None:
        return np
    return _cupy.get_array_module(array)


def xp_for(device) -> object:
    """The array module for a device name."""
    return np if normalize_device(device) == "cpu" else cupy()


def device_of(array) -> str:
    """'cpu' for NumPy arrays and scalars, 'cuda' for CuPy arrays."""
    return "cpu" if get_array_module(array) is np else "cuda"


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
