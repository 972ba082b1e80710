"""Attention layers: the course's attentions (dot, scaled dot, cosine, general, additive) and
PyTorch's ``MultiheadAttention``.

Each layer holds its parameters and calls the functional ops of ``ember.ops.attention``, where
the scores, the masked softmax and the weighted context are written out with their formulas.
Shapes are batch first: query (N, T, Dq), or (N, Dq) for a single decoder step; key (N, S, Dk);
value (N, S, Dv). Masks follow ``nn.MultiheadAttention``: a boolean ``key_padding_mask`` (N, S)
is True at padded keys; a boolean ``attn_mask`` broadcastable to (N, T, S) is True where a query
may not look; a float ``attn_mask`` is added to the scores.
"""
from __future__ import annotations

import math

from ember.autograd.tensor import Parameter
from ember.creation import empty
from ember.nn import init
from ember.nn.linear import Linear
from ember.nn.module import Module
from ember.ops.attention import (  # noqa: F401 - the functions' former home: their names stay importable here
    additive_score,
    attend,
    attention,
    cosine_score,
    dot_score,
    general_score,
    mask_array,
    masked_softmax,
    scaled_dot_product_attention,
    scaled_dot_score,
)
from ember.ops.linalg import linear
from ember.ops.reduction import mean
from ember.ops.shape import permute, reshape, squeeze, unsqueeze


# -- the course's attentions ---------------------------------------------------------------------
class _Attention(Module):
    """The shared forward of the course's attentions; a subclass defines ``score(query, key)``."""

    def score(self, query, key):
        raise NotImplementedError

    def forward(self, query, key, value=None, key_padding_mask=None, attn_mask=None):
        """(context, weights) for query (N, T, Dq) or (N, Dq), key (N, S, Dk), value (N, S, Dv).

        ``value`` defaults to ``key`` (the encoder states serve as both). With a single-step
        query (N, Dq) the results are context (N, Dv) and weights (N, S).
        """
        value = key if value is None else value
        self._check_shapes(query, key, value)
        step = query.ndim == 2
        if step:
            query = unsqueeze(query, 1)
        context, weights = attend(self.score(query, key), value, key_padding_mask, attn_mask)
        if step:
            return squeeze(context, 1), squeeze(weights, 1)
        return context, weights

    def _check_shapes(self, query, key, value):
        name = type(self).__name__
        if query.ndim not in (2, 3) or key.ndim != 3 or value.ndim != 3:
            raise ValueError(f"{name}: expected query (N, T, Dq) or (N, Dq), key (N, S, Dk) and value (N, S, Dv), "
                             f"got {query.shape}, {key.shape} and {value.shape}")
        if key.shape[:2] != value.shape[:2] or query.shape[0] != key.shape[0]:
            raise ValueError(f"{name}: batch or key lengths disagree: query {query.shape}, key {key.shape}, "
                             f"value {value.shape}")


class DotProductAttention(_Attention):
    """Dot-product attention: e_ts = q_tᵀ k_s, a = softmax_s(e), c_t = Σ_s a_ts v_s (Dq = Dk).

    >>> context, weights = nn.DotProductAttention()(em.randn(4, 16), em.randn(4, 10, 16))
    >>> context.shape, weights.shape
    ((4, 16), (4, 10))
    """

    def score(self, query, key):
        return dot_score(query, key)


class ScaledDotProductAttention(_Attention):
    """Scaled dot-product attention: e_ts = q_tᵀ k_s / √D (the Transformer's score).

    >>> context, weights = nn.ScaledDotProductAttention()(em.randn(4, 7, 16), em.randn(4, 10, 16))
    """

    def score(self, query, key):
        return scaled_dot_score(query, key)


class CosineAttention(_Attention):
    """Cosine attention: e_ts = cos(q_t, k_s), so scores lie in [−1, 1] whatever the vector lengths.

    >>> context, weights = nn.CosineAttention()(em.randn(4, 16), em.randn(4, 10, 16))
    """

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def score(self, query, key):
        return cosine_score(query, key, self.eps)

    def extra_repr(self) -> str:
        return f"eps={self.eps}"


class GeneralAttention(_Attention):
    """Luong's general (bilinear) attention: e_ts = q_tᵀ W k_s with a learned W (query_dim, key_dim).

    W is initialised as a Linear(key_dim → query_dim) weight: U(−1/√key_dim, 1/√key_dim).

    >>> attn = nn.GeneralAttention(32, 64)
    >>> context, weights = attn(em.randn(4, 32), em.randn(4, 10, 64))
    """

    def __init__(self, query_dim: int, key_dim: int, device=None, dtype=None):
        super().__init__()
        self.query_dim, self.key_dim = query_dim, key_dim
        self.weight = Parameter(empty(query_dim, key_dim, dtype=dtype, device=device))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.default_layer_init_(self.weight)

    def score(self, query, key):
        return general_score(query, key, self.weight)

    def extra_repr(self) -> str:
        return f"query_dim={self.query_dim}, key_dim={self.key_dim}"


