"""Inference latency: ember against PyTorch on the CPU at batch 1, 8 and 64, side by side in one run.

The MLP 784-256-256-10, LeNet-5 (32×32 grey) and ResNet-18 with the CIFAR stem, in eval mode
without autograd: milliseconds per forward pass. At batch 1 the arithmetic is tiny and the
time is the framework's overhead per op (Python dispatch, checks, allocation), which is where
a NumPy framework can beat PyTorch's dispatcher; at batch 64 the BLAS decides.

Each case runs with the BLAS (NumPy's, through threadpoolctl) and PyTorch's intra-op pool
limited to 1 and then to 2 threads, in both frameworks alike: which is faster depends on the
size of the products. The frameworks alternate in A B B A rounds, each sample lasts at least
50 ms, and every figure is a median (see harness.py).

    python benchmarks/latency.py [--rounds 5] [--threads 1 2]
"""
from __future__ import annotations

import json

import numpy as np
from cnn import lenet5, resnet18_cifar
from harness import (
    FRAMEWORKS,
    argument_parser,
    framework,
    interleaved_medians,
    limit_threads,
    print_machine,
    print_table,
)

BATCHES = (1, 8, 64)
MODELS = {  # name: (builder of the model from (nn, fw), input shape without the batch)
    "MLP 784-256-256-10": (lambda nn, fw: nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                                                        nn.Linear(256, 10)), (784,)),
    "LeNet-5": (lambda nn, fw: lenet5(nn), (1, 32, 32)),
    "ResNet-18 CIFAR": (resnet18_cifar, (3, 32, 32)),
}


def inference_runner(name, model_name, batch):
    """One forward pass of ``model_name`` on a fixed batch, eval mode, no autograd."""
    fw, to_tensor = framework(name)
    fw.manual_seed(0)
    build, shape = MODELS[model_name]
    model = build(fw.nn, fw).eval()
    x = to_tensor(np.random.default_rng(0).standard_normal((batch, *shape)).astype(np.float32))

    def run():
        with fw.no_grad():
            model(x)

    return run


def measure(rounds: int, threads: list[int]) -> list[dict]:
    rows = []
    for count in threads:
        with limit_threads(count):
            for model_name in MODELS:
                for batch in BATCHES:
                    runs = {fw: inference_runner(fw, model_name, batch) for fw in FRAMEWORKS}
                    seconds = interleaved_medians(runs, rounds)
                    rows.append({"model": model_name, "batch": batch, "threads": count,
                                 "ms": {fw: round(s * 1e3, 3) for fw, s in seconds.items()},
                                 "ratio": round(seconds["torch"] / seconds["ember"], 3)})
    return rows


def main():
    parser = argument_parser(__doc__.splitlines()[0], rounds=5)
    parser.set_defaults(threads=[1, 2])
    args = parser.parse_args()
    print_machine(args)
    rows = measure(args.rounds, args.threads)
    if args.json:
        print(json.dumps({"cases": rows, "rounds": args.rounds}, indent=2))
        return
    print_table(["model", "batch", "threads", "ember ms", "torch ms", "ember/torch"],
                [[r["model"], r["batch"], r["threads"], r["ms"]["ember"], r["ms"]["torch"], f"{r['ratio']:.2f}x"]
                 for r in rows])
    print(f"\nratios are speed ember/torch (torch ms / ember ms; higher is better), medians of {2 * args.rounds} "
          "samples of at least 50 ms each")


if __name__ == "__main__":
    main()
