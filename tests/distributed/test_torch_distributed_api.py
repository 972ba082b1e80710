"""PyTorch's ``torch.distributed`` names on ember: the one-process group, the collectives' signatures,
``DistributedDataParallel`` (transparent alone; gradient averaging checked against a stand-in
group in process), and two real ranks under ``mpiexec -n 2`` matching one process on the full batch.

The MPI test needs mpi4py and an ``mpiexec`` (the ``test`` extra installs both); without them it
fails with a message saying so, it never skips.
"""
import copy
import json

import numpy as np
import pytest
from distributed_helpers import WORLD, load_script, mpirun_ok, no_launcher  # noqa: F401  (autouse)

import ember as em
import ember.distributed as dist
from ember import nn
from ember.distributed import comm
from ember.distributed.ddp import DistributedDataParallel

# -- the process group under PyTorch's names -------------------------------------------------------------


@pytest.mark.parametrize("backend", [None, "mpi", "gloo", "nccl", "GLOO", "cpu:gloo,cuda:nccl"])
def test_init_process_group_takes_torch_backend_names_and_runs_alone(backend):
    assert dist.is_available() and not dist.is_initialized()
    dist.init_process_group(backend, init_method="env://", world_size=1, rank=0)
    assert dist.is_initialized()
    assert (dist.get_rank(), dist.get_world_size()) == (0, 1)
    assert dist.get_backend() == (backend or "mpi")
    assert dist.get_rank(group=dist.group.WORLD) == 0
    dist.destroy_process_group()
    assert not dist.is_initialized()


def test_unknown_backend_and_a_world_the_launcher_did_not_start_are_named():
    with pytest.raises(ValueError, match="backend must be 'mpi' or 'nccl'"):
        dist.init_process_group("ucc")
    with pytest.raises(RuntimeError, match="mpiexec -n 4"):
        dist.init_process_group("gloo", world_size=4, rank=0)
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="rank=1"):
        dist.init_process_group("gloo", rank=1)


def test_reduce_op_names_and_one_process_collectives_on_tensors():
    dist.init_process_group("gloo")
    for op in (dist.ReduceOp.SUM, dist.ReduceOp.AVG, dist.ReduceOp.MAX, dist.ReduceOp.MIN, dist.ReduceOp.PRODUCT):
        t = em.tensor([1.5, -2.0])
        dist.all_reduce(t, op=op)
        assert t.tolist() == [1.5, -2.0]
    with pytest.raises(ValueError, match="'product'"):
        dist.all_reduce(em.tensor([1.0]), op="mean")
    with pytest.raises(TypeError, match="floating-point"):
        dist.all_reduce(em.tensor([1, 2]), op=dist.ReduceOp.AVG)
    t = em.tensor([3.0, 4.0])
    assert dist.broadcast(t, src=0) is t and t.tolist() == [3.0, 4.0]
    assert dist.reduce(t, dst=0) is t


def test_all_gather_fills_the_list_in_place():
    parts = [em.zeros(2, 3)]
    source = em.arange(6.0).reshape(2, 3)
    assert dist.all_gather(parts, source) is None
    assert parts[0].tolist() == source.tolist() and parts[0] is not source
    with pytest.raises(ValueError, match="1 ranks"):
        dist.all_gather([em.zeros(2, 3), em.zeros(2, 3)], source)
    with pytest.raises(ValueError, match="shape"):
        dist.all_gather([em.zeros(3)], source)
    out = em.zeros(2, 3)
    dist.all_gather_into_tensor(out, source)
    assert out.tolist() == source.tolist()


def test_async_op_returns_a_finished_work_and_barrier_returns():
    work = dist.all_reduce(em.ones(2), async_op=True)
    assert work.wait() and work.is_completed()
    assert dist.broadcast(em.ones(2), 0, async_op=True).wait()
    assert dist.barrier() is None and dist.barrier(async_op=True).is_completed()
    assert dist.get_backend() == "mpi"  # the group was made on first use, with the default backend


