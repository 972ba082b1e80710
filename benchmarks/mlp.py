"""MLP training throughput: ember against PyTorch on the CPU, side by side in one run.

A 784-256-256-10 ReLU MLP, batch 128, SGD with momentum 0.9, float32, cross-entropy.
The two frameworks alternate in A B B A rounds so that machine noise hits both alike;
the figure reported for each is the median over rounds. Peak memory is measured in a
fresh subprocess per framework: the process's peak resident set, and how much it
grew during training (Linux /proc figures).

    python benchmarks/mlp.py [--rounds 8] [--steps 50]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import numpy as np

BATCH, SIZES, LR, MOMENTUM = 128, (784, 256, 256, 10), 0.01, 0.9


def make_data(steps, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((steps, BATCH, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], (steps, BATCH))
    return x, y


def make_runner(framework, x, y):
    """A closure running one pass over the batches; the same code drives both frameworks,
    since ember's API is PyTorch's (only the array-to-tensor call differs)."""
    if framework == "ember":
        import ember as fw

        to_tensor = fw.tensor
    else:
        import torch as fw

        to_tensor = fw.from_numpy
    nn = fw.nn
    fw.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    optimizer = fw.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = nn.CrossEntropyLoss()
    batches = [(to_tensor(xb), to_tensor(yb)) for xb, yb in zip(x, y, strict=True)]

    def run():
        for xb, yb in batches:
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
        return loss.item()

    return run


FRAMEWORKS = ("ember", "torch")


def _status_kib(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


def measure_memory(framework, steps):
    """In this (fresh) process: peak resident memory in MiB, total and grown while training.

    The kernel's high-water mark is reset just before training (``/proc/self/clear_refs``),
    so the growth counts only what the training steps allocate.
    """
    x, y = make_data(steps)
    run = make_runner(framework, x, y)
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    baseline = _status_kib("VmRSS")
    run()
    peak = _status_kib("VmHWM")
    return {"peak_total": peak / 1024, "training_growth": (peak - baseline) / 1024}


def peak_memory_mib(framework, steps):
    """Run ``steps`` training steps in a fresh process; return its memory figures in MiB."""
    code = (
        "import json, sys; sys.path.insert(0, 'benchmarks'); import mlp; "
        f"print(json.dumps(mlp.measure_memory('{framework}', {steps})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8, help="A B B A rounds (each runs both frameworks twice)")
    parser.add_argument("--steps", type=int, default=50, help="training steps per timed run")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()

    x, y = make_data(args.steps)
    runs = {name: make_runner(name, x, y) for name in FRAMEWORKS}
    for run in runs.values():  # warm-up: first-touch allocations, BLAS thread start
        run()
    times = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name in ("ember", "torch", "torch", "ember"):
            start = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - start)
    throughput = {name: args.steps * BATCH / statistics.median(t) for name, t in times.items()}
    memory = {name: peak_memory_mib(name, args.steps) for name in runs}
    result = {
        "model": "MLP 784-256-256-10 ReLU, batch 128, SGD momentum 0.9, float32",
        "samples_per_s": {k: round(v) for k, v in throughput.items()},
        "ratio_ember_over_torch": round(throughput["ember"] / throughput["torch"], 3),
        "peak_memory_mib": {k: {m: round(v, 1) for m, v in d.items()} for k, d in memory.items()},
        "rounds": args.rounds,
        "steps_per_run": args.steps,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(result["model"])
    print(f"{'framework':<10}{'samples/s':>12}{'peak RSS MiB':>14}{'training growth MiB':>21}")
    for name in runs:
        m = memory[name]
        print(f"{name:<10}{throughput[name]:>12.0f}{m['peak_total']:>14.1f}{m['training_growth']:>21.1f}")
    print(f"ember / torch throughput: {result['ratio_ember_over_torch']:.2f}x  "
          f"(median of {args.rounds * 2} runs of {args.steps} steps each)")


if __name__ == "__main__":
    main()
