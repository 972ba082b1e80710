"""Data-parallel speed: the LeNet-5 demo (digits at 32×32, Adam, batch 32 per rank) on 1 and 2 MPI ranks.

For each number of ranks P the script starts ``mpiexec -n P`` on itself and reports:

- throughput: images per second over all ranks (P·B·steps / wall time), and the speed-up
  over the first configuration (weak scaling: every rank keeps the batch of B);
- the gradient all-reduce of each step: calls, bytes (one rank's flat buffer) and time.
  The in-step time includes waiting for the slower rank to arrive; the "isolated" time is
  the same all-reduce repeated right after a barrier, i.e. the cost of the message alone.

One BLAS thread per rank, so P ranks use P cores; on a machine with fewer free cores than
ranks the figures show the contention, not the method. Each figure comes from one timed
window per run (no repeats), so expect noise of several per cent.

    python benchmarks/distributed.py [--ranks 1 2] [--steps 60] [--batch-size 32] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
from harness import print_machine, print_table


def worker(steps: int, batch_size: int, warmup: int = 5) -> None:
    """One rank: train LeNet-5 for ``warmup`` + ``steps`` steps; rank 0 prints the JSON result."""
    import ember as em
    from ember import models, nn, optim
    from ember.data import DataLoader
    from ember.data.datasets import digits
    from ember.distributed import DataParallel, get_world_size, init_process_group

    group = init_process_group()
    em.manual_seed(0)
    model = models.get("lenet5", num_classes=10)
    dp = DataParallel(model)
    opt, loss_fn = optim.Adam(model.parameters(), lr=2e-3), nn.CrossEntropyLoss()
    loader = dp.shard_loader(DataLoader(digits(resize=32), batch_size=batch_size, shuffle=True, seed=0,
                                        drop_last=True))

    def batches():
        epoch = 0
        while True:
            loader.set_epoch(epoch)
            yield from loader
            epoch += 1

    stream = batches()

    def step():
        x, y = next(stream)
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        dp.average_gradients()
        opt.step()

    for _ in range(warmup):
        step()
    group.barrier()
    dp.stats.reset()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    group.barrier()
    seconds = time.perf_counter() - started
    isolated = _isolated_allreduce(group, dp)
    per_rank = group.all_gather_object({**dp.stats.per_step(), "isolated": isolated})
    if group.rank == 0:
        world = get_world_size()
        print("RESULT " + json.dumps({
            "ranks": world, "batch_per_rank": batch_size, "steps": steps, "seconds": seconds,
            "images_per_s": world * batch_size * steps / seconds, "step_ms": 1e3 * seconds / steps,
            "allreduce_calls": per_rank[0]["calls"], "allreduce_bytes": per_rank[0]["bytes"],
            "allreduce_ms": 1e3 * float(np.mean([r["seconds"] for r in per_rank])),
            "allreduce_isolated_ms": 1e3 * float(np.mean([r["isolated"] for r in per_rank])),
        }), flush=True)


def _isolated_allreduce(group, dp, repeats: int = 50) -> float:
    """Seconds per all-reduce of a buffer the size of the gradient buckets, started together after a barrier."""
    if group.world_size == 1:
        return 0.0
    size = int(dp.stats.per_step()["bytes"] // 4)
    buffer = np.ones(size, dtype=np.float32)
    times = []
    for _ in range(repeats):
        group.barrier()
        started = time.perf_counter()
        group.all_reduce(buffer)
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def run(ranks: int, steps: int, batch_size: int) -> dict:
    """Start ``ranks`` processes on this script and return rank 0's result."""
    from ember.distributed import mpiexec_command

    command = mpiexec_command(ranks, [sys.executable, __file__, "--worker", "--steps", steps,
                                      "--batch-size", batch_size])
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"mpiexec -n {ranks} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return json.loads(lines[-1][len("RESULT "):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2], help="numbers of ranks to compare")
    parser.add_argument("--steps", type=int, default=60, help="timed steps per run (after 5 warm-up steps)")
    parser.add_argument("--batch-size", type=int, default=32, help="mini-batch per rank")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    print_machine(args)
    if args.worker:
        worker(args.steps, args.batch_size)
        return
    results = [run(p, args.steps, args.batch_size) for p in args.ranks]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    base = results[0]["images_per_s"]
    rows = [[r["ranks"], r["batch_per_rank"], f"{r['images_per_s']:.0f}", f"{r['images_per_s'] / base:.2f}x",
             f"{r['step_ms']:.1f}", f"{r['allreduce_calls']:.0f}", f"{r['allreduce_bytes'] / 1024:.1f}",
             f"{r['allreduce_ms']:.3f}", f"{r['allreduce_isolated_ms']:.3f}"] for r in results]
    print_table(["ranks", "batch/rank", "images/s", "speed-up", "step ms", "allreduce calls/step", "KiB/step",
                 "allreduce ms/step", "isolated ms"], rows)


if __name__ == "__main__":
    main()
