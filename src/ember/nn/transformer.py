"""The Transformer of "Attention Is All You Need" as PyTorch's ``nn.Transformer`` family.

An encoder layer is self-attention then a position-wise feed-forward net, each a residual
block with LayerNorm; a decoder layer puts cross-attention over the encoder's output (the
memory) between the two. Post-norm (``norm_first=False``, the paper's) and pre-norm:

    post-norm:  x = LN(x + Block(x))          pre-norm:  x = x + Block(LN(x))

Block is dropout(MultiheadAttention(...)) or dropout(W₂ dropout(φ(W₁ x + b₁)) + b₂).
Names, arguments, defaults and state-dict keys are PyTorch's, so a PyTorch state dict loads
unchanged. Sequences are (L, N, E), or (N, L, E) with ``batch_first``, or unbatched (L, E).
Masks as ``nn.MultiheadAttention``'s: ``*_mask`` (L, S) or (N·nhead, L, S), ``*_key_padding_mask``
(N, S); bool True = excluded, float = added to the scores.
"""
from __future__ import annotations

import copy
import math

import numpy as np

from ember.autograd.tensor import Tensor
from ember.backend import to_numpy
from ember.creation import full
from ember.nn import functional as F
from ember.nn import init
from ember.nn.attention import MultiheadAttention
from ember.nn.containers import ModuleList
from ember.nn.dropout import Dropout
from ember.nn.linear import Linear
from ember.nn.module import Module
from ember.nn.normalization import LayerNorm
from ember.ops.layout import triu


def _activation(activation):
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    if callable(activation):
        return activation
    raise RuntimeError(f"activation should be relu/gelu, not {activation}")


def _mask_shape(mask):
    return None if mask is None else tuple(mask.shape)


def _check_masks(layer, x, memory, batch_first, nhead, attn_mask, key_padding_mask, names):
    """Raise a ValueError naming ``layer`` when a mask's shape does not fit queries ``x`` and keys ``memory``."""
    batched = x.ndim == 3
    L = x.shape[1 if batch_first else 0] if batched else x.shape[0]
    S = memory.shape[1 if batch_first else 0] if batched else memory.shape[0]
    N = (x.shape[0 if batch_first else 1],) if batched else ()
    attn_shapes = [(L, S), ((N[0] if N else 1) * nhead, L, S)]
    if attn_mask is not None and _mask_shape(attn_mask) not in attn_shapes:
        raise ValueError(f"{layer}: {names[0]} must have shape {attn_shapes[0]} or {attn_shapes[1]} for "
                         f"queries {tuple(x.shape)} and keys {tuple(memory.shape)}, got {_mask_shape(attn_mask)}")
    if key_padding_mask is not None and _mask_shape(key_padding_mask) != N + (S,):
        raise ValueError(f"{layer}: {names[1]} must have shape {N + (S,)} for keys {tuple(memory.shape)}, "
                         f"got {_mask_shape(key_padding_mask)}")


def _check_width(layer, d_model, *xs):
    for x in xs:
        if x.ndim not in (2, 3) or x.shape[-1] != d_model:
            raise ValueError(f"{layer}: expected inputs (L, N, {d_model}), (N, L, {d_model}) or (L, {d_model}), "
                             f"got {tuple(x.shape)}")


class _Layer(Module):
    """What the encoder and decoder layers share: the feed-forward block and the argument checks."""

    def _attention(self, d_model, nhead, dropout, bias, batch_first, factory):
        if d_model <= 0 or nhead <= 0 or d_model % nhead:
            raise ValueError(f"{type(self).__name__}: d_model {d_model} must be a positive multiple of "
                             f"nhead {nhead}")
        return MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **factory)

    def _feed_forward_parts(self, d_model, dim_feedforward, dropout, activation, bias, factory):
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.activation = _activation(activation)
        self.activation_relu_or_gelu = 1 if self.activation is F.relu else 2 if self.activation is F.gelu else 0

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    @staticmethod
    def _attention_block(attn, drop, x, memory, attn_mask, key_padding_mask, is_causal):
        out = attn(x, memory, memory, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False,
                   is_causal=is_causal)[0]
        return drop(out)


