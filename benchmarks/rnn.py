"""Recurrent-network speed: ember against PyTorch on the CPU, side by side in one run.

- (a) a word-level language-model training step: Embedding(10k, 256) → LSTM or GRU (256) →
  Linear(256, 10k) with a full-softmax cross-entropy, sequence 35, batch 32, SGD: tokens/s;
- (b) the recurrent core alone: one LSTM layer, input 128, hidden 256, 100 steps, batch 32,
  forward + backward: sequences/s;
- peak memory of each case, each framework in a fresh process.

The frameworks alternate in A B B A rounds; every figure is a median (see harness.py).

    python benchmarks/rnn.py [--rounds 5] [--quick] [--threads 1 2]
    python benchmarks/rnn.py --kernels   # ember's compiled per-step kernels against its NumPy passes
"""
from __future__ import annotations

import json
import os

import numpy as np
from harness import (
    argument_parser,
    framework,
    interleaved_medians,
    measure_cases,
    print_cases,
    print_machine,
    print_table,
)

VOCAB, EMBED, HIDDEN, SEQ, BATCH = 10_000, 256, 256, 35, 32


def lm_runner(name, cell="LSTM", steps=5):
    """``steps`` training steps of the language model on fixed random token batches."""
    fw, to_tensor = framework(name)
    nn = fw.nn
    fw.manual_seed(0)

    class LanguageModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(VOCAB, EMBED)
            self.rnn = getattr(nn, cell)(EMBED, HIDDEN, batch_first=True)
            self.decoder = nn.Linear(HIDDEN, VOCAB)

        def forward(self, tokens):
            output, _ = self.rnn(self.embedding(tokens))
            return self.decoder(output.reshape(-1, HIDDEN))

    model = LanguageModel()
    optimizer = fw.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    batches = [(to_tensor(rng.integers(0, VOCAB, (BATCH, SEQ))), to_tensor(rng.integers(0, VOCAB, BATCH * SEQ)))
               for _ in range(steps)]

    def run():
        for tokens, targets in batches:
            optimizer.zero_grad()
            loss_fn(model(tokens), targets).backward()
            optimizer.step()

    return run


def core_runner(name, steps=3, length=100, input_size=128):
    """``steps`` forward + backward passes of one LSTM layer over (length, batch, input) sequences."""
    fw, to_tensor = framework(name)
    fw.manual_seed(0)
    lstm = fw.nn.LSTM(input_size, HIDDEN)
    x = to_tensor(np.random.default_rng(0).standard_normal((length, BATCH, input_size)).astype(np.float32))
    x.requires_grad_()

    def run():
        for _ in range(steps):
            output, _ = lstm(x)
            output.sum().backward()

    return run


CASES = {  # name: (runner expression, units per run, unit)
    "LSTM language model, training": ("lm_runner({fw!r}, 'LSTM', 5)", 5 * BATCH * SEQ, "tokens/s"),
    "GRU language model, training": ("lm_runner({fw!r}, 'GRU', 5)", 5 * BATCH * SEQ, "tokens/s"),
    "LSTM layer fwd+bwd (128→256, 100 steps)": ("core_runner({fw!r}, 3)", 3 * BATCH, "sequences/s"),
}


def without_compiled_kernels(run):
    """``run`` with ember's compiled kernels switched off (EMBER_COMPILED=0): the NumPy passes."""
    def numpy_only():
        os.environ["EMBER_COMPILED"] = "0"
        try:
            run()
        finally:
            del os.environ["EMBER_COMPILED"]

    return numpy_only


def compare_kernels(rounds: int) -> dict:
    """ember with and without its compiled per-step kernels, A B B A in one process: seconds per run."""
    results = {}
    for case, (expr, _, _) in CASES.items():
        run = eval(expr.format(fw="ember"), globals())  # noqa: S307 - our own table
        seconds = interleaved_medians({"compiled": run, "numpy": without_compiled_kernels(run)}, rounds)
        results[case] = {"ms": {k: round(s * 1e3, 1) for k, s in seconds.items()},
                         "speedup": round(seconds["numpy"] / seconds["compiled"], 3)}
    return results


def main():
    parser = argument_parser(__doc__.splitlines()[0], rounds=5)
    parser.add_argument("--kernels", action="store_true",
                        help="instead: ember with its compiled kernels (numba) against its NumPy passes")
    args = parser.parse_args()
    print_machine(args)
    if args.kernels:
        result = {"kernels": compare_kernels(args.rounds), "rounds": args.rounds}
        if not args.json:
            print_table(["case", "compiled ms", "NumPy ms", "speed-up"],
                        [[case, r["ms"]["compiled"], r["ms"]["numpy"], f"{r['speedup']:.2f}x"]
                         for case, r in result["kernels"].items()])
            return
    else:
        result = {"cases": measure_cases("rnn", CASES, args.rounds, args.quick, args.threads), "rounds": args.rounds}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print_cases(result["cases"])
    print(f"\nratios are throughput ember/torch (higher is better), medians of {2 * args.rounds} runs")


if __name__ == "__main__":
    main()
