"""``ember.cuda``: PyTorch's ``torch.cuda`` queries, answered from CuPy when a GPU is there.

Without CuPy or a GPU every query has the CPU's answer: ``is_available()`` is False,
``device_count()`` 0, ``synchronize``, ``empty_cache``, ``set_device(0)`` and the seeding calls do
nothing, the memory counters are 0. That lets a program written as
``device = 'cuda' if em.cuda.is_available() else 'cpu'`` run as it is. ``get_device_name`` and
``get_device_properties`` have no CPU answer and raise.

>>> em.cuda.is_available(), em.cuda.device_count()
(False, 0)
"""
from __future__ import annotations

from types import SimpleNamespace

from ember import amp as _amp
from ember import backend
from ember import random as _random


def is_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    return backend.cuda_available()


def _cupy_or_none():
    return backend.cupy() if is_available() else None


def device_count() -> int:
    """The number of GPUs CuPy sees (0 without CuPy)."""
    cp = _cupy_or_none()
    return 0 if cp is None else cp.cuda.runtime.getDeviceCount()


def current_device() -> int:
    """The index of the GPU in use (0 without one)."""
    cp = _cupy_or_none()
    return 0 if cp is None else cp.cuda.Device().id


def _index(device) -> int:
    if device is None:
        return current_device()
    if isinstance(device, int):
        return device
    index = backend.device(device).index
    return current_device() if index is None else index


def set_device(device) -> None:
    """Make GPU ``device`` (an index, ``'cuda:1'`` or an ``em.device``) the current one; on the CPU only 0 is."""
    index = _index(device)
    cp = _cupy_or_none()
    if cp is not None:
        cp.cuda.Device(index).use()
    elif index != 0:
        raise RuntimeError(f"set_device({index}): no CUDA GPU is available")


def synchronize(device=None) -> None:
    """Wait for the GPU's queued work to finish (nothing to wait for on the CPU)."""
    cp = _cupy_or_none()
    if cp is not None:
        cp.cuda.Device(_index(device)).synchronize()


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """False: ember's GPU arrays (CuPy) have no bfloat16 arithmetic, whatever the GPU."""
    return False


def get_device_name(device=None) -> str:
    """The GPU's name, e.g. ``'NVIDIA H100 80GB HBM3'``."""
    return get_device_properties(device).name


def get_device_properties(device=None):
    """The GPU's name, ``total_memory`` (bytes), ``major``/``minor`` (compute capability) and
    ``multi_processor_count``."""
    cp = _cupy_or_none()
    if cp is None:
        raise RuntimeError("ember.cuda: no CUDA GPU is available (CuPy missing or no device)")
    props = cp.cuda.runtime.getDeviceProperties(_index(device))
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    return SimpleNamespace(name=name, total_memory=props["totalGlobalMem"], major=props["major"],
                           minor=props["minor"], multi_processor_count=props["multiProcessorCount"])


def get_device_capability(device=None) -> tuple:
    """The GPU's compute capability ``(major, minor)``."""
    props = get_device_properties(device)
    return props.major, props.minor


# -- seeding: draws happen on the host, so these only reach CuPy's own generator ------------------
def manual_seed(seed) -> None:
    """Seed CuPy's generator. ember draws its random numbers on the host from the global
    generator (``em.manual_seed``), so this changes none of ember's draws."""
    if backend._cupy is not None:
        backend._cupy.random.seed(int(seed) & ((1 << 64) - 1))


manual_seed_all = manual_seed


def seed() -> None:
    """Seed CuPy's generator from the operating system (nothing on the CPU)."""
    if backend._cupy is not None:
        backend._cupy.random.seed()


seed_all = seed


def initial_seed() -> int:
    """The global generator's seed (one generator serves every device)."""
    return _random.initial_seed()


# -- memory ----------------------------------------------------------------------------------------
def _pool():
    return None if backend._cupy is None else backend._cupy.get_default_memory_pool()


def empty_cache() -> None:
    """Give the GPU memory CuPy's pool holds but does not use back to the driver."""
    pool = _pool()
    if pool is not None:
        pool.free_all_blocks()


def memory_allocated(device=None) -> int:
    """Bytes of GPU memory in use by arrays (0 on the CPU)."""
    pool = _pool()
    return 0 if pool is None else pool.used_bytes()


def memory_reserved(device=None) -> int:
    """Bytes of GPU memory CuPy's pool holds, used or cached (0 on the CPU)."""
    pool = _pool()
    return 0 if pool is None else pool.total_bytes()


def max_memory_allocated(device=None) -> int:
    """An upper bound of the peak: CuPy's pool keeps what it once held until ``empty_cache``, so this
    is ``memory_reserved()`` (0 on the CPU)."""
    return memory_reserved(device)


max_memory_reserved = max_memory_allocated


def reset_peak_memory_stats(device=None) -> None:
    """Nothing to reset: the peak is read from the pool (see ``max_memory_allocated``)."""


def is_initialized() -> bool:
    """Whether CuPy has been loaded."""
    return backend._cupy is not None


def init() -> None:
    """Load CuPy when a GPU is there (ember does it on the first move to 'cuda' anyway)."""
    is_available()


# -- torch.cuda.amp: the CUDA forms of ember.amp ---------------------------------------------------
class _CudaAutocast(_amp.autocast):
    """``torch.cuda.amp.autocast(...)``: ``autocast('cuda', ...)``, a no-op in ember."""

    def __init__(self, enabled=True, dtype=None, cache_enabled=True):
        super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


class _CudaGradScaler(_amp.GradScaler):
    """``torch.cuda.amp.GradScaler(...)``: ``GradScaler('cuda', ...)``, disabled without a GPU."""

    def __init__(self, init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                 enabled=True):
        super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval, enabled)


amp = SimpleNamespace(autocast=_CudaAutocast, GradScaler=_CudaGradScaler,
                      custom_fwd=_amp.custom_fwd, custom_bwd=_amp.custom_bwd)
