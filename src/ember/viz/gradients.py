"""Vanishing and exploding gradients in recurrent layers, measured and plotted.

With the loss L depending on the last output h_T only, the gradient reaching the input at step t is

    ∂L/∂x_t = (∂h_t/∂x_t)ᵀ · Π_{k=t+1..T} (∂h_k/∂h_{k−1})ᵀ · ∂L/∂h_T,

a product of T − t step Jacobians. For a vanilla RNN each factor is diag(tanh′)·W_hh, so the
product shrinks (or grows) geometrically with the distance T − t. LSTM and GRU carry their state
additively, c_t = f_t ⊙ c_{t−1} + …, h_t = z_t ⊙ h_{t−1} + …, so the factor is the gate itself,
which shrinks much more slowly. At PyTorch's default init those gates sit near σ(0) = ½ and the
gradient still decays, but far less per step; a forget-gate bias of 1 (Jozefowicz et al., 2015)
pushes the factor towards 1 and most of the gradient survives a hundred steps.

- ``recurrent_layer``: an RNN/LSTM/GRU with PyTorch's init, optionally with a forget-gate bias or
  an orthogonal W_hh scaled by a gain (> 1 makes gradients explode).
- ``input_gradient_norms`` / ``gradient_flow``: ‖∂L/∂x_t‖ for every step t, per layer.
- ``clipping_effect``: the total parameter-gradient norm before and after ``clip_grad_norm_``.
- ``plot_gradient_flow``: gradient norm against the time step, log scale, one line per layer.

>>> norms = gradient_flow(["rnn", "lstm", "gru"], seq_len=100)
>>> {name: g[0] / g[-1] for name, g in norms.items()}     # RNN ≪ LSTM, GRU
>>> plot_gradient_flow(norms, "runs/gradient_flow/gradient_flow.png")
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ember import random as _random
from ember.autograd.grad_mode import no_grad
from ember.autograd.tensor import Tensor
from ember.backend import to_numpy
from ember.nn import init
from ember.nn.recurrent import GRU, LSTM, RNN
from ember.nn.utils import clip_grad_norm_, get_total_norm

__all__ = ["clipping_effect", "gradient_flow", "input_gradient_norms", "plot_gradient_flow", "recurrent_layer"]

_LAYERS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
_KEEP_GATE = {"lstm": 1, "gru": 1}  # gate blocks: LSTM (i, f, g, o) → f; GRU (r, z, n) → z (z = 1 keeps h_{t−1})


# -- layers -----------------------------------------------------------------------------------------
def recurrent_layer(cell: str = "rnn", input_size: int = 8, hidden_size: int = 32, nonlinearity: str = "tanh",
                    forget_bias: float | None = None, hh_gain: float | None = None, dtype=np.float64):
    """A one-layer ``batch_first`` RNN, LSTM or GRU with PyTorch's init U(−1/√H, 1/√H), then:

    - ``forget_bias``: the state-keeping gate's total bias b_ih + b_hh set to this value (LSTM's
      forget gate f, GRU's update gate z; for the RNN it is an error);
    - ``hh_gain``: every W_hh replaced by an orthogonal matrix × gain (Saxe et al.): the step
      Jacobian's scale, so a gain > 1 makes a vanilla RNN's gradients explode.

    float64 by default, so that gradients decayed by 10⁻³⁰ are still measured, not flushed to 0.

    >>> recurrent_layer("lstm", forget_bias=1.0)
    LSTM(8, 32, batch_first=True)
    """
    kind = cell.lower()
    if kind not in _LAYERS:
        raise ValueError(f"recurrent_layer: unknown cell {cell!r}; choose from {sorted(_LAYERS)}")
    extra = {"nonlinearity": nonlinearity} if kind == "rnn" else {}
    layer = _LAYERS[kind](input_size, hidden_size, batch_first=True, dtype=dtype, **extra)
    if forget_bias is not None:
        if kind not in _KEEP_GATE:
            raise ValueError(f"recurrent_layer: forget_bias needs a gated cell (lstm, gru), got {cell!r}")
        block = slice(_KEEP_GATE[kind] * hidden_size, (_KEEP_GATE[kind] + 1) * hidden_size)
        with no_grad():
            layer.bias_ih_l0.array[block] = forget_bias
            layer.bias_hh_l0.array[block] = 0.0
    if hh_gain is not None:
        init.orthogonal_(layer.weight_hh_l0, gain=hh_gain)
    return layer


def _input(layer, seq_len: int, batch_size: int, seed: int | None) -> Tensor:
    """A leaf x ~ N(0, 1) of shape (N, T, input_size) in the layer's dtype, requiring grad."""
    rng = _random.seed_from(seed)
    dtype = layer.weight_ih_l0.dtype
    return Tensor(rng.standard_normal((batch_size, seq_len, layer.input_size)).astype(dtype), requires_grad=True)


# -- measurements ------------------------------------------------------------------------------------
def _last_output_loss(layer, x: Tensor) -> Tensor:
    """L = Σ h_T: a loss that depends on the last step's output only."""
    output, _ = layer(x)
    return output[:, -1].sum()


