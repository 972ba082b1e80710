"""Activation checkpointing gives the gradients of the plain run (and PyTorch's), keeping one graph node."""
import warnings

import numpy as np
import pytest
import torch

import ember as em
from ember.utils.checkpoint import checkpoint, checkpoint_sequential
from torch_parity import assert_close


def block(nn):
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.3), nn.Linear(8, 4), nn.GELU())


def grads_of(model, x, run):
    model.zero_grad()
    run(model, x).pow(2).sum().backward()
    return [p.grad.numpy().copy() for p in model.parameters()], (None if x.grad is None else x.grad.numpy().copy())


@pytest.mark.parametrize("use_reentrant", [False, True])
def test_gradients_equal_the_plain_run_with_dropout_replayed(use_reentrant):
    em.manual_seed(0)
    model = block(em.nn)
    x = em.randn(5, 4, requires_grad=True)
    em.manual_seed(1)
    plain_params, plain_x = grads_of(model, x, lambda m, v: m(v))
    x.grad = None
    em.manual_seed(1)
    ours_params, ours_x = grads_of(model, x, lambda m, v: checkpoint(m, v, use_reentrant=use_reentrant))
    for a, b in zip(ours_params, plain_params, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ours_x, plain_x, rtol=1e-6, atol=1e-7)


def test_matches_torch_checkpoint_and_keeps_one_node():
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3))
    ours = em.nn.Sequential(em.nn.Linear(4, 6), em.nn.ReLU(), em.nn.Linear(6, 3))
    ours.load_state_dict({k: em.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    data = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    ex, tx = em.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    ey = checkpoint(ours, ex, use_reentrant=False)
    ty = torch.utils.checkpoint.checkpoint(theirs, tx, use_reentrant=False)
    assert_close(ey, ty)
    assert ey.grad_fn.name() == "_RecomputedBackward"  # the block's three ops left no nodes of their own
    (ey * ey).sum().backward()
    (ty * ty).sum().backward()
    assert_close(ex.grad, tx.grad)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        assert_close(p.grad, q.grad, name=name)


def test_inputs_without_grad_still_train_the_parameters_unless_reentrant():
    model = em.nn.Linear(3, 2)
    x = em.randn(4, 3)
    checkpoint(model, x, use_reentrant=False).sum().backward()
    assert model.weight.grad is not None
    model.zero_grad()
    with pytest.warns(UserWarning, match="none of the inputs have requires_grad=True"):
        y = checkpoint(model, x, use_reentrant=True)
    assert not y.requires_grad


def test_keyword_arguments_default_warning_and_no_grad():
    model = em.nn.Linear(3, 2)
    x = em.randn(4, 3, requires_grad=True)
    with pytest.warns(UserWarning, match="use_reentrant"):
        checkpoint(model, x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = checkpoint(lambda a, scale: model(a) * scale, x, scale=2.0, use_reentrant=False)
    assert_close(y, model(x) * 2.0)
    with em.no_grad():
        assert not checkpoint(model, x, use_reentrant=False).requires_grad


def test_checkpoint_sequential_equals_the_plain_stack():
    em.manual_seed(0)
    stack = em.nn.Sequential(*[em.nn.Sequential(em.nn.Linear(4, 4), em.nn.Tanh()) for _ in range(5)])
    x = em.randn(2, 4, requires_grad=True)
    plain, plain_x = grads_of(stack, x, lambda m, v: m(v))
    x.grad = None
    chunked, chunked_x = grads_of(stack, x, lambda m, v: checkpoint_sequential(m, 3, v, use_reentrant=False))
    for a, b in zip(chunked, plain, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(chunked_x, plain_x, rtol=1e-6, atol=1e-7)
