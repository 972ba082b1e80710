"""Property-based tests (hypothesis): broadcasting and shape-op round trips on random shapes."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import ember as em

SETTINGS = settings(max_examples=40, deadline=None)


def reference_sum_to(g, shape):
    """Sum ``g`` down to ``shape``, written independently of ``ember.ops.sum_to``."""
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g


def _array(rng, shape, low=None):
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < 0.5, 1.0, x) if low else x


BINARY = {
    "add": (lambda x, y: x + y, lambda x, y: (np.ones_like(x), np.ones_like(y))),
    "sub": (lambda x, y: x - y, lambda x, y: (np.ones_like(x), -np.ones_like(y))),
    "mul": (lambda x, y: x * y, lambda x, y: (y, x)),
    "div": (lambda x, y: x / y, lambda x, y: (1 / y, -x / y**2)),
}


@SETTINGS
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4),
       op=st.sampled_from(sorted(BINARY)), seed=st.integers(0, 2**16))
def test_broadcast_forward_and_gradients(shapes, op, seed):
    (sx, sy), out_shape = shapes.input_shapes, shapes.result_shape
    f, local = BINARY[op]
    rng = np.random.default_rng(seed)
    x, y = _array(rng, sx), _array(rng, sy, low=op == "div")
    ex, ey = em.tensor(x, requires_grad=True), em.tensor(y, requires_grad=True)
    out = f(ex, ey)
    assert out.shape == out_shape
    np.testing.assert_allclose(out.detach().numpy(), f(x, y), rtol=1e-12)
    u = rng.standard_normal(out_shape)
    out.backward(em.tensor(u))
    dx, dy = (np.broadcast_to(d, out_shape) for d in local(*np.broadcast_arrays(x, y)))
    assert ex.grad.shape == sx and ey.grad.shape == sy
    np.testing.assert_allclose(ex.grad.numpy(), reference_sum_to(u * dx, sx), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ey.grad.numpy(), reference_sum_to(u * dy, sy), rtol=1e-10, atol=1e-12)


@SETTINGS
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4))
def test_sum_to_inverts_broadcast(shapes):
    sx, out_shape = shapes.input_shapes[0], shapes.result_shape
    g = np.random.default_rng(0).standard_normal(out_shape)
    np.testing.assert_allclose(em.sum_to(g, sx), reference_sum_to(g, sx))
    x = em.tensor(np.ones(sx), requires_grad=True)
    em.broadcast_to(x, out_shape).backward(em.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), reference_sum_to(g, sx))


@SETTINGS
@given(shape=array_shapes(min_dims=1, max_dims=4, max_side=4), data=st.data())
def test_reshape_round_trip(shape, data):
    x = em.tensor(np.random.default_rng(0).standard_normal(shape), requires_grad=True)
    n = x.numel()
    first = data.draw(st.sampled_from([d for d in range(1, n + 1) if n % d == 0]))
    y = x.reshape(first, -1)
    assert y.shape == (first, n // first)
    back = y.reshape(shape)
    np.testing.assert_array_equal(back.detach().numpy(), x.detach().numpy())
    u = np.random.default_rng(1).standard_normal(shape)
    back.backward(em.tensor(u))
    np.testing.assert_array_equal(x.grad.numpy(), u)


@SETTINGS
@given(shape=array_shapes(min_dims=1, max_dims=4, max_side=4), data=st.data())
def test_permute_round_trip(shape, data):
    dims = data.draw(st.permutations(range(len(shape))))
    a = np.random.default_rng(0).standard_normal(shape)
    x = em.tensor(a, requires_grad=True)
    y = x.permute(*dims)
    np.testing.assert_array_equal(y.detach().numpy(), a.transpose(dims))
    u = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(em.tensor(u))
    np.testing.assert_array_equal(x.grad.numpy(), u.transpose(np.argsort(dims)))
    np.testing.assert_array_equal(y.permute(*np.argsort(dims).tolist()).detach().numpy(), a)


@SETTINGS
@given(sizes=st.lists(st.integers(1, 4), min_size=1, max_size=4), rest=array_shapes(min_dims=0, max_dims=2, max_side=3),
       data=st.data())
def test_concat_split_round_trip(sizes, rest, data):
    dim = data.draw(st.integers(0, len(rest)))
    rng = np.random.default_rng(0)
    shapes = [rest[:dim] + (n,) + rest[dim:] for n in sizes]
    parts = [em.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    joined = em.concat(parts, dim)
    np.testing.assert_array_equal(joined.detach().numpy(), np.concatenate([p.detach().numpy() for p in parts], dim))
    pieces = em.split(joined, sizes, dim)
    assert [p.shape for p in pieces] == shapes
    for a, b in zip(pieces, parts, strict=True):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    upstream = [rng.standard_normal(s) for s in shapes]
    em.autograd.backward(list(pieces), [em.tensor(u) for u in upstream])
    for p, u in zip(parts, upstream, strict=True):
        np.testing.assert_array_equal(p.grad.numpy(), u)


@SETTINGS
@given(shape=array_shapes(min_dims=1, max_dims=3, max_side=5), data=st.data())
def test_chunk_then_concat_is_identity(shape, data):
    dim = data.draw(st.integers(0, len(shape) - 1))
    chunks = data.draw(st.integers(1, shape[dim]))
    a = np.random.default_rng(0).standard_normal(shape)
    x = em.tensor(a, requires_grad=True)
    pieces = em.chunk(x, chunks, dim)
    np.testing.assert_array_equal(em.concat(list(pieces), dim).detach().numpy(), a)
    u = np.random.default_rng(1).standard_normal(shape)
    em.concat(list(pieces), dim).backward(em.tensor(u))
    np.testing.assert_array_equal(x.grad.numpy(), u)
