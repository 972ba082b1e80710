"""``ember bench``: the side-by-side speed comparisons of ``benchmarks/`` in one table.

Each benchmark script times ember and PyTorch (the test-only oracle) in interleaved A B B A
rounds and reports medians; this command runs the chosen scripts one after another in fresh
processes and prints one row per case: throughput of each framework and their ratio
(ember/torch, higher is better). The scripts live in the source tree, next to ``src/``, so the
command needs a checkout of the repository with the test extra installed (``make test`` does both).

    ember bench                       # mlp, cnn and rnn, a few rounds each
    ember bench --only cnn --rounds 8
"""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from ember.apps.arguments import positive_int
from ember.viz.tables import format_table

BENCHMARKS = ("mlp", "cnn", "rnn")  # the default set: ember against PyTorch
OPTIONAL = ("word2vec",)  # against gensim on the KJV Bible (needs Debian's bible-kjv; about two minutes)


def benchmarks_dir() -> Path:
    """The repository's benchmarks/ folder (the package sits in its src/ember/)."""
    return Path(__file__).resolve().parents[3] / "benchmarks"


def add_arguments(parser) -> None:
    """The options of ``ember bench`` on an argparse parser."""
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS + OPTIONAL, default=list(BENCHMARKS),
                        help="which benchmarks to run (default: " + ", ".join(BENCHMARKS) + "; also "
                        + ", ".join(OPTIONAL) + ")")
    parser.add_argument("--rounds", type=positive_int, default=3, help="A B B A rounds per case (default 3)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")


def rows_of(name: str, result: dict) -> list[dict]:
    """One row per case of a benchmark script's JSON result (``cases``/``models`` and ``convs``): ember's
    throughput, the reference library's (PyTorch, or gensim for word2vec) and their ratio."""
    rows = []
    for case, r in {**result.get("cases", {}), **result.get("models", {})}.items():
        reference = next(k for k in r["throughput"] if k != "ember")
        rows.append({"benchmark": name, "case": case, "unit": r["unit"], "ember": r["throughput"]["ember"],
                     "reference": reference, "other": r["throughput"][reference], "ratio": r["ratio"]})
    for conv in result.get("convs", []):
        case = f"conv {tuple(conv['input'])} -> {conv['out_channels']} k{conv['kernel']}"
        rows.append({"benchmark": name, "case": case, "unit": "runs/s", "ember": round(1e3 / conv["ms"]["ember"], 1),
                     "reference": "torch", "other": round(1e3 / conv["ms"]["torch"], 1), "ratio": conv["ratio"]})
    return rows


def run_benchmark(name: str, rounds: int) -> list[dict]:
    """Run ``benchmarks/<name>.py --quick --json`` in a fresh process; its rows."""
    script = benchmarks_dir() / f"{name}.py"
    done = subprocess.run([sys.executable, str(script), "--quick", "--json", "--rounds", str(rounds)],
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"ember bench: {script.name} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return rows_of(name, json.loads(done.stdout))


def run(args) -> int:
    if not benchmarks_dir().is_dir():
        print("ember bench: the benchmarks/ folder of the source tree was not found; run it from a clone of the "
              "repository (pip install -e '.[test]')", file=sys.stderr)
        return 1
    if importlib.util.find_spec("torch") is None:
        print("ember bench: the comparisons need PyTorch, a test dependency: pip install -e '.[test]'", file=sys.stderr)
        return 1
    rows = []
    for name in args.only:
        print(f"running benchmarks/{name}.py ...", file=sys.stderr, flush=True)
        rows += run_benchmark(name, args.rounds)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(format_table(["benchmark", "case", "unit", "ember", "reference", "against", "ratio"],
                       [[r["benchmark"], r["case"], r["unit"], r["ember"], r["other"], r["reference"],
                         f"{r['ratio']:.2f}x"] for r in rows]))
    print(f"\nthroughput per second, medians of interleaved runs ({args.rounds} A B B A rounds); ratio = ember's "
          "throughput over the reference's, above 1 means ember is faster")
    return 0
