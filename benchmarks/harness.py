"""What every side-by-side benchmark shares: interleaved timing and peak-memory measurement.

The machine is noisy, so the frameworks alternate in A B B A rounds (noise hits both alike)
and each figure is the median over rounds. Peak memory is measured in a fresh subprocess
per case, from the kernel's high-water mark of the resident set (Linux /proc).
"""
from __future__ import annotations

import contextlib
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

FRAMEWORKS = ("ember", "torch")


def framework(name):
    """The module and its array→tensor function: the benchmarks drive both through one API."""
    if name == "ember":
        import ember as fw

        return fw, fw.tensor
    import torch as fw

    return fw, fw.from_numpy


def machine() -> str:
    """The CPU model (``lscpu``'s "Model name") and the BLAS NumPy calls, with its thread count.

    Every benchmark prints it first: ratios measured on different CPUs or BLAS builds are never
    compared with each other.
    """
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        cpu = next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")), "?")
    except (OSError, subprocess.SubprocessError):
        cpu = "? (no lscpu)"
    import numpy  # noqa: F401 - loads the BLAS that threadpoolctl looks for
    from threadpoolctl import threadpool_info

    blas = [f"{i.get('internal_api')} {i.get('version')} ({i.get('threading_layer', '')}, "
            f"{i.get('num_threads')} threads)" for i in threadpool_info() if i.get("user_api") == "blas"]
    return f"CPU: {cpu}; NumPy BLAS: {', '.join(blas) or 'none found'}"


def print_machine(args=None) -> None:
    """Print ``machine()`` (to stderr when the benchmark prints JSON, so the JSON stays parseable)."""
    print(machine(), file=sys.stderr if getattr(args, "json", False) else sys.stdout, flush=True)


# NOTE: after its last GEMM, OpenBLAS keeps its idle threads spinning for about 0.1 s (2^28
# cycles; PyTorch's OpenMP threads spin too, for less), and they hold the cores the next sample
# needs. Timed right after ember, PyTorch's LeNet-5 training took 121 ms per 10 steps against 59 ms
# on its own, and 64.5 ms after a 0.3 s pause. So every sample starts after this pause, and then
# one untimed call: the first call after an idle pause is slow (its threads asleep, its caches
# cold; a 56 µs MLP forward took milliseconds), and a sample of a few calls would time mostly it.
SETTLE_SECONDS = 0.3


def settled(run):
    """``run`` ready to time: the cores left alone by every library's idle threads for
    ``SETTLE_SECONDS``, then one untimed call of ``run`` to wake its own threads and caches."""
    time.sleep(SETTLE_SECONDS)
    run()
    return run


def interleaved_medians(runs: dict, rounds: int, warmup: int = 1, min_seconds: float = 0.05) -> dict:
    """Median seconds per call of each zero-argument ``runs[name]``, timed in A B B A order.

    A sample repeats its call until it lasts at least ``min_seconds`` (the count is fixed per
    run from one timed call after the warm-up): one call of a small layer lasts a few
    milliseconds, and a single-call sample then measures the timer and one allocation more
    than the layer. Each sample (and that timed call) starts ``settled``: after a pause in which
    no library's idle threads still spin, and one untimed call.
    """
    names = list(runs)
    for _ in range(warmup):  # first-touch allocations, BLAS thread start
        for name in names:
            runs[name]()
    calls = {name: max(1, math.ceil(min_seconds / max(time_call(settled(runs[name])), 1e-9))) for name in names}
    times = {name: [] for name in names}
    order = names + names[::-1]
    for _ in range(rounds):
        for name in order:
            settled(runs[name])
            start = time.perf_counter()
            for _ in range(calls[name]):
                runs[name]()
            times[name].append((time.perf_counter() - start) / calls[name])
    return {name: statistics.median(t) for name, t in times.items()}


def time_call(run) -> float:
    """Seconds one call of ``run()`` takes."""
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def _status_kib(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


def measure_memory(run) -> dict:
    """In this (fresh) process: peak resident MiB in total and grown while ``run()`` ran.

    The high-water mark is reset just before the run (``/proc/self/clear_refs``), so the
    growth counts only what the run allocates.
    """
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    baseline = _status_kib("VmRSS")
    run()
    peak = _status_kib("VmHWM")
    return {"peak_total": round(peak / 1024, 1), "growth": round((peak - baseline) / 1024, 1)}


def peak_memory_mib(script: str, call: str) -> dict:
    """Memory figures of ``call`` (an expression in ``benchmarks/<script>.py`` returning a run
    closure), measured in a fresh Python process."""
    code = (f"import json, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import harness, {script}; "
            f"print(json.dumps(harness.measure_memory({script}.{call})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def print_table(header: list, rows: list) -> None:
    """A plain aligned text table."""
    from ember.viz.tables import format_table

    print(format_table(header, rows))


def limit_threads(count):
    """Both frameworks on ``count`` threads — NumPy's BLAS through threadpoolctl, PyTorch's
    intra-op pool — for the ``with`` block (the pool stays at ``count`` after it); None: each
    library's own default."""
    if count is None:
        return contextlib.nullcontext()
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(count)
    return threadpool_limits(limits=count, user_api="blas")


def measure_cases(script: str, cases: dict, rounds: int, quick: bool = False, threads=None) -> dict:
    """Time each case in both frameworks and (unless ``quick``) measure its peak memory.

    ``cases`` maps a name to (runner expression with ``{fw}``, units per run, unit): the
    expression, evaluated in ``benchmarks/<script>.py``, returns the run closure. Returns, per
    case, the throughput of each framework, the ratio ember/torch, and the memory figures.
    ``threads`` (thread counts, e.g. [1, 2]) times every case at each count, both frameworks
    limited alike, as "<case>, <n> thread(s)"; which count is faster differs by case.
    """
    module = __import__(script)
    results = {}
    for count in threads or [None]:
        with limit_threads(count):
            for case, (expr, units, unit) in cases.items():
                runs = {fw: eval(expr.format(fw=fw), vars(module)) for fw in FRAMEWORKS}  # noqa: S307 - our own table
                seconds = interleaved_medians(runs, rounds)
                skip_memory = quick or (threads and count != threads[0])  # memory does not depend on threads
                memory = {} if skip_memory else {fw: peak_memory_mib(script, expr.format(fw=fw)) for fw in FRAMEWORKS}
                name = case if count is None else f"{case}, {count} thread{'s' * (count > 1)}"
                results[name] = {"unit": unit, "throughput": {fw: round(units / s, 1) for fw, s in seconds.items()},
                                 "ratio": round(seconds["torch"] / seconds["ember"], 3), "peak_memory_mib": memory}
    return results


def print_cases(results: dict) -> None:
    """The table of ``measure_cases``' results: throughput, ratio and peak memory per case."""
    rows = [[case, r["unit"], r["throughput"]["ember"], r["throughput"]["torch"], f"{r['ratio']:.2f}x",
             r["peak_memory_mib"].get("ember", {}).get("peak_total", "-"),
             r["peak_memory_mib"].get("torch", {}).get("peak_total", "-")] for case, r in results.items()]
    print_table(["case", "unit", "ember", "torch", "ember/torch", "ember MiB", "torch MiB"], rows)


def argument_parser(description: str, rounds: int):
    """The options every benchmark takes: --rounds, --quick (no memory subprocesses), --json."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rounds", type=int, default=rounds, help="A B B A rounds (each runs both frameworks twice)")
    parser.add_argument("--quick", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--threads", type=int, nargs="+", default=None,
                        help="time each case with both frameworks limited to each of these thread counts "
                             "(default: each library's own)")
    return parser
