"""DataLoader with worker processes: order, seeding, worker_init_fn, persistence, errors and shutdown.

Every test is bounded: the loaders carry a ``timeout`` and an alarm fails any test that runs
past its limit, so a bug shows as a failure, never as a hung suite.
"""
import os
import random
import signal
import time
from collections import namedtuple

import numpy as np
import pytest
import torch.utils.data as tud

import ember as em
from ember.data import DataLoader, Dataset, IterableDataset, RandomSampler, TensorDataset, get_worker_info
from ember.data import worker as worker_module

LIMIT_S = 60
Sample = namedtuple("Sample", "x index")


@pytest.fixture(autouse=True)
def bounded():
    def expire(signum, frame):
        raise TimeoutError(f"test ran past {LIMIT_S} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(LIMIT_S)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _loader(dataset, **kwargs):
    return DataLoader(dataset, timeout=20, **kwargs)


def _tensor_dataset(n=23):
    return TensorDataset(np.arange(n * 2, dtype=np.float32).reshape(n, 2), np.arange(n, dtype=np.int64))


class Items(Dataset):
    """Per-sample work without a fast path; each sample says where and with what randomness it was made."""

    def __init__(self, n=12):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        info = get_worker_info()
        return {"sample": Sample(em.tensor(np.full(3, i, dtype=np.float32)), i),
                "worker": -1 if info is None else info.id, "seed": -1 if info is None else info.seed,
                "pid": os.getpid(), "init": _INIT.get("worker", -2),
                "draws": em.tensor([float(em.rand(1).item()), np.random.rand(), random.random()])}


_INIT = {}


def _record_init(worker_id):
    _INIT["worker"] = worker_id


class Shards(IterableDataset):
    """range(n), split across the workers by get_worker_info (either library's)."""

    def __init__(self, n, info=get_worker_info):
        self.n, self.info = n, info

    def __iter__(self):
        info = self.info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))


class TorchShards(Shards, tud.IterableDataset):
    pass


# -- the same batches as in-process --------------------------------------------------------------
@pytest.mark.parametrize("num_workers", [1, 2, 3])
def test_workers_give_the_in_process_batches_in_order(num_workers):
    ds = _tensor_dataset()
    serial = [(x.numpy(), y.numpy()) for x, y in DataLoader(ds, batch_size=4, shuffle=True, seed=3)]
    parallel = list(_loader(ds, batch_size=4, shuffle=True, seed=3, num_workers=num_workers))
    assert len(parallel) == len(serial) == 6
    for (x, y), (xs, ys) in zip(parallel, serial, strict=True):
        assert isinstance(x, em.Tensor) and x.dtype == np.float32 and y.dtype == np.int64
        np.testing.assert_array_equal(x.numpy(), xs)
        np.testing.assert_array_equal(y.numpy(), ys)


def test_nested_structures_come_back_as_ember_tensors():
    batch = next(iter(_loader(Items(), batch_size=4, num_workers=2)))
    assert isinstance(batch["sample"], Sample) and isinstance(batch["sample"].x, em.Tensor)
    assert batch["sample"].x.shape == (4, 3) and batch["sample"].index.tolist() == [0, 1, 2, 3]
    assert isinstance(batch["draws"], em.Tensor) and batch["worker"].tolist() == [0, 0, 0, 0]
    collated = next(iter(_loader(Items(), batch_size=2, num_workers=2, collate_fn=lambda s: [d["sample"] for d in s])))
    assert isinstance(collated[1].x, em.Tensor) and collated[1].index == 1


def test_samplers_and_global_order_are_drawn_in_the_main_process():
    ds = _tensor_dataset()
    em.manual_seed(5)
    serial = [y.tolist() for _, y in DataLoader(ds, batch_size=5, shuffle=True)]
    em.manual_seed(5)
    assert [y.tolist() for _, y in _loader(ds, batch_size=5, shuffle=True, num_workers=2)] == serial
    start = time.perf_counter()
    huge = _loader(ds, batch_size=4, num_workers=2, sampler=RandomSampler(ds, replacement=True, num_samples=10**10))
    assert next(iter(huge))[0].shape == (4, 2) and time.perf_counter() - start < 20


