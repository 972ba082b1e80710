"""The array backend: device names, array modules, and the allocator setting ember applies on import."""
import os
import subprocess
import sys

import numpy as np
import pytest

from ember import backend


def test_numpy_is_the_cpu_module():
    assert backend.get_array_module(np.zeros(2)) is np
    assert backend.xp_for("cpu") is np and backend.device_of(np.zeros(1)) == "cpu"
    assert backend.normalize_device("cuda:1") == "cuda" and backend.normalize_device(None) == "cpu"
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        backend.normalize_device("tpu")


def _page_faults_to_reuse_a_block(env_value):
    """In a fresh process importing ember: the page faults of allocating and filling 64 MiB again after freeing it."""
    code = ("import resource, ember, numpy as np\n"
            "a = np.ones(16 << 20, np.float32); del a\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
            "b = np.ones(16 << 20, np.float32)\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)")
    env = dict(os.environ, EMBER_KEEP_FREED_MEMORY=env_value)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    return int(out.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the allocator setting is glibc's")
def test_freed_blocks_stay_in_the_process_unless_opted_out():
    """With the setting a freed large block is reused without touching the OS; glibc's default
    unmaps it, so filling it again page-faults every page (or huge page) back in."""
    assert backend.keep_freed_memory() is True
    assert _page_faults_to_reuse_a_block("1") == 0
    assert _page_faults_to_reuse_a_block("0") > 16  # at least one fault per 2 MiB huge page
