"""RandomSearch on an executor the caller manages: a Dask cluster, anything with ``submit``, anything with ``map``.

The trials run wherever the executor puts them, and the results equal a serial run's. The
user guide's Dask example (docs/hyperparameter-search.md) runs as written: its ```python
blocks are the script (a ```py block shows code for a cluster the suite cannot start, Ray's).
"""
import os
import re
import subprocess
import sys
from concurrent.futures import Future
from pathlib import Path

import pytest

from ember.train.search import Choice, RandomSearch, Uniform

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "hyperparameter-search.md"
SPACE = {"x": Uniform(-1.0, 1.0), "width": Choice([8, 16, 32])}


def parabola(params):
    return -(params["x"] - 0.3) ** 2 - 0.01 * params["width"]


def scored(results):
    return [(t["trial"], t["round"], t["params"], t["score"]) for t in results.trials]


def serial_run(objective=parabola):
    return RandomSearch(objective, SPACE, trials=5, seed=4, zoom_rounds=1).run()


# -- executors without Dask: the protocol ----------------------------------------------------------------------


class FuturesOnly:
    """Dask's shape without Dask: ``submit`` gives a future, ``map`` gives futures too (not results)."""

    def __init__(self):
        self.submitted = 0

    def submit(self, fn, arg):
        self.submitted += 1
        future = Future()
        future.set_result(fn(arg))
        return future

    def map(self, fn, iterable):
        return [self.submit(fn, arg) for arg in iterable]


class MergesEqualCalls(FuturesOnly):
    """Runs a call once per distinct argument, as a Dask Client runs a pure task once per key."""

    def __init__(self):
        super().__init__()
        self.seen = {}

    def submit(self, fn, arg):
        key = repr(arg)
        if key not in self.seen:
            self.seen[key] = super().submit(fn, arg)
        return self.seen[key]


def test_an_executor_with_submit_runs_every_trial_through_its_futures():
    executor = FuturesOnly()
    given = RandomSearch(parabola, SPACE, trials=5, seed=4, zoom_rounds=1, executor=executor).run()
    assert executor.submitted == 10
    assert scored(given) == scored(serial_run())


def test_trials_with_equal_parameters_stay_distinct_trials():
    calls = []

    def counted(params):
        calls.append(params)
        return float(params["width"])

    space = {"width": Choice([8])}  # every trial draws the same parameters
    results = RandomSearch(counted, space, trials=4, zoom_rounds=1, executor=MergesEqualCalls()).run()
    assert len(calls) == len(results) == 8


def test_an_executor_needs_submit_or_map():
    with pytest.raises(TypeError, match="executor must have submit"):
        RandomSearch(parabola, SPACE, executor=object())


# -- a Dask cluster ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    # Workers as threads of this process: starts in about a second and needs no pickling of the
    # test module; one thread, since ember's random generator is global to a process.
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        yield client


def test_a_dask_client_gives_the_serial_results(dask_client):
    given = RandomSearch(parabola, SPACE, trials=5, seed=4, zoom_rounds=1, executor=dask_client).run()
    assert scored(given) == scored(serial_run())
    assert all(t["seconds"] >= 0 for t in given.trials)


def test_a_dask_client_takes_a_closure(dask_client):
    target = 0.6

    def closure(params):
        return -abs(params["x"] - target)

    given = RandomSearch(closure, SPACE, trials=5, seed=4, zoom_rounds=1, executor=dask_client).run()
    assert scored(given) == scored(serial_run(closure))


def test_an_error_in_a_trial_reaches_the_caller(dask_client):
    def broken(params):
        raise ArithmeticError("diverged")

    with pytest.raises(ArithmeticError, match="diverged"):
        RandomSearch(broken, SPACE, trials=2, zoom_rounds=0, executor=dask_client).run()


def test_the_user_guide_dask_example_runs(tmp_path):
    pytest.importorskip("distributed")
    script = tmp_path / "search_on_dask.py"
    script.write_text("\n".join(re.findall(r"^```python\n(.*?)^```", GUIDE.read_text(encoding="utf-8"), re.S | re.M)),
                      encoding="utf-8")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0].split()[:4] == ["rank", "trial", "round", "score"] and len(lines) == 4
    assert float(lines[1].split()[3]) > 0.9  # the best trial learns the quadrants
