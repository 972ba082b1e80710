"""Scaled dot-product attention as one op: softmax(Q Kᵀ · scale + M) V, forward and backward together.

Shapes: query (..., L, E), key (..., S, E), value (..., S, Ev) → (..., L, Ev); the leading
(batch, head) dims broadcast, so a (B, H, L, E) query is one batched matmul per step.
Masks reach the op already split in two: ``excluded`` (bool, True = the key takes no part)
and ``bias`` (float, added to the scores); both broadcast to the (..., L, S) scores.
"""
from __future__ import annotations

import math

import numpy as np

from ember import random
from ember.autograd.function import Function
from ember.autograd.tensor import Tensor
from ember.backend import get_array_module as xp_of
from ember.backend import to_device
from ember.ops.activation import softmax
from ember.ops.broadcast import sum_to
from ember.ops.elementwise import where
from ember.ops.layout import repeat_interleave
from ember.ops.linalg import matmul


def _swap(a):
    return a.swapaxes(-1, -2)


def _softmax_weights(q, k, scale, excluded, bias):
    """P = softmax_s(Q Kᵀ · scale + bias) with excluded keys at −inf, built in the one score array.

    A row with no key left (all −inf) gets P = 0, as PyTorch's attention, instead of 0/0 = NaN.
    """
    xp = xp_of(q)
    s = q @ _swap(k)
    s *= s.dtype.type(scale)
    if bias is not None:  # in place unless the mask's batch dims widen the scores
        s = s + bias if _widens(s, bias) else _iadd(s, bias)
    if excluded is not None:
        s = xp.where(excluded, s.dtype.type(-math.inf), s) if _widens(s, excluded) else _fill(s, excluded)
    m = s.max(axis=-1, keepdims=True)
    s -= xp.where(xp.isfinite(m), m, 0)  # shift by the row max: exp never overflows
    xp.exp(s, out=s)
    z = s.sum(axis=-1, keepdims=True)
    s /= xp.where(z > 0, z, 1)
    return s


def _widens(s, mask):
    return np.broadcast_shapes(s.shape, mask.shape) != s.shape


def _iadd(s, bias):
    s += bias
    return s


def _fill(s, excluded):
    xp_of(s).copyto(s, s.dtype.type(-math.inf), where=excluded)
    return s


class ScaledDotProductAttention(Function):
    """O = W V with W = dropout(P), P = softmax(Q Kᵀ · scale + bias, masked keys excluded).

    Backward from the saved P (dO the output gradient, ⊙ elementwise, keep/(1−p) dropout's mask):
        dV = Wᵀ dO,   dP = (dO Vᵀ + dW) ⊙ keep/(1−p),   dS = P ⊙ (dP − rowsum(dP ⊙ P)),
        dQ = dS K · scale,   dK = dSᵀ Q · scale,   d bias = dS.
    With no gradient reaching W, rowsum(dP ⊙ P) = rowsum(dO ⊙ O), which needs no L×S array.
    """

    # NOTE: fused. Composed from matmul, masked_fill, softmax, dropout and matmul, the graph keeps
    # the scores, masked scores, weights and dropped weights (four L×S arrays per head) and backward
    # makes as many again; here forward keeps only P (and dropout's bool mask), and backward builds
    # one L×S array, dS, in place from dP. Second derivatives differentiate ``composed``, the same
    # attention from primitives, which costs those arrays only on the higher-order path.
    def __init__(self, scale, excluded=None, keep=None, dropout_p=0.0, need_weights=False):
        self.scale, self.excluded, self.keep, self.need_weights = scale, excluded, keep, need_weights
        self.kept_scale = 0.0 if dropout_p >= 1 else 1.0 / (1.0 - dropout_p)

    def _dropped(self, P):
        return P if self.keep is None else P * self.keep * P.dtype.type(self.kept_scale)

    def forward(self, q, k, v, bias=None):
        P = _softmax_weights(q, k, self.scale, self.excluded, bias)
        W = self._dropped(P)
        O = W @ v
        self.save_for_backward(q, k, v, P, O)
        return (O, W) if self.need_weights else O

    def backward(self, gO, gW=None):
        q, k, v, P, O = self.saved
        gv = sum_to(_swap(self._dropped(P)) @ gO, v.shape) if self.needs_input_grad[2] else None
        dP = gO @ _swap(v)
        if gW is not None:
            dP += gW
        if self.keep is not None:
            dP *= self.keep
            dP *= dP.dtype.type(self.kept_scale)
        D = (gO * O).sum(axis=-1, keepdims=True) if gW is None else (dP * P).sum(axis=-1, keepdims=True)
        dP -= D
        dP *= P  # dP is now dS, the gradient of the scores
        scale = dP.dtype.type(self.scale)
        gq = sum_to(dP @ k * scale, q.shape) if self.needs_input_grad[0] else None
        gk = sum_to(_swap(dP) @ q * scale, k.shape) if self.needs_input_grad[1] else None
        if len(self.needs_input_grad) == 4:
            return gq, gk, gv, sum_to(dP, self.inputs[3].shape) if self.needs_input_grad[3] else None
        return gq, gk, gv

    def composed(self, q, k, v, bias=None):
        """The same attention from matmul, where, softmax and the saved dropout mask (the higher-order path).

        A row with every key excluded gets W = 0, as forward: its scores are replaced by zeros
        before the softmax and its weights by zeros after, so no gradient reaches them.
        """
        s = matmul(q, k.swapaxes(-1, -2)) * self.scale
        if bias is not None:
            s = s + bias
        if self.excluded is not None:
            s = where(self.excluded, -math.inf, s)
        dead = xp_of(s.array).isneginf(s.array).all(axis=-1, keepdims=True)
        W = where(dead, 0.0, softmax(where(dead, 0.0, s), -1))
        if self.keep is not None:
            W = W * (self.keep * self.kept_scale).astype(W.dtype)
        O = matmul(W, v)
        return (O, W) if self.need_weights else O


