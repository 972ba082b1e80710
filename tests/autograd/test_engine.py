"""The backward engine: ordering, accumulation, graph lifetime, grad modes, anomaly and in-place checks."""
import gc
import weakref

import numpy as np
import pytest

import ember as em
from ember.autograd.function import Function


def leaf(*shape, seed=0, dtype=np.float64):
    return em.tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype), requires_grad=True)


# -- ordering and accumulation ---------------------------------------------------------------------
def test_diamond_graph_gets_every_path():
    # y feeds the output directly and through exp: y's node must wait for both gradients
    x = em.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    (y + y.exp()).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 + 2 * np.exp(2 * np.array([1.0, 2.0])), rtol=1e-6)


@pytest.mark.parametrize("combine, expected", [
    (lambda y, z: y + z, lambda s, c, e: c + 3 * c * e),
    (lambda y, z: z + y, lambda s, c, e: c + 3 * c * e),
    (lambda y, z: y * z, lambda s, c, e: c * e + s * 3 * c * e),
])
def test_diamond_in_either_input_order(combine, expected):
    x = leaf(3)
    y = x.sin()
    combine(y, (y * 3).exp()).sum().backward()
    a = x.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), expected(np.sin(a), np.cos(a), np.exp(3 * np.sin(a))), rtol=1e-10)


def test_same_tensor_used_twice_in_one_op():
    x = leaf(3)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy())


def test_gradients_accumulate_across_backward_calls():
    x = leaf(3)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 + 2 * x.detach().numpy())


def test_retain_graph_allows_a_second_backward():
    x = leaf(2, 3)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)


def test_second_backward_without_retain_graph_raises():
    x = leaf(3)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()


def test_graph_is_freed_after_backward():
    x = leaf(4, 5)
    hidden = (x * 2).tanh()
    node = hidden.creator
    hidden_ref = weakref.ref(hidden)
    out = hidden.sum()
    del hidden
    assert hidden_ref() is not None  # the graph keeps the intermediate alive until backward
    out.backward()
    gc.collect()
    assert node.saved is None  # saved arrays released
    assert hidden_ref() is None  # and the intermediate tensor with them


def test_retain_graph_keeps_saved_arrays():
    x = leaf(3)
    y = x.exp()
    y.sum().backward(retain_graph=True)
    assert y.creator.saved is not None


def test_grads_are_fresh_writable_arrays():
    a, b = leaf(3), leaf(3, seed=1)
    g = em.ones(3, dtype=em.float64)
    (a + b).backward(g)
    assert a.grad.array is not b.grad.array and a.grad.array is not g.array
    a.grad.array += 1  # must not change b.grad or the caller's gradient
    np.testing.assert_array_equal(b.grad.numpy(), np.ones(3))
    np.testing.assert_array_equal(g.numpy(), np.ones(3))
    s = leaf(3, 4)
    s.sum().backward()
    s.grad.zero_()  # the broadcast gradient of sum must have been copied into a writable array
    assert not s.grad.numpy().any()


def test_clone_of_leaf_does_not_alias_grads():
    x = leaf(3)
    y = x.clone()
    (y + x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * np.ones(3))


def test_10000_op_chain_runs_without_recursion_error():
    x = em.tensor(1.0, requires_grad=True, dtype=em.float64)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    assert x.grad.item() == pytest.approx(1.0001**10_000, rel=1e-9)


def test_backward_of_several_outputs():
    x = leaf(3)
    em.autograd.backward([(x * 2).sum(), (x * 3).sum()])
    np.testing.assert_allclose(x.grad.numpy(), 5 * np.ones(3))


def test_leaf_backward_and_explicit_grad():
    x = leaf(2, 2)
    x.backward(em.ones(2, 2, dtype=em.float64) * 3)
    np.testing.assert_array_equal(x.grad.numpy(), 3 * np.ones((2, 2)))


# -- grad modes ------------------------------------------------------------------------------------
def test_no_grad_records_nothing():
    x = leaf(3)
    with em.no_grad():
        y = x * 2
        assert not em.is_grad_enabled()
    assert em.is_grad_enabled()
    assert not y.requires_grad and y.creator is None


def test_enable_grad_inside_no_grad_and_set_grad_enabled():
    x = leaf(3)
    with em.no_grad():
        with em.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad
    with em.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    with em.set_grad_enabled(True):
        assert (x * 2).requires_grad


