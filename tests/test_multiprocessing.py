"""``ember.multiprocessing``: Python's multiprocessing under PyTorch's name, and ``spawn``."""
import multiprocessing

import numpy as np
import pytest

import ember as em
import ember.multiprocessing as mp


def _train_rank(rank, model, steps):
    optimizer = em.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(steps):
        optimizer.zero_grad()
        model(em.full((2, 3), float(rank + 1))).pow(2).sum().backward()
        optimizer.step()


def _fail(rank):
    raise SystemExit(3 if rank == 1 else 0)


def test_spawn_runs_each_rank_on_one_shared_model():
    model = em.nn.Linear(3, 1).share_memory()
    before = model.weight.detach().numpy().copy()
    assert mp.spawn(_train_rank, args=(model, 2), nprocs=2, start_method="fork") is None
    assert not np.allclose(model.weight.detach().numpy(), before)  # both ranks' steps reached our weights


def test_spawn_without_join_and_a_failing_rank():
    context = mp.spawn(_fail, nprocs=2, join=False, start_method="fork")
    assert len(context.pids()) == 2
    with pytest.raises(RuntimeError, match="process 1 terminated with exit code 3"):
        context.join()


def test_the_names_of_multiprocessing_are_there():
    assert mp.Process is multiprocessing.Process and mp.Queue is not None
    assert {"Process", "Queue", "get_context", "spawn"} <= set(mp.__all__)