def test_device_and_batch_size_none_with_workers():
    out = list(_loader(_tensor_dataset(5), batch_size=None, num_workers=2, device="cpu"))
    assert [int(y.item()) for _, y in out] == [0, 1, 2, 3, 4] and isinstance(out[0][0], em.Tensor)


def test_out_of_order_delivery_still_gives_every_batch_once():
    batches = [y.tolist() for _, y in _loader(_tensor_dataset(), batch_size=3, num_workers=3, in_order=False)]
    assert sorted(i for b in batches for i in b) == list(range(23))


# -- seeding and worker_init_fn -----------------------------------------------------------------
def test_each_worker_is_seeded_with_base_seed_plus_its_id_and_runs_init_fn():
    batches = list(_loader(Items(8), batch_size=1, num_workers=2, worker_init_fn=_record_init))
    workers = [int(b["worker"].item()) for b in batches]
    seeds = [int(b["seed"].item()) for b in batches]
    assert workers == [0, 1] * 4 and [int(b["init"].item()) for b in batches] == workers
    assert seeds[1] == seeds[0] + 1 and len(set(seeds)) == 2
    for b in batches[:2]:  # each worker's first draws come from its freshly seeded generators
        seed = int(b["seed"].item())
        em.manual_seed(seed)
        np.random.seed(np.random.SeedSequence(seed).generate_state(4))
        random.seed(seed)
        expected = [float(em.rand(1).item()), np.random.rand(), random.random()]
        np.testing.assert_allclose(b["draws"].numpy()[0], expected, rtol=1e-6)


def test_worker_draws_differ_across_workers_and_epochs_but_repeat_for_a_seeded_loader():
    def draws(loader):
        return np.concatenate([b["draws"].numpy() for b in loader])

    a = _loader(Items(8), batch_size=2, num_workers=2, seed=1)
    first, second = draws(a), draws(a)
    assert not np.array_equal(first[:2], first[2:4])  # worker 0's batch vs worker 1's
    assert not np.array_equal(first, second)
    b = _loader(Items(8), batch_size=2, num_workers=2, seed=1)
    np.testing.assert_array_equal(draws(b), first)
    assert get_worker_info() is None


# -- persistence and shutdown -------------------------------------------------------------------
def test_persistent_workers_survive_epochs_and_stop_with_the_loader():
    loader = _loader(Items(8), batch_size=2, num_workers=2, persistent_workers=True, shuffle=True, seed=0)
    pids = [{int(p) for b in loader for p in b["pid"].tolist()} for _ in range(2)]
    assert pids[0] == pids[1] and os.getpid() not in pids[0] and len(pids[0]) == 2
    assert loader.epoch == 2
    processes = loader._pool.workers
    del loader
    for p in processes:
        p.join(timeout=10)
        assert not p.is_alive()


def test_plain_workers_are_new_each_epoch_and_stop_when_it_ends():
    loader = _loader(Items(4), batch_size=2, num_workers=2)
    pids = [{int(p) for b in loader for p in b["pid"].tolist()} for _ in range(2)]
    assert not pids[0] & pids[1]
    it = iter(loader)
    next(it)
    processes = it.pool.workers
    list(it)
    assert not any(p.is_alive() for p in processes)


@pytest.mark.parametrize("persistent, in_order", [(True, True), (True, False), (False, True)])
def test_an_abandoned_epoch_leaves_the_next_one_intact(persistent, in_order):
    loader = _loader(_tensor_dataset(), batch_size=2, num_workers=2, persistent_workers=persistent,
                     in_order=in_order)
    it = iter(loader)
    next(it)
    time.sleep(0.3)  # the rest of the abandoned epoch's prefetched batches arrive meanwhile
    del it
    batches = [y.tolist() for _, y in loader]
    assert sorted(i for b in batches for i in b) == list(range(23))


# -- iterable datasets ---------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:This DataLoader will create")  # torch's advice on this 2-core machine
@pytest.mark.parametrize("num_workers, batch_size, drop_last", [(2, 2, False), (3, 2, False), (3, 2, True),
                                                                (2, None, False)])