def test_no_grad_as_decorator_and_restored_after_exception():
    @em.no_grad()
    def f(t):
        return t * 2

    assert not f(leaf(3)).requires_grad
    with pytest.raises(ZeroDivisionError), em.no_grad():
        raise ZeroDivisionError
    assert em.is_grad_enabled()


def test_requires_grad_propagation():
    a, b = leaf(3), em.ones(3, dtype=em.float64)
    assert (a + b).requires_grad and not (b * 2).requires_grad
    assert (a + b).creator is not None and (b * 2).creator is None
    assert not a.detach().requires_grad and a.detach().creator is None


def test_detach_shares_data_and_cuts_the_graph():
    x = leaf(3)
    y = x * 2
    d = y.detach()
    assert d.array is y.array
    (d * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.detach().numpy())  # no path through d


def test_retain_grad_on_non_leaf():
    x = leaf(3)
    y = x * 2
    y.retain_grad()
    z = x * 3
    (y * z).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), z.detach().numpy())
    assert z.grad is None


def test_retain_grad_on_the_root():
    x = leaf(3)
    y = (x * 2).sum()
    y.retain_grad()
    y.backward()
    assert y.grad.item() == 1.0


# -- ndarray interplay and dtype rules -------------------------------------------------------------------
@pytest.mark.parametrize("op", [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / b,
                                lambda a, b: a @ b])
def test_ndarray_and_tensor_mix_both_ways(op):
    a = np.random.default_rng(0).uniform(1, 2, (3, 3))
    t = em.tensor(np.random.default_rng(1).uniform(1, 2, (3, 3)), requires_grad=True)
    for out, expected in ((op(a, t), op(a, t.detach().numpy())), (op(t, a), op(t.detach().numpy(), a))):
        assert isinstance(out, em.Tensor) and out.requires_grad
        np.testing.assert_allclose(out.detach().numpy(), expected)


def test_python_scalars_keep_the_tensor_dtype():
    x = em.ones(3)
    assert (x * 2.0).dtype == np.float32 and (2.0 - x).dtype == np.float32 and (x**2).dtype == np.float32
    i = em.tensor([1, 2, 3])
    assert (i * 2).dtype == np.int64
    assert (i * 0.5).dtype == np.float32 and (0.5 + i).dtype == np.float32
    assert (i / 2).dtype == np.float32 and i.mean().dtype == np.float32
    assert (em.tensor([True, False]) * 1.5).dtype == np.float32


def test_mixed_float_dtypes_promote_and_grads_keep_each_dtype():
    a = em.ones(3, dtype=em.float32, requires_grad=True)
    b = em.ones(3, dtype=em.float64, requires_grad=True)
    out = a * b + a
    assert out.dtype == np.float64
    out.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_int_tensor_with_float_tensor_takes_the_float_dtype():
    i, f = em.tensor([1, 2]), em.ones(2, requires_grad=True)
    out = i * f
    assert out.dtype == np.float32
    out.sum().backward()
    np.testing.assert_array_equal(f.grad.numpy(), [1.0, 2.0])


# -- anomaly detection ----------------------------------------------------------------------------------
def test_detect_anomaly_names_the_forward_op():
    x = em.tensor([-1.0, 1.0], requires_grad=True)
    with pytest.raises(FloatingPointError, match="Log.*forward"), np.errstate(invalid="ignore"):
        with em.autograd.detect_anomaly():
            (x * 2).log()


def test_detect_anomaly_names_the_backward_op():
    x = em.tensor([0.0, 4.0], requires_grad=True)
    with pytest.raises(FloatingPointError, match="Sqrt.*backward"), np.errstate(divide="ignore"):
        with em.autograd.detect_anomaly():
            x.sqrt().sum().backward()


def test_without_detect_anomaly_nan_passes_silently():
    x = em.tensor([0.0, 4.0], requires_grad=True)
    with np.errstate(divide="ignore"):
        x.sqrt().sum().backward()
    assert np.isinf(x.grad.numpy()[0])


# -- in-place modification ----------------------------------------------------------------------------------
def test_inplace_change_of_a_saved_tensor_raises():
    x, w = leaf(3), leaf(3, seed=1)
    y = x * w
    with em.no_grad():
        w.add_(1)
    with pytest.raises(RuntimeError, match="Mul.*modified in place"):
        y.sum().backward()


