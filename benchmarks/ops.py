"""Selection and indexing ops, ember against PyTorch on the CPU, side by side in one run.

topk, sort and multinomial on (32, 50000) float32 rows (a language model's logits), gather
and scatter_add over a (1,000,000,) index. Each timed run repeats the call enough times to
last well over 50 ms; the frameworks alternate in A B B A rounds (see harness.py).

    python benchmarks/ops.py [--rounds 5] [--quick]
"""
from __future__ import annotations

import json

import numpy as np
from harness import argument_parser, framework, measure_cases, print_cases, print_machine

ROWS, VOCAB, N_INDEX = 32, 50_000, 1_000_000


def make_runner(name, op, repeats):
    """A closure calling ``op`` ``repeats`` times on fixed inputs in framework ``name``."""
    fw, to_tensor = framework(name)
    rng = np.random.default_rng(0)
    logits = to_tensor(rng.standard_normal((ROWS, VOCAB)).astype(np.float32))
    probs = fw.softmax(logits, dim=-1)
    values = to_tensor(rng.standard_normal(N_INDEX).astype(np.float32))
    index = to_tensor(rng.integers(0, N_INDEX, N_INDEX))
    calls = {
        "topk": lambda: fw.topk(logits, 10, dim=-1),
        "sort": lambda: fw.sort(logits, dim=-1),
        "multinomial": lambda: fw.multinomial(probs, 1),
        "multinomial10": lambda: fw.multinomial(probs, 10, replacement=True),
        "gather": lambda: fw.gather(values, 0, index),
        "scatter_add": lambda: fw.zeros(N_INDEX).scatter_add(0, index, values),
    }
    call = calls[op]

    def run():
        for _ in range(repeats):
            out = call()
        return out

    return run


CASES = {
    "topk k=10, (32, 50000)": ("topk", 20),
    "sort, (32, 50000)": ("sort", 2),
    "multinomial 1 sample, (32, 50000)": ("multinomial", 20),
    "multinomial 10 with replacement, (32, 50000)": ("multinomial10", 20),
    "gather, 1M index": ("gather", 10),
    "scatter_add, 1M index": ("scatter_add", 10),
}


def main():
    args = argument_parser(__doc__.splitlines()[0], rounds=5).parse_args()
    print_machine(args)
    cases = {name: (f"make_runner({{fw!r}}, {op!r}, {repeats})", repeats, "calls/s")
             for name, (op, repeats) in CASES.items()}
    result = measure_cases("ops", cases, args.rounds, quick=True, threads=args.threads)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print_cases(result)
    print(f"\nratios are throughput ember/torch (higher is better; 0.5 is 2x torch's time), medians of "
          f"{2 * args.rounds} runs")


if __name__ == "__main__":
    main()
