"""Recurrent layers: Elman ``RNN``, ``LSTM``, ``GRU`` (fused, PyTorch-compatible), ``JordanRNN`` and the cells.

The multi-layer classes run one fused op (``ember.ops.recurrent``) per layer and direction; the
``*Cell`` classes spell the same gate formulas out step by step with primitive ops, for reading
and for testing the fused layers against.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ember.autograd.tensor import Parameter, Tensor
from ember.backend import to_numpy
from ember.creation import empty, zeros
from ember.nn import init
from ember.nn.module import Module
from ember.nn.rnn_utils import PackedSequence, pack_like, pad_packed_sequence
from ember.ops.activation import identity, relu, sigmoid, tanh
from ember.ops.dropout import dropout as _dropout
from ember.ops.linalg import linear
from ember.ops.recurrent import gru_layer, lstm_layer, rnn_layer
from ember.ops.shape import cat, chunk, squeeze, stack, transpose, unsqueeze

_ACTIVATIONS = {"tanh": tanh, "relu": relu, "sigmoid": sigmoid, "identity": identity}


def _check_sizes(layer, **sizes):
    for name, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{layer}: {name} must be a positive integer, got {value!r}")


def _lengths_array(layer, lengths, N, T):
    """``lengths`` as a host int array, checked against the batch size N and the sequence length T."""
    if lengths is None:
        return None
    lengths = np.asarray(to_numpy(lengths.array) if isinstance(lengths, Tensor) else lengths).reshape(-1)
    if lengths.shape != (N,):
        raise ValueError(f"{layer}: expected {N} lengths (one per sequence of the batch), got {lengths.shape[0]}")
    if lengths.dtype.kind not in "iu" or (N and (lengths.min() < 1 or lengths.max() > T)):
        raise ValueError(f"{layer}: lengths must be integers in [1, {T}] (the padded length), got {lengths.tolist()}")
    return lengths


def _accepts_packed(forward):
    """Let ``forward(input, hx, lengths)`` take a PackedSequence: it runs as the padded batch with its
    lengths (the same numbers), and the output is packed back in the input's layout. hx and the final
    states stay in the original batch order, as PyTorch's."""
    @functools.wraps(forward)
    def run(self, input, hx=None, lengths=None):
        if not isinstance(input, PackedSequence):
            return forward(self, input, hx, lengths)
        padded, lengths = pad_packed_sequence(input, self.batch_first)
        output, state = forward(self, padded, hx, lengths)
        return pack_like(output, input, self.batch_first), state

    return run


