"""Shared fixtures: every test starts from the same global seed."""
import numpy as np
import pytest

import ember as em


@pytest.fixture(autouse=True)
def _seed():
    em.manual_seed(0)
    np.random.seed(0)
    yield


def pytest_configure(config):
    """``EMBER_TEST_DEVICE=strict`` runs the CUDA tests on the strict stand-in for CuPy (tests/strict_xp.py)."""
    import os

    if os.environ.get("EMBER_TEST_DEVICE") == "strict":
        import strict_xp

        strict_xp.install()
