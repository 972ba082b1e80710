"""Ops without a gradient (comparisons, logic, argmax/argmin, one_hot), dropout, and the checker itself."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember as em
from ember.autograd.function import Function
from torch_parity import check_op


def _ints_as_floats(*shape, seed=0):
    """Small integers stored as floats, so comparisons hit equal values too."""
    return np.random.default_rng(seed).integers(-2, 3, shape).astype(np.float32)


COMPARISONS = [
    ("eq", lambda x, y: x == y), ("ne", lambda x, y: x != y), ("lt", lambda x, y: x < y),
    ("le", lambda x, y: x <= y), ("gt", lambda x, y: x > y), ("ge", lambda x, y: x >= y),
]


@pytest.mark.parametrize("name, op", COMPARISONS, ids=[c[0] for c in COMPARISONS])
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((), (3,))])
def test_comparisons_match_torch(name, op, shapes):
    x, y = _ints_as_floats(*shapes[0]), _ints_as_floats(*shapes[1], seed=1)
    out = check_op(op, op, [x, y], backward=False)[0]
    assert not out.requires_grad
    check_op(getattr(em, name), getattr(torch, name), [x, y], backward=False)


@pytest.mark.parametrize("name, op", COMPARISONS, ids=[c[0] for c in COMPARISONS])
def test_comparison_with_scalar(name, op):
    check_op(lambda x: op(x, 1.0), lambda x: op(x, 1.0), [_ints_as_floats(3, 4)], backward=False)


def test_logic_ops_match_torch():
    a, b = np.array([True, False, True, False]), np.array([True, True, False, False])
    check_op(lambda x, y: x & y, lambda x, y: x & y, [a, b], backward=False)
    check_op(lambda x, y: x | y, lambda x, y: x | y, [a, b], backward=False)
    check_op(lambda x: ~x, lambda x: ~x, [a], backward=False)
    check_op(em.logical_and, torch.logical_and, [a, b], backward=False)


def test_isnan_isfinite_sign_match_torch():
    x = np.array([1.0, -2.0, 0.0, np.nan, np.inf, -np.inf], dtype=np.float32)
    for name in ("isnan", "isfinite"):
        check_op(getattr(em, name), getattr(torch, name), [x], backward=False)
    check_op(em.sign, torch.sign, [x[:3]], backward=False)  # sign(NaN): NaN in NumPy, 0 in PyTorch


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("keep", [False, True])
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin_match_torch(name, axis, keep):
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    check_op(lambda t: getattr(em, name)(t, axis, keep), lambda t: getattr(torch, name)(t, axis, keep), [x],
             backward=False)
    check_op(lambda t: getattr(t, name)(dim=axis, keepdim=keep), lambda t: getattr(t, name)(dim=axis, keepdim=keep),
             [x], backward=False)


def test_argmax_of_a_graph_tensor_has_no_grad():
    x = em.randn(3, 4, requires_grad=True)
    assert not (x * 2).argmax(1).requires_grad


@pytest.mark.parametrize("num_classes", [-1, 6])
def test_one_hot_matches_torch(num_classes):
    labels = np.array([[0, 3], [2, 1]])
    check_op(lambda t: em.one_hot(t, num_classes), lambda t: TF.one_hot(t, num_classes), [labels], backward=False)


def test_one_hot_rejects_bad_input():
    with pytest.raises(ValueError, match="one_hot.*0, 3"):
        em.one_hot(em.tensor([0, 3]), 3)
    with pytest.raises(TypeError, match="one_hot.*integer"):
        em.one_hot(em.tensor([0.0, 1.0]), 3)


# -- dropout -------------------------------------------------------------------------------------
def test_dropout_is_inverted_and_seeded():
    x = em.ones(200, 300, requires_grad=True)
    em.manual_seed(3)
    y = em.dropout(x, 0.25)
    kept = y.detach().numpy() != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(y.detach().numpy()[kept], 1 / 0.75, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())  # the gradient is the same mask
    em.manual_seed(3)
    np.testing.assert_array_equal(em.dropout(x, 0.25).detach().numpy(), y.detach().numpy())


def test_dropout_eval_identity_and_edges():
    x = em.randn(4, 5)
    assert em.dropout(x, 0.5, training=False) is x
    assert em.dropout(x, 0.0) is x
    assert not em.dropout(x, 1.0).numpy().any()
    with pytest.raises(ValueError, match="dropout.*1.5"):
        em.dropout(x, 1.5)


def test_dropout2d_zeroes_whole_channels():
    x = em.ones(8, 16, 3, 3)
    y = em.dropout2d(x, 0.5).numpy()
    per_channel = y.reshape(8, 16, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1))
    with pytest.raises(ValueError, match="dropout2d"):
        em.dropout2d(em.ones(3, 4), 0.5)


# -- the checker must be able to fail ----------------------------------------------------------------
def test_check_op_catches_wrong_forward():
    x = np.random.default_rng(0).standard_normal((3, 4))
    with pytest.raises(AssertionError, match="output 0"):
        check_op(em.sin, torch.cos, [x])


def test_check_op_catches_wrong_gradient():
    class BadSquare(Function):
        def forward(self, x):
            self.save_for_backward(x)
            return x * x

        def backward(self, gy):
            (x,) = self.saved
            return gy * x  # missing the factor 2

    x = np.random.default_rng(0).standard_normal((3, 4))
    with pytest.raises(AssertionError, match="gradient of input 0"):
        check_op(lambda t: BadSquare()(t), lambda t: t * t, [x])


def test_check_op_catches_wrong_dtype():
    x = np.ones((2, 2), dtype=np.float32)
    with pytest.raises(AssertionError, match="dtype"):
        check_op(lambda t: t.double(), lambda t: t, [x], backward=False)
