"""Object localisation: the course's target vector and loss (known values, gradients, PyTorch, learning)."""
import numpy as np
import pytest
import torch

import ember as em
from ember.nn.linear import Linear
from ember.optim.adam import Adam
from ember.testing import gradcheck
from ember.vision.localization import (
    LocalizationLoss,
    decode_localization,
    localization_loss,
    localization_target,
)


def test_target_vector_known_values():
    boxes = np.array([[16.0, 8.0, 48.0, 40.0], [0.0, 0.0, 32.0, 16.0], [5.0, 5.0, 9.0, 9.0]])
    y = localization_target(boxes, np.array([2, 0, -1]), num_classes=3, image_size=64)
    assert y.shape == (3, 8) and y.dtype == np.float32
    np.testing.assert_allclose(y[0], [1, 0.5, 0.375, 0.5, 0.5, 0, 0, 1])
    np.testing.assert_allclose(y[1], [1, 0.25, 0.125, 0.25, 0.5, 1, 0, 0])
    np.testing.assert_array_equal(y[2], 0)  # no object: p_c = 0 and the rest does not matter (zeros)


def test_target_rectangular_image_is_height_then_width():
    y = localization_target(np.array([[0.0, 0.0, 50.0, 20.0]]), np.array([0]), 1, image_size=(40, 100))
    np.testing.assert_allclose(y[0], [1, 0.25, 0.25, 0.5, 0.5, 1])


def test_target_errors():
    with pytest.raises(ValueError, match="labels must lie in"):
        localization_target(np.zeros((1, 4)), np.array([3]), 3, 64)
    with pytest.raises(ValueError, match=r"boxes \(N, 4\) and labels \(N,\)"):
        localization_target(np.zeros((2, 4)), np.array([0]), 3, 64)


def test_loss_known_values():
    target = np.array([[1.0, 0.5, 0.5, 0.2, 0.2, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    pred = em.tensor([[0.9, 0.4, 0.5, 0.2, 0.4, 0.3, 0.5], [0.2, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]])
    per_image = localization_loss(pred, target, reduction="none").numpy()
    # with an object: every squared term; without: only (ŷ_1 − 0)²
    np.testing.assert_allclose(per_image, [0.01 + 0.01 + 0 + 0 + 0.04 + 0.09 + 0.25, 0.04], rtol=1e-5)
    np.testing.assert_allclose(localization_loss(pred, em.tensor(target)).item(), per_image.mean(), rtol=1e-6)
    np.testing.assert_allclose(LocalizationLoss("sum")(pred, target).item(), per_image.sum(), rtol=1e-6)


def _torch_loss(pred, target):
    pc = target[:, :1]
    weight = torch.cat([torch.ones_like(pc), pc.expand(-1, target.shape[1] - 1)], dim=1)
    return (((pred - target) ** 2) * weight).sum(dim=1).mean()


def test_loss_gradient_matches_finite_differences_and_torch():
    rng = np.random.default_rng(0)
    target = localization_target(rng.uniform(0, 30, (6, 2)).repeat(2, axis=1) + [0, 0, 20, 20],
                                 np.array([0, 1, -1, 2, -1, 1]), 3, 64).astype(np.float64)
    pred = rng.normal(size=target.shape)
    assert gradcheck(lambda t: localization_loss(t, target), [em.tensor(pred, requires_grad=True)])
    x = em.tensor(pred, requires_grad=True)
    loss = localization_loss(x, target)
    loss.backward()
    tx = torch.tensor(pred, requires_grad=True)
    expected = _torch_loss(tx, torch.tensor(target))
    expected.backward()
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    assert np.all(x.grad.numpy()[target[:, 0] == 0, 1:] == 0)  # "don't care" entries get no gradient


def test_loss_errors():
    with pytest.raises(ValueError, match=r"input and target must both be \(N, 5 \+ k\)"):
        localization_loss(em.zeros(2, 7), np.zeros((2, 6)))
    with pytest.raises(ValueError, match="reduction must be one of"):
        localization_loss(em.zeros(2, 7), np.zeros((2, 7)), reduction="avg")


def test_decode_inverts_the_target():
    boxes = np.array([[16.0, 8.0, 48.0, 40.0], [3.0, 7.0, 20.0, 60.0]])
    y = localization_target(boxes, np.array([1, -1]), 2, 64)
    decoded, labels, pc = decode_localization(y, 64)
    np.testing.assert_allclose(decoded[0], boxes[0], atol=1e-5)
    np.testing.assert_array_equal(labels, [1, -1])
    np.testing.assert_array_equal(pc, [1, 0])


def test_a_linear_localiser_learns_with_this_loss():
    # images are 1-D "scenes" whose features give the box directly: the loss must fall far
    rng = np.random.default_rng(1)
    n = 256
    boxes = np.concatenate([rng.uniform(0, 30, (n, 2)), rng.uniform(34, 64, (n, 2))], axis=1)
    labels = np.where(rng.random(n) < 0.3, -1, rng.integers(0, 2, n))
    target = localization_target(boxes, labels, 2, 64)
    features = np.concatenate([target, rng.normal(0, 0.1, (n, 4)).astype(np.float32)], axis=1)
    model = Linear(features.shape[1], target.shape[1])
    optimizer = Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(150):
        loss = localization_loss(model(em.tensor(features)), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.05 * losses[0]
