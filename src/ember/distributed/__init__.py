"""Data-parallel training over MPI: every rank holds the model, trains on its shard, averages gradients.

    mpiexec -n 2 python train.py          # or: mpiexec -n 2 ember train lenet5 --resize 32

>>> import ember.distributed as dist
>>> dp = dist.DataParallel(model)                        # joins the ranks, broadcasts rank 0's weights
>>> loader = DataLoader(train_set, batch_size=32, sampler=dist.DistributedSampler(train_set, seed=0))
>>> for epoch in range(epochs):
...     loader.sampler.set_epoch(epoch)
...     for x, y in loader:
...         opt.zero_grad(); loss_fn(model(x), y).backward()
...         dp.average_gradients()                   # one all-reduce over a flat buffer
...         opt.step()
...     dp.sync_running_stats()                      # BatchNorm statistics: mean over ranks
>>> if dist.is_main_process(): em.save(model.state_dict(), "model.safetensors")

Or ``Trainer(..., distributed=True)``, which does all of the above: ``DataParallel`` is its MPI
``Strategy`` (``LocalStrategy`` the one-process one). PyTorch's names work too:
``init_process_group("gloo")``, ``all_reduce(t, op=ReduceOp.SUM)``, ``all_gather(list, t)``,
``DistributedDataParallel(model)`` (gradients averaged during ``backward``), ``no_sync()``.
Without an MPI launcher everything runs as one process (world size 1), and mpi4py need not
be installed.
"""
from ember.distributed.comm import (
    ProcessGroup,
    ReduceOp,
    Work,
    abort,
    all_gather,
    all_gather_into_tensor,
    all_gather_object,
    all_reduce,
    barrier,
    broadcast,
    broadcast_object_list,
    destroy_process_group,
    get_backend,
    get_local_rank,
    get_rank,
    get_world_size,
    group,
    init_process_group,
    is_available,
    is_initialized,
    is_main_process,
    is_mpi_available,
    launched_by_mpi,
    reduce,
)
from ember.distributed.data_parallel import CommStats, DataParallel
from ember.distributed.ddp import DistributedDataParallel
from ember.distributed.launch import find_mpiexec, mpiexec_command
from ember.distributed.sampler import DistributedSampler
from ember.distributed.strategy import LocalStrategy, Strategy

__all__ = [
    "CommStats", "DataParallel", "DistributedDataParallel", "DistributedSampler", "LocalStrategy", "ProcessGroup",
    "ReduceOp", "Strategy", "Work",
    "abort", "all_gather", "all_gather_into_tensor", "all_gather_object", "all_reduce", "barrier", "broadcast",
    "broadcast_object_list", "destroy_process_group", "find_mpiexec", "get_backend", "get_local_rank", "get_rank",
    "get_world_size", "group", "init_process_group", "is_available", "is_initialized", "is_main_process",
    "is_mpi_available", "launched_by_mpi", "mpiexec_command", "reduce",
]
