"""F.unfold / F.fold (im2col and its adjoint) and the Unfold / Fold layers against PyTorch."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember as em
import ember.nn.functional as F
from ember import nn
from ember.testing import gradcheck
from torch_parity import assert_close, check_module, check_op

rng = np.random.default_rng(0)
DTYPES = [np.float32, np.float64]

# image (N, C, H, W), kernel_size, dilation, padding, stride
CASES = [
    ((2, 3, 5, 6), 2, 1, 0, 1),
    ((2, 3, 7, 8), (2, 3), (1, 2), 1, (2, 1)),
    ((1, 2, 6, 6), 3, 1, 1, 3),
    ((3, 5, 4), (1, 2), 1, (0, 1), 2),  # unbatched
    ((1, 1, 4, 4), 4, 1, 0, 1),  # one block
]


def _blocks(shape, kernel, dilation, padding, stride):
    """The number of blocks along H and W, and the (N, C·kh·kw, L) shape of an unfolded image."""
    return tuple(TF.unfold(torch.zeros(shape), kernel, dilation, padding, stride).shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,kernel,dilation,padding,stride", CASES)
def test_unfold_matches_torch(shape, kernel, dilation, padding, stride, dtype):
    args = (kernel, dilation, padding, stride)
    check_op(lambda x: F.unfold(x, *args), lambda x: TF.unfold(x, *args), [rng.standard_normal(shape)], dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,kernel,dilation,padding,stride", CASES)
def test_fold_matches_torch(shape, kernel, dilation, padding, stride, dtype):
    args = (shape[-2:], kernel, dilation, padding, stride)
    blocks = rng.standard_normal(_blocks(shape, kernel, dilation, padding, stride))
    check_op(lambda x: F.fold(x, *args), lambda x: TF.fold(x, *args), [blocks], dtype=dtype)


@pytest.mark.parametrize("shape,kernel,dilation,padding,stride", CASES[:3])
def test_unfold_and_fold_gradcheck(shape, kernel, dilation, padding, stride):
    x = em.tensor(rng.standard_normal(shape), requires_grad=True)
    assert gradcheck(lambda t: F.unfold(t, kernel, dilation, padding, stride), [x])
    blocks = em.tensor(rng.standard_normal(_blocks(shape, kernel, dilation, padding, stride)), requires_grad=True)
    assert gradcheck(lambda t: F.fold(t, shape[-2:], kernel, dilation, padding, stride), [blocks])


def test_fold_is_the_adjoint_of_unfold():
    """⟨unfold(x), b⟩ = ⟨x, fold(b)⟩, and fold(unfold(x)) counts each pixel once per block holding it."""
    x, b = rng.standard_normal((2, 3, 6, 7)), rng.standard_normal((2, 27, 12))
    args = (3, 1, 1, 2)
    lhs = (F.unfold(em.tensor(x), *args).numpy() * b).sum()
    rhs = (x * F.fold(em.tensor(b), (6, 7), *args).numpy()).sum()
    np.testing.assert_allclose(lhs, rhs)
    counts = F.fold(F.unfold(em.ones(1, 1, 4, 4), 2, stride=2), (4, 4), 2, stride=2)
    assert_close(counts, np.ones((1, 1, 4, 4), np.float32))


def test_convolution_as_unfold_and_matmul():
    x, W = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    y = em.tensor(W.reshape(4, -1)) @ F.unfold(em.tensor(x), 3, padding=1)
    assert_close(y.reshape(2, 4, 6, 6), TF.conv2d(torch.tensor(x), torch.tensor(W), padding=1))


@pytest.mark.parametrize("ours,theirs,shape", [
    (lambda: nn.Unfold(3, padding=1), lambda: torch.nn.Unfold(3, padding=1), (2, 3, 5, 5)),
    (lambda: nn.Unfold((2, 3), dilation=(2, 1), stride=2), lambda: torch.nn.Unfold((2, 3), dilation=(2, 1), stride=2),
     (2, 3, 7, 8)),
    (lambda: nn.Fold((4, 5), 2), lambda: torch.nn.Fold((4, 5), 2), (2, 12, 12)),
    (lambda: nn.Fold(6, 3, padding=1, stride=2), lambda: torch.nn.Fold(6, 3, padding=1, stride=2), (1, 18, 9)),
])
def test_fold_layers_match_torch(ours, theirs, shape):
    ours, theirs = ours(), theirs()
    assert repr(ours) == repr(theirs)
    check_module(ours, theirs, rng.standard_normal(shape))


def test_errors_follow_torch():
    with pytest.raises(RuntimeError, match="at least one"):
        F.unfold(em.randn(1, 1, 2, 2), 3)
    with pytest.raises(RuntimeError, match="expected an input of shape"):
        F.fold(em.randn(1, 12, 11), (4, 5), 2)
    with pytest.raises(ValueError, match="4D"):
        F.unfold(em.randn(2, 2), 1)