def test_iterable_dataset_shards_and_interleaves_like_torch(num_workers, batch_size, drop_last):
    ours = [b.tolist() if isinstance(b, em.Tensor) else b for b in
            _loader(Shards(11), batch_size=batch_size, drop_last=drop_last, num_workers=num_workers)]
    theirs = [b.tolist() if hasattr(b, "tolist") else b for b in
              tud.DataLoader(TorchShards(11, tud.get_worker_info), batch_size=batch_size, drop_last=drop_last,
                             num_workers=num_workers, timeout=20)]
    assert ours == theirs


def test_persistent_workers_restart_an_iterable_dataset_every_epoch():
    loader = _loader(Shards(7), batch_size=2, num_workers=2, persistent_workers=True)
    epochs = [sorted(i for b in loader for i in b.tolist()) for _ in range(2)]
    assert epochs == [list(range(7))] * 2


# -- errors --------------------------------------------------------------------------------------
class Faulty(Dataset):
    def __init__(self, bad=5, how="raise"):
        self.bad, self.how = bad, how

    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == self.bad:
            if self.how == "raise":
                raise KeyError(f"no sample {i}")
            if self.how == "die":
                os._exit(3)
            time.sleep(30)
        return i


def test_a_workers_exception_is_raised_in_the_main_process_naming_the_worker():
    loader = _loader(Faulty(), batch_size=2, num_workers=2)
    start = time.perf_counter()
    with pytest.raises(KeyError, match=r"worker process 0(.|\n)*no sample 5"):
        list(loader)
    assert time.perf_counter() - start < 20


def test_an_exception_stops_the_workers_and_a_later_epoch_starts_fresh():
    loader = _loader(Faulty(bad=7), batch_size=2, num_workers=2, persistent_workers=True)
    it = iter(loader)
    processes = it.pool.workers
    with pytest.raises(KeyError):
        list(it)
    for p in processes:
        p.join(timeout=10)
        assert not p.is_alive()
    assert loader._pool is None
    loader.dataset.bad = -1  # the persistent workers held the old copy; fresh ones see the change
    assert [b.tolist() for b in loader] == [[0, 1], [2, 3], [4, 5], [6, 7]]


def test_worker_init_fn_errors_and_unpicklable_batches_are_reported():
    def broken_init(worker_id):
        raise ValueError(f"cannot start {worker_id}")

    with pytest.raises(ValueError, match="worker process 0 while starting(.|\n)*cannot start 0"):
        list(_loader(Faulty(bad=-1), batch_size=2, num_workers=1, worker_init_fn=broken_init))
    with pytest.raises(Exception, match="worker process"):
        list(_loader(Faulty(bad=-1), batch_size=2, num_workers=1, collate_fn=lambda s: (lambda: s)))


def test_a_dead_worker_is_reported_not_waited_for():
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        list(_loader(Faulty(how="die"), batch_size=2, num_workers=2))
    assert time.perf_counter() - start < 20


def test_timeout_raises_and_a_stuck_worker_is_terminated(monkeypatch):
    monkeypatch.setattr(worker_module, "_JOIN_S", 0.5)
    loader = DataLoader(Faulty(bad=0, how="sleep"), batch_size=2, num_workers=1, timeout=0.5)
    it = iter(loader)
    processes = it.pool.workers
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match="timed out after 0.5 seconds"):
        next(it)
    assert time.perf_counter() - start < 10 and not any(p.is_alive() for p in processes)


# -- other start methods and the trainer ------------------------------------------------------------
def test_spawn_context():
    loader = _loader(_tensor_dataset(6), batch_size=4, num_workers=1, multiprocessing_context="spawn")
    assert [y.tolist() for _, y in loader] == [[0, 1, 2, 3], [4, 5]]


def test_trainer_with_workers_matches_in_process_loading():
    from ember import nn, optim
    from ember.train import Trainer

    rng = np.random.default_rng(0)
    ds = TensorDataset(rng.normal(size=(64, 3)).astype(np.float32), rng.integers(0, 2, 64))

    def fit(num_workers):
        em.manual_seed(0)
        model = nn.Linear(3, 2)
        trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
        history = trainer.fit(_loader(ds, batch_size=16, shuffle=True, seed=2, num_workers=num_workers), epochs=2)
        return history["loss"]

    np.testing.assert_allclose(fit(2), fit(0), rtol=1e-6)
