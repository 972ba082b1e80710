"""The scatter/segment kernels' fallbacks (what runs on CuPy, which lacks some ufunc methods) equal NumPy's."""
import sys

import numpy as np
import pytest

import ember as em
from ember.ops import segments


class WithoutMethods:
    """NumPy, except that the listed ufunc methods raise NotImplementedError, as CuPy's do."""

    def __init__(self, missing):
        self.missing = missing

    def __getattr__(self, name):
        value = getattr(np, name)
        if not isinstance(value, np.ufunc):
            return value
        missing = self.missing

        class Ufunc:
            def __call__(self, *args, **kwargs):
                return value(*args, **kwargs)

            def __getattr__(self, method):
                if (name, method) in missing:
                    def refuse(*args, **kwargs):
                        raise NotImplementedError(f"{name}.{method} is not supported yet")
                    return refuse
                return getattr(value, method)

        return Ufunc()


@pytest.mark.parametrize("name", ["multiply", "maximum", "minimum", "add"])
@pytest.mark.parametrize("rows", [False, True])
def test_ufunc_at_in_rounds_equals_numpys_unbuffered_at(name, rows):
    rng = np.random.default_rng(0)
    positions = rng.integers(0, 5, 40)  # every position repeats
    shape = (5, 3) if rows else (5,)
    values = rng.uniform(0.5, 1.5, (40,) + shape[1:])
    expected, actual = rng.standard_normal(shape), None
    actual = expected.copy()
    getattr(np, name).at(expected, positions, values)
    segments.ufunc_at_in_rounds(np, getattr(np, name), actual, positions, values)
    np.testing.assert_allclose(actual, expected, rtol=1e-12)


def test_ufunc_at_falls_back_where_the_method_is_missing():
    xp = WithoutMethods({("multiply", "at")})
    a, expected = np.ones(4), np.ones(4)
    positions, values = np.array([0, 0, 2, 0, 3]), np.array([2.0, 3.0, 5.0, 7.0, -1.0])
    segments.ufunc_at(xp, "multiply", a, positions, values)
    np.multiply.at(expected, positions, values)
    assert a.tolist() == expected.tolist() == [42.0, 1.0, 5.0, -1.0]


@pytest.mark.parametrize("name", ["maximum", "minimum"])
@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_segment_reduce_without_reduceat_equals_numpys(name, dtype):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((9, 4)) * 10).astype(dtype)
    starts = np.array([0, 2, 3, 7])
    expected = getattr(np, name).reduceat(x, starts, axis=0)
    xp = WithoutMethods({(name, "reduceat")})
    actual = segments.segment_reduce(xp, name, x, starts)
    assert actual.dtype == expected.dtype
    np.testing.assert_array_equal(actual, expected)


def test_scatter_reduce_prod_and_embedding_bag_max_match_on_the_fallback_path(monkeypatch):
    """The library's ops give the same answer when the fast methods are missing."""
    rng = np.random.default_rng(2)
    x, src = em.tensor(rng.uniform(0.5, 2, (3, 4))), em.tensor(rng.uniform(0.5, 2, (5, 4)))
    index = em.tensor(rng.integers(0, 3, (5, 4)))
    weight = em.tensor(rng.standard_normal((6, 3)))
    ids, offsets = em.tensor([1, 2, 2, 5, 0, 3]), em.tensor([0, 2, 5])

    def run():
        return (em.scatter_reduce(x, 0, index, src, "prod").numpy(),
                em.nn.functional.embedding_bag(ids, weight, offsets, mode="max").numpy())

    fast = run()
    missing = {("multiply", "at"), ("maximum", "reduceat"), ("minimum", "reduceat")}
    monkeypatch.setattr(segments, "ufunc_at", _without(segments.ufunc_at, missing))
    monkeypatch.setattr(sys.modules["ember.ops.indexing"], "ufunc_at", segments.ufunc_at)
    monkeypatch.setattr(sys.modules["ember.ops.embedding"], "segment_reduce",
                        lambda xp, name, a, starts: segments.segment_reduce(WithoutMethods(missing), name, a, starts))
    slow = run()
    for f, s in zip(fast, slow, strict=True):
        np.testing.assert_allclose(s, f, rtol=1e-12)


def _without(ufunc_at, missing):
    return lambda xp, name, a, positions, values: ufunc_at(WithoutMethods(missing), name, a, positions, values)
