"""Fused recurrent layers: one autograd op per layer-direction for the Elman RNN, the LSTM and the GRU.

# NOTE: a recurrence composed from primitives records ~10 graph nodes per time step and pays
# Python and allocation costs on each; these fused ops instead
#   - project the inputs of all T steps in ONE GEMM, x (T·N, I) @ W_ihᵀ,
#   - run the recurrence with one GEMM per step (h W_hhᵀ) into preallocated (T, N, ·) arrays,
#   - backpropagate through time by hand: the step loop only carries dh (and dc) back, storing the
#     gate gradients in a (T, N, G·H) array, and dW_ih, dW_hh and dx are each ONE GEMM after it.
# Everything that does not depend on the carried gradient (activation derivatives, masks) is
# computed for all steps at once before the loop.

Shapes (time-major): x (T, N, I), h0/c0 (N, H), W_ih (G·H, I), W_hh (G·H, H), b_ih/b_hh (G·H,),
with G = 1 (RNN), 3 (GRU: r, z, n) or 4 (LSTM: i, f, g, o) — PyTorch's layout and gate order.
Each op returns the output sequence y (T, N, H) followed by the final state(s) (N, H).

``lengths`` (N integers in [1, T]) makes a padded batch behave as if each sequence ran alone:
steps t ≥ length keep the state unchanged and output 0 (as ``pad_packed_sequence`` gives), and
``reverse=True`` runs each sequence backwards over its own real steps.

Each op's ``composed`` twin runs the cell formulas (``cell``) step by step from primitives: the
readable reference the fused ops are tested against, and what a second derivative differentiates.
"""
from __future__ import annotations

import numpy as np

from ember.autograd.function import Function
from ember.backend import compiled_kernels
from ember.backend import get_array_module as xp_of
from ember.ops.activation import relu, sigmoid, sigmoid_array, tanh
from ember.ops.elementwise import where
from ember.ops.linalg import linear
from ember.ops.shape import stack

_LSTM_ORDER = (2, 0, 1, 3)  # internal block order g, i, f, o: the three sigmoids are contiguous
_LSTM_INVERSE = (1, 2, 0, 3)  # PyTorch block j sits at internal block _LSTM_INVERSE[j]


def _blocks(a, H, order):
    """Rows (or entries) of a gate-stacked array reordered block by block."""
    xp = xp_of(a)
    return xp.concatenate([a[k * H:(k + 1) * H] for k in order])


def _cell_kernels(array, mask):
    """The compiled per-step kernels (``recurrent_compiled``) where they apply — numba in use, a
    NumPy array, no padded steps — else None, and the NumPy passes below run."""
    if mask is not None or xp_of(array) is not np or not compiled_kernels():
        return None
    from ember.ops import recurrent_compiled  # noqa: PLC0415 - imports numba, only when it is used

    return recurrent_compiled


def _check(name, x, states, W_ih, W_hh, biases, gates, lengths):
    if x.ndim != 3:
        raise ValueError(f"{name}: expected time-major input (T, N, I), got shape {x.shape}")
    T, N, size = x.shape
    H = W_hh.shape[1] if W_hh.ndim == 2 else -1
    if W_ih.shape != (gates * H, size) or W_hh.shape != (gates * H, H):
        raise ValueError(f"{name}: expected weight_ih ({gates}·H, {size}) and weight_hh ({gates}·H, H), "
                         f"got {W_ih.shape} and {W_hh.shape}")
    for s in states:
        if s.shape != (N, H):
            raise ValueError(f"{name}: expected a state of shape ({N}, {H}), got {s.shape}")
    if len(biases) not in (0, 2) or any(b.shape != (gates * H,) for b in biases):
        raise ValueError(f"{name}: expected both biases of shape ({gates * H},), got "
                         f"{[b.shape for b in biases]}")
    if lengths is not None:
        if lengths.shape != (N,):
            raise ValueError(f"{name}: expected {N} lengths (one per sequence), got shape {lengths.shape}")
        if N and (int(lengths.min()) < 1 or int(lengths.max()) > T):
            raise ValueError(f"{name}: lengths must lie in [1, {T}], got {lengths.tolist()}")