class AdditiveAttention(_Attention):
    """Bahdanau's additive attention: e_ts = vᵀ tanh(W_q q_t + W_k k_s), a one-hidden-layer scorer.

    Parameters: query_proj.weight W_q (hidden_dim, query_dim), key_proj.weight W_k
    (hidden_dim, key_dim), v.weight (1, hidden_dim); Linear initialisation, no biases.

    >>> attn = nn.AdditiveAttention(32, 64, 48)
    >>> context, weights = attn(em.randn(4, 32), em.randn(4, 10, 64))
    """

    def __init__(self, query_dim: int, key_dim: int, hidden_dim: int, device=None, dtype=None):
        super().__init__()
        self.query_proj = Linear(query_dim, hidden_dim, bias=False, device=device, dtype=dtype)
        self.key_proj = Linear(key_dim, hidden_dim, bias=False, device=device, dtype=dtype)
        self.v = Linear(hidden_dim, 1, bias=False, device=device, dtype=dtype)

    def score(self, query, key):
        return additive_score(query, key, self.query_proj.weight, self.key_proj.weight, self.v.weight[0])


BilinearAttention = GeneralAttention
BahdanauAttention = AdditiveAttention


# -- PyTorch's MultiheadAttention ---------------------------------------------------------------------
class MultiheadAttention(Module):
    """Multi-head attention as PyTorch's: MultiHead(Q, K, V) = concat(head_1, …, head_h) W_oᵀ + b_o,
    head_i = softmax(Q W_qiᵀ (K W_kiᵀ)ᵀ / √d) V W_viᵀ, with d = embed_dim / num_heads.

    Args:
        embed_dim: E, the model width (query features and output features).
        num_heads: h; E must be divisible by it.
        dropout: dropout on the attention weights in training.
        bias: biases in the input and output projections.
        add_bias_kv, add_zero_attn: not supported (True raises).
        kdim, vdim: key and value features (default E); when either differs the input
            projections are separate ``q_proj_weight``, ``k_proj_weight``, ``v_proj_weight``.
        batch_first: inputs (N, L, E) instead of (L, N, E).

    forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False) returns (attn_output, attn_output_weights):
    output (L, N, E) or (N, L, E); weights (N, L, S), or (N, h, L, S) when not averaged,
    or None when ``need_weights`` is False; the weights are those that multiply the values
    (after dropout in training), as PyTorch's. ``key_padding_mask`` (N, S) and ``attn_mask``
    (L, S) or (N·h, L, S): bool True = excluded, float = added. A query whose every key is
    masked gets zero weights and output (PyTorch gives NaN when ``need_weights``). ``is_causal``
    is a hint that ``attn_mask`` is causal; as in PyTorch, with no key_padding_mask and
    ``need_weights=False`` the causal triangle is applied in its place, else the mask itself.
    The attention itself is the fused ``ember.ops.attention.attention`` over (N, h, L, d) arrays.

    Parameters and init as PyTorch: in_proj_weight (3E, E) xavier-uniform, in_proj_bias (3E,)
    zero, out_proj (Linear(E, E)) with a zero bias.

    >>> mha = nn.MultiheadAttention(64, 8, batch_first=True)
    >>> out, weights = mha(em.randn(2, 10, 64), em.randn(2, 12, 64), em.randn(2, 12, 64))
    >>> out.shape, weights.shape
    ((2, 10, 64), (2, 10, 12))
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, device=None, dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} must be a positive multiple of "
                             f"num_heads {num_heads}")
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are not supported")
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self.head_dim = embed_dim // num_heads
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        E = embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(empty(3 * E, E, dtype=dtype, device=device))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = Parameter(empty(E, E, dtype=dtype, device=device))
            self.k_proj_weight = Parameter(empty(E, self.kdim, dtype=dtype, device=device))
            self.v_proj_weight = Parameter(empty(E, self.vdim, dtype=dtype, device=device))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty(3 * E, dtype=dtype, device=device))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(E, E, bias=bias, device=device, dtype=dtype)
        self.bias_k = self.bias_v = None
        self.add_zero_attn = False
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """xavier_uniform_ on the input projections, zero biases (out_proj.weight keeps Linear's init)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for weight in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def _projections(self):
        """The (weight, bias) of the query, key and value projections."""
        E = self.embed_dim
        b = self.in_proj_bias
        biases = (None,) * 3 if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        if self._qkv_same_embed_dim:
            W = self.in_proj_weight
            weights = (W[:E], W[E:2 * E], W[2 * E:])
        else:
            weights = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        return tuple(zip(weights, biases, strict=True))

    def _split_heads(self, x):
        """(N, L, E) → (N, h, L, d)."""
        N, L, _ = x.shape
        return permute(reshape(x, (N, L, self.num_heads, self.head_dim)), (0, 2, 1, 3))

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        """(attn_output, attn_output_weights); see the class docstring for shapes and masks."""
        if is_causal and attn_mask is None:
            raise ValueError("MultiheadAttention: is_causal=True is a hint about attn_mask and needs attn_mask")
        unbatched = query.ndim == 2
        if unbatched:
            query, key, value = (unsqueeze(t, 0) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = mask_array(key_padding_mask, query)[None]
        elif not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        self._check_inputs(query, key, value)
        N, L, _ = query.shape
        S = key.shape[1]
        (Wq, bq), (Wk, bk), (Wv, bv) = self._projections()
        q = self._split_heads(linear(query, Wq, bq))
        k = self._split_heads(linear(key, Wk, bk))
        v = self._split_heads(linear(value, Wv, bv))
        if is_causal and key_padding_mask is None and not need_weights:
            # as PyTorch: with nothing else to merge, the hint stands for the mask (the causal triangle)
            excluded, bias = q.xp.triu(q.xp.ones((L, S), dtype=bool), 1), None
        else:
            excluded, bias = self._merged_masks(key_padding_mask, attn_mask, q, N, L, S)
        p = self.dropout if self.training else 0.0
        result = attention(q, k, v, excluded, bias, p, need_weights=need_weights)
        context, weights = result if need_weights else (result, None)
        out = self.out_proj(reshape(permute(context, (0, 2, 1, 3)), (N, L, self.embed_dim)))
        if unbatched:
            out = squeeze(out, 0)
        elif not self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = mean(weights, axis=1)
        return out, squeeze(weights, 0) if unbatched else weights

    def _merged_masks(self, key_padding_mask, attn_mask, q, N, L, S):
        """(excluded, bias) for the (N, h, L, S) scores: bool masks or-ed (True = excluded); with any
        float mask, one additive bias with −inf at the excluded keys, as PyTorch merges them."""
        kpm = mask_array(key_padding_mask, q)
        if kpm is not None:
            if kpm.shape != (N, S):
                raise ValueError(f"MultiheadAttention: key_padding_mask must be (N, S) = ({N}, {S}), "
                                 f"got {tuple(kpm.shape)}")
            kpm = kpm.reshape(N, 1, 1, S)
        masks = [m for m in (kpm, self._head_mask(attn_mask, q, N, L, S)) if m is not None]
        if not masks:
            return None, None
        if all(m.dtype == bool for m in masks):
            return (masks[0] | masks[1] if len(masks) == 2 else masks[0]), None
        xp = q.xp
        inf, zero = q.array.dtype.type(math.inf), q.array.dtype.type(0)
        bias = sum(xp.where(m, -inf, zero) if m.dtype == bool else m for m in masks)
        return None, bias

    def _check_inputs(self, query, key, value):
        E = self.embed_dim
        if query.ndim != 3 or key.ndim != 3 or value.ndim != 3 or query.shape[-1] != E \
                or key.shape[-1] != self.kdim or value.shape[-1] != self.vdim \
                or key.shape[:2] != value.shape[:2] or query.shape[0] != key.shape[0]:
            raise ValueError(f"MultiheadAttention(embed_dim={E}, kdim={self.kdim}, vdim={self.vdim}): bad input "
                             f"shapes query {query.shape}, key {key.shape}, value {value.shape} (batch first)")

    def _head_mask(self, attn_mask, scores, N, L, S):
        """attn_mask (L, S) or (N·h, L, S) as an array broadcastable to the (N, h, L, S) scores."""
        mask = mask_array(attn_mask, scores)
        if mask is None:
            return None
        if mask.shape == (L, S):
            return mask
        if mask.shape == (N * self.num_heads, L, S):
            return mask.reshape(N, self.num_heads, L, S)
        raise ValueError(f"MultiheadAttention: attn_mask must be ({L}, {S}) or ({N * self.num_heads}, {L}, {S}), "
                         f"got {mask.shape}")
