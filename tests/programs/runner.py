"""Run a PyTorch program unchanged, on PyTorch or on ember through the import swap, and compare results.

    python tests/programs/runner.py torch PROGRAM.py [ARGS...]
    python tests/programs/runner.py ember PROGRAM.py [ARGS...]

With ``ember``, the modules a PyTorch program imports are ember's before it runs: ``torch`` is
``ember``, ``torch.nn`` is ``ember.nn``, ``torch.nn.functional`` is ``ember.nn.functional``,
``torch.optim`` is ``ember.optim``, ``torch.utils.data`` is ``ember.utils.data`` (and their
submodules of the same names), which is what a user gets by editing the import lines. The
program's source is not touched.

The programs beside this file (``p*.py``) are ordinary PyTorch code that ends by printing
``RESULT {json}`` (its final loss, and accuracy where it has one). ``run`` executes one in a
fresh interpreter; ``band`` is the interval an ember result must fall in.
"""
from __future__ import annotations

import importlib
import json
import os
import runpy
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
PROGRAMS = sorted(HERE.glob("p[0-9][0-9]_*.py"))
TORCH_SEEDS = (0, 1, 2)
SWAPPED = ["", ".nn", ".nn.functional", ".nn.init", ".nn.utils", ".nn.utils.rnn", ".optim", ".optim.lr_scheduler",
           ".utils", ".utils.data", ".utils.checkpoint", ".distributions", ".cuda", ".amp", ".backends",
           ".multiprocessing", ".linalg", ".special", ".testing"]


class ProgramError(RuntimeError):
    """The program exited with an error (or printed no result); the message holds its last output lines."""


def run(backend: str, program: Path, seed: int, timeout: float = 600) -> tuple[dict, float]:
    """(the program's RESULT dict, seconds) of one run on ``backend`` ('torch' or 'ember')."""
    command = [sys.executable, __file__, backend, str(program), "--seed", str(seed)]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    seconds = time.perf_counter() - started
    results = [line[len("RESULT "):] for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not results:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-12:])
        raise ProgramError(f"{program.name} on {backend} (exit {proc.returncode}):\n{tail}")
    return json.loads(results[-1]), seconds


def band(values: list[float]) -> tuple[float, float]:
    """The interval an ember result must fall in, from PyTorch's results over several seeds.

    ember and PyTorch draw different random numbers from the same seed (initial weights,
    shuffles, dropout masks), so no single PyTorch run is the answer; the spread of PyTorch's
    own results over seeds is. The interval is their range widened on each side by half its
    width plus 10 % of the median: three seeds underestimate the spread of a short run.
    """
    lo, hi = min(values), max(values)
    margin = 0.5 * (hi - lo) + 0.1 * abs(statistics.median(values))
    return lo - margin, hi + margin


def swap_imports() -> list[str]:
    """Point ``torch`` and its submodules at ember's; returns the submodules ember lacks."""
    missing = []
    for suffix in SWAPPED:
        try:
            sys.modules["torch" + suffix] = importlib.import_module("ember" + suffix)
        except ImportError:
            missing.append("torch" + suffix)
    return missing


def main(argv: list[str]) -> None:
    backend, program, *args = argv
    if backend == "ember":
        swap_imports()
    elif backend != "torch":
        raise SystemExit(f"runner: backend must be 'torch' or 'ember', got {backend!r}")
    sys.argv = [program, *args]
    runpy.run_path(program, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
