"""Data-parallel training with the ``DataParallel`` primitives, run by ``mpiexec``; and its references.

    mpiexec -n 2 python tests/distributed/mpi_equivalence.py OUT_DIR            # every case
    mpiexec -n 2 python tests/distributed/mpi_equivalence.py OUT_DIR --abort    # rank 1 fails

Each rank writes ``OUT_DIR/<case>_rank<r>.npz`` (its final state dict),
``OUT_DIR/<case>_rank<r>.json`` (its all-reduce counts) and ``OUT_DIR/collectives_rank<r>.json``
(what the module-level collectives returned). The test imports this file for the
single-process references: the same data with one process and batch P·B, or (with
BatchNorm, whose batch statistics depend on how the batch is split) P replicas in one
process whose gradients and running statistics are averaged by hand.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import ember as em
import ember.distributed as dist
from ember import nn, optim
from ember.data import DataLoader, TensorDataset
from ember.distributed import DataParallel, DistributedSampler, get_rank, get_world_size

B, EPOCHS, SEED, N = 8, 3, 7, 54  # 54 = 2·8·3 + 6: each epoch ends with a partial batch
INIT_SEED = 100  # rank r initialises with INIT_SEED + r: the broadcast must make them rank 0's
CASES = {  # name: (model, optimizer, dtype)
    "sgd": ("cnn", "sgd", np.float32),
    "adam": ("cnn", "adam", np.float64),
    "bn": ("bn", "sgd", np.float64),
}


class Net(nn.Module):
    """A small CNN, with BatchNorm (``bn``) or without (``cnn``), plus a parameter the forward never uses."""

    def __init__(self, kind: str):
        super().__init__()
        if kind == "cnn":
            self.body = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(64, 3))
        else:
            self.body = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                                      nn.Linear(64, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
        self.unused = nn.Linear(2, 2)

    def forward(self, x):
        return self.body(x)


def dataset(dtype) -> TensorDataset:
    rng = np.random.default_rng(0)
    return TensorDataset(rng.standard_normal((N, 1, 6, 6)).astype(dtype), rng.integers(0, 3, N))


def build(case: str, seed: int):
    kind, _, dtype = CASES[case]
    em.manual_seed(seed)
    model = Net(kind).to(dtype=dtype)
    return model, make_optimizer(case, model.parameters())


def make_optimizer(case: str, params):
    if CASES[case][1] == "sgd":
        return optim.SGD(params, lr=0.1, momentum=0.9)
    return optim.Adam(params, lr=0.01)


def state_arrays(model) -> dict:
    return {k: em.backend.to_numpy(v.array).copy() for k, v in model.state_dict().items()}


# -- the distributed run -----------------------------------------------------------------------


def train_distributed(case: str, fail_at_step: int | None = None):
    """Train ``case`` on this rank's shard; returns (final state, all-reduce stats per step)."""
    model, opt = build(case, INIT_SEED + get_rank())
    dp = DataParallel(model)
    loss_fn = nn.CrossEntropyLoss()
    data = dataset(CASES[case][2])
    loader = DataLoader(data, batch_size=B, sampler=DistributedSampler(data, seed=SEED))
    step = 0
    for epoch in range(EPOCHS):
        loader.sampler.set_epoch(epoch)
        for x, y in loader:
            if step == fail_at_step and get_rank() == 1:
                raise RuntimeError("injected failure in rank 1")
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            dp.average_gradients()
            opt.step()
            step += 1
        dp.sync_running_stats()
    return state_arrays(model), {**dp.stats.per_step(), "steps": dp.stats.steps}


# -- the single-process references -------------------------------------------------------------


def reference_big_batch(case: str, world: int) -> dict:
    """One process, batch world·B, the same permutation per epoch: the trajectory P ranks must follow."""
    model, opt = build(case, INIT_SEED)
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(dataset(CASES[case][2]), batch_size=world * B, shuffle=True, seed=SEED)
    for epoch in range(EPOCHS):
        loader.set_epoch(epoch)
        for x, y in loader:
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
    return state_arrays(model)


def reference_replicas(case: str, world: int) -> dict:
    """``world`` replicas in one process, rank r taking rows r, r + P, ... of each batch of P·B (as the
    sampler deals them); gradients averaged before each step, running statistics averaged each epoch."""
    replicas = [build(case, INIT_SEED)[0] for _ in range(world)]
    opt = make_optimizer(case, replicas[0].parameters())
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(dataset(CASES[case][2]), batch_size=world * B, shuffle=True, seed=SEED)
    for epoch in range(EPOCHS):
        loader.set_epoch(epoch)
        for x, y in loader:
            for r, replica in enumerate(replicas):
                replica.zero_grad()
                loss_fn(replica(x[r::world]), y[r::world]).backward()
            for name, p in replicas[0].named_parameters():
                grads = [dict(m.named_parameters())[name].grad for m in replicas]
                if all(g is not None for g in grads):
                    p.grad = em.tensor(sum(g.array for g in grads) / world)
            opt.step()
            weights = {k: v.array for k, v in replicas[0].named_parameters()}
            for replica in replicas[1:]:
                for k, v in replica.named_parameters():
                    v.array[...] = weights[k]
        _average_running_stats(replicas)
    return state_arrays(replicas[0])


def _average_running_stats(replicas) -> None:
    buffers = [dict(m.named_buffers()) for m in replicas]
    for name in buffers[0]:
        if name.endswith(("running_mean", "running_var")):
            mean = sum(b[name].array for b in buffers) / len(buffers)
            for b in buffers:
                b[name].array[...] = mean


def collectives() -> dict:
    """The module-level collectives on rank-dependent values (the test knows the answers for any P)."""
    rank = get_rank()
    results = {"rank": rank, "world_size": get_world_size(), "main": dist.is_main_process()}
    for op in ("sum", "avg", "max", "min"):
        results[op] = dist.all_reduce(np.array([rank + 1.0, -rank], dtype=np.float32), op=op).tolist()
    weights = em.tensor(np.full(3, 10.0 * (rank + 1)))
    dist.broadcast(weights, src=1)
    results["broadcast_from_1"] = weights.numpy().tolist()
    gathered = [None] * get_world_size()
    dist.all_gather_object(gathered, {"rank": rank})
    results["gathered"] = gathered
    shared = [f"from rank {rank}"]
    dist.broadcast_object_list(shared)
    results["object_from_0"] = shared[0]
    results["sampler"] = [len(DistributedSampler(range(9))), DistributedSampler(range(9)).rank]
    dist.barrier()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--abort", action="store_true", help="rank 1 raises at its third step")
    args = parser.parse_args()
    rank = get_rank()
    if args.abort:
        train_distributed("sgd", fail_at_step=2)
        (args.out / f"abort_finished_rank{rank}").write_text("rank finished without aborting\n")
        return
    (args.out / f"collectives_rank{rank}.json").write_text(json.dumps(collectives()))
    for case in CASES:
        state, stats = train_distributed(case)
        np.savez(args.out / f"{case}_rank{rank}.npz", **state)
        stats["world_size"] = get_world_size()
        (args.out / f"{case}_rank{rank}.json").write_text(json.dumps(stats))


if __name__ == "__main__":
    main()
