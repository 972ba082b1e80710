"""The top eigenvalue of a trained network's loss Hessian, by power iteration on Hessian-vector products.

    python examples/hessian_eigenvalue.py

A 2-16-1 tanh MLP is fitted to a smooth 2-D function. The Hessian H of its loss over all 65
parameters is never formed: a Hessian-vector product Hv is the gradient of ∇L · v, one extra
backward pass through the gradient's graph (``create_graph=True``). Power iteration v ← Hv/|Hv|
then converges to the eigenvector of the eigenvalue largest in magnitude, λ_max, the sharpness
that bounds gradient descent's stable step size, lr < 2/λ_max. For this small net the answer
is checked against ``numpy.linalg.eigvalsh`` of the full Hessian, built one Hv column at a time.
"""
import argparse

import numpy as np

import ember as em
import ember.nn.functional as F
from ember import nn


def toy_data(n: int = 128, seed: int = 0):
    """(x, y): n points of [−2, 2]² and y = sin(2x₁) · cos(x₂), float64."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, (n, 2))
    return em.tensor(x), em.tensor(np.sin(2 * x[:, :1]) * np.cos(x[:, 1:]))


def mlp(hidden: int = 16) -> nn.Module:
    """2 → hidden → 1 with tanh, in float64 so that the eigenvalues are checked to many digits."""
    return nn.Sequential(nn.Linear(2, hidden, dtype=em.float64), nn.Tanh(), nn.Linear(hidden, 1, dtype=em.float64))


def train(model, x, y, steps: int = 500, lr: float = 0.02):
    """Fit with Adam on the full batch; returns the final loss."""
    optimizer = em.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        loss = F.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item()


class HessianVectorProduct:
    """v ↦ Hv for the Hessian of ``loss`` over ``params``: ∇L is computed once with a graph, and
    each product is one more backward pass, Hv = ∇(∇L · v)."""

    def __init__(self, loss, params):
        self.params = list(params)
        self.grads = em.autograd.grad(loss, self.params, create_graph=True)

    def __call__(self, v: np.ndarray) -> np.ndarray:
        pieces = np.split(v, np.cumsum([p.numel() for p in self.params])[:-1])
        dot = sum((g * em.tensor(piece.reshape(g.shape))).sum() for g, piece in zip(self.grads, pieces, strict=True))
        Hv = em.autograd.grad(dot, self.params, retain_graph=True)
        return np.concatenate([h.numpy().ravel() for h in Hv])

    @property
    def size(self) -> int:
        """How many parameters: H is size × size."""
        return sum(p.numel() for p in self.params)


def power_iteration(hvp, iters: int = 500, tol: float = 1e-10, seed: int = 0):
    """(λ, v, steps): the eigenvalue of largest magnitude of the operator ``hvp`` and its unit eigenvector."""
    v = np.random.default_rng(seed).standard_normal(hvp.size)
    v /= np.linalg.norm(v)
    eigenvalue = 0.0
    for step in range(1, iters + 1):
        Hv = hvp(v)
        previous, eigenvalue = eigenvalue, float(v @ Hv)  # the Rayleigh quotient vᵀHv
        v = Hv / np.linalg.norm(Hv)
        if abs(eigenvalue - previous) < tol * abs(eigenvalue):
            return eigenvalue, v, step
    return eigenvalue, v, iters


def full_hessian(hvp) -> np.ndarray:
    """The whole Hessian, column j = H e_j (only for small nets: one backward pass per parameter)."""
    return np.stack([hvp(e) for e in np.eye(hvp.size)], axis=1)


def main(argv=None):
    """Train, run power iteration, check it against the exact spectrum; returns the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--steps", type=int, default=500)
    args = parser.parse_args(argv)
    em.manual_seed(0)
    x, y = toy_data()
    model = mlp(args.hidden)
    loss = train(model, x, y, args.steps)
    hvp = HessianVectorProduct(F.mse_loss(model(x), y), model.parameters())
    top, _, steps = power_iteration(hvp)
    exact = np.linalg.eigvalsh(full_hessian(hvp))
    print(f"{hvp.size} parameters, training loss {loss:.4f}")
    print(f"power iteration: λ_max = {top:.6f} after {steps} Hessian-vector products")
    print(f"eigvalsh of the full {hvp.size}×{hvp.size} Hessian: λ_max = {exact[-1]:.6f}, λ_min = {exact[0]:.3g}")
    print(f"gradient descent on this loss is stable for lr < 2/λ_max = {2 / top:.3f}")
    return {"loss": loss, "power": top, "steps": steps, "eigenvalues": exact}


if __name__ == "__main__":
    main()