def attention(query, key, value, excluded=None, bias=None, dropout_p=0.0, scale=None, need_weights=False):
    """softmax(Q Kᵀ · scale + bias) V with the keys where ``excluded`` is True left out, and dropout
    ``dropout_p`` on the weights: the op under ``F.scaled_dot_product_attention`` and
    ``nn.MultiheadAttention``.

    ``excluded`` is a bool backend array, ``bias`` a float tensor or array; both broadcast to the
    (..., L, S) scores. ``scale`` defaults to 1/√E. Returns O (..., L, Ev), or (O, W) with the
    (dropped) weights W (..., L, S) when ``need_weights``.

    >>> q = k = v = em.randn(2, 4, 6, 8)
    >>> attention(q, k, v).shape
    (2, 4, 6, 8)
    """
    L, S = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    shapes = [query.shape[:-2] + (L, S), key.shape[:-2] + (L, S)]
    shapes += [m.shape for m in (excluded, bias) if m is not None]
    keep = _keep_mask(np.broadcast_shapes(*shapes), dropout_p, query.device) if dropout_p > 0 else None
    fn = ScaledDotProductAttention(scale, excluded, keep, dropout_p, need_weights)
    return fn(query, key, value) if bias is None else fn(query, key, value, bias)


def _keep_mask(shape, p, device):
    """Dropout's bool mask: each weight kept with probability 1 − p (drawn on the host, as ``dropout``)."""
    return to_device(random.generator().random(shape) >= p, device)


# -- PyTorch's functional -------------------------------------------------------------------------
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """softmax(Q Kᵀ · scale + M) V, PyTorch's ``F.scaled_dot_product_attention``, as one fused op.

    query (..., L, E), key (..., S, E), value (..., S, Ev) → (..., L, Ev). ``scale`` defaults to
    1/√E. ``attn_mask`` broadcastable to (..., L, S): bool True = takes part (opposite to
    MultiheadAttention's masks), float = added to the scores (and differentiable). ``is_causal``
    lets query i see keys j ≤ i (the top-left triangle when L ≠ S). ``dropout_p`` drops attention
    weights (always: as PyTorch, pass 0 to evaluate). ``enable_gqa`` lets key and value have fewer
    heads (dim −3) than the query, each shared by a group of query heads. A query with no key
    allowed gives zeros, as PyTorch's.

    >>> q = k = v = em.randn(2, 4, 6, 8)              # (N, heads, L, E)
    >>> F.scaled_dot_product_attention(q, k, v, is_causal=True).shape
    (2, 4, 6, 8)
    """
    _check_shapes(query, key, value)
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"scaled_dot_product_attention: dropout_p must lie in [0, 1], got {dropout_p}")
    if enable_gqa:
        key, value = _share_heads(query, key, value)
    xp = query.xp
    L, S = query.shape[-2], key.shape[-2]
    excluded = bias = None
    if is_causal:
        if attn_mask is not None:
            raise ValueError("scaled_dot_product_attention: pass attn_mask or is_causal=True, not both")
        excluded = xp.triu(xp.ones((L, S), dtype=bool), 1)
    elif attn_mask is not None:
        excluded, bias = _split_mask(attn_mask, query)
        mask_shape = (excluded if bias is None else bias).shape
        try:
            np.broadcast_shapes(mask_shape, query.shape[:-2] + (L, S))
        except ValueError:
            raise ValueError(f"scaled_dot_product_attention: attn_mask of shape {tuple(mask_shape)} does not "
                             f"broadcast to the scores (..., L={L}, S={S}) of query {tuple(query.shape)} and "
                             f"key {tuple(key.shape)}") from None
    return attention(query, key, value, excluded, bias, dropout_p, scale)


def _split_mask(attn_mask, query):
    """A bool mask (True = takes part) as the ``excluded`` array, or a float one as the additive bias."""
    if isinstance(attn_mask, Tensor) and attn_mask.dtype != bool and attn_mask.dtype == query.dtype:
        return None, attn_mask  # kept as a tensor: a learned bias gets its gradient
    mask = query.xp.asarray(attn_mask.array if isinstance(attn_mask, Tensor) else attn_mask)
    if mask.dtype == bool:
        return ~mask, None
    return None, mask.astype(query.dtype)


def _check_shapes(query, key, value):
    q, k, v = (tuple(t.shape) for t in (query, key, value))
    if min(len(q), len(k), len(v)) < 2 or q[-1] != k[-1] or k[-2] != v[-2]:
        raise ValueError(f"scaled_dot_product_attention: expected query (..., L, E), key (..., S, E) and "
                         f"value (..., S, Ev); got query {q}, key {k}, value {v}")


def _share_heads(query, key, value):
    """Key and value with each of their Hkv heads repeated for its group of Hq / Hkv query heads."""
    Hq, Hk, Hv = query.shape[-3], key.shape[-3], value.shape[-3]
    if Hq % Hk or Hq % Hv:
        raise ValueError(f"scaled_dot_product_attention: with enable_gqa the query heads ({Hq}) must be a "
                         f"multiple of the key heads ({Hk}) and the value heads ({Hv})")
    return repeat_interleave(key, Hq // Hk, dim=-3), repeat_interleave(value, Hq // Hv, dim=-3)
