"""The n-th derivative of tanh by differentiating the gradient again and again.

    python examples/tanh_derivatives.py [OUT_DIR]          # default runs/tanh_derivatives/

``em.autograd.grad(y, x, create_graph=True)`` returns dy/dx as a tensor with its own graph (the
backward pass recorded as ops), so calling ``grad`` on it gives d²y/dx², and so on. tanh works
elementwise, so the gradient of ``y.sum()`` on a grid of x is the derivative at every point.
Saves tanh_derivatives.png (tanh and its first four derivatives) and the graph that computes the
highest one, as DOT text (tanh_derivative_graph.dot) and, where Graphviz's ``dot`` is installed,
as tanh_derivative_graph.png: each order's graph holds the whole previous one, so it grows fast.
"""
import argparse
import shutil
from pathlib import Path

import numpy as np

import ember as em
from ember.viz import graph, render_graph

ORDERS, GRAPH_ORDER = 4, 4


def derivatives(x, n: int) -> list:
    """[tanh(x), tanh'(x), …, tanh⁽ⁿ⁾(x)] on the points of ``x`` (a tensor that requires grad), each
    but the last still carrying its graph."""
    ys = [em.tanh(x)]
    for _ in range(n):
        (dy,) = em.autograd.grad(ys[-1].sum(), x, create_graph=True)
        ys.append(dy)
    return ys


def closed_forms(t: np.ndarray) -> list:
    """tanh' … tanh'''' in terms of t = tanh(x), from (tanh)' = 1 − t² by the chain rule."""
    u = 1 - t ** 2
    return [u, -2 * t * u, -2 * u * (1 - 3 * t ** 2), 8 * t * u * (2 - 3 * t ** 2)]


def plot_derivatives(x: np.ndarray, ys: list, path) -> Path:
    """tanh and its derivatives on one set of axes, saved as a PNG."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 4), layout="constrained")
    ax = fig.subplots()
    for k, y in enumerate(ys):
        ax.plot(x, y, label="tanh" + ("" if k == 0 else f"$^{{({k})}}$"))
    ax.set(xlabel="x", ylim=(-5, 5), title="tanh and its derivatives by repeated grad(create_graph=True)")
    ax.grid(alpha=0.3)
    ax.legend()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def main(out_dir="runs/tanh_derivatives") -> dict:
    """Differentiate, print the graph sizes, write the plot and the graph; returns the paths written."""
    out = Path(out_dir)
    x = em.linspace(-4, 4, 201, dtype=em.float64, requires_grad=True)
    ys = [y.detach().numpy() for y in derivatives(x, ORDERS)]
    for k, exact in enumerate(closed_forms(ys[0]), start=1):
        print(f"tanh^({k}): largest difference from the closed form {np.abs(ys[k] - exact).max():.1e}")
    paths = {"plot": plot_derivatives(x.detach().numpy(), ys, out / "tanh_derivatives.png")}
    for k in range(1, GRAPH_ORDER + 1):
        dot = graph(derivatives(em.tensor([1.0], requires_grad=True), k)[-1], show_shapes=False)
        print(f"graph of tanh^({k}): {dot.count('shape=box')} ops")
    paths["dot"] = out / "tanh_derivative_graph.dot"
    paths["dot"].write_text(dot, encoding="utf-8")
    if shutil.which("dot"):
        paths["graph"] = render_graph(dot, out / "tanh_derivative_graph.png")
    return paths


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", default="runs/tanh_derivatives")
    for name, path in main(parser.parse_args().out_dir).items():
        print(f"saved {name}: {path}")