# -- multi-layer fused RNN / LSTM / GRU -------------------------------------------------------
class _RNNBase(Module):
    """Shared by RNN, LSTM and GRU: parameters per layer and direction, shapes, stacking, dropout."""

    gates = 1

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        _check_sizes(name, input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        if not (isinstance(dropout, (int, float)) and 0 <= dropout <= 1) or isinstance(dropout, bool):
            raise ValueError(f"{name}: dropout must be a probability in [0, 1], got {dropout!r}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, 0
        G, H = self.gates * hidden_size, hidden_size
        for layer in range(num_layers):
            size = input_size if layer == 0 else H * self.num_directions
            for suffix in ("", "_reverse")[:self.num_directions]:
                setattr(self, f"weight_ih_l{layer}{suffix}", Parameter(empty(G, size, dtype=dtype, device=device)))
                setattr(self, f"weight_hh_l{layer}{suffix}", Parameter(empty(G, H, dtype=dtype, device=device)))
                if bias:
                    setattr(self, f"bias_ih_l{layer}{suffix}", Parameter(empty(G, dtype=dtype, device=device)))
                    setattr(self, f"bias_hh_l{layer}{suffix}", Parameter(empty(G, dtype=dtype, device=device)))
        self.reset_parameters()

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def flatten_parameters(self) -> None:
        """Nothing to do: PyTorch packs the weights into one buffer for cuDNN; ember reads them where they are."""

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(−1/√hidden_size, 1/√hidden_size), as PyTorch."""
        bound = 1 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _weights(self, layer, suffix):
        names = ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if self.bias else ())
        return [getattr(self, f"{n}_l{layer}{suffix}") for n in names]

    def _state_shape(self, N):
        return (self.num_layers * self.num_directions, N, self.hidden_size)

    def _check_state(self, state, N, unbatched, what="h_0"):
        L, N, H = self._state_shape(N)
        expected = (L, H) if unbatched else (L, N, H)
        if tuple(state.shape) != expected:
            raise ValueError(f"{type(self).__name__}: expected {what} of shape {expected} "
                             f"(num_layers·num_directions, N, hidden_size), got {tuple(state.shape)}")

    def _prepare(self, input, lengths):
        """Time-major batched input, whether it was unbatched, and the checked lengths."""
        name = type(self).__name__
        if input.ndim not in (2, 3) or input.shape[-1] != self.input_size:
            raise ValueError(f"{name}(input_size={self.input_size}): expected input of shape (T, N, "
                             f"{self.input_size}), (N, T, {self.input_size}) with batch_first or (T, "
                             f"{self.input_size}) unbatched, got {tuple(input.shape)}")
        unbatched = input.ndim == 2
        if unbatched:
            input = unsqueeze(input, 1)
        elif self.batch_first:
            input = transpose(input, 0, 1)
        T, N = input.shape[:2]
        return input, unbatched, _lengths_array(name, lengths, N, T)

    def _initial(self, hx, N, unbatched, what="h_0"):
        if hx is None:
            return zeros(*self._state_shape(N), dtype=self.weight_ih_l0.dtype, device=self.weight_ih_l0.device)
        self._check_state(hx, N, unbatched, what)
        return unsqueeze(hx, 1) if unbatched else hx

    def _run(self, input, states, lengths, step):
        """Layers × directions of ``step(x, states_k, weights, reverse)`` → (output, final states)."""
        finals = [[] for _ in states]
        x = input
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0:
                x = _dropout(x, self.dropout, self.training)
            outputs = []
            for d, suffix in enumerate(("", "_reverse")[:self.num_directions]):
                k = layer * self.num_directions + d
                y, *last = step(x, [s[k] for s in states], self._weights(layer, suffix), lengths, d == 1)
                outputs.append(y)
                for f, s in zip(finals, last, strict=True):
                    f.append(s)
            x = outputs[0] if len(outputs) == 1 else cat(outputs, dim=2)
        return x, [stack(f, 0) for f in finals]

    def _finish(self, output, states, unbatched):
        if unbatched:
            return squeeze(output, 1), [squeeze(s, 1) for s in states]
        if self.batch_first:
            output = transpose(output, 0, 1)
        return output, states

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(_RNNBase):
    """Multi-layer Elman RNN: h_t = act(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh), act = tanh or relu.

    Args as ``torch.nn.RNN``: input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0 (between layers, training only), bidirectional=False.

    forward(input, hx=None, lengths=None): input (T, N, I) ((N, T, I) with batch_first, (T, I)
    unbatched), hx (L·D, N, H) → (output (T, N, D·H), h_n (L·D, N, H)). ``lengths`` (N,) runs a
    padded batch as if each sequence ran alone: outputs past a sequence's length are 0 and h_n is
    its state at its last real step (PyTorch's packed-sequence results). ``input`` may also be a
    ``PackedSequence`` (``nn.utils.rnn``); the output is then one too.

    >>> rnn = nn.RNN(10, 20, num_layers=2)
    >>> output, h_n = rnn(em.randn(5, 3, 10))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device, dtype)
        self.nonlinearity = nonlinearity

    @_accepts_packed
    def forward(self, input, hx=None, lengths=None):
        x, unbatched, lengths = self._prepare(input, lengths)
        h0 = self._initial(hx, x.shape[1], unbatched)

        def step(x, states, weights, lengths, reverse):
            return rnn_layer(x, states[0], *weights, nonlinearity=self.nonlinearity, lengths=lengths,
                             reverse=reverse)

        output, (h_n,) = self._finish(*self._run(x, [h0], lengths, step), unbatched)
        return output, h_n


class LSTM(_RNNBase):
    """Multi-layer LSTM (Hochreiter & Schmidhuber 1997), PyTorch's gate order i, f, g, o:

        i, f, o = σ(W_i· x_t + b_i· + W_h· h_{t−1} + b_h·),  g = tanh(W_ig x_t + b_ig + W_hg h_{t−1} + b_hg)
        c_t = f ⊙ c_{t−1} + i ⊙ g,  h_t = o ⊙ tanh(c_t)

    Args as ``torch.nn.LSTM`` (proj_size is not supported). forward(input, hx=None, lengths=None)
    with hx = (h_0, c_0), each (L·D, N, H) → (output (T, N, D·H), (h_n, c_n)). See ``RNN`` for
    shapes and ``lengths``.

    >>> lstm = nn.LSTM(10, 20, batch_first=True)
    >>> output, (h_n, c_n) = lstm(em.randn(3, 5, 10))
    """

    gates = 4

    @_accepts_packed
    def forward(self, input, hx=None, lengths=None):
        x, unbatched, lengths = self._prepare(input, lengths)
        if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise ValueError("LSTM: hx must be a tuple (h_0, c_0)")
        h0, c0 = (None, None) if hx is None else hx
        states = [self._initial(h0, x.shape[1], unbatched, "h_0"), self._initial(c0, x.shape[1], unbatched, "c_0")]

        def step(x, states, weights, lengths, reverse):
            return lstm_layer(x, states[0], states[1], *weights, lengths=lengths, reverse=reverse)

        output, (h_n, c_n) = self._finish(*self._run(x, states, lengths, step), unbatched)
        return output, (h_n, c_n)


class GRU(_RNNBase):
    """Multi-layer GRU (Cho et al. 2014), PyTorch's gate order r, z, n and formulation:

        r, z = σ(W_i· x_t + b_i· + W_h· h_{t−1} + b_h·)
        n = tanh(W_in x_t + b_in + r ⊙ (W_hn h_{t−1} + b_hn)),  h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}

    Args as ``torch.nn.GRU``. forward(input, hx=None, lengths=None) → (output, h_n); see ``RNN``.

    >>> gru = nn.GRU(10, 20, bidirectional=True)
    >>> output, h_n = gru(em.randn(5, 3, 10))   # output (5, 3, 40), h_n (2, 3, 20)
    """

    gates = 3

    @_accepts_packed
    def forward(self, input, hx=None, lengths=None):
        x, unbatched, lengths = self._prepare(input, lengths)
        h0 = self._initial(hx, x.shape[1], unbatched)

        def step(x, states, weights, lengths, reverse):
            return gru_layer(x, states[0], *weights, lengths=lengths, reverse=reverse)

        output, (h_n,) = self._finish(*self._run(x, [h0], lengths, step), unbatched)
        return output, h_n


# -- Jordan network ----------------------------------------------------------------------------
class JordanRNN(Module):
    """Jordan network (Jordan 1986): the recurrence feeds back the previous *output*, not the hidden state.

        h_t = act(W_ih x_t + b_ih + W_oh y_{t−1} + b_oh)
        y_t = act_out(W_ho h_t + b_ho),  y_0 = 0 unless given

    Layer k's parameters (suffix ``_reverse`` for the backward direction), as PyTorch names its
    RNNs': weight_ih_l{k} (H, I_k), weight_oh_l{k} (H, O) (output → hidden feedback),
    weight_ho_l{k} (O, H) (hidden → output), biases bias_ih_l{k}, bias_oh_l{k} (H,) and
    bias_ho_l{k} (O,); all ~ U(−1/√H, 1/√H). Layer k > 0 reads the outputs of layer k − 1 (both
    directions concatenated, I_k = O·dirs), with ``dropout`` between layers in training.
    act is 'tanh' or 'relu'; act_out is 'identity' (default), 'tanh', 'sigmoid' or 'relu'.

    forward(input, y0=None, lengths=None): input (T, N, I) ((N, T, I) with batch_first, (T, I)
    unbatched), y0 (num_layers·dirs, N, O) → (output (T, N, O·dirs), y_n (num_layers·dirs, N, O));
    ``lengths`` as for ``RNN`` (the backward direction runs over each sequence's own steps).
    Composed from ops step by step: no fused kernel, since y feeds back through W_ho.

    >>> net = nn.JordanRNN(3, 8, 2, num_layers=2, bidirectional=True)
    >>> output, y_n = net(em.randn(6, 4, 3))
    >>> output.shape, y_n.shape
    ((6, 4, 4), (4, 4, 2))
    """

    def __init__(self, input_size, hidden_size, output_size, num_layers=1, nonlinearity="tanh",
                 output_nonlinearity="identity", bias=True, batch_first=False, dropout=0.0, bidirectional=False,
                 device=None, dtype=None):
        super().__init__()
        _check_sizes("JordanRNN", input_size=input_size, hidden_size=hidden_size, output_size=output_size,
                     num_layers=num_layers)
        if nonlinearity not in ("tanh", "relu") or output_nonlinearity not in _ACTIVATIONS:
            raise ValueError(f"JordanRNN: nonlinearity must be 'tanh' or 'relu' and output_nonlinearity one of "
                             f"{sorted(_ACTIVATIONS)}, got {nonlinearity!r} and {output_nonlinearity!r}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"JordanRNN: dropout must lie in [0, 1], got {dropout}")
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.num_layers, self.dropout, self.bidirectional = num_layers, float(dropout), bidirectional
        self.nonlinearity, self.output_nonlinearity = nonlinearity, output_nonlinearity
        self.bias, self.batch_first = bias, batch_first
        self.directions = ("", "_reverse") if bidirectional else ("",)
        for layer in range(num_layers):
            n_in = input_size if layer == 0 else output_size * len(self.directions)
            for suffix in self.directions:
                tag = f"_l{layer}{suffix}"
                shapes = {"weight_ih": (hidden_size, n_in), "weight_oh": (hidden_size, output_size),
                          "weight_ho": (output_size, hidden_size)}
                if bias:
                    shapes.update(bias_ih=(hidden_size,), bias_oh=(hidden_size,), bias_ho=(output_size,))
                for name, shape in shapes.items():
                    setattr(self, name + tag, Parameter(empty(*shape, dtype=dtype, device=device)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(−1/√hidden_size, 1/√hidden_size), as PyTorch's RNNs."""
        bound = 1 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def forward(self, input, y0=None, lengths=None):
        if input.ndim not in (2, 3) or input.shape[-1] != self.input_size:
            raise ValueError(f"JordanRNN(input_size={self.input_size}): expected input of shape (T, N, "
                             f"{self.input_size}) or (T, {self.input_size}), got {tuple(input.shape)}")
        unbatched = input.ndim == 2
        x = unsqueeze(input, 1) if unbatched else transpose(input, 0, 1) if self.batch_first else input
        T, N = x.shape[:2]
        lengths = _lengths_array("JordanRNN", lengths, N, T)
        y0 = self._initial(y0, N, unbatched)
        masks = None
        if lengths is not None:
            masks = Tensor(x.xp.asarray((np.arange(T)[:, None] < lengths[None, :]).astype(x.dtype)[:, :, None]))
        finals = []
        for layer in range(self.num_layers):
            if layer and self.dropout and self.training:
                x = _dropout(x, self.dropout, True)
            outputs = []
            for d, suffix in enumerate(self.directions):
                k = layer * len(self.directions) + d
                out, y_n = self._direction(x, y0[k], masks, lengths, f"_l{layer}{suffix}", reverse=d == 1)
                outputs.append(out)
                finals.append(y_n)
            x = cat(outputs, 2) if len(outputs) > 1 else outputs[0]
        y_n = stack(finals, 0)
        if unbatched:
            return squeeze(x, 1), squeeze(y_n, 1)
        return (transpose(x, 0, 1) if self.batch_first else x), y_n

    def _direction(self, x, y, masks, lengths, tag, reverse):
        """One layer-direction over time-major x (T, N, I_k): (outputs (T, N, O), final y (N, O))."""
        p = {name: getattr(self, name + tag) for name in ("weight_ih", "weight_oh", "weight_ho")}
        b = {name: getattr(self, name + tag) if self.bias else None for name in ("bias_ih", "bias_oh", "bias_ho")}
        act, act_out = _ACTIVATIONS[self.nonlinearity], _ACTIVATIONS[self.output_nonlinearity]
        order = _reversal(x.shape[0], x.shape[1], lengths) if reverse else None
        if order is not None:
            x = x[order]
        projected = linear(x, p["weight_ih"], b["bias_ih"])  # W_ih x_t + b_ih for all steps at once
        outputs = []
        for t in range(x.shape[0]):
            h = act(projected[t] + linear(y, p["weight_oh"], b["bias_oh"]))
            y_new = act_out(linear(h, p["weight_ho"], b["bias_ho"]))
            if masks is None:
                y = y_new
                outputs.append(y)
            else:  # padded steps keep y and output 0
                y = y + masks[t] * (y_new - y)
                outputs.append(y_new * masks[t])
        output = stack(outputs, 0)
        return (output[order] if order is not None else output), y

    def _initial(self, y0, N, unbatched):
        k = self.num_layers * len(self.directions)
        if y0 is None:
            return zeros(k, N, self.output_size, dtype=self.weight_ih_l0.dtype, device=self.weight_ih_l0.device)
        expected = (k, self.output_size) if unbatched else (k, N, self.output_size)
        if tuple(y0.shape) != expected:
            raise ValueError(f"JordanRNN: expected y0 of shape {expected}, got {tuple(y0.shape)}")
        return unsqueeze(y0, 1) if unbatched else y0

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}, {self.output_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        if self.output_nonlinearity != "identity":
            s += f", output_nonlinearity={self.output_nonlinearity}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


def _reversal(T, N, lengths):
    """Index (rows (T, N), cols (1, N)) reversing each sequence within its own length (padding stays put);
    applying it twice is the identity."""
    t = np.arange(T)[:, None]
    n_steps = np.full(N, T) if lengths is None else np.asarray(lengths)
    rows = np.where(t < n_steps[None, :], n_steps[None, :] - 1 - t, t)
    return rows, np.arange(N)[None, :]


# -- cells ---------------------------------------------------------------------------------
class _CellBase(Module):
    gates = 1

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__()
        _check_sizes(type(self).__name__, input_size=input_size, hidden_size=hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        G = self.gates * hidden_size
        self.weight_ih = Parameter(empty(G, input_size, dtype=dtype, device=device))
        self.weight_hh = Parameter(empty(G, hidden_size, dtype=dtype, device=device))
        if bias:
            self.bias_ih = Parameter(empty(G, dtype=dtype, device=device))
            self.bias_hh = Parameter(empty(G, dtype=dtype, device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(−1/√hidden_size, 1/√hidden_size), as PyTorch."""
        bound = 1 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _prepare(self, input, states):
        """Batched input and states (zeros when absent), and whether the input was unbatched."""
        name = type(self).__name__
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(f"{name}(input_size={self.input_size}): expected input of shape (N, "
                             f"{self.input_size}) or ({self.input_size},), got {tuple(input.shape)}")
        unbatched = input.ndim == 1
        x = unsqueeze(input, 0) if unbatched else input
        N = x.shape[0]
        out = []
        for s in states:
            if s is None:
                out.append(zeros(N, self.hidden_size, dtype=x.dtype, device=x.device))
                continue
            expected = (self.hidden_size,) if unbatched else (N, self.hidden_size)
            if tuple(s.shape) != expected:
                raise ValueError(f"{name}: expected a hidden state of shape {expected}, got {tuple(s.shape)}")
            out.append(unsqueeze(s, 0) if unbatched else s)
        return x, out, unbatched

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s


class RNNCell(_CellBase):
    """One Elman step: h' = act(W_ih x + b_ih + W_hh h + b_hh), act = tanh or relu.

    forward(input (N, I) or (I,), hx (N, H) or None) → h' (N, H).

    >>> cell = nn.RNNCell(10, 20)
    >>> h = cell(em.randn(3, 10))
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, (h,), unbatched = self._prepare(input, [hx])
        act = _ACTIVATIONS[self.nonlinearity]
        h = act(linear(x, self.weight_ih, self.bias_ih) + linear(h, self.weight_hh, self.bias_hh))
        return squeeze(h, 0) if unbatched else h


class LSTMCell(_CellBase):
    """One LSTM step, PyTorch's gate order i, f, g, o:

        i = σ(W_ii x + b_ii + W_hi h + b_hi),  f = σ(W_if x + b_if + W_hf h + b_hf)
        g = tanh(W_ig x + b_ig + W_hg h + b_hg),  o = σ(W_io x + b_io + W_ho h + b_ho)
        c' = f ⊙ c + i ⊙ g,  h' = o ⊙ tanh(c')

    forward(input (N, I), hx=(h, c) or None) → (h', c'), each (N, H).

    >>> cell = nn.LSTMCell(10, 20)
    >>> h, c = cell(em.randn(3, 10))
    """

    gates = 4

    def forward(self, input, hx=None):
        h, c = (None, None) if hx is None else hx
        x, (h, c), unbatched = self._prepare(input, [h, c])
        gates = linear(x, self.weight_ih, self.bias_ih) + linear(h, self.weight_hh, self.bias_hh)
        i, f, g, o = chunk(gates, 4, dim=1)
        i, f, g, o = sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)
        c = f * c + i * g
        h = o * tanh(c)
        return (squeeze(h, 0), squeeze(c, 0)) if unbatched else (h, c)


class GRUCell(_CellBase):
    """One GRU step, PyTorch's gate order r, z, n and formulation:

        r = σ(W_ir x + b_ir + W_hr h + b_hr),  z = σ(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),  h' = (1 − z) ⊙ n + z ⊙ h

    forward(input (N, I), hx (N, H) or None) → h' (N, H).

    >>> cell = nn.GRUCell(10, 20)
    >>> h = cell(em.randn(3, 10))
    """

    gates = 3

    def forward(self, input, hx=None):
        x, (h,), unbatched = self._prepare(input, [hx])
        x_r, x_z, x_n = chunk(linear(x, self.weight_ih, self.bias_ih), 3, dim=1)
        h_r, h_z, h_n = chunk(linear(h, self.weight_hh, self.bias_hh), 3, dim=1)
        r = sigmoid(x_r + h_r)
        z = sigmoid(x_z + h_z)
        n = tanh(x_n + r * h_n)
        h = (1 - z) * n + z * h
        return squeeze(h, 0) if unbatched else h