class TransformerEncoderLayer(_Layer):
    """Self-attention and a feed-forward net, each a residual block with LayerNorm.

        post-norm:  x = LN₁(x + SA(x)),   x = LN₂(x + FF(x))
        pre-norm:   x = x + SA(LN₁(x)),   x = x + FF(LN₂(x))

    with SA the ``self_attn`` MultiheadAttention(d_model, nhead) and FF(x) = W₂ φ(W₁ x + b₁) + b₂
    (``linear1``, ``linear2``), dropout after the attention weights, φ and each block.
    ``activation`` is "relu", "gelu" or a callable. src (L, N, E), (N, L, E) with
    ``batch_first``, or (L, E) → the same shape.

    >>> layer = nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64, batch_first=True)
    >>> layer(em.randn(2, 10, 32)).shape
    (2, 10, 32)
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=F.relu, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.self_attn = self._attention(d_model, nhead, dropout, bias, batch_first, factory)
        self._feed_forward_parts(d_model, dim_feedforward, dropout, activation, bias, factory)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.dropout1, self.dropout2 = Dropout(dropout), Dropout(dropout)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        """Encode ``src``; ``is_causal`` is a hint that ``src_mask`` is the causal mask."""
        attn = self.self_attn
        _check_width(type(self).__name__, attn.embed_dim, src)
        _check_masks(type(self).__name__, src, src, attn.batch_first, attn.num_heads, src_mask, src_key_padding_mask,
                     ("src_mask", "src_key_padding_mask"))
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        return self._attention_block(self.self_attn, self.dropout1, x, x, attn_mask, key_padding_mask, is_causal)


class TransformerDecoderLayer(_Layer):
    """Self-attention, cross-attention over the encoder's output, and a feed-forward net.

        post-norm:  x = LN₁(x + SA(x)),   x = LN₂(x + CA(x, m)),   x = LN₃(x + FF(x))
        pre-norm:   x = x + SA(LN₁(x)),   x = x + CA(LN₂(x), m),   x = x + FF(LN₃(x))

    SA is ``self_attn``, CA ``multihead_attn`` (queries from x, keys and values from the memory m).
    tgt (T, N, E) and memory (S, N, E) (batch first with ``batch_first``) → (T, N, E).

    >>> layer = nn.TransformerDecoderLayer(d_model=32, nhead=4, dim_feedforward=64, batch_first=True)
    >>> layer(em.randn(2, 7, 32), em.randn(2, 10, 32)).shape
    (2, 7, 32)
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=F.relu, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.self_attn = self._attention(d_model, nhead, dropout, bias, batch_first, factory)
        self.multihead_attn = self._attention(d_model, nhead, dropout, bias, batch_first, factory)
        self._feed_forward_parts(d_model, dim_feedforward, dropout, activation, bias, factory)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.dropout1, self.dropout2, self.dropout3 = Dropout(dropout), Dropout(dropout), Dropout(dropout)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        """Decode ``tgt`` against ``memory``; the ``*_is_causal`` flags are hints about the masks."""
        self._check(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask)
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal)
            return x + self._ff_block(self.norm3(x))
        x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal))
        return self.norm3(x + self._ff_block(x))

    def _check(self, tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask):
        name, attn = type(self).__name__, self.self_attn
        _check_width(name, attn.embed_dim, tgt, memory)
        _check_masks(name, tgt, tgt, attn.batch_first, attn.num_heads, tgt_mask, tgt_key_padding_mask,
                     ("tgt_mask", "tgt_key_padding_mask"))
        _check_masks(name, tgt, memory, attn.batch_first, attn.num_heads, memory_mask, memory_key_padding_mask,
                     ("memory_mask", "memory_key_padding_mask"))

    def _ff_block(self, x):
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        return self._attention_block(self.self_attn, self.dropout1, x, x, attn_mask, key_padding_mask, is_causal)

    def _mha_block(self, x, memory, attn_mask, key_padding_mask, is_causal):
        return self._attention_block(self.multihead_attn, self.dropout2, x, memory, attn_mask, key_padding_mask,
                                     is_causal)


def _clones(layer, num_layers):
    """``num_layers`` independent deep copies of ``layer``, as PyTorch's stacks make them."""
    return ModuleList(copy.deepcopy(layer) for _ in range(num_layers))


def _seq_len(x, batch_first):
    return x.shape[0] if x.ndim == 2 else x.shape[1 if batch_first else 0]


def _detect_is_causal_mask(mask, is_causal=None, size=None):
    """``is_causal`` when given; otherwise whether ``mask`` equals the square causal mask of ``size``
    (−inf above the diagonal for a float mask, True for a bool one), as PyTorch's stacks decide."""
    if is_causal is not None or mask is None:
        return bool(is_causal)
    m = to_numpy(mask.array if isinstance(mask, Tensor) else np.asarray(mask))
    size = m.shape[-2] if size is None else size
    if m.shape != (size, size):
        return False
    upper = np.triu(np.ones((size, size), dtype=bool), 1)
    if m.dtype == bool:
        return bool((m == upper).all())
    return bool((m == np.where(upper, -math.inf, 0.0)).all())


