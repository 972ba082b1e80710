"""MLP training throughput: ember against PyTorch on the CPU, side by side in one run.

A 784-256-256-10 ReLU MLP, batch 128, SGD with momentum 0.9, float32, cross-entropy.
The frameworks alternate in A B B A rounds and each figure is the median over rounds
(see harness.py); peak memory is measured in a fresh subprocess per framework.

    python benchmarks/mlp.py [--rounds 8] [--steps 50]
"""
from __future__ import annotations

import argparse
import json

import numpy as np
from harness import FRAMEWORKS, framework, interleaved_medians, peak_memory_mib, print_table

BATCH, SIZES, LR, MOMENTUM = 128, (784, 256, 256, 10), 0.01, 0.9
MODEL = "MLP 784-256-256-10 ReLU, batch 128, SGD momentum 0.9, float32"


def make_runner(name, steps=50, seed=0):
    """A closure running ``steps`` training steps; the same code drives both frameworks,
    since ember's API is PyTorch's (only the array-to-tensor call differs)."""
    fw, to_tensor = framework(name)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((steps, BATCH, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], (steps, BATCH))
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


def measure(rounds=8, steps=50) -> dict:
    seconds = interleaved_medians({name: make_runner(name, steps) for name in FRAMEWORKS}, rounds)
    throughput = {name: steps * BATCH / s for name, s in seconds.items()}
    memory = {name: peak_memory_mib("mlp", f"make_runner({name!r}, {steps})") for name in FRAMEWORKS}
    return {
        "model": MODEL,
        "samples_per_s": {k: round(v) for k, v in throughput.items()},
        "ratio_ember_over_torch": round(throughput["ember"] / throughput["torch"], 3),
        "peak_memory_mib": memory,
        "rounds": rounds,
        "steps_per_run": steps,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8, help="A B B A rounds (each runs both frameworks twice)")
    parser.add_argument("--steps", type=int, default=50, help="training steps per timed run")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    result = measure(args.rounds, args.steps)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(MODEL)
    print_table(["framework", "samples/s", "peak RSS MiB", "training growth MiB"],
                [[name, result["samples_per_s"][name], result["peak_memory_mib"][name]["peak_total"],
                  result["peak_memory_mib"][name]["growth"]] for name in FRAMEWORKS])
    print(f"ember / torch throughput: {result['ratio_ember_over_torch']:.2f}x  "
          f"(median of {args.rounds * 2} runs of {args.steps} steps each)")


if __name__ == "__main__":
    main()
