"""PyTorch's distributed API on ember under ``mpiexec``: the collectives by their torch names, and
``DistributedDataParallel`` training; plus the single-process reference the test compares with.

    mpiexec -n 2 python tests/distributed/mpi_ddp.py OUT_DIR

Each rank writes ``OUT_DIR/api_rank<r>.json`` (what the collectives returned) and
``OUT_DIR/ddp_rank<r>.npz`` (its model's final state) plus ``ddp_rank<r>.json`` (its wrapper's
state-dict keys and all-reduce count). Rank r trains on rows r·2B … (r+1)·2B − 1 of each batch
of P·2B; on odd steps in two micro-batches, the first inside ``no_sync()``. The reference is
one process taking each whole batch at once.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import ember as em
import ember.distributed as dist
from ember import nn, optim
from ember.distributed import DistributedDataParallel

B, STEPS, INIT_SEED = 3, 6, 100  # each rank: 2·B rows per step; rank r initialises with INIT_SEED + r


class Net(nn.Module):
    """A small MLP with a buffer the forward reads and a layer the forward never uses."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
        self.unused = nn.Linear(2, 2)
        self.register_buffer("shift", em.randn(5))

    def forward(self, x):
        return self.body(x + self.shift)


def build(seed: int) -> Net:
    em.manual_seed(seed)
    return Net().to(dtype=np.float64)


def batches(world: int):
    """STEPS batches of world·2B rows (the same on every rank)."""
    rng = np.random.default_rng(0)
    n = world * 2 * B
    return [(rng.standard_normal((n, 5)), rng.integers(0, 3, n)) for _ in range(STEPS)]


def state_arrays(model) -> dict:
    return {k: em.backend.to_numpy(v.array).copy() for k, v in model.state_dict().items()}


def train_ddp() -> tuple[dict, dict]:
    rank, world = dist.get_rank(), dist.get_world_size()
    model = build(INIT_SEED + rank)
    ddp = DistributedDataParallel(model)
    opt = optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for step, (x, y) in enumerate(batches(world)):
        xs, ys = em.tensor(x[rank * 2 * B:(rank + 1) * 2 * B]), em.tensor(y[rank * 2 * B:(rank + 1) * 2 * B])
        opt.zero_grad()
        if step % 2 == 0:
            loss_fn(ddp(xs), ys).backward()
        else:  # two micro-batches: the first accumulates locally, the second averages the sum
            with ddp.no_sync():
                (loss_fn(ddp(xs[:B]), ys[:B]) / 2).backward()
            (loss_fn(ddp(xs[B:]), ys[B:]) / 2).backward()
        opt.step()
    record = {"keys": list(ddp.state_dict()), "calls": ddp.reducer.stats.calls, "steps": ddp.reducer.stats.steps}
    return state_arrays(model), record


def reference(world: int) -> dict:
    """One process, rank 0's initial weights, each whole batch of world·2B rows at once."""
    model = build(INIT_SEED)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for x, y in batches(world):
        opt.zero_grad()
        loss_fn(model(em.tensor(x)), em.tensor(y)).backward()
        opt.step()
    return state_arrays(model)


def collectives() -> dict:
    """The torch.distributed functions on rank-dependent values (the test knows the answers for P = 2)."""
    rank, world = dist.get_rank(), dist.get_world_size()
    out = {"rank": rank, "world": world, "initialized": dist.is_initialized(), "available": dist.is_available(),
           "backend": dist.get_backend()}
    for name in ("SUM", "AVG", "MAX", "MIN", "PRODUCT"):
        t = em.tensor([rank + 1.0, -rank - 2.0])
        dist.all_reduce(t, op=getattr(dist.ReduceOp, name))
        out[name] = t.tolist()
    t = em.tensor([10.0 * (rank + 1)] * 3)
    dist.broadcast(t, src=1)
    out["broadcast"] = t.tolist()
    parts = [em.zeros(2, dtype=em.int64) for _ in range(world)]
    dist.all_gather(parts, em.tensor([rank, 2 * rank]))
    out["all_gather"] = [p.tolist() for p in parts]
    work = dist.all_reduce(em.ones(1), async_op=True)
    out["async"] = bool(work.wait())
    dist.barrier()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    dist.init_process_group("gloo")  # PyTorch's CPU backend name: runs over MPI
    rank = dist.get_rank()
    (args.out / f"api_rank{rank}.json").write_text(json.dumps(collectives()))
    state, record = train_ddp()
    np.savez(args.out / f"ddp_rank{rank}.npz", **state)
    (args.out / f"ddp_rank{rank}.json").write_text(json.dumps(record))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
