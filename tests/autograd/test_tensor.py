"""Tensor construction, conversion and methods (the non-op parts of the API)."""
import numpy as np
import pytest

import ember as em


def test_tensor_dtype_rules():
    assert em.tensor([1.0, 2.0]).dtype == np.float32
    assert em.tensor(1.5).dtype == np.float32
    assert em.tensor([1, 2]).dtype == np.int64
    assert em.tensor([True]).dtype == np.bool_
    assert em.tensor(np.ones(2)).dtype == np.float64  # ndarrays keep theirs
    assert em.tensor(np.ones(2, np.float16)).dtype == np.float16
    assert em.tensor([1, 2], dtype=em.float64).dtype == np.float64


def test_tensors_of_strings_are_refused_as_pytorch_does():
    with pytest.raises(ValueError, match="cannot make a tensor of strings"):
        em.tensor(["a"])
    with pytest.raises(ValueError, match="cannot make a tensor of strings"):
        em.tensor([[b"x", b"y"]])
    with pytest.raises(TypeError, match="dtype <U1"):
        em.tensor(np.array(["a"]))
    with pytest.raises(TypeError, match="dtype object"):
        em.Tensor(np.array([None, 1], dtype=object))


def test_tensor_copies_and_from_numpy_shares():
    a = np.ones(3)
    t, s = em.tensor(a), em.from_numpy(a)
    a[0] = 5
    assert t.numpy()[0] == 1 and s.numpy()[0] == 5


def test_creation_functions():
    assert em.zeros(2, 3).shape == (2, 3) and em.ones((2, 3)).dtype == np.float32
    assert em.full((2, 2), 7).dtype == np.int64 and em.full((2,), 0.5).numpy().tolist() == [0.5, 0.5]
    assert em.arange(5).dtype == np.int64 and em.arange(0, 1, 0.25).dtype == np.float32
    np.testing.assert_array_equal(em.eye(3).numpy(), np.eye(3))
    x = em.randn(3, 4, dtype=em.float64)
    assert em.zeros_like(x).dtype == np.float64 and em.ones_like(x).shape == (3, 4)
    assert em.randint(0, 5, (10,)).numpy().max() < 5


def test_manual_seed_makes_draws_repeat():
    em.manual_seed(7)
    a = em.randn(5).numpy()
    em.manual_seed(7)
    np.testing.assert_array_equal(em.randn(5).numpy(), a)
    state = em.get_rng_state()
    b = em.rand(3).numpy()
    em.set_rng_state(state)
    np.testing.assert_array_equal(em.rand(3).numpy(), b)


def test_conversions():
    x = em.tensor([[1.0, 2.0]], requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()
    assert x.detach().numpy().tolist() == [[1.0, 2.0]]
    assert em.tensor([3.5]).item() == 3.5 and float(em.tensor(2.0)) == 2.0
    with pytest.raises(ValueError, match="one-element"):
        x.item()
    np.testing.assert_array_equal(np.asarray(em.ones(2)), [1.0, 1.0])
    assert x.shape == (1, 2) and x.ndim == 2 and x.size() == (1, 2) and x.size(1) == 2 and x.numel() == 2
    assert x.device == "cpu" and x.is_leaf and not (x * 2).is_leaf


def test_to_and_casts_are_differentiable():
    x = em.ones(2, requires_grad=True)
    y = x.double()
    assert y.dtype == np.float64 and x.to(em.float32) is x
    (y * 3).sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.numpy().tolist() == [3.0, 3.0]
    assert em.tensor([1.7]).long().dtype == np.int64


def test_repr_shows_grad_fn_and_dtype():
    x = em.ones(2, requires_grad=True)
    assert "requires_grad=True" in repr(x)
    assert "grad_fn=<MulBackward0>" in repr(x * 2)
    assert "float64" in repr(em.ones(1, dtype=em.float64))


def test_parameter_requires_grad():
    p = em.Parameter(em.ones(3))
    assert p.requires_grad and isinstance(p, em.Tensor)


def test_bool_of_multi_element_tensor_is_ambiguous():
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(em.ones(3))
    assert bool(em.tensor([1.0]))


def test_iteration_and_len():
    x = em.arange(6).reshape(3, 2)
    assert len(x) == 3 and [r.tolist() for r in x] == [[0, 1], [2, 3], [4, 5]]


def test_inplace_under_no_grad_bumps_version():
    w = em.ones(3, requires_grad=True)
    with em.no_grad():
        w -= 0.5
    assert w._version == 1
    assert w.detach().numpy().tolist() == [0.5, 0.5, 0.5]


def test_method_forms_match_the_functions():
    x = em.tensor([[1.0, -2.0], [3.0, 0.5]], requires_grad=True)
    pairs = [(x.add(1.0), x + 1.0), (x.sub(x), x - x), (x.mul(2.0), x * 2.0), (x.div(2.0), x / 2.0),
             (x.pow(2), x**2), (x.neg(), -x), (x.index_select(0, em.tensor([1])), x[[1]])]
    for a, b in pairs:
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
        assert a.requires_grad
    assert x.gt(0).tolist() == [[True, False], [True, True]] and x.eq(x).all().item()
    assert x.lt(-1).any().item() and not x.ge(5).any().item()
    assert x.sign().tolist() == [[1.0, -1.0], [1.0, 1.0]]


def test_index_factories_match_torch():
    import torch

    for args in [(3, 3), (3, 4, 1), (4, 2, -1), (0, 3)]:
        assert em.tril_indices(*args).tolist() == torch.tril_indices(*args).tolist()
        assert em.triu_indices(*args).tolist() == torch.triu_indices(*args).tolist()
    assert em.tril_indices(3, 3).dtype == np.int64
    s = em.scalar_tensor(3)
    assert s.shape == () and s.dtype == np.float32 and s.item() == 3.0


def test_type_promotion_follows_torch_categories():
    import torch

    pairs = [("int64", "float32"), ("int32", "int64"), ("bool", "int8"), ("float16", "float64"), ("uint8", "int8"),
             ("bool", "float16"), ("int64", "complex64")]
    for a, b in pairs:
        ours = np.dtype(em.promote_types(getattr(em, a), getattr(em, b)))
        assert str(ours) == str(torch.promote_types(getattr(torch, a), getattr(torch, b))).replace("torch.", "")
        assert em.can_cast(getattr(em, a), getattr(em, b)) == torch.can_cast(getattr(torch, a), getattr(torch, b))
        assert em.can_cast(getattr(em, b), getattr(em, a)) == torch.can_cast(getattr(torch, b), getattr(torch, a))
    cases = [(em.ones(2, dtype=em.int64), 1.5), (em.ones(2), 2),
             (em.ones(2, dtype=em.int32), em.ones(2, dtype=em.int64)),
             (em.ones(2, dtype=em.float16), em.tensor(1.0, dtype=em.float64)), (3, 2.5)]
    for a, b in cases:
        ta = torch.tensor(a.numpy()) if isinstance(a, em.Tensor) else a
        tb = torch.tensor(b.numpy()) if isinstance(b, em.Tensor) else b
        assert str(np.dtype(em.result_type(a, b))) == str(torch.result_type(ta, tb)).replace("torch.", "")


def test_storage_offset_and_is_floating_point_match_torch():
    import torch

    x, t = em.arange(12.0).reshape(3, 4), torch.arange(12.0).reshape(3, 4)
    for view in (lambda v: v, lambda v: v[1:], lambda v: v[:, 2], lambda v: v[2, 1:], lambda v: v.T[1]):
        assert view(x).storage_offset() == view(t).storage_offset()
    assert x.is_floating_point() and not em.arange(3).is_floating_point()
