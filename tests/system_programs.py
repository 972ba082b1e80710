"""System programs some tests drive (Debian's chromium and chromedriver, Graphviz's dot)."""
import os
import shutil

import pytest


def require_program(name: str, install: str) -> str:
    """The path of the system program ``name``. Where ``make test`` installs the system packages
    (EMBER_REQUIRE_SYSTEM_PACKAGES=1: root on Debian) a missing program fails the test; elsewhere
    it skips with the command that installs it."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed ({install})"
        if os.environ.get("EMBER_REQUIRE_SYSTEM_PACKAGES") == "1":
            pytest.fail(message + ", although make test should have installed it")
        pytest.skip(message)
    return path
