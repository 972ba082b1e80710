"""Arrays as compact JSON for the page: 8-bit pixels in base64, with the scale to read them back.

A signed map a (H, W) is sent as u = round((a/s + 1)/2·255) with s = max|a| (or a given scale),
so the page colours −s…0…s with a diverging palette; an image in [0, 1] is sent as round(255·a).

>>> encode_map(np.array([[-1.0, 0.0, 2.0]]))["scale"]
2.0
"""
from __future__ import annotations

import base64

import numpy as np

__all__ = ["decode_map", "encode_image", "encode_map"]


def encode_map(a, scale: float | None = None) -> dict:
    """A signed 2-D map → {"shape": [H, W], "scale": s, "data": base64 bytes of u}, u as in the module docstring.

    Values beyond ±s are clipped; non-finite values count as 0.
    """
    a = np.nan_to_num(np.asarray(a, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if a.ndim != 2:
        raise ValueError(f"encode_map: expected a 2-D map, got shape {a.shape}")
    s = float(np.abs(a).max()) if scale is None else float(scale)
    s = s if s > 1e-12 else 1.0
    u = np.rint((np.clip(a / s, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
    return {"shape": list(a.shape), "scale": s, "data": base64.b64encode(u.tobytes()).decode("ascii")}


def decode_map(message: dict) -> np.ndarray:
    """The inverse of ``encode_map`` (to within s/255): the (H, W) float64 map.

    >>> decode_map(encode_map(np.array([[1.0, -1.0]])))
    array([[ 1., -1.]])
    """
    u = np.frombuffer(base64.b64decode(message["data"]), dtype=np.uint8).reshape(message["shape"])
    return (u / 127.5 - 1.0) * message["scale"]


def encode_image(a) -> dict:
    """An image in [0, 1], (H, W) grey or (H, W, 3) RGB → {"shape": [H, W] or [H, W, 3], "data": base64 bytes}."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3):
        raise ValueError(f"encode_image: expected (H, W) or (H, W, 3), got shape {a.shape}")
    u = np.rint(np.clip(np.nan_to_num(a), 0.0, 1.0) * 255.0).astype(np.uint8)
    return {"shape": list(a.shape), "data": base64.b64encode(u.tobytes()).decode("ascii")}