class TransformerEncoder(Module):
    """A stack of ``num_layers`` copies of ``encoder_layer`` (``layers``), then the optional ``norm``.

    ``is_causal=None`` detects a causal ``mask``. ``enable_nested_tensor`` and ``mask_check`` are
    accepted for PyTorch's signature; ember has no nested tensors, so padding is always masked.

    >>> layer = nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64)
    >>> encoder = nn.TransformerEncoder(layer, num_layers=2)
    >>> encoder(em.randn(10, 2, 32)).shape
    (10, 2, 32)
    """

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers, self.norm = num_layers, norm
        self.enable_nested_tensor, self.use_nested_tensor, self.mask_check = enable_nested_tensor, False, mask_check

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        """Run ``src`` through every layer with the same masks, then ``norm``."""
        batch_first = self.layers[0].self_attn.batch_first if len(self.layers) else False
        is_causal = _detect_is_causal_mask(mask, is_causal, _seq_len(src, batch_first))
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, is_causal=is_causal, src_key_padding_mask=src_key_padding_mask)
        return x if self.norm is None else self.norm(x)


class TransformerDecoder(Module):
    """A stack of ``num_layers`` copies of ``decoder_layer`` (``layers``), then the optional ``norm``.

    ``tgt_is_causal=None`` detects a causal ``tgt_mask``.

    >>> layer = nn.TransformerDecoderLayer(d_model=32, nhead=4, dim_feedforward=64)
    >>> decoder = nn.TransformerDecoder(layer, num_layers=2)
    >>> decoder(em.randn(7, 2, 32), em.randn(10, 2, 32)).shape
    (7, 2, 32)
    """

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers, self.norm = num_layers, norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        """Run ``tgt`` through every layer against the same ``memory`` and masks, then ``norm``."""
        batch_first = self.layers[0].self_attn.batch_first if len(self.layers) else False
        tgt_is_causal = _detect_is_causal_mask(tgt_mask, tgt_is_causal, _seq_len(tgt, batch_first))
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask, tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                      memory_is_causal=memory_is_causal)
        return x if self.norm is None else self.norm(x)


class Transformer(Module):
    """The encoder–decoder Transformer: memory = Encoder(src), output = Decoder(tgt, memory).

    ``encoder`` is a TransformerEncoder of ``num_encoder_layers`` layers and a final LayerNorm,
    ``decoder`` likewise (or ``custom_encoder`` / ``custom_decoder``). Every parameter with more
    than one dimension is re-initialised xavier-uniform, as PyTorch's. src (S, N, E) and tgt
    (T, N, E) (batch first with ``batch_first``) → (T, N, E).

    >>> model = nn.Transformer(d_model=32, nhead=4, num_encoder_layers=2, num_decoder_layers=2,
    ...                        dim_feedforward=64, batch_first=True)
    >>> tgt_mask = nn.Transformer.generate_square_subsequent_mask(7)
    >>> model(em.randn(2, 10, 32), em.randn(2, 7, 32), tgt_mask=tgt_mask).shape
    (2, 7, 32)
    """

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6, dim_feedforward=2048,
                 dropout=0.1, activation=F.relu, custom_encoder=None, custom_decoder=None, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        common = dict(d_model=d_model, nhead=nhead, dim_feedforward=dim_feedforward, dropout=dropout,
                      activation=activation, layer_norm_eps=layer_norm_eps, batch_first=batch_first,
                      norm_first=norm_first, bias=bias, **factory)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(TransformerEncoderLayer(**common), num_encoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(TransformerDecoderLayer(**common), num_decoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory))
        self._reset_parameters()
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first

    def _reset_parameters(self):
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        """Encode ``src``, then decode ``tgt`` against the memory; masks as the layers'."""
        batch = 0 if self.batch_first else 1
        if src.ndim == 3 and tgt.ndim == 3 and src.shape[batch] != tgt.shape[batch]:
            raise RuntimeError(f"Transformer: the batch number of src and tgt must be equal, got src "
                               f"{tuple(src.shape)} and tgt {tuple(tgt.shape)}")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError(f"Transformer: the feature number of src and tgt must be equal to d_model "
                               f"{self.d_model}, got src {tuple(src.shape)} and tgt {tuple(tgt.shape)}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """The causal mask for ``sz`` positions: −inf above the diagonal (a later key), 0 elsewhere.

        >>> nn.Transformer.generate_square_subsequent_mask(3)
        tensor([[  0., -inf, -inf],
                [  0.,   0., -inf],
                [  0.,   0.,   0.]])
        """
        return triu(full((sz, sz), -math.inf, dtype=dtype, device=device), diagonal=1)
