"""PyTorch programs on ember after the import swap: does each run, with PyTorch's results, and how fast.

The programs are the test suite's (tests/programs/p*.py), ordinary PyTorch code run unchanged:
on ember the modules ``torch``, ``torch.nn``, ... are ember's (tests/programs/runner.py).
For each: whether it runs on ember, PyTorch's final loss over three seeds, ember's, and the
wall time of one whole run (interpreter start and imports included) on each.

    python benchmarks/pytorch_programs.py [--only NAME]
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from harness import print_machine, print_table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "programs"))
import runner as programs  # noqa: E402 - the programs' runner, found on the path set just above


def measure(program: Path) -> list:
    theirs = [programs.run("torch", program, seed) for seed in programs.TORCH_SEEDS]
    losses = [r["loss"] for r, _ in theirs]
    lo, hi = programs.band(losses)
    try:
        ours, seconds = programs.run("ember", program, programs.TORCH_SEEDS[0])
    except programs.ProgramError as err:
        return [program.stem, "no: " + str(err).splitlines()[-1][:60], f"{statistics.median(losses):.4g}", "-", "-",
                f"{theirs[0][1]:.1f}", "-"]
    agrees = "yes" if lo <= ours["loss"] <= hi else "NO"
    return [program.stem, "yes", f"{statistics.median(losses):.4g} [{lo:.3g}, {hi:.3g}]", f"{ours['loss']:.4g}",
            agrees, f"{theirs[0][1]:.1f}", f"{seconds:.1f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run the programs whose name contains this text")
    args = parser.parse_args()
    print_machine(args)
    chosen = [p for p in programs.PROGRAMS if args.only is None or args.only in p.stem]
    rows = [measure(p) for p in chosen]
    print_table(["program", "runs on ember", "torch loss (median [band])", "ember loss", "in band", "torch s",
                 "ember s"], rows)
    ran = sum(r[1] == "yes" for r in rows)
    agreed = sum(r[4] == "yes" for r in rows)
    print(f"{ran}/{len(rows)} programs run on ember after the import swap; {agreed}/{len(rows)} within PyTorch's band")


if __name__ == "__main__":
    main()
