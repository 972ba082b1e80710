"""Hessian-vector products, ember against PyTorch on the CPU, side by side in one run.

H·v of the cross-entropy loss of a 784-256-10 tanh MLP (batch 64, float32), H the Hessian with
respect to all four parameter tensors, computed three ways in each framework:
``autograd.functional.hvp`` (the double-vjp trick: a forward and three backward passes),
``autograd.functional.vhp`` (vᵀH, two backward passes; equal to H·v since H is symmetric), and the
double backward written out, ∇(∇L · v) with ``autograd.grad(create_graph=True)``.
Each timed run repeats the product enough times to last at least 50 ms in both frameworks; the
frameworks alternate in A B B A rounds and each figure is the median over rounds (see harness.py).

    python benchmarks/hessian.py [--rounds 8] [--quick]
"""
from __future__ import annotations

import json
import math
import time

import numpy as np
from harness import FRAMEWORKS, argument_parser, framework, measure_cases, print_cases, print_machine

BATCH, SIZES, MIN_SECONDS = 64, (784, 256, 10), 0.05
MODEL = "MLP 784-256-10 tanh, cross-entropy, batch 64, float32"


def make_product(name, how, seed=0):
    """A zero-argument function computing one H·v in framework ``name`` by ``how``."""
    fw, to_tensor = framework(name)
    F = fw.nn.functional
    rng = np.random.default_rng(seed)
    shapes = [(SIZES[1], SIZES[0]), (SIZES[1],), (SIZES[2], SIZES[1]), (SIZES[2],)]
    params = tuple(to_tensor((rng.standard_normal(s) / math.sqrt(s[-1])).astype(np.float32)) for s in shapes)
    v = tuple(to_tensor(rng.standard_normal(s).astype(np.float32)) for s in shapes)
    x = to_tensor(rng.standard_normal((BATCH, SIZES[0])).astype(np.float32))
    y = to_tensor(rng.integers(0, SIZES[2], BATCH))

    def loss(W1, b1, W2, b2):
        return F.cross_entropy(F.linear(F.linear(x, W1, b1).tanh(), W2, b2), y)

    if how == "hvp":
        return lambda: fw.autograd.functional.hvp(loss, params, v)[1]
    if how == "vhp":
        return lambda: fw.autograd.functional.vhp(loss, params, v)[1]
    leaves = tuple(p.detach().requires_grad_(True) for p in params)

    def double_backward():
        grads = fw.autograd.grad(loss(*leaves), leaves, create_graph=True)
        dot = sum((g * w).sum() for g, w in zip(grads, v, strict=True))
        return fw.autograd.grad(dot, leaves)

    return double_backward


def make_runner(name, how, repeats):
    """A closure computing ``repeats`` Hessian-vector products in framework ``name``."""
    product = make_product(name, how)

    def run():
        for _ in range(repeats):
            out = product()
        return out

    return run


def repeats_for(how):
    """Calls per timed run so that the slower framework's run lasts at least MIN_SECONDS."""
    slowest = 0.0
    for name in FRAMEWORKS:
        product = make_product(name, how)
        product()  # warm-up
        start = time.perf_counter()
        product()
        slowest = max(slowest, time.perf_counter() - start)
    return max(1, math.ceil(MIN_SECONDS / slowest))


CASES = {"functional.hvp (double-vjp trick)": "hvp", "functional.vhp": "vhp",
         "grad(grad(L)·v) by hand": "double_backward"}


def main():
    args = argument_parser(__doc__.splitlines()[0], rounds=8).parse_args()
    print_machine(args)
    cases = {}
    for case, how in CASES.items():
        repeats = repeats_for(how)
        cases[f"{case}, {MODEL}"] = (f"make_runner({{fw!r}}, {how!r}, {repeats})", repeats, "H·v/s")
    result = {"cases": measure_cases("hessian", cases, args.rounds, args.quick, args.threads), "rounds": args.rounds}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print_cases(result["cases"])
    print(f"\nratios are throughput ember/torch (higher is better), medians of {2 * args.rounds} runs each")


if __name__ == "__main__":
    main()
