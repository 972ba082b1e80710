"""MLP training throughput: ember against PyTorch on the CPU, side by side in one run.

A 784-256-256-10 ReLU MLP, batch 128, SGD with momentum 0.9, float32, cross-entropy.
The frameworks alternate in A B B A rounds and each figure is the median over rounds
(see harness.py); peak memory is measured in a fresh subprocess per framework.

    python benchmarks/mlp.py [--rounds 8] [--steps 50] [--quick]
"""
from __future__ import annotations

import json

import numpy as np
from harness import argument_parser, framework, measure_cases, print_cases, print_machine

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


def main():
    parser = argument_parser(__doc__.splitlines()[0], rounds=8)
    parser.add_argument("--steps", type=int, default=50, help="training steps per timed run")
    args = parser.parse_args()
    print_machine(args)
    cases = {MODEL: (f"make_runner({{fw!r}}, {args.steps})", args.steps * BATCH, "samples/s")}
    result = {"cases": measure_cases("mlp", cases, args.rounds, args.quick, args.threads), "rounds": args.rounds,
              "steps_per_run": args.steps}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print_cases(result["cases"])
    print(f"\nratios are throughput ember/torch (higher is better), medians of {2 * args.rounds} runs "
          f"of {args.steps} steps each")


if __name__ == "__main__":
    main()
