"""``DataParallel``: one model replicated on every rank, kept identical by collectives.

Data-parallel SGD on P ranks, each with its own mini-batch of B samples:

    start      θ ← θ of rank 0                                   (broadcast of parameters and buffers)
    each step  g_r = ∇L_r(θ) on rank r's batch;  g = (1/P) Σ_r g_r  (one all-reduce per bucket)
               θ ← optimizer step with g                          (identical on every rank)
    each epoch running_mean, running_var ← their mean over ranks  (one all-reduce)

With a loss that averages over its batch and equal batch sizes, (1/P) Σ_r ∇L_r is the
gradient of the loss on the concatenated batch of P·B samples, so P ranks follow the same
trajectory as one process with batch P·B (up to float rounding), for any optimizer.

Gradients travel in a few flat buffers ("buckets", one per dtype and device, cut at
``bucket_cap_mb``), not one message per parameter: a message has a fixed latency, and a
model has tens to hundreds of parameter tensors. Each bucket also carries one "has a
gradient" count per parameter, so a parameter that no rank used keeps ``grad = None``.

BatchNorm's running statistics are not part of the gradient: each rank updates its own
from its own batches during an epoch. At the epoch's end ``sync_running_stats`` replaces
every floating buffer named ``running_mean`` or ``running_var`` by its arithmetic mean over
the ranks (the mean of the ranks' running variances, not a pooled variance);
``num_batches_tracked`` is the same on every rank (the same number of steps) and is left
as it is. During the epoch the ranks' statistics may differ; evaluation and checkpoints
come after the synchronisation.
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import numpy as np

from ember import backend
from ember.autograd.tensor import Tensor
from ember.data.dataloader import DataLoader, default_collate
from ember.data.sampler import numpy_generator
from ember.distributed.comm import ReduceOp, init_process_group
from ember.distributed.sampler import DistributedSampler, _EvalShard
from ember.distributed.strategy import Strategy

__all__ = ["CommStats", "DataParallel"]

_RUNNING_STATS = ("running_mean", "running_var")


@dataclass
class CommStats:
    """What the gradient all-reduces cost: ``steps`` averaged, ``calls`` made, ``bytes`` sent, ``seconds`` spent.

    ``bytes`` counts each rank's buffer once per call (the payload, not MPI's internal traffic).
    """

    steps: int = 0
    calls: int = 0
    bytes: int = 0
    seconds: float = 0.0

    def reset(self) -> None:
        self.steps, self.calls, self.bytes, self.seconds = 0, 0, 0, 0.0

    def per_step(self) -> dict:
        """``{'calls', 'bytes', 'seconds'}`` per averaged step."""
        n = max(self.steps, 1)
        return {"calls": self.calls / n, "bytes": self.bytes / n, "seconds": self.seconds / n}


class _Bucket:
    """Tensors of one dtype and device laid end to end in one flat buffer, plus ``extra`` trailing slots."""

    def __init__(self, tensors: list, extra: int = 0):
        self.tensors = tensors
        self.offsets = np.cumsum([0] + [t.array.size for t in tensors]).tolist()
        first = tensors[0].array
        self.size = self.offsets[-1]
        self.buffer = backend.get_array_module(first).empty(self.size + extra, dtype=first.dtype)

    def spans(self):
        """(tensor, view of its slot in the buffer) pairs."""
        for t, lo, hi in zip(self.tensors, self.offsets[:-1], self.offsets[1:], strict=True):
            yield t, self.buffer[lo:hi]

    def pack(self) -> None:
        for t, slot in self.spans():
            slot[...] = t.array.reshape(-1)

    def unpack(self) -> None:
        """Write the buffer's values back into the tensors, in place (references to them stay valid)."""
        for t, slot in self.spans():
            t.array[...] = slot.reshape(t.shape)
            t._version += 1


