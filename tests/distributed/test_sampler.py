"""In-process tests of ember.distributed: the sampler, the one-process group, and DataParallel's
bucketing against a stand-in group that records its calls (the real ranks are in test_mpi.py)."""
import numpy as np
import pytest
from distributed_helpers import no_launcher  # noqa: F401  (autouse: every test runs outside any launcher)

import ember as em
from ember import nn
from ember.data import DataLoader, TensorDataset
from ember.distributed import comm
from ember.distributed.data_parallel import DataParallel
from ember.distributed.launch import mpiexec_command
from ember.distributed.sampler import DistributedSampler
from ember.train import EarlyStopping, LRSchedulerCallback, ModelCheckpoint, ProgressBar

# -- DistributedSampler ------------------------------------------------------------------------


def _shards(n, world, **kwargs):
    return [list(DistributedSampler(range(n), world, r, **kwargs)) for r in range(world)]


@pytest.mark.parametrize("n, world", [(12, 2), (12, 3), (10, 4), (7, 2), (3, 5)])
def test_shards_are_equal_in_length_and_cover_the_dataset(n, world):
    shards = _shards(n, world, seed=3)
    assert {len(s) for s in shards} == {-(-n // world)}
    assert set().union(*shards) == set(range(n))
    if n % world == 0:  # no padding: disjoint
        assert sum(len(s) for s in shards) == len(set().union(*shards))


def test_padding_repeats_the_start_of_the_order_as_pytorch():
    order = list(range(10)) + [0, 1]  # padded to 12 = 3 per rank
    assert _shards(10, 4, shuffle=False) == [order[r::4] for r in range(4)]


def test_drop_last_cuts_the_tail_instead():
    shards = _shards(10, 4, shuffle=False, drop_last=True)
    assert shards == [[0, 4], [1, 5], [2, 6], [3, 7]]


def test_every_rank_deals_from_one_permutation_per_epoch():
    """Rank r takes positions r, r+P, ... of the permutation drawn from (seed, epoch), as DataLoader(seed) does."""
    n, world, seed = 20, 2, 5
    for epoch in range(3):
        samplers = [DistributedSampler(range(n), world, r, seed=seed) for r in range(world)]
        for s in samplers:
            s.set_epoch(epoch)
        perm = np.random.default_rng([seed, epoch]).permutation(n)
        for r, s in enumerate(samplers):
            assert list(s) == perm[r::world].tolist()


def test_one_replica_gives_the_seeded_dataloader_order():
    ds = TensorDataset(np.arange(13.0), np.arange(13))
    loader = DataLoader(ds, batch_size=13, shuffle=True, seed=4)
    sampler = DistributedSampler(ds, num_replicas=1, rank=0, seed=4)
    for epoch in range(2):
        loader.set_epoch(epoch)
        sampler.set_epoch(epoch)
        (_, y), = list(loader)
        assert y.numpy().tolist() == list(sampler)


def test_epochs_reshuffle_and_the_same_epoch_repeats():
    s = DistributedSampler(range(50), 2, 0, seed=1)
    first = list(s)
    assert list(s) == first
    s.set_epoch(1)
    assert list(s) != first
    s.set_epoch(0)
    assert list(s) == first


def test_batches_of_the_ranks_make_up_the_big_batch():
    """The batch i of B on each of P ranks holds exactly the samples of batch i of P·B in one process."""
    n, world, b, seed = 40, 2, 4, 9
    big = np.random.default_rng([seed, 0]).permutation(n)
    loaders = [DataLoader(TensorDataset(np.arange(n)), batch_size=b,
                          sampler=DistributedSampler(range(n), world, r, seed=seed)) for r in range(world)]
    per_rank = [[x.numpy().tolist() for (x,) in loader] for loader in loaders]
    for i in range(n // (world * b)):
        assert sorted(per_rank[0][i] + per_rank[1][i]) == sorted(big[i * world * b:(i + 1) * world * b].tolist())


@pytest.mark.parametrize("world, rank", [(2, 2), (2, -1), (0, 0)])
def test_sampler_rejects_a_bad_rank(world, rank):
    with pytest.raises(ValueError, match="DistributedSampler"):
        DistributedSampler(range(4), world, rank)


def test_sampler_defaults_to_the_process_group():
    s = DistributedSampler(range(6))
    assert (s.num_replicas, s.rank, len(s)) == (1, 0, 6)


# -- the one-process group ---------------------------------------------------------------------


def test_without_a_launcher_the_group_is_this_process():
    assert not comm.launched_by_mpi()
    group = comm.init_process_group()
    assert type(group) is comm.ProcessGroup and comm.is_initialized()
    assert (comm.get_rank(), comm.get_world_size(), comm.is_main_process()) == (0, 1, True)
    x = np.array([1.0, 2.0])
    assert comm.all_reduce(x, op="avg") is x and x.tolist() == [1.0, 2.0]
    parts = [None]
    comm.all_gather_object(parts, {"a": 1})
    assert parts == [{"a": 1}]


def test_launcher_variables_are_detected(monkeypatch):
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    assert comm.launched_by_mpi()


def test_bad_op_and_backend_are_named():
    with pytest.raises(ValueError, match="'sum', 'avg', 'max' or 'min'"):
        comm.all_reduce(np.zeros(2), op="mean")
    comm.destroy_process_group()
    with pytest.raises(ValueError, match="backend must be 'mpi' or 'nccl'"):
        comm.init_process_group(backend="ucc")


def test_mpiexec_command_starts_argv_on_n_ranks():
    cmd = mpiexec_command(2, ["python", "x.py"], mpiexec="/bin/true")
    assert cmd[:3] == ["/bin/true", "-n", "2"] and cmd[-2:] == ["python", "x.py"]


# -- DataParallel against a recording stand-in group ---------------------------------------------


class EchoGroup(comm.ProcessGroup):
    """Rank ``rank`` of ``world_size`` identical ranks: a sum is world_size × the value; calls are recorded."""

    def __init__(self, world_size=2, rank=0):
        super().__init__()
        self.world_size, self.rank, self.calls = world_size, rank, []

    def all_reduce(self, array, op="sum"):
        self.calls.append(("all_reduce", array.size, array.dtype))
        if op == "sum":
            array *= self.world_size
        return array

    def broadcast(self, array, src=0):
        self.calls.append(("broadcast", array.size, array.dtype))
        return array

    def all_gather_object(self, obj):
        return [obj] * self.world_size


def _model():
    em.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def _backward(model):
    model.zero_grad()
    model(em.randn(5, 3)).sum().backward()
    return {n: p.grad.numpy().copy() for n, p in model.named_parameters()}


def test_gradients_travel_in_one_buffer_per_step():
    model, group = _model(), EchoGroup()
    dp = DataParallel(model, group=group)
    assert [c[0] for c in group.calls] == ["broadcast", "broadcast"]  # float32 tensors, int64 counter
    group.calls.clear()
    grads = _backward(model)
    dp.average_gradients()
    n_params = sum(p.numel() for p in model.parameters())
    n_tensors = len(list(model.parameters()))
    assert group.calls == [("all_reduce", n_params + n_tensors, np.float32)]
    assert dp.stats.per_step()["bytes"] == 4 * (n_params + n_tensors)
    for name, p in model.named_parameters():  # identical ranks: the average is each rank's gradient
        np.testing.assert_allclose(p.grad.numpy(), grads[name], rtol=1e-6)


def test_small_buckets_split_the_gradient_and_dtypes_never_mix():
    model, group = _model(), EchoGroup()
    model[2].double()
    dp = DataParallel(model, bucket_cap_mb=40 / 2**20, group=group)  # 40 bytes: ≤ 10 float32 per bucket
    group.calls.clear()
    model.zero_grad()
    model[2](model[1](model[0](em.randn(5, 3))).to(dtype=np.float64)).sum().backward()
    dp.average_gradients()
    dtypes = [c[2] for c in group.calls]
    assert dtypes.count(np.float64) >= 1 and dtypes.count(np.float32) > 1
    assert dp.stats.calls == len(group.calls) and dp.stats.steps == 1


def test_a_parameter_no_rank_used_keeps_no_gradient():
    model = _model()
    dp = DataParallel(model, group=EchoGroup())
    model.zero_grad()
    model[0](em.randn(2, 3)).sum().backward()  # layers 1 and 2 unused
    dp.average_gradients()
    assert model[0].weight.grad is not None and model[2].weight.grad is None


def test_running_stats_are_averaged_and_counters_left_alone():
    model, group = _model(), EchoGroup()
    dp = DataParallel(model, group=group)
    group.calls.clear()
    dp.sync_running_stats()
    assert group.calls == [("all_reduce", 8, np.float32)]  # running_mean and running_var of BatchNorm1d(4)


def test_metric_sums_are_summed_over_ranks():
    dp = DataParallel(_model(), group=EchoGroup(world_size=3))
    assert dp.reduce_sums({"loss": 2.0, "accuracy": 1.5}, 4) == ({"loss": 6.0, "accuracy": 4.5}, 12)


def test_only_rank_zero_runs_the_callbacks_that_write():
    opt = em.optim.SGD(_model().parameters(), lr=0.1)
    writers = [ProgressBar(), ModelCheckpoint("unused")]
    others = [EarlyStopping(), LRSchedulerCallback(em.optim.lr_scheduler.StepLR(opt, 1))]
    rank0, rank1 = (DataParallel(_model(), group=EchoGroup(rank=r)) for r in (0, 1))
    assert all(rank0.runs_callback(c) for c in writers + others)
    assert [rank1.runs_callback(c) for c in writers + others] == [False, False, True, True]


def test_shard_loader_gives_this_ranks_share():
    ds = TensorDataset(np.arange(10))
    dp = DataParallel(_model(), group=EchoGroup(rank=1))
    loader = dp.shard_loader(DataLoader(ds, batch_size=2, shuffle=True, seed=3))
    first = np.concatenate([x.numpy() for (x,) in loader])
    assert first.tolist() == np.random.default_rng([3, 0]).permutation(10)[1::2].tolist()
    loader.set_epoch(1)
    second = np.concatenate([x.numpy() for (x,) in loader])
    assert second.tolist() == np.random.default_rng([3, 1]).permutation(10)[1::2].tolist()
    evaluation = dp.shard_loader(DataLoader(TensorDataset(np.arange(7)), batch_size=10), train=False)
    assert [x.numpy().tolist() for (x,) in evaluation] == [[1, 3, 5]]


def test_shard_loader_refuses_a_custom_sampler():
    dp = DataParallel(_model(), group=EchoGroup())
    with pytest.raises(ValueError, match="DistributedSampler"):
        dp.shard_loader(DataLoader(TensorDataset(np.arange(4)), sampler=[3, 2, 1, 0]))


def test_one_process_data_parallel_changes_nothing():
    model = _model()
    dp = DataParallel(model)
    grads = _backward(model)
    dp.average_gradients()
    loader = DataLoader(TensorDataset(np.arange(4)))
    assert dp.world_size == 1 and dp.shard_loader(loader) is loader and dp.stats.calls == 0
    assert all(np.array_equal(p.grad.numpy(), grads[n]) for n, p in model.named_parameters())
