"""Embedding: the lookup op and the layer against PyTorch and against one_hot(x) @ E."""
import numpy as np
import pytest
import torch

from ember.autograd.tensor import Tensor
from ember.nn.embedding import Embedding
from ember.ops.embedding import embedding, scatter_add_rows
from ember.ops.linalg import matmul
from ember.ops.shape import one_hot
from ember.testing import gradcheck
from torch_parity import assert_close, check_op, copy_weights, to_torch

RNG = np.random.default_rng(0)
# repeated ids on purpose: the backward must add their gradients up
IDS = np.array([[1, 3, 3, 0, 7], [3, 1, 9, 0, 3]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("padding_idx", [None, 0, 3, -1])
@pytest.mark.parametrize("scale_grad_by_freq", [False, True])
def test_embedding_op_matches_torch(dtype, padding_idx, scale_grad_by_freq):
    W = RNG.standard_normal((10, 4))
    check_op(lambda w: embedding(IDS, w, padding_idx, scale_grad_by_freq=scale_grad_by_freq),
             lambda w: torch.nn.functional.embedding(torch.from_numpy(IDS), w, padding_idx,
                                                     scale_grad_by_freq=scale_grad_by_freq),
             [W], dtype=dtype)


def test_embedding_gradcheck():
    # padding_idx and scale_grad_by_freq alter the gradient on purpose: only the plain lookup is a true one
    W = Tensor(RNG.standard_normal((10, 3)), requires_grad=True)
    assert gradcheck(lambda w: embedding(IDS, w), [W])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_embedding_equals_one_hot_matmul(dtype):
    W = RNG.standard_normal((10, 6)).astype(dtype)
    E1, E2 = Tensor(W, requires_grad=True), Tensor(W.copy(), requires_grad=True)
    y1 = embedding(IDS, E1)
    y2 = matmul(one_hot(Tensor(IDS), 10).float().to(dtype), E2)
    assert_close(y1, y2)
    g = RNG.standard_normal(y1.shape).astype(dtype)
    y1.backward(Tensor(g))
    y2.backward(Tensor(g))
    assert_close(E1.grad, E2.grad)


def test_padding_row_gets_no_gradient_and_repeats_add_up():
    W = Tensor(np.ones((10, 2)), requires_grad=True)
    embedding(IDS, W, padding_idx=3).sum().backward()
    counts = np.bincount(IDS.ravel(), minlength=10)
    counts[3] = 0
    np.testing.assert_array_equal(W.grad.numpy(), np.repeat(counts[:, None], 2, axis=1).astype(float))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", [{}, {"padding_idx": 2}, {"scale_grad_by_freq": True, "padding_idx": 0}])
def test_layer_matches_torch(dtype, kwargs):
    theirs = torch.nn.Embedding(10, 5, **kwargs).to(getattr(torch, np.dtype(dtype).name))
    ours = Embedding(10, 5, dtype=dtype, **kwargs)
    copy_weights(ours, theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    y, ty = ours(Tensor(IDS)), theirs(torch.from_numpy(IDS))
    assert_close(y, ty)
    g = RNG.standard_normal(ty.shape).astype(dtype)
    y.backward(Tensor(g))
    ty.backward(torch.from_numpy(g))
    assert_close(ours.weight.grad, theirs.weight.grad)


def test_init_is_standard_normal_with_zero_padding_row():
    emb = Embedding(2000, 50, padding_idx=5)
    w = emb.weight.detach().numpy()
    assert w.dtype == np.float32
    assert np.all(w[5] == 0)
    rest = np.delete(w, 5, axis=0)
    assert abs(rest.mean()) < 0.01 and abs(rest.std() - 1) < 0.01


def test_from_pretrained_frozen_and_trainable():
    table = RNG.standard_normal((6, 3)).astype(np.float32)
    ours = Embedding.from_pretrained(Tensor(table), padding_idx=1)
    theirs = torch.nn.Embedding.from_pretrained(torch.from_numpy(table), padding_idx=1)
    ids = np.array([[1, 2, 5]])
    assert_close(ours(Tensor(ids)), theirs(torch.from_numpy(ids)))
    assert not ours.weight.requires_grad
    assert ours.padding_idx == 1 and np.all(ours.weight.detach().numpy()[1] == table[1])  # not zeroed
    trainable = Embedding.from_pretrained(Tensor(table), freeze=False)
    assert trainable.weight.requires_grad
    trainable(Tensor(ids)).sum().backward()
    assert trainable.weight.grad.numpy()[2].tolist() == [1.0, 1.0, 1.0]


def test_max_norm_renormalises_rows_read_as_torch():
    table = (3 * RNG.standard_normal((8, 4))).astype(np.float32)
    ours = Embedding(8, 4, max_norm=1.5, norm_type=1.0, _weight=Tensor(table.copy()))
    theirs = torch.nn.Embedding(8, 4, max_norm=1.5, norm_type=1.0, _weight=torch.from_numpy(table.copy()))
    ids = np.array([0, 2, 2, 5])
    assert_close(ours(Tensor(ids)), theirs(torch.from_numpy(ids)))
    assert_close(ours.weight, theirs.weight.detach())


def test_repr_and_errors():
    assert repr(Embedding(10, 3, padding_idx=0)) == repr(torch.nn.Embedding(10, 3, padding_idx=0))
    assert repr(Embedding(10, 3, max_norm=2.0)) == repr(torch.nn.Embedding(10, 3, max_norm=2.0))
    emb = Embedding(10, 3)
    with pytest.raises(IndexError, match="index 10 is out of range for 10"):
        emb(Tensor(np.array([1, 10])))
    with pytest.raises(IndexError, match="index -1"):
        emb(Tensor(np.array([-1, 2])))
    with pytest.raises(TypeError, match="integer indices"):
        emb(Tensor(np.array([1.0])))
    with pytest.raises(ValueError, match="padding_idx 10"):
        Embedding(10, 3, padding_idx=10)
    with pytest.raises(ValueError, match="num_embeddings"):
        Embedding(-1, 3)
    with pytest.raises(NotImplementedError, match="sparse"):
        Embedding(10, 3, sparse=True)


def test_an_empty_table_is_built_and_refuses_every_index_as_pytorch_does():
    """PyTorch builds Embedding(0, 3) (a (0, 3) weight) and fails only at lookup; ember does the same."""
    ours, theirs = Embedding(0, 3), torch.nn.Embedding(0, 3)
    assert repr(ours) == repr(theirs) and ours.weight.shape == tuple(theirs.weight.shape) == (0, 3)
    with pytest.raises(IndexError, match="index 0 is out of range for 0 embeddings"):
        ours(Tensor(np.array([0])))
    with pytest.raises(RuntimeError, match="index_select"):
        theirs(torch.tensor([0]))


def test_state_dict_round_trip_into_torch():
    ours = Embedding(7, 3, padding_idx=0)
    theirs = torch.nn.Embedding(7, 3, padding_idx=0)
    theirs.load_state_dict({k: to_torch(v) for k, v in ours.state_dict().items()})
    ids = np.array([0, 4, 6])
    assert_close(ours(Tensor(ids)), theirs(torch.from_numpy(ids)))


@pytest.mark.parametrize("case", ["random", "long_run", "all_same", "one", "trailing_dims"])
def test_scatter_add_rows_equals_add_at(case):
    rng = np.random.default_rng(3)
    index = {"random": rng.integers(0, 50, (7, 9)),
             "long_run": np.where(rng.random(60) < 0.5, 4, rng.integers(0, 9, 60)),
             "all_same": np.full(20, 2), "one": np.array([5]), "trailing_dims": rng.integers(0, 6, (4, 3))}[case]
    trailing = (2, 3) if case == "trailing_dims" else (5,)
    rows = rng.standard_normal(index.shape + trailing)
    target = rng.standard_normal((50,) + trailing)
    expected = target.copy()
    np.add.at(expected, index.ravel(), rows.reshape((-1,) + trailing))
    scatter_add_rows(target, index, rows)
    np.testing.assert_allclose(target, expected, rtol=1e-12, atol=1e-12)
