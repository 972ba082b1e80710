"""``ember.backends.cudnn``: cuDNN's switches, stored (ember does not call cuDNN).

>>> em.backends.cudnn.benchmark = True   # accepted; changes nothing
"""
from __future__ import annotations

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    """False: ember computes convolutions itself (im2col + matmul), without cuDNN."""
    return False


def version():
    """None: no cuDNN is used."""
    return None
