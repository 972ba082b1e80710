"""A Wasserstein GAN with gradient penalty (WGAN-GP) learns eight Gaussians on a circle.

    python examples/wgan_gp.py [--iters N] [--out DIR]        # default 1000 iterations, runs/wgan_gp/

The critic D estimates the Wasserstein-1 distance between the data and the generator's samples,
max over 1-Lipschitz D of E[D(x)] − E[D(G(z))]. Gulrajani et al. (2017) keep D near 1-Lipschitz
with a penalty on its input gradient at random points x̂ between real and fake samples:

    L_D = E[D(G(z))] − E[D(x)] + λ E[(‖∇_x̂ D(x̂)‖₂ − 1)²]

The penalty is a function of a gradient, so ∇_x̂ D is taken with ``create_graph=True`` and the
critic's optimiser then differentiates through it: a second derivative, mixed in x̂ and the
critic's weights. The generator minimises −E[D(G(z))]. Prints the mean distance of generated
points to their nearest mode as training goes and saves wgan_gp.png (samples over the modes).
"""
import argparse
import math
from pathlib import Path

import numpy as np

import ember as em
from ember import nn

MODES = 2.0 * np.array([[math.cos(a), math.sin(a)] for a in np.arange(8) * math.pi / 4])
MODE_STD = 0.05
# NOTE: the paper's toy runs use λ = 0.1 rather than its image-model λ = 10: on 2-D data a
# strong penalty flattens the critic before it can point the generator at the modes.
LAMBDA, N_CRITIC, BATCH = 0.1, 5, 128


def real_batch(rng, n: int):
    """n samples of the target: a mode chosen uniformly, plus N(0, 0.05²) noise."""
    return em.tensor(MODES[rng.integers(0, len(MODES), n)] + MODE_STD * rng.standard_normal((n, 2)),
                     dtype=em.float32)


def mlp(n_in: int, n_out: int, hidden: int = 64) -> nn.Module:
    """n_in → hidden → hidden → n_out with ReLUs: the generator (2 → 2) and the critic (2 → 1)."""
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, n_out))


def gradient_penalty(critic, real, fake, rng):
    """λ · mean over the batch of (‖∇_x̂ D(x̂)‖₂ − 1)², at x̂ = ε x + (1 − ε) x̃ with ε ~ U[0, 1] per sample."""
    eps = em.tensor(rng.uniform(0, 1, (real.shape[0], 1)), dtype=real.dtype)
    x_hat = (eps * real + (1 - eps) * fake).detach().requires_grad_(True)
    (grad,) = em.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)  # D(x̂ᵢ) depends on x̂ᵢ only
    return LAMBDA * ((grad.norm(2, dim=1) - 1) ** 2).mean()


def mode_distance(points: np.ndarray) -> float:
    """Mean Euclidean distance from each point to its nearest mode (0.05·√(π/2) ≈ 0.063 for real data)."""
    return float(np.linalg.norm(points[:, None, :] - MODES[None], axis=-1).min(axis=1).mean())


def train(iters: int = 1000, lr: float = 1e-3, seed: int = 0, log_every: int = 100):
    """Train for ``iters`` generator steps (N_CRITIC critic steps each); returns (G, distances)."""
    em.manual_seed(seed)
    rng = np.random.default_rng(seed)
    G, D = mlp(2, 2), mlp(2, 1)
    opt_G = em.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.9))  # the paper's betas
    opt_D = em.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.9))
    z_eval = em.randn(1000, 2)
    distances = [mode_distance(G(z_eval).detach().numpy())]
    for it in range(1, iters + 1):
        for _ in range(N_CRITIC):
            real, fake = real_batch(rng, BATCH), G(em.randn(BATCH, 2)).detach()
            loss_D = D(fake).mean() - D(real).mean() + gradient_penalty(D, real, fake, rng)
            opt_D.zero_grad()
            loss_D.backward()
            opt_D.step()
        loss_G = -D(G(em.randn(BATCH, 2))).mean()
        opt_G.zero_grad()
        loss_G.backward()
        opt_G.step()
        if it % log_every == 0:
            distances.append(mode_distance(G(z_eval).detach().numpy()))
            print(f"iter {it:5d}  critic loss {loss_D.item(): .4f}  mean distance to nearest mode {distances[-1]:.3f}")
    return G, distances


def plot_samples(G, path) -> Path:
    """Generated points (blue) over the eight modes (red), saved as a PNG."""
    from matplotlib.figure import Figure

    with em.no_grad():
        samples = G(em.randn(2000, 2)).numpy()
    fig = Figure(figsize=(4.5, 4.5), layout="constrained")
    ax = fig.subplots()
    ax.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.4, label="G(z)")
    ax.scatter(MODES[:, 0], MODES[:, 1], s=40, c="red", marker="x", label="modes")
    ax.set(xlim=(-3, 3), ylim=(-3, 3), aspect="equal", title="WGAN-GP samples")
    ax.legend(loc="upper right")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def main(argv=None):
    """Train, print the distances, save the samples; returns the distance after every log interval."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=1000)
    parser.add_argument("--out", default="runs/wgan_gp")
    args = parser.parse_args(argv)
    G, distances = train(args.iters)
    real = real_batch(np.random.default_rng(1), 1000).numpy()
    print(f"mean distance to the nearest mode: {distances[0]:.3f} → {distances[-1]:.3f} "
          f"(real samples: {mode_distance(real):.3f})")
    print("saved", plot_samples(G, Path(args.out) / "wgan_gp.png"))
    return distances


if __name__ == "__main__":
    main()
