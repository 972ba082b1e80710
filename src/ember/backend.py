"""The array backend: NumPy on the CPU, CuPy on an NVIDIA GPU.

Every op asks ``get_array_module(array)`` for ``xp`` and writes its maths once
against that module. CuPy is optional and imported here and nowhere else.
"""
from __future__ import annotations

import numpy as np

_cupy = None


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