def input_gradient_norms(layer, x: Tensor) -> np.ndarray:
    """‖∂L/∂x_t‖ for t = 1..T (Frobenius norm over batch and features), with L = Σ h_T.

    ``layer`` is a ``batch_first`` recurrent module, ``x`` a leaf (N, T, input_size) requiring grad;
    returns a float64 NumPy array of shape (T,). The squares are taken in float64 so that tiny
    float32 gradients do not underflow to zero.

    >>> x = em.randn(16, 100, 8, requires_grad=True)
    >>> input_gradient_norms(nn.RNN(8, 32, batch_first=True), x).shape
    (100,)
    """
    if not (isinstance(x, Tensor) and x.requires_grad and x.ndim == 3):
        raise ValueError(f"input_gradient_norms: x must be a (N, T, input_size) tensor requiring grad, "
                         f"got shape {getattr(x, 'shape', None)}")
    x.grad = None
    _last_output_loss(layer, x).backward()
    g = to_numpy(x.grad.array).astype(np.float64)
    return np.sqrt((g * g).sum(axis=(0, 2)))


def gradient_flow(layers, seq_len: int = 100, batch_size: int = 16, seed: int | None = 0, **layer_kwargs) -> dict:
    """``{label: ‖∂L/∂x_t‖ for t = 1..T}`` for several recurrent layers fed the same random input.

    ``layers``: cell names (``"rnn"``, ``"lstm"``, ``"gru"``, built by ``recurrent_layer`` with
    ``layer_kwargs``) or a dict label → ``batch_first`` module. ``seed`` fixes the input (and the
    weights of layers built here); ``None`` draws from ember's global generator.

    >>> norms = gradient_flow(["rnn", "lstm", "gru"], seq_len=100, batch_size=16)
    >>> norms["rnn"][0] / norms["rnn"][-1]      # ~1e-28: vanished
    """
    if seed is not None:
        _random.manual_seed(seed)
    if not isinstance(layers, dict):
        layers = {name: recurrent_layer(name, **layer_kwargs) for name in layers}
    if not layers:
        raise ValueError("gradient_flow: no layers given")
    first = next(iter(layers.values()))
    x = _input(first, seq_len, batch_size, seed)
    return {label: input_gradient_norms(layer, _same_input(x, layer)) for label, layer in layers.items()}


def _same_input(x: Tensor, layer) -> Tensor:
    """A fresh leaf with x's values (in the layer's dtype), so each layer gets its own x.grad."""
    return Tensor(x.array.astype(layer.weight_ih_l0.dtype), requires_grad=True)


def clipping_effect(layer, max_norm: float = 1.0, seq_len: int = 100, batch_size: int = 16,
                    seed: int | None = 0) -> tuple[float, float]:
    """(‖∇θ L‖ before, after) ``clip_grad_norm_(layer.parameters(), max_norm)``, with L = Σ h_T.

    The total norm runs over all the parameter gradients together; clipping rescales them all by
    max_norm / ‖∇θ L‖ when it is larger, so ``after`` = min(before, max_norm) (to within 1e−6).

    >>> clipping_effect(recurrent_layer("rnn", hh_gain=2.0), max_norm=1.0)
    (2.6e+06, 1.0)
    """
    layer.zero_grad()
    _last_output_loss(layer, _input(layer, seq_len, batch_size, seed)).backward()
    before = float(clip_grad_norm_(layer.parameters(), max_norm).item())
    after = float(get_total_norm([p.grad for p in layer.parameters() if p.grad is not None]).item())
    return before, after


# -- plot ----------------------------------------------------------------------------------------------
def plot_gradient_flow(norms: dict, path=None, title: str | None = None, dpi: int = 100):
    """Plot ‖∂L/∂x_t‖ against the time step t, log-scale y, one line per entry of ``norms``.

    Args:
        norms: label → (T,) gradient norms, as ``gradient_flow`` returns.
        path: where to save the PNG (parent directories are created); ``None`` only returns the figure.

    Zeros (a gradient that underflowed) are left out of the line. Returns the matplotlib ``Figure``.

    >>> plot_gradient_flow(gradient_flow(["rnn", "lstm", "gru"]), "runs/gradient_flow/gradient_flow.png")
    """
    from matplotlib.figure import Figure

    if not norms:
        raise ValueError("plot_gradient_flow: no gradient norms to draw")
    fig = Figure(figsize=(7.0, 4.2), layout="constrained")
    ax = fig.subplots()
    for label, values in norms.items():
        values = np.asarray(values, dtype=np.float64)
        ax.plot(np.arange(1, values.size + 1), np.where(values > 0, values, np.nan), label=label)
    ax.set_yscale("log")
    ax.set_xlabel("time step t (the loss reads the last step T only)")
    ax.set_ylabel("‖∂L/∂x_t‖")
    ax.set_title(title or "Gradient reaching each time step")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi)
    return fig