# -- DistributedDataParallel in one process ----------------------------------------------------------------


def _model():
    em.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3)).to(dtype=np.float64)


def _grads(model):
    return {n: p.grad.numpy().copy() for n, p in model.named_parameters() if p.grad is not None}


def test_ddp_alone_is_transparent_outputs_gradients_and_state_dict():
    plain, model = _model(), _model()
    ddp = DistributedDataParallel(model, device_ids=None)
    assert ddp.module is model and isinstance(ddp, nn.Module)
    x = em.randn(5, 4, dtype=em.float64)
    out, ref = ddp(x), plain(x)
    np.testing.assert_array_equal(out.detach().numpy(), ref.detach().numpy())
    (out ** 2).sum().backward()
    (ref ** 2).sum().backward()
    ours, theirs = _grads(model), _grads(plain)
    assert ours.keys() == theirs.keys()
    for name in ours:
        np.testing.assert_array_equal(ours[name], theirs[name])
    keys = list(ddp.state_dict())
    assert keys == ["module." + k for k in plain.state_dict()]
    assert "module.1.running_mean" in keys
    fresh = DistributedDataParallel(_model())
    fresh.load_state_dict(ddp.state_dict())
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(fresh.state_dict().values(),
                                                                      ddp.state_dict().values(), strict=True))
    with ddp.no_sync():
        ddp(x).sum().backward()
    assert not any(p._hooks for p in model.parameters())  # one process: nothing to hook
    ddp.eval()
    assert not model[1].training


def test_ddp_refuses_what_torch_refuses():
    with pytest.raises(TypeError, match="Module"):
        DistributedDataParallel(lambda x: x)
    frozen = nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(RuntimeError, match="doesn't have any parameter"):
        DistributedDataParallel(frozen)


class TwinGroup(comm.ProcessGroup):
    """Rank 0 of two whose partner's gradients are always 3× this rank's: a sum is 4×, the mean 2×.

    Broadcasts leave the data as it is (the partner holds the same weights); calls are recorded.
    """

    def __init__(self):
        super().__init__()
        self.world_size, self.calls = 2, []

    def all_reduce(self, array, op="sum"):
        self.calls.append(("all_reduce", array.size))
        array *= 4
        return array

    def broadcast(self, array, src=0):
        self.calls.append(("broadcast", array.size))
        return array


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk, self.a, self.b, self.unused = nn.Linear(3, 4), nn.Linear(4, 2), nn.Linear(4, 1), nn.Linear(2, 2)
        self.register_buffer("offset", em.zeros(3))

    def forward(self, x):
        h = (x + self.offset).tanh()
        h = self.trunk(h).relu()
        return {"a": self.a(h), "b": self.b(h)}


def _twin(model=None):
    em.manual_seed(1)
    model = model or TwoHeads().to(dtype=np.float64)
    reference = copy.deepcopy(model)
    group = TwinGroup()
    return DistributedDataParallel(model, process_group=group), model, reference, group


def _loss(out):
    return (out["a"] ** 2).sum() + out["b"].sum()


def test_ddp_averages_every_gradient_once_when_backward_returns():
    ddp, model, reference, group = _twin()
    assert [c[0] for c in group.calls] == ["broadcast"]  # construction: parameters and buffers, one dtype
    assert all(p._hooks for p in model.parameters())
    group.calls.clear()
    x = em.randn(5, 3, dtype=em.float64)
    _loss(ddp(x)).backward()
    _loss(reference(x)).backward()
    assert [c[0] for c in group.calls] == ["broadcast", "all_reduce"]  # buffers before forward; one bucket
    local = _grads(reference)
    averaged = _grads(model)
    assert averaged.keys() == local.keys() and "unused.weight" not in averaged
    for name in local:
        np.testing.assert_allclose(averaged[name], 2 * local[name], rtol=1e-12, err_msg=name)
    assert model.unused.weight.grad is None


