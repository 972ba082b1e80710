"""ember.threads: PyTorch's thread-count API, and the pool that runs a large pass in parts."""
import multiprocessing

import numpy as np
import pytest
import torch

import ember as em
from ember import threads


@pytest.fixture
def restore_threads():
    count = em.get_num_threads()
    yield
    em.set_num_threads(count)


@pytest.fixture
def every_pass_threaded(monkeypatch, restore_threads):
    """Three threads (parts of unequal size), and no size too small for them."""
    monkeypatch.setattr(threads, "PARALLEL_MIN_ELEMENTS", 1)
    em.set_num_threads(3)


def test_default_count_is_the_cores_this_process_may_use():
    assert em.get_num_threads() == threads._available_cores() >= 1
    assert em.get_num_interop_threads() >= 1


@pytest.mark.parametrize("name", ["set_num_threads", "set_num_interop_threads"])
@pytest.mark.parametrize("bad", [0, -2, 2.5, "2", True])
def test_bad_counts_raise_as_in_pytorch(name, bad):
    with pytest.raises(Exception) as theirs:
        getattr(torch, name)(bad)
    with pytest.raises(type(theirs.value)) as ours:
        getattr(em, name)(bad)
    if not isinstance(bad, bool):  # torch takes True as the int 1 in its message; ember refuses a bool outright
        assert str(ours.value) == str(theirs.value).splitlines()[0]


def test_set_num_threads_limits_numpys_blas_too(restore_threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    em.set_num_threads(1)
    blas = [pool["num_threads"] for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"]
    assert em.get_num_threads() == 1 and blas and set(blas) == {1}


def test_one_thread_runs_every_pass_here(monkeypatch, restore_threads):
    monkeypatch.setattr(threads, "PARALLEL_MIN_ELEMENTS", 1)
    em.set_num_threads(1)
    seen = []
    threads.parallel_for(lambda start, stop: seen.append((start, stop)), 10)
    assert seen == [(0, 10)]


def test_parallel_for_covers_the_range_once_in_contiguous_parts(every_pass_threaded):
    hits = np.zeros(100, int)

    def body(start, stop):
        hits[start:stop] += 1

    threads.parallel_for(body, 100)
    assert (hits == 1).all()
    blocks = []
    threads.parallel_blocks(lambda start, stop: blocks.append((start, stop)), 100, block=7)
    assert sorted(blocks)[0] == (0, 7) and max(stop - start for start, stop in blocks) == 7
    assert sum(stop - start for start, stop in blocks) == 100


def test_small_passes_stay_on_the_calling_thread(restore_threads):
    em.set_num_threads(2)
    parts = []
    threads.parallel_for(lambda start, stop: parts.append((start, stop)), 100, work=threads.PARALLEL_MIN_ELEMENTS - 1)
    assert parts == [(0, 100)]


def test_a_pass_inside_a_part_runs_inline(every_pass_threaded):
    inner = []
    threads.parallel_for(lambda start, stop: threads.parallel_for(lambda a, b: inner.append((a, b)), 5), 3)
    assert sorted(inner) == [(0, 5)] * 3


def test_an_error_in_a_part_is_raised_after_every_part_has_stopped(every_pass_threaded):
    finished = []

    def body(start, stop):
        if start == 0:
            raise ValueError("part 0 failed")
        finished.append(start)

    with pytest.raises(ValueError, match="part 0 failed"):
        threads.parallel_for(body, 9)
    assert sorted(finished) == [3, 6]


def _threaded_sum_in_child(queue):
    threads.PARALLEL_MIN_ELEMENTS = 1
    out = np.zeros(6)
    threads.parallel_for(lambda start, stop: out.__setitem__(slice(start, stop), 1), 6)
    queue.put(out.sum())


def test_a_forked_child_starts_its_own_pool(every_pass_threaded):
    threads.parallel_for(lambda start, stop: None, 6)  # the parent's pool exists before the fork
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_threaded_sum_in_child, args=(queue,))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0 and queue.get(timeout=5) == 6


def test_rowwise_equals_the_ufunc(every_pass_threaded):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((9, 6)).astype(np.float32)
    b = rng.standard_normal((9, 1))  # float64: the ufunc's own type promotion
    product = threads.rowwise(np.multiply, a, b)
    assert product.dtype == np.float64 and np.array_equal(product, a * b)
