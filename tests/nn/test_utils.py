"""ember.nn.utils against torch.nn.utils: gradient clipping, flat vectors, penalties."""
import math

import numpy as np
import pytest
import torch

import ember as em
from ember import nn
from ember.nn import utils
from ember.testing import gradcheck


def _twins(grad_scale):
    """Parameters with identical gradients in ember and torch (one parameter without a gradient)."""
    rng = np.random.default_rng(0)
    shapes = [(3, 4), (4,), (2, 2, 3)]
    ours, theirs = [], []
    for i, shape in enumerate(shapes):
        value, grad = rng.standard_normal(shape), rng.standard_normal(shape) * grad_scale
        p, tp = nn.Parameter(em.tensor(value)), torch.nn.Parameter(torch.tensor(value))
        if i != 1:
            p.grad, tp.grad = em.tensor(grad), torch.tensor(grad)
        ours.append(p)
        theirs.append(tp)
    return ours, theirs


def _assert_grads_equal(ours, theirs):
    for p, tp in zip(ours, theirs, strict=True):
        if tp.grad is None:
            assert p.grad is None
        else:
            np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("max_norm", [0.5, 1e3])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf, "inf"])
def test_clip_grad_norm_matches_torch(max_norm, norm_type):
    ours, theirs = _twins(1.0)
    total = utils.clip_grad_norm_(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert isinstance(total, em.Tensor) and total.shape == ()
    assert total.item() == pytest.approx(expected.item(), rel=1e-12)
    _assert_grads_equal(ours, theirs)


def test_clip_grad_norm_caps_the_global_norm_and_keeps_direction():
    ours, _ = _twins(10.0)
    before = [p.grad.numpy().copy() for p in ours if p.grad is not None]
    utils.clip_grad_norm_(ours, 1.0)
    after = [p.grad.numpy() for p in ours if p.grad is not None]
    assert math.sqrt(sum((g**2).sum() for g in after)) == pytest.approx(1.0, rel=1e-5)
    ratios = [a / b for a, b in zip(after, before, strict=True)]
    assert np.allclose(np.concatenate([r.ravel() for r in ratios]), ratios[0].flat[0])


def test_clip_grad_norm_accepts_a_single_tensor_and_float32():
    p = nn.Parameter(em.ones(4))
    p.grad = em.full((4,), 3.0)
    total = utils.clip_grad_norm_(p, 1.0)
    assert total.item() == pytest.approx(6.0) and total.dtype == np.float32
    assert p.grad.dtype == np.float32
    np.testing.assert_allclose(p.grad.numpy(), 0.5, rtol=1e-5)


def test_clip_grad_norm_without_gradients_returns_zero():
    assert utils.clip_grad_norm_([nn.Parameter(em.ones(2))], 1.0).item() == 0.0


def test_clip_grad_norm_nonfinite():
    p = nn.Parameter(em.ones(2))
    p.grad = em.tensor([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)


def test_clipping_does_not_leak_through_a_shared_gradient_array():
    a, b = nn.Parameter(em.ones(3)), nn.Parameter(em.ones(3))
    shared = em.full((3,), 4.0).array
    a.grad, b.grad = em.Tensor(shared), em.Tensor(shared)  # one array, as an engine may hand out
    utils.clip_grad_norm_([a, b], 1.0)
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy())
    np.testing.assert_allclose(shared, 4.0)


@pytest.mark.parametrize("clip_value", [0.3, 5.0])
def test_clip_grad_value_matches_torch(clip_value):
    ours, theirs = _twins(1.0)
    assert utils.clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    _assert_grads_equal(ours, theirs)


def test_get_total_norm_and_clip_grads_with_norm_match_torch():
    ours, theirs = _twins(1.0)
    total = utils.get_total_norm([p.grad for p in ours if p.grad is not None], 2.0)
    expected = torch.nn.utils.get_total_norm([p.grad for p in theirs if p.grad is not None], 2.0)
    assert total.item() == pytest.approx(expected.item(), rel=1e-12)
    utils.clip_grads_with_norm_(ours, 0.7, total)
    torch.nn.utils.clip_grads_with_norm_(theirs, 0.7, expected)
    _assert_grads_equal(ours, theirs)


def test_parameters_to_vector_round_trip_matches_torch():
    model, twin = nn.Linear(3, 2), torch.nn.Linear(3, 2)
    model.load_state_dict({k: v.detach().numpy() for k, v in twin.state_dict().items()})
    vec = utils.parameters_to_vector(model.parameters())
    np.testing.assert_allclose(vec.detach().numpy(), torch.nn.utils.parameters_to_vector(twin.parameters())
                               .detach().numpy())
    utils.vector_to_parameters(em.arange(8, dtype=em.float64), model.parameters())
    np.testing.assert_array_equal(model.weight.detach().numpy(), np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(model.bias.detach().numpy(), [6, 7])
    assert model.weight.dtype == np.float32 and model.weight.requires_grad


def test_parameters_to_vector_is_differentiable():
    layer = nn.Linear(2, 2)
    (utils.parameters_to_vector(layer.parameters()) * em.arange(6, dtype=em.float32)).sum().backward()
    np.testing.assert_array_equal(layer.weight.grad.numpy(), [[0, 1], [2, 3]])
    np.testing.assert_array_equal(layer.bias.grad.numpy(), [4, 5])


def test_vector_to_parameters_errors():
    with pytest.raises(ValueError, match="length 5 does not match 8"):
        utils.vector_to_parameters(em.zeros(5), nn.Linear(3, 2).parameters())
    with pytest.raises(TypeError, match="1-D tensor"):
        utils.vector_to_parameters(np.zeros(8), nn.Linear(3, 2).parameters())


def test_l2_penalty_value_gradient_and_weight_decay_equivalence():
    w1, w2 = em.randn(3, 4, dtype=em.float64, requires_grad=True), em.randn(5, dtype=em.float64, requires_grad=True)
    penalty = utils.l2_penalty([w1, w2])
    assert penalty.item() == pytest.approx((w1.detach().numpy() ** 2).sum() + (w2.detach().numpy() ** 2).sum())
    lambd, m = 0.7, 50  # the course's (λ/2m)·Σ‖W‖² adds (λ/m)·W to dW
    (lambd / (2 * m) * penalty).backward()
    np.testing.assert_allclose(w1.grad.numpy(), lambd / m * w1.detach().numpy(), rtol=1e-12)
    assert gradcheck(lambda a, b: utils.l2_penalty([a, b]), [w1, w2])


def test_l1_penalty_value_and_gradient():
    w = em.tensor([[0.5, -2.0], [3.0, -0.25]], dtype=em.float64, requires_grad=True)
    penalty = utils.l1_penalty([w])
    assert penalty.item() == pytest.approx(5.75)
    penalty.backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.sign(w.detach().numpy()))
    assert gradcheck(lambda a: utils.l1_penalty([a]), [w])


def test_penalties_work_in_a_loss_and_reject_empty_input():
    model = nn.Linear(4, 2)
    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    loss = nn.MSELoss()(model(em.randn(3, 4)), em.zeros(3, 2)) + 0.01 * utils.l2_penalty(weights)
    loss.backward()
    assert model.weight.grad is not None and model.bias.grad is not None
    with pytest.raises(ValueError, match="l1_penalty"):
        utils.l1_penalty([])


def test_clip_grad_norm_below_the_limit_leaves_gradients_alone():
    ours, _ = _twins(1e-3)
    arrays = [p.grad.array for p in ours if p.grad is not None]
    utils.clip_grad_norm_(ours, 1.0)
    assert all(p.grad.array is a for p, a in zip([p for p in ours if p.grad is not None], arrays, strict=True))


def test_get_total_norm_handles_empty_tensors():
    tensors = [em.zeros(0), em.tensor([-3.0, 2.0])]
    assert utils.get_total_norm(tensors, "inf").item() == 3.0
    assert utils.get_total_norm(tensors, 1).item() == 5.0
