"""Learning sanity: a small MLP trained with plain gradient steps separates a toy problem."""
import numpy as np

import ember as em
from ember import nn


def _two_moons(n, rng):
    """Two interleaved half-circles with a little noise: separable, but not linearly."""
    t = rng.uniform(0, np.pi, n)
    label = rng.integers(0, 2, n)
    x = np.where(label[:, None] == 0, np.c_[np.cos(t), np.sin(t)], np.c_[1 - np.cos(t), 0.5 - np.sin(t)])
    return (x + rng.normal(0, 0.08, x.shape)).astype(np.float32), label


def test_mlp_learns_two_moons_with_plain_gradient_descent():
    rng = np.random.default_rng(0)
    x, y = _two_moons(400, rng)
    x, y = em.tensor(x), em.tensor(y)
    model = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2))
    criterion = nn.CrossEntropyLoss()
    lr, losses = 0.5, []
    for _ in range(300):
        model.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        with em.no_grad():
            for p in model.parameters():
                p.array -= lr * p.grad.array
        losses.append(loss.item())
    model.eval()
    accuracy = (model(x).detach().numpy().argmax(axis=1) == y.numpy()).mean()
    assert losses[-1] < 0.25 * losses[0]
    assert accuracy > 0.97