class _Recurrence(Function):
    """What the three layers share: lengths → masks, time reversal, the output sequence."""

    gates, num_states = 1, 1

    def __init__(self, lengths=None, reverse=False):
        self.lengths, self.reverse = lengths, reverse

    def _setup(self, x, states, W_ih, W_hh, biases):
        xp = xp_of(x)
        T, N = x.shape[:2]
        lengths = None if self.lengths is None else xp.asarray(self.lengths).astype(int).reshape(-1)
        _check(self.op_name, x, states, W_ih, W_hh, biases, self.gates, lengths)
        self.mask = self.order = None
        if lengths is not None and bool((lengths < T).any()):
            t = xp.arange(T)[:, None]
            self.mask = (t < lengths)[:, :, None]  # (T, N, 1): step t is real for sequence n
            self.still = (~self.mask).astype(x.dtype)
            if self.reverse:  # reversing each sequence within its length is an involution
                self.order = (xp.where(t < lengths, lengths - 1 - t, t), xp.arange(N))
        if self.reverse and self.order is None:
            self.order = slice(None, None, -1)
        return self._in_time(x)

    def _in_time(self, a):
        """The sequence in processing order (its own inverse)."""
        return a if self.order is None else xp_of(a).ascontiguousarray(a[self.order])

    def _hold(self, hs, t, previous):
        """Padded steps keep the previous state."""
        if self.mask is not None:
            xp_of(hs).copyto(hs[t], previous, where=~self.mask[t])

    def _outputs(self, hs):
        y = hs if self.mask is None else hs * self.mask
        return self._in_time(y)

    def _upstream(self, gy):
        gy = self._in_time(gy)
        return gy if self.mask is None else gy * self.mask

    def _weight_grads(self, dA, x, hprev, W_ih, nbias, order=None):
        """dx, dW_ih, dW_hh and the bias gradients from the stacked gate gradients, one GEMM each."""
        T, N, GH = dA.shape
        H = GH // self.gates
        d2 = dA.reshape(T * N, GH)
        gx = gW_ih = gW_hh = None
        if self.needs_input_grad[0]:
            gx = self._in_time((d2 @ W_ih).reshape(x.shape))
        gW_ih = d2.T @ x.reshape(T * N, -1)
        gW_hh = d2.T @ hprev.reshape(T * N, H)
        gb = [d2.sum(axis=0)] * nbias
        if order is not None:
            gW_ih, gW_hh = _blocks(gW_ih, H, order), _blocks(gW_hh, H, order)
            gb = [_blocks(g, H, order) for g in gb]
        return gx, gW_ih, gW_hh, gb

    # -- the composed twin: the cell formulas step by step -------------------------------------
    def composed(self, x, *rest):
        """The layer rebuilt from differentiable primitives, one ``cell`` call per step: the readable
        reference the fused forward is tested against, and what higher-order gradients differentiate.
        Needs the masks and order that forward set up."""
        states, (W_ih, W_hh, *b) = list(rest[:self.num_states]), rest[self.num_states:]
        steps = linear(self._in_order(x), W_ih, b[0] if b else None)  # every step's W_ih x_t + b_ih at once
        outputs = []
        for t in range(x.shape[0]):
            new = self.cell(steps[t], states, W_hh, b[1] if b else None)
            if self.mask is not None:  # padded steps keep the state
                new = [where(self.mask[t], s, old) for s, old in zip(new, states, strict=True)]
            states = new
            outputs.append(states[0])
        y = stack(outputs)
        return (self._in_order(y if self.mask is None else where(self.mask, y, 0.0)), *states)

    def _in_order(self, a):
        """``_in_time`` for tensors."""
        return a if self.order is None else a[self.order]