def _buckets(tensors: list, cap_bytes: float, extra_per_tensor: bool = False) -> list[_Bucket]:
    """Group ``tensors`` by (device, dtype) in order, starting a new bucket past ``cap_bytes``."""
    groups: dict = {}
    for t in tensors:
        groups.setdefault((backend.device_of(t.array), t.array.dtype.str), []).append(t)
    buckets = []
    for members in groups.values():
        current, nbytes = [], 0
        for t in members:
            if current and nbytes + t.array.nbytes > cap_bytes:
                buckets.append(_Bucket(current, len(current) if extra_per_tensor else 0))
                current, nbytes = [], 0
            current.append(t)
            nbytes += t.array.nbytes
        buckets.append(_Bucket(current, len(current) if extra_per_tensor else 0))
    return buckets


def _layout(tensors) -> tuple:
    return tuple((id(t), t.array.dtype.str, backend.device_of(t.array), t.array.shape) for t in tensors)


class DataParallel(Strategy):
    """Keep ``module`` identical on every rank: broadcast it, average its gradients, sync its statistics.

    Creating it joins the process group (``init_process_group``) and broadcasts rank 0's
    parameters and buffers. Then, in the training loop, call ``average_gradients()`` after
    ``loss.backward()`` and before clipping and ``optimizer.step()``, and
    ``sync_running_stats()`` at the end of each epoch. With one process every call returns
    at once. (Not PyTorch's single-process ``nn.DataParallel``: this is the multi-process
    scheme of ``DistributedDataParallel``, with the averaging called explicitly.) It is also the
    ``Trainer``'s MPI ``Strategy``: ``Trainer(..., distributed=True)`` calls these methods for you.

    Args:
        module: the model (a ``Module``).
        bucket_cap_mb: the largest gradient bucket, in MiB (PyTorch's default, 25).
        group: a ``ProcessGroup`` (default: the one of ``init_process_group()``).

    ``stats`` (a ``CommStats``) counts the gradient all-reduces.

    >>> dp = DataParallel(model)
    >>> loader = dp.shard_loader(DataLoader(train_set, batch_size=32, shuffle=True, seed=0))
    >>> for epoch in range(epochs):
    ...     loader.set_epoch(epoch)
    ...     for x, y in loader:
    ...         opt.zero_grad(); loss_fn(model(x), y).backward()
    ...         dp.average_gradients(); opt.step()
    ...     dp.sync_running_stats()
    """

    def __init__(self, module, bucket_cap_mb: float = 25.0, group=None):
        if bucket_cap_mb <= 0:
            raise ValueError(f"DataParallel: bucket_cap_mb must be positive, got {bucket_cap_mb}")
        self.module, self.cap_bytes = module, float(bucket_cap_mb) * 2**20
        self.group = init_process_group() if group is None else group
        self.stats = CommStats()
        self._grad_plan = self._stat_plan = (None, [])
        self.broadcast_parameters()

    @property
    def rank(self) -> int:
        return self.group.rank

    @property
    def world_size(self) -> int:
        return self.group.world_size

    # -- keeping the replicas identical ---------------------------------------------------------
    def broadcast_parameters(self, src: int = 0) -> None:
        """Copy rank ``src``'s parameters and buffers into every rank's model, in place (one call per dtype)."""
        if self.world_size == 1:
            return
        tensors = list(self.module.parameters()) + list(self.module.buffers())
        for bucket in _buckets(tensors, float("inf")):
            if self.rank == src:
                bucket.pack()
            self.group.broadcast(bucket.buffer, src)
            if self.rank != src:
                bucket.unpack()

    def average_gradients(self) -> None:
        """Replace every parameter's gradient by its mean over the ranks: g ← (1/P) Σ_r g_r.

        A parameter without a gradient on a rank counts as zeros there; one without a
        gradient on every rank keeps ``grad = None``.
        """
        if self.world_size == 1:
            return
        params = [p for p in self.module.parameters() if p.requires_grad]
        buckets = self._plan("_grad_plan", params, extra=True)
        started = time.perf_counter()
        for bucket in buckets:
            self._pack_grads(bucket)
            self.group.all_reduce(bucket.buffer, ReduceOp.SUM)
            self.stats.calls += 1
            self.stats.bytes += bucket.buffer.nbytes
        self.stats.seconds += time.perf_counter() - started
        self.stats.steps += 1
        for bucket in buckets:
            self._unpack_grads(bucket)

    def _plan(self, name: str, tensors: list, extra: bool = False) -> list[_Bucket]:
        """The buckets for ``tensors``, made again only when the parameters changed (e.g. ``model.to``)."""
        layout, buckets = getattr(self, name)
        if layout != _layout(tensors):
            buckets = _buckets(tensors, self.cap_bytes, extra_per_tensor=extra)
            setattr(self, name, (_layout(tensors), buckets))
        return buckets

    @staticmethod
    def _pack_grads(bucket: _Bucket) -> None:
        xp = backend.get_array_module(bucket.buffer)
        for p, slot in bucket.spans():
            slot[...] = 0 if p.grad is None else p.grad.array.reshape(-1)
        bucket.buffer[bucket.size:] = xp.asarray([p.grad is not None for p in bucket.tensors])

    def _unpack_grads(self, bucket: _Bucket) -> None:
        bucket.buffer[:bucket.size] *= 1.0 / self.world_size
        counts = backend.to_numpy(bucket.buffer[bucket.size:])
        for (p, slot), count in zip(bucket.spans(), counts, strict=True):
            if count > 0:  # a fresh array: the buffer is overwritten at the next step
                p.grad = Tensor(slot.reshape(p.shape).copy())

    def sync_running_stats(self) -> None:
        """Replace each floating ``running_mean``/``running_var`` buffer by its mean over the ranks (in place)."""
        if self.world_size == 1:
            return
        stats = [b for name, b in self.module.named_buffers()
                 if name.rsplit(".", 1)[-1] in _RUNNING_STATS and b.array.dtype.kind == "f"]
        if not stats:
            return
        for bucket in self._plan("_stat_plan", stats):
            bucket.pack()
            self.group.all_reduce(bucket.buffer, ReduceOp.AVG)
            bucket.unpack()

    # -- data, logs and decisions ---------------------------------------------------------------
    def shard_loader(self, loader, train: bool = True):
        """This rank's share of ``loader``: the same dataset and options with a ``DistributedSampler``.

        ``train=True``: a shuffled (if ``loader.shuffle``) and padded shard, equal in length
        on every rank; its order follows ``loader.set_epoch``. The shuffle seed is
        ``loader.seed``, or (without one) a draw broadcast from rank 0. ``train=False``: an
        unpadded, unshuffled shard for evaluation (each sample counted once). ``batch_size``
        stays per rank. A loader with a ``DistributedSampler`` keeps it; one that is not an
        ember ``DataLoader`` is taken as already per rank: for training it is stepped in
        lockstep, so that ranks given different numbers of batches all raise instead of hanging.
        """
        if self.world_size == 1 or isinstance(loader, (_ShardedLoader, _Lockstep)):
            return loader
        if not isinstance(loader, DataLoader):
            return _Lockstep.around(loader, self) if train else loader
        if isinstance(loader.sampler, (DistributedSampler, _EvalShard)):
            sampler = loader.sampler  # already per rank; re-wrapped so that it follows set_epoch
        elif loader.sampler is not None or loader.batch_sampler is not None:
            raise ValueError("DataParallel.shard_loader: the DataLoader has its own sampler or batch_sampler; "
                             "give it sampler=DistributedSampler(dataset, ...) instead")
        elif train:
            sampler = DistributedSampler(loader.dataset, self.world_size, self.rank, shuffle=loader.shuffle,
                                         seed=self._shared_seed(loader))
        else:
            sampler = _EvalShard(len(loader.dataset), self.world_size, self.rank)
        collate_fn = None if loader.collate_fn is default_collate else loader.collate_fn
        sharded = _ShardedLoader(loader.dataset, loader.batch_size, sampler=sampler, collate_fn=collate_fn,
                                 drop_last=loader.drop_last, device=loader.device, num_workers=loader.num_workers,
                                 timeout=loader.timeout, worker_init_fn=loader.worker_init_fn,
                                 multiprocessing_context=loader.multiprocessing_context,
                                 prefetch_factor=loader.prefetch_factor, persistent_workers=loader.persistent_workers)
        sharded.set_epoch(loader.epoch)
        return sharded

    def _shared_seed(self, loader) -> int:
        if loader.seed is not None:
            return int(loader.seed)
        rng = numpy_generator(loader.generator)
        return int(self.group.broadcast_object(int(rng.integers(2**31)), 0))  # every rank draws: RNGs stay in step

    def reduce_sums(self, totals: dict, count: int) -> tuple[dict, int]:
        """Sum per-rank ``totals`` (name → Σ value·batch size) and sample ``count`` over the ranks.

        The result is the same on every rank (summed in rank order), so that the epoch's
        means, and every decision taken from them (early stopping, LR on plateau), agree.

        >>> totals, count = dp.reduce_sums({"loss": 12.5}, 50)   # → ({'loss': 25.1}, 100) on 2 ranks
        """
        if self.world_size == 1:
            return totals, count
        merged, n = {}, 0
        for part, c in self.group.all_gather_object((dict(totals), int(count))):
            n += c
            for key, value in part.items():
                merged[key] = merged.get(key, 0.0) + float(value)
        return merged, n

    def any_rank(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is true on some rank (so that all stop at the same step)."""
        if self.world_size == 1:
            return bool(flag)
        buffer = np.array([1 if flag else 0], dtype=np.int32)
        return bool(self.group.all_reduce(buffer, ReduceOp.MAX)[0])

    def __repr__(self):
        return f"DataParallel(rank={self.rank}, world_size={self.world_size}, bucket_cap_mb={self.cap_bytes / 2**20:g})"


class _ShardedLoader(DataLoader):
    """A DataLoader whose distributed sampler follows the loader's epoch counter."""

    def __iter__(self):
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(self.epoch)
        return super().__iter__()


class _Lockstep:
    """A per-rank training loader whose ranks agree, before every batch, that each of them has one.

    A loader that is not an ember DataLoader cannot be split evenly by ``shard_loader``. Were
    one rank to run out of batches first, it would move on to the epoch's end while the others
    wait in the next gradient all-reduce forever; one all-reduce of a flag per batch turns
    that into the same error on every rank.
    """

    def __init__(self, loader, dp: DataParallel):
        self.loader, self.dp = loader, dp

    @staticmethod
    def around(loader, dp: DataParallel) -> _Lockstep:
        return (_SizedLockstep if hasattr(loader, "__len__") else _Lockstep)(loader, dp)

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.loader, "set_epoch"):
            self.loader.set_epoch(epoch)

    def __iter__(self):
        batches, world = iter(self.loader), self.dp.world_size
        for step in itertools.count(1):
            batch = next(batches, _END)
            flag = np.array([batch is not _END], dtype=np.int32)
            ready = int(self.dp.group.all_reduce(flag, ReduceOp.SUM)[0])
            if ready == 0:
                return
            if ready < world:
                raise RuntimeError(
                    f"DataParallel: the ranks' training loaders differ in length: {ready} of {world} ranks have a "
                    f"batch {step} (rank {self.dp.rank} {'does' if flag[0] else 'does not'}). Give every rank "
                    "the same number of batches, e.g. through an ember DataLoader, which shard_loader splits evenly")
            yield batch


class _SizedLockstep(_Lockstep):
    def __len__(self):
        return len(self.loader)


_END = object()  # what next() gives for an exhausted loader (a batch may be None or any other value)
