"""``ember.accelerator``: PyTorch's device-agnostic accelerator queries; ember's one accelerator is CUDA (CuPy).

>>> em.accelerator.current_accelerator() is None  # on a machine without a GPU
True
"""
from __future__ import annotations

from ember import backend, cuda


def is_available() -> bool:
    """True when a CUDA GPU is usable (CuPy installed and a device present)."""
    return cuda.is_available()


def current_accelerator(check_available: bool = False):
    """``em.device('cuda')`` when a GPU is usable, else ``None`` (``check_available`` changes nothing:
    ember only ever names an accelerator it can use)."""
    return backend.device("cuda") if cuda.is_available() else None


def device_count() -> int:
    """The number of GPUs (0 without one)."""
    return cuda.device_count()


def current_device_index() -> int:
    """The index of the GPU in use."""
    if not cuda.is_available():
        raise RuntimeError("Cannot access accelerator device when none is available.")
    return cuda.current_device()


def set_device_index(device) -> None:
    """Make GPU ``device`` the current one."""
    cuda.set_device(device)


def synchronize(device=None) -> None:
    """Wait for the accelerator's queued work (nothing on the CPU)."""
    cuda.synchronize(device)


def empty_cache() -> None:
    """Release cached accelerator memory (nothing on the CPU)."""
    cuda.empty_cache()


current_device_idx, set_device_idx = current_device_index, set_device_index