# -- Elman RNN ---------------------------------------------------------------------------
class RNNLayer(_Recurrence):
    def __init__(self, nonlinearity="tanh", lengths=None, reverse=False):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"rnn_layer: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(lengths, reverse)
        self.nonlinearity = nonlinearity

    def forward(self, x, h0, W_ih, W_hh, *b):
        xp = xp_of(x)
        xs = self._setup(x, (h0,), W_ih, W_hh, b)
        T, N, _ = xs.shape
        hs = (xs.reshape(T * N, -1) @ W_ih.T).reshape(T, N, -1)  # all input projections at once
        if b:
            hs += b[0] + b[1]
        WhT, h = W_hh.T, h0
        for t in range(T):
            a = hs[t]
            a += h @ WhT
            if self.nonlinearity == "tanh":
                xp.tanh(a, out=a)
            else:
                xp.maximum(a, 0, out=a)
            self._hold(hs, t, h)
            h = a
        self.save_for_backward(xs, h0, W_ih, W_hh, hs)
        self.nbias = len(b)
        return self._outputs(hs), hs[-1].copy()

    def backward(self, gy, ghn):
        xs, h0, W_ih, W_hh, hs = self.saved
        xp = xp_of(hs)
        gy = self._upstream(gy)
        D = 1 - hs * hs if self.nonlinearity == "tanh" else (hs > 0).astype(hs.dtype)  # act'(a) from act(a)
        if self.mask is not None:
            D *= self.mask
        dA = xp.empty_like(hs)
        gh, spare = ghn.copy(), xp.empty_like(ghn)
        for t in range(hs.shape[0] - 1, -1, -1):
            gh += gy[t]
            xp.multiply(gh, D[t], out=dA[t])
            xp.matmul(dA[t], W_hh, out=spare)  # dh_{t−1} = dA_t W_hh
            if self.mask is not None:
                gh *= self.still[t]
                spare += gh
            gh, spare = spare, gh
        hprev = xp.concatenate([h0[None], hs[:-1]])
        gx, gW_ih, gW_hh, gb = self._weight_grads(dA, xs, hprev, W_ih, self.nbias)
        return (gx, gh, gW_ih, gW_hh, *gb)

    def cell(self, a_x, states, W_hh, b_hh):
        """One step from primitives: h_t = act(a_x + W_hh h_{t−1} + b_hh), a_x = W_ih x_t + b_ih."""
        a = a_x + linear(states[0], W_hh, b_hh)
        return [tanh(a) if self.nonlinearity == "tanh" else relu(a)]


def rnn_layer(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh",
              lengths=None, reverse=False):
    """One direction of an Elman RNN layer: h_t = act(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh).

    x (T, N, I), h0 (N, H) → (y (T, N, H), h_n (N, H)); act is tanh or relu. See the module
    docstring for ``lengths`` and ``reverse``.

    >>> y, h = rnn_layer(em.randn(5, 2, 3), em.zeros(2, 4), em.randn(4, 3), em.randn(4, 4))
    """
    biases = () if bias_ih is None else (bias_ih, bias_hh)
    return RNNLayer(nonlinearity, lengths, reverse)(x, h0, weight_ih, weight_hh, *biases)


