"""The passes that run in parts on the intra-op threads (ember.threads) equal PyTorch.

The tests' arrays are small, so every pass is forced onto three threads (parts of unequal
size) and blocks of a row or two: the softmax family and cross-entropy from logits.
"""
import numpy as np
import pytest
import torch.nn.functional as TF

import ember as em
import ember.nn.functional as F
from ember import threads
from ember.ops import activation
from torch_parity import Const, check_op

rng = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def every_pass_threaded(monkeypatch):
    count = em.get_num_threads()
    monkeypatch.setattr(threads, "PARALLEL_MIN_ELEMENTS", 1)
    monkeypatch.setattr(activation, "SOFTMAX_BLOCK_BYTES", 64)  # blocks of a row or two
    em.set_num_threads(3)
    yield
    em.set_num_threads(count)


def logits(shape, dtype):
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    x.reshape(-1, shape[-1])[1] = -np.inf  # a row of −inf: NaN as in PyTorch
    x.reshape(-1, shape[-1])[2, ::2] = -np.inf  # a row with some classes ruled out
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7, 13), (3, 4, 9)])
def test_softmax_family_matches_torch(shape, dtype):
    x = logits(shape, dtype)
    finite = x.copy()
    finite[np.isinf(finite)] = -50.0
    check_op(lambda t: F.softmax(t, -1), lambda t: TF.softmax(t, -1), [x], dtype=dtype, backward=False)
    check_op(lambda t: F.log_softmax(t, -1), lambda t: TF.log_softmax(t, -1), [x], dtype=dtype, backward=False)
    check_op(lambda t: F.softmax(t, -1), lambda t: TF.softmax(t, -1), [finite], dtype=dtype)
    check_op(lambda t: F.log_softmax(t, -1), lambda t: TF.log_softmax(t, -1), [finite], dtype=dtype)
    check_op(lambda t: em.logsumexp(t, -1), lambda t: t.logsumexp(-1), [finite], dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_from_logits_matches_torch(reduction, dtype):
    x = (rng.standard_normal((11, 17)) * 4).astype(dtype)
    target = rng.integers(0, 17, 11)
    target[3] = -100
    check_op(lambda t, y: F.cross_entropy(t, y, reduction=reduction),
             lambda t, y: TF.cross_entropy(t, y, reduction=reduction), [x, Const(target)], dtype=dtype)


def test_softmax_at_huge_logits_keeps_the_shift_first():
    x = np.full((5, 4), 1e17)
    y = F.log_softmax(em.tensor(x), -1).numpy()
    np.testing.assert_allclose(y, np.full((5, 4), -np.log(4)), rtol=1e-12)


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax])
def test_integer_logits_are_taken_in_float64(fn):
    """Integer inputs stay outside the blocked path and give NumPy's float64 result."""
    x = np.arange(12).reshape(3, 4) % 5
    y = fn(em.tensor(x), -1)
    expected = fn(em.tensor(x.astype(np.float64)), -1)
    assert y.dtype == np.float64 and np.allclose(y.numpy(), expected.numpy())
