"""Attention: scores, softmax weights over the keys, and the weighted sum of the values.

Two forms of the same three steps,

1. scores e_ts = score(q_t, k_s) for every query position t and key position s;
2. weights a_ts = softmax_s(e_ts), with masked keys given weight exactly 0;
3. context c_t = Σ_s a_ts v_s.

The course's attentions (dot, scaled dot, cosine, general, additive scores and ``attend``) are
composed from primitives (matmul, softmax, masked_fill, tanh), so each gradient is the chain
rule of ops already checked. Their shapes are batch first: query (N, T, Dq), key (N, S, Dk),
value (N, S, Dv). Their masks follow ``nn.MultiheadAttention``: a boolean ``key_padding_mask``
(N, S) is True at padded keys; a boolean ``attn_mask`` broadcastable to (N, T, S) is True where
a query may not look; a float ``attn_mask`` is added to the scores. A query that may look at no
key at all gets all-zero weights and a zero context (not NaN).

Scaled dot-product attention is also one fused op, softmax(Q Kᵀ · scale + M) V with forward
and backward together: query (..., L, E), key (..., S, E), value (..., S, Ev) → (..., L, Ev),
the leading (batch, head) dims broadcast, so a (B, H, L, E) query is one batched matmul per
step. Masks reach that op already split in two: ``excluded`` (bool, True = the key takes no part)
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
from ember.ops.activation import softmax, tanh
from ember.ops.broadcast import sum_to
from ember.ops.elementwise import clamp, masked_fill, sqrt, where
from ember.ops.layout import repeat_interleave
from ember.ops.linalg import linear, matmul
from ember.ops.reduction import sum as reduce_sum
from ember.ops.shape import unsqueeze


# -- the course's scores ------------------------------------------------------------------------
def dot_score(query, key):
    """e_ts = q_tᵀ k_s for query (N, T, D) and key (N, S, D) → (N, T, S)."""
    return matmul(query, key.transpose(-1, -2))


def scaled_dot_score(query, key):
    """e_ts = q_tᵀ k_s / √D: the dot score kept at unit variance for unit-variance inputs."""
    return dot_score(query, key) * (1.0 / math.sqrt(query.shape[-1]))


def cosine_score(query, key, eps=1e-8):
    """e_ts = cos(q_t, k_s) = q_tᵀ k_s / (max(‖q_t‖, eps) · max(‖k_s‖, eps)), in [−1, 1]."""
    q = query / clamp(sqrt(reduce_sum(query * query, -1, keepdims=True)), min=eps)
    k = key / clamp(sqrt(reduce_sum(key * key, -1, keepdims=True)), min=eps)
    return dot_score(q, k)


def general_score(query, key, weight):
    """Luong's general (bilinear) score e_ts = q_tᵀ W k_s, W of shape (Dq, Dk)."""
    return matmul(matmul(query, weight), key.transpose(-1, -2))


def additive_score(query, key, query_weight, key_weight, v):
    """Bahdanau's additive score e_ts = vᵀ tanh(W_q q_t + W_k k_s).

    W_q (H, Dq), W_k (H, Dk), v (H,); the (N, T, S, H) hidden layer is built by broadcasting.
    """
    hidden = tanh(unsqueeze(linear(query, query_weight), -2) + unsqueeze(linear(key, key_weight), -3))
    return matmul(hidden, v)


# -- masked weights and the context ---------------------------------------------------------------
def mask_array(mask, like):
    """A mask as a backend array on ``like``'s device (bool kept, numbers cast to ``like``'s dtype)."""
    if mask is None:
        return None
    data = mask.array if isinstance(mask, Tensor) else mask
    xp = xp_of(like.array)
    data = xp.asarray(data)
    return data if data.dtype == bool else data.astype(like.dtype)


def masked_softmax(scores, keep=None, bias=None):
    """softmax over the last axis of ``scores + bias``, with weight exactly 0 where ``keep`` is False.

    ``keep`` (bool, broadcastable to scores) marks the keys that take part; ``bias`` (float,
    broadcastable) is added first. A row with no key kept gets all-zero weights.
    """
    if bias is not None:
        scores = scores + bias
    if keep is None:
        return softmax(scores, -1)
    xp = xp_of(scores.array)
    keep = xp.broadcast_to(keep, scores.shape)
    alive = keep.any(axis=-1, keepdims=True)
    if bool(alive.all()):
        return softmax(masked_fill(scores, ~keep, -math.inf), -1)
    # NOTE: a fully masked row has no distribution: softmax would give 0/0 = NaN. Such rows take
    # the uniform softmax of zeros, then the multiplication by ``keep`` zeroes them exactly.
    fill = xp.where(alive, -math.inf, 0.0).astype(scores.dtype)
    weights = softmax(where(keep, scores, xp.broadcast_to(fill, scores.shape)), -1)
    return weights * keep.astype(scores.dtype)


def _keep_and_bias(scores, key_padding_mask, attn_mask):
    """Split the masks into a bool ``keep`` (True: takes part) and a float additive ``bias``.

    key_padding_mask (N, S) broadcasts over the queries (and any head axis) of (N, ..., T, S).
    """
    keep = bias = None
    kpm = mask_array(key_padding_mask, scores)
    if kpm is not None:
        kpm = kpm.reshape(kpm.shape[:1] + (1,) * (scores.ndim - 2) + kpm.shape[1:])
        if kpm.dtype == bool:
            keep = ~kpm
        else:
            bias = kpm
    mask = mask_array(attn_mask, scores)
    if mask is not None:
        if mask.dtype == bool:
            keep = ~mask if keep is None else keep & ~mask
        else:
            bias = mask if bias is None else bias + mask
    return keep, bias


def attend(scores, value, key_padding_mask=None, attn_mask=None):
    """Weights a = softmax_s(scores) under the masks, and context c_t = Σ_s a_ts v_s.

    scores (N, T, S), value (N, S, Dv) → (context (N, T, Dv), weights (N, T, S)).
    Masks as in this module's docstring (True = excluded).

    >>> q, k = em.randn(2, 3, 8), em.randn(2, 5, 8)
    >>> context, weights = attend(scaled_dot_score(q, k), k)
    """
    keep, bias = _keep_and_bias(scores, key_padding_mask, attn_mask)
    weights = masked_softmax(scores, keep, bias)
    return matmul(weights, value), weights


# -- scaled dot-product attention, fused ----------------------------------------------------------
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