# -- LSTM --------------------------------------------------------------------------------
class LSTMLayer(_Recurrence):
    gates, num_states = 4, 2

    def forward(self, x, h0, c0, W_ih, W_hh, *b):
        xp = xp_of(x)
        xs = self._setup(x, (h0, c0), W_ih, W_hh, b)
        T, N, _ = xs.shape
        H = h0.shape[1]
        # NOTE: σ(a) = ½ tanh(½ a) + ½: with the sigmoid rows pre-scaled by ½ (and reordered to
        # g, i, f, o), ONE tanh call activates all four gates of a step.
        Wi, Wh = _blocks(W_ih, H, _LSTM_ORDER), _blocks(W_hh, H, _LSTM_ORDER)
        Wi[H:] *= 0.5
        Wh[H:] *= 0.5
        A = (xs.reshape(T * N, -1) @ Wi.T).reshape(T, N, 4 * H)
        if b:
            bias = _blocks(b[0] + b[1], H, _LSTM_ORDER)
            bias[H:] *= 0.5
            A += bias
        WhT = xp.ascontiguousarray(Wh.T)
        hs, cs, tc = xp.empty((3, T, N, H), dtype=x.dtype)
        tmp, step = xp.empty((N, H), dtype=x.dtype), xp.empty((N, 4 * H), dtype=x.dtype)
        h, c = h0, c0
        kernels = _cell_kernels(x, self.mask)
        for t in range(T):
            a = A[t]
            xp.matmul(h, WhT, out=step)
            a += step
            xp.tanh(a, out=a)
            if kernels:
                kernels.lstm_cell_forward(a, c, cs[t])
            else:
                s = a[:, H:]
                s *= 0.5
                s += 0.5
                xp.multiply(a[:, 2 * H:3 * H], c, out=cs[t])  # c_t = f ⊙ c_{t−1} + i ⊙ g
                xp.multiply(a[:, H:2 * H], a[:, :H], out=tmp)
                cs[t] += tmp
            xp.tanh(cs[t], out=tc[t])
            xp.multiply(a[:, 3 * H:], tc[t], out=hs[t])  # h_t = o ⊙ tanh(c_t)
            self._hold(cs, t, c)
            self._hold(hs, t, h)
            h, c = hs[t], cs[t]
        self.save_for_backward(xs, h0, c0, W_ih, W_hh, A, hs, cs, tc)
        self.nbias = len(b)
        return self._outputs(hs), hs[-1].copy(), cs[-1].copy()

    def backward(self, gy, ghn, gcn):
        xs, h0, c0, W_ih, W_hh, A, hs, cs, tc = self.saved
        xp = xp_of(A)
        H = hs.shape[2]
        gy = self._upstream(gy)
        cprev = xp.concatenate([c0[None], cs[:-1]])
        Wh = _blocks(W_hh, H, _LSTM_ORDER)
        kernels = _cell_kernels(A, self.mask)
        if kernels:
            dA, gh, gc = self._steps_back_compiled(kernels, gy, ghn.copy(), gcn.copy(), A, cprev, tc, Wh)
        else:
            dA, gh, gc = self._steps_back(gy, ghn.copy(), gcn.copy(), A, cprev, tc, Wh)
        hprev = xp.concatenate([h0[None], hs[:-1]])
        gx, gW_ih, gW_hh, gb = self._weight_grads(dA, xs, hprev, _blocks(W_ih, H, _LSTM_ORDER), self.nbias,
                                                  _LSTM_INVERSE)
        return (gx, gh, gc, gW_ih, gW_hh, *gb)

    @staticmethod
    def _steps_back_compiled(kernels, gy, gh, gc, A, cprev, tc, Wh):
        """``_steps_back`` without padded steps, each step's gate maths one kernel call."""
        dA = np.empty_like(A)
        for t in range(A.shape[0] - 1, -1, -1):
            kernels.lstm_cell_backward(gh, gy[t], gc, A[t], cprev[t], tc[t], dA[t])
            np.matmul(dA[t], Wh, out=gh)  # dh_{t−1} = dA_t W_hh
        return dA, gh, gc

    def _steps_back(self, gy, gh, gc, A, cprev, tc, Wh):
        """Backpropagation through time: the pre-activation gradients dA (T, N, 4H) and the
        gradients of h0 and c0, from the output gradients gy and the final states' gh and gc."""
        xp = xp_of(A)
        T, N, H = tc.shape
        g, i, f, o = (A[..., k * H:(k + 1) * H] for k in range(4))
        # K: what multiplies dc (blocks g, i, f) or dh (block o) to give the pre-activation gradients
        K = A * (1 - A)  # σ' = σ(1 − σ)
        K[..., :H] = 1 - g * g  # tanh' for g
        K[..., :H] *= i
        K[..., H:2 * H] *= g
        K[..., 2 * H:3 * H] *= cprev
        K[..., 3 * H:] *= tc
        Q = o * (1 - tc * tc)  # dc_t += dh_t ⊙ o ⊙ tanh'(c_t)
        fm = f
        if self.mask is not None:
            K *= self.mask
            Q *= self.mask
            fm = xp.where(self.mask, f, 1)  # padded steps pass dc through unchanged
        K3 = K[..., :3 * H].reshape(T, N, 3, H)
        dA = xp.empty_like(A)
        dA3 = dA[..., :3 * H].reshape(T, N, 3, H)
        spare, tmp = xp.empty_like(gh), xp.empty_like(gh)
        for t in range(T - 1, -1, -1):
            gh += gy[t]
            xp.multiply(gh, Q[t], out=tmp)
            gc += tmp
            xp.multiply(gc[:, None, :], K3[t], out=dA3[t])
            xp.multiply(gh, K[t, :, 3 * H:], out=dA[t, :, 3 * H:])
            gc *= fm[t]
            xp.matmul(dA[t], Wh, out=spare)
            if self.mask is not None:
                gh *= self.still[t]
                spare += gh
            gh, spare = spare, gh
        return dA, gh, gc

    def cell(self, a_x, states, W_hh, b_hh):
        """One step from primitives, gates i, f, g, o in PyTorch's order: c_t = f ⊙ c + i ⊙ g, h_t = o ⊙ tanh(c_t)."""
        (h, c), H = states, states[0].shape[1]
        a = a_x + linear(h, W_hh, b_hh)
        i, f, o = (sigmoid(a[:, k * H:(k + 1) * H]) for k in (0, 1, 3))
        c = f * c + i * tanh(a[:, 2 * H:3 * H])
        return [o * tanh(c), c]


