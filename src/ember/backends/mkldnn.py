"""``ember.backends.mkldnn``: oneDNN's switch, stored (NumPy's BLAS does the work)."""
from __future__ import annotations

enabled = True


def is_available() -> bool:
    """False: ember does not call oneDNN."""
    return False