def test_no_sync_accumulates_locally_and_the_next_backward_averages_the_sum():
    ddp, model, reference, group = _twin()
    x1, x2 = em.randn(4, 3, dtype=em.float64), em.randn(6, 3, dtype=em.float64)
    group.calls.clear()
    with ddp.no_sync():
        _loss(ddp(x1)).backward()
    assert not [c for c in group.calls if c[0] == "all_reduce"]
    _loss(ddp(x2)).backward()
    assert [c[0] for c in group.calls].count("all_reduce") == 1
    _loss(reference(x1)).backward()
    _loss(reference(x2)).backward()
    local = _grads(reference)
    for name, g in _grads(model).items():
        np.testing.assert_allclose(g, 2 * local[name], rtol=1e-12, err_msg=name)


def test_forwards_without_gradients_do_not_arm_and_a_partial_backward_is_reported():
    ddp, model, _, group = _twin()
    x = em.randn(4, 3, dtype=em.float64)
    with em.no_grad():
        ddp(x)
    assert ddp._expected is None
    out = ddp(x)
    out["b"].sum().backward()  # head a's parameters never receive a gradient
    assert model.a.weight.grad is None
    with pytest.raises(RuntimeError, match="only part of the parameters"):
        ddp(x)


def test_optimizer_steps_through_ddp_match_the_doubled_gradient_steps():
    ddp, model, reference, _ = _twin()
    opt = em.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
    ref_opt = em.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)  # 2× lr × local grad = lr × 2× grad
    for _ in range(3):
        x = em.randn(5, 3, dtype=em.float64)
        for module, optimizer in ((ddp, opt), (reference, ref_opt)):
            optimizer.zero_grad()
            _loss(module(x)).backward()
            optimizer.step()
    for (name, p), q in zip(model.named_parameters(), reference.parameters(), strict=True):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


# -- two real ranks under mpiexec ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mpi_run(tmp_path_factory):
    return mpirun_ok("mpi_ddp.py", tmp_path_factory.mktemp("mpi_ddp"))


def test_torch_named_collectives_across_two_ranks(mpi_run):
    for r in range(WORLD):
        got = json.loads((mpi_run / f"api_rank{r}.json").read_text())
        assert (got["rank"], got["world"], got["initialized"], got["available"]) == (r, WORLD, True, True)
        assert got["backend"] == "gloo"
        assert got["SUM"] == [3.0, -5.0] and got["AVG"] == [1.5, -2.5]
        assert got["MAX"] == [2.0, -2.0] and got["MIN"] == [1.0, -3.0] and got["PRODUCT"] == [2.0, 6.0]
        assert got["broadcast"] == [20.0] * 3
        assert got["all_gather"] == [[0, 0], [1, 2]]
        assert got["async"]


def test_ddp_on_two_ranks_with_half_batches_matches_one_process_on_the_full_batch(mpi_run):
    script = load_script("mpi_ddp")
    reference = script.reference(WORLD)
    initial = script.state_arrays(script.build(script.INIT_SEED))
    ranks = [dict(np.load(mpi_run / f"ddp_rank{r}.npz")) for r in range(WORLD)]
    for name, value in reference.items():
        assert all(np.array_equal(ranks[0][name], r[name]) for r in ranks[1:]), f"ranks differ in {name}"
        np.testing.assert_allclose(ranks[0][name], value, rtol=1e-10, atol=1e-12, err_msg=name)
    assert not np.allclose(reference["body.0.weight"], initial["body.0.weight"])  # training moved the weights
    np.testing.assert_array_equal(ranks[0]["unused.weight"], initial["unused.weight"])  # no gradient, no step
    np.testing.assert_array_equal(ranks[1]["shift"], initial["shift"])  # rank 0's buffer everywhere
    for r in range(WORLD):
        record = json.loads((mpi_run / f"ddp_rank{r}.json").read_text())
        assert record["keys"] == ["module." + k for k in reference]
        assert record["steps"] == script.STEPS and record["calls"] == script.STEPS  # one all-reduce per step