def lstm_layer(x, h0, c0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, lengths=None, reverse=False):
    """One direction of an LSTM layer (PyTorch's gate order i, f, g, o):

        i, f, o = σ(W_i· x_t + b_i· + W_h· h_{t−1} + b_h·),  g = tanh(W_ig x_t + b_ig + W_hg h_{t−1} + b_hg)
        c_t = f ⊙ c_{t−1} + i ⊙ g,  h_t = o ⊙ tanh(c_t)

    x (T, N, I), h0 and c0 (N, H), weight_ih (4H, I), weight_hh (4H, H) → (y (T, N, H), h_n, c_n).

    >>> y, h, c = lstm_layer(em.randn(5, 2, 3), em.zeros(2, 4), em.zeros(2, 4), em.randn(16, 3), em.randn(16, 4))
    """
    biases = () if bias_ih is None else (bias_ih, bias_hh)
    return LSTMLayer(lengths, reverse)(x, h0, c0, weight_ih, weight_hh, *biases)


# -- GRU ---------------------------------------------------------------------------------
class GRULayer(_Recurrence):
    gates = 3

    def forward(self, x, h0, W_ih, W_hh, *b):
        xp = xp_of(x)
        xs = self._setup(x, (h0,), W_ih, W_hh, b)
        T, N, _ = xs.shape
        H = h0.shape[1]
        Gx = (xs.reshape(T * N, -1) @ W_ih.T).reshape(T, N, 3 * H)
        if b:
            Gx += b[0]
        WhT = xp.ascontiguousarray(W_hh.T)
        S = xp.empty((T, N, 3 * H), dtype=x.dtype)  # r, z, n per step
        hs, Hn = xp.empty((2, T, N, H), dtype=x.dtype)  # states; W_hn h_{t−1} + b_hn
        gh = xp.empty((N, 3 * H), dtype=x.dtype)
        h = h0
        for t in range(T):
            xp.matmul(h, WhT, out=gh)
            if b:
                gh += b[1]
            s = S[t]
            xp.add(Gx[t, :, :2 * H], gh[:, :2 * H], out=s[:, :2 * H])
            sigmoid_array(s[:, :2 * H], out=s[:, :2 * H])  # r, z in place
            Hn[t] = gh[:, 2 * H:]
            n = s[:, 2 * H:]
            xp.multiply(s[:, :H], gh[:, 2 * H:], out=n)  # n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
            n += Gx[t, :, 2 * H:]
            xp.tanh(n, out=n)
            xp.subtract(h, n, out=hs[t])  # h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}
            hs[t] *= s[:, H:2 * H]
            hs[t] += n
            self._hold(hs, t, h)
            h = hs[t]
        self.save_for_backward(xs, h0, W_ih, W_hh, S, hs, Hn)
        self.nbias = len(b)
        return self._outputs(hs), hs[-1].copy()

    def backward(self, gy, ghn):
        xs, h0, W_ih, W_hh, S, hs, Hn = self.saved
        xp = xp_of(S)
        T, N, H = hs.shape
        gy = self._upstream(gy)
        hprev = xp.concatenate([h0[None], hs[:-1]])
        kernels = _cell_kernels(S, self.mask)
        if kernels:
            dX, dH, gh = self._steps_back_compiled(kernels, gy, ghn.copy(), S, hprev, Hn, W_hh)
        else:
            dX, dH, gh = self._steps_back(gy, ghn.copy(), S, hprev, Hn, W_hh)
        d2x, d2h = dX.reshape(T * N, 3 * H), dH.reshape(T * N, 3 * H)
        gx = self._in_time((d2x @ W_ih).reshape(xs.shape)) if self.needs_input_grad[0] else None
        gb = (d2x.sum(axis=0), d2h.sum(axis=0)) if self.nbias else ()
        return (gx, gh, d2x.T @ xs.reshape(T * N, -1), d2h.T @ hprev.reshape(T * N, H), *gb)

    @staticmethod
    def _steps_back_compiled(kernels, gy, gh, S, hprev, Hn, W_hh):
        """``_steps_back`` without padded steps, each step's gate maths one kernel call."""
        dX, dH, spare = np.empty_like(S), np.empty_like(S), np.empty_like(gh)
        for t in range(S.shape[0] - 1, -1, -1):
            kernels.gru_cell_backward(gh, gy[t], S[t], hprev[t], Hn[t], dX[t], dH[t])
            np.matmul(dH[t], W_hh, out=spare)
            spare += gh  # dh_{t−1} = dH_t W_hh + dh_t ⊙ z
            gh, spare = spare, gh
        return dX, dH, gh

    def _steps_back(self, gy, gh, S, hprev, Hn, W_hh):
        """Backpropagation through time: the gradients dX of W_i· x + b_i· and dH of W_h· h + b_h·
        (T, N, 3H) and that of h0, from the output gradients gy and the final state's gh."""
        xp = xp_of(S)
        T, N, H = hprev.shape
        r, z, n = (S[..., k * H:(k + 1) * H] for k in range(3))
        Kzn = xp.empty((T, N, 2, H), dtype=S.dtype)  # dh ⊙ Kzn → the z and n pre-activation gradients
        Kzn[:, :, 0] = (hprev - n) * z * (1 - z)
        Kzn[:, :, 1] = (1 - z) * (1 - n * n)
        Kr = Hn * r * (1 - r)
        zm = z
        if self.mask is not None:
            Kzn *= self.mask[..., None]
            zm = xp.where(self.mask, z, 1)  # padded steps pass dh through unchanged
        dX = xp.empty_like(S)  # gradients of W_i· x + b_i·
        dH = xp.empty_like(S)  # gradients of W_h· h + b_h·
        dX2 = dX[..., H:].reshape(T, N, 2, H)
        spare = xp.empty_like(gh)
        for t in range(T - 1, -1, -1):
            gh += gy[t]
            xp.multiply(gh[:, None, :], Kzn[t], out=dX2[t])
            xp.multiply(dX[t, :, 2 * H:], Kr[t], out=dX[t, :, :H])
            dH[t, :, :2 * H] = dX[t, :, :2 * H]
            xp.multiply(dX[t, :, 2 * H:], r[t], out=dH[t, :, 2 * H:])
            xp.matmul(dH[t], W_hh, out=spare)
            gh *= zm[t]
            spare += gh
            gh, spare = spare, gh
        return dX, dH, gh

    def cell(self, a_x, states, W_hh, b_hh):
        """One step from primitives, gates r, z, n in PyTorch's order: h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}."""
        (h,), H = states, states[0].shape[1]
        a_h = linear(h, W_hh, b_hh)
        r, z = (sigmoid(a_x[:, k * H:(k + 1) * H] + a_h[:, k * H:(k + 1) * H]) for k in (0, 1))
        n = tanh(a_x[:, 2 * H:] + r * a_h[:, 2 * H:])
        return [(1 - z) * n + z * h]


def gru_layer(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, lengths=None, reverse=False):
    """One direction of a GRU layer (PyTorch's gate order r, z, n and formulation):

        r, z = σ(W_i· x_t + b_i· + W_h· h_{t−1} + b_h·)
        n = tanh(W_in x_t + b_in + r ⊙ (W_hn h_{t−1} + b_hn)),  h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}

    x (T, N, I), h0 (N, H), weight_ih (3H, I), weight_hh (3H, H) → (y (T, N, H), h_n (N, H)).

    >>> y, h = gru_layer(em.randn(5, 2, 3), em.zeros(2, 4), em.randn(12, 3), em.randn(12, 4))
    """
    biases = () if bias_ih is None else (bias_ih, bias_hh)
    return GRULayer(lengths, reverse)(x, h0, weight_ih, weight_hh, *biases)