def test_inplace_change_of_a_saved_output_raises():
    x = leaf(3)
    y = x.exp()  # exp saves its output
    z = y + 1.0
    with em.no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match="Exp.*modified in place"):
        z.sum().backward()


def test_inplace_change_of_an_unsaved_tensor_is_fine():
    x, w = leaf(3), leaf(3, seed=1)
    y = x + w  # addition saves nothing
    with em.no_grad():
        w.add_(1)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(3))


@pytest.mark.parametrize("modify", [
    lambda w: w.add_(1), lambda w: w.mul_(2), lambda w: w.zero_(), lambda w: w.fill_(1.0), lambda w: w.copy_(w * 0),
    lambda w: w.__setitem__(0, 5.0), lambda w: w.__iadd__(1.0),
])
def test_inplace_on_leaf_requiring_grad_raises_under_grad_mode(modify):
    w = leaf(3)
    with pytest.raises(RuntimeError, match="requires grad.*in place"):
        modify(w)
    with em.no_grad():
        modify(w)  # fine without recording


def test_augmented_assignment_on_non_leaf_records_out_of_place():
    x = leaf(3)
    y = x * 1.0
    y += 2
    y *= x
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy() + 2)


# -- clear errors ---------------------------------------------------------------------------------------
def test_add_shape_mismatch_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"Add.*\(3, 4\).*\(5,\)"):
        em.ones(3, 4) + em.ones(5)


def test_matmul_shape_mismatch_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"matmul.*\(3, 4\).*\(5, 2\)"):
        em.ones(3, 4) @ em.ones(5, 2)
    with pytest.raises(ValueError, match=r"linear.*\(2, 3\)"):
        em.linear(em.ones(2, 3), em.ones(4, 5))


def test_reshape_mismatch_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"reshape.*\(3, 4\).*\(5,\)"):
        em.ones(3, 4).reshape(5)


def test_backward_on_non_scalar_without_grad_says_so():
    y = leaf(3) * 2
    with pytest.raises(RuntimeError, match=r"scalar.*\(3,\)"):
        y.backward()


def test_backward_with_wrong_grad_shape_says_so():
    y = leaf(3) * 2
    with pytest.raises(RuntimeError, match=r"grad shape \(4,\).*\(3,\)"):
        y.backward(em.ones(4))


def test_backward_on_tensor_without_grad_says_so():
    with pytest.raises(RuntimeError, match="does not require grad"):
        em.ones(3).sum().backward()


def test_engine_rejects_a_backward_returning_the_wrong_shape():
    class Bad(Function):
        def forward(self, x):
            return x.sum(axis=0)

        def backward(self, gy):
            return gy  # forgot to broadcast back

    with pytest.raises(RuntimeError, match=r"Bad.backward returned grad of shape \(4,\).*\(3, 4\)"):
        Bad()(leaf(3, 4)).sum().backward()


def test_requires_grad_only_for_floats():
    with pytest.raises(RuntimeError, match="floating-point"):
        em.tensor([1, 2], requires_grad=True)


def test_inplace_change_through_a_detached_alias_raises():
    x = leaf(3)
    y = x.exp()
    z = y + 1.0
    y.detach().mul_(2)  # same memory as y, which exp saved
    with pytest.raises(RuntimeError, match="Exp.*modified in place"):
        z.sum().backward()


def test_version_counter_can_be_bumped_by_optimisers():
    w = leaf(3)
    y = w * w
    with em.no_grad():
        w.array -= 0.1  # a raw update, flagged the way optimisers do
        w._version += 1
    with pytest.raises(RuntimeError, match="modified in place"):
        y.sum().backward()


def test_set_grad_enabled_switches_when_called_and_restores_after_with():
    assert em.is_grad_enabled()
    with em.set_grad_enabled(False):
        assert not em.is_grad_enabled()
    assert em.is_grad_enabled()
    try:
        em.set_grad_enabled(False)  # a plain call switches, as in PyTorch
        assert not em.is_grad_enabled() and not (em.ones(2, requires_grad=True) * 2).requires_grad
    finally:
        em.set_grad_enabled(True)
    assert em.is_grad_enabled()
