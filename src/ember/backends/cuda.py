"""``ember.backends.cuda``: the CUDA matmul and attention switches, stored.

``matmul.allow_tf32`` mirrors ``em.set_float32_matmul_precision`` as in PyTorch ('highest' ⇔
False). ember's products are computed in their inputs' dtype whatever the setting.
"""
from __future__ import annotations

from ember import backend

_PRECISIONS = ("highest", "high", "medium")
_state = {"precision": "highest", "sdp": {"flash": True, "mem_efficient": True, "math": True, "cudnn": True}}


def set_float32_matmul_precision(precision: str) -> None:
    """'highest', 'high' or 'medium' (PyTorch's switch for TF32/bfloat16 products); stored."""
    if precision not in _PRECISIONS:
        raise ValueError(f"set_float32_matmul_precision: expected one of {_PRECISIONS}, got {precision!r}")
    _state["precision"] = precision


def get_float32_matmul_precision() -> str:
    return _state["precision"]


class _Matmul:
    """``matmul.allow_tf32`` and the reduced-precision-reduction flags."""

    allow_fp16_reduced_precision_reduction = True
    allow_bf16_reduced_precision_reduction = True

    @property
    def allow_tf32(self) -> bool:
        return _state["precision"] != "highest"

    @allow_tf32.setter
    def allow_tf32(self, value: bool) -> None:
        _state["precision"] = "high" if value else "highest"


matmul = _Matmul()


def is_built() -> bool:
    """Whether ember can use CUDA (CuPy installed and a GPU present)."""
    return backend.cuda_available()


def _switch(kind):
    def enable(enabled: bool) -> None:
        _state["sdp"][kind] = bool(enabled)

    def query() -> bool:
        return _state["sdp"][kind]

    enable.__doc__ = f"Store the {kind} attention switch (ember's attention is one composed op)."
    query.__doc__ = f"The stored {kind} attention switch."
    return enable, query


enable_flash_sdp, flash_sdp_enabled = _switch("flash")
enable_mem_efficient_sdp, mem_efficient_sdp_enabled = _switch("mem_efficient")
enable_math_sdp, math_sdp_enabled = _switch("math")
enable_cudnn_sdp, cudnn_sdp_enabled = _switch("cudnn")
