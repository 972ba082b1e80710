"""GPT: a decoder-only Transformer language model (Radford et al. 2018/2019), laid out as nanoGPT.

    idx (B, T) → wte(idx) + wpe(0..T−1) → dropout → n_layer × Block → ln_f → lm_head → logits (B, T, V)
    Block:  x = x + attn(ln_1(x));  x = x + mlp(ln_2(x))           (pre-norm residual blocks)

The parameter names follow nanoGPT and GPT-2 (``transformer.wte``, ``transformer.h.0.attn.c_attn``,
``lm_head`` …), so that a reader can set both side by side. ``lm_head.weight`` is
``transformer.wte.weight`` (weight tying): the same matrix embeds a token and scores it.

``generate`` keeps a key/value cache per layer: each new token attends to the stored keys and
values of the earlier ones instead of recomputing them, O(T) work per token instead of O(T²).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ember import nn
from ember.autograd.grad_mode import no_grad
from ember.creation import arange, multinomial
from ember.models import register
from ember.nn import functional as F
from ember.ops import cat, softmax, topk

__all__ = ["GPT", "GPTConfig", "Block", "CausalSelfAttention", "MLP"]


@dataclass
class GPTConfig:
    """The sizes of a GPT (defaults: GPT-2 small with the vocabulary padded to 50304, as nanoGPT)."""

    block_size: int = 1024
    vocab_size: int = 50304
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    bias: bool = True


# -- the block ------------------------------------------------------------------------------------


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t sees positions ≤ t.

    One fused projection ``c_attn`` (E → 3E) gives Q, K, V; ``F.scaled_dot_product_attention``
    mixes each head's values; ``c_proj`` (E → E) projects back.

    forward(x (B, T, E), past=None, use_cache=False): ``past`` is the (K, V) of the earlier
    positions, each (B, h, P, E/h); with ``use_cache`` it returns (y, (K, V)) including the new
    positions, else y.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        if config.n_embd % config.n_head != 0:
            raise ValueError(f"CausalSelfAttention: n_embd {config.n_embd} is not divisible by n_head {config.n_head}")
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.n_head, self.n_embd, self.dropout = config.n_head, config.n_embd, config.dropout

    def forward(self, x, past=None, use_cache: bool = False):
        B, T, E = x.shape
        q, k, v = (t.view(B, T, self.n_head, E // self.n_head).transpose(1, 2)  # (B, h, T, E/h)
                   for t in self.c_attn(x).split(self.n_embd, dim=2))
        if past is not None:
            k, v = cat([past[0], k], dim=2), cat([past[1], v], dim=2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=self._offset_mask(T, k.shape[2], x.device),
                                           dropout_p=self.dropout if self.training else 0.0,
                                           is_causal=k.shape[2] == T and T > 1)
        y = self.resid_dropout(self.c_proj(y.transpose(1, 2).contiguous().view(B, T, E)))
        return (y, (k, v)) if use_cache else y

    @staticmethod
    def _offset_mask(T: int, S: int, device):
        """Causal mask of T new queries after S − T cached positions: query i sees keys j ≤ S − T + i.
        None where is_causal (no cache) or a single query (it sees every key) already says it."""
        if S == T or T == 1:
            return None
        return arange(S, device=device).unsqueeze(0) <= arange(T, device=device).unsqueeze(1) + (S - T)


class MLP(nn.Module):
    """The position-wise feed-forward net: c_proj(GELU(c_fc(x))), E → 4E → E, then dropout."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """A pre-norm Transformer block: x + attn(ln_1(x)), then x + mlp(ln_2(x))."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x, past=None, use_cache: bool = False):
        a = self.attn(self.ln_1(x), past, use_cache)
        a, present = a if use_cache else (a, None)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return (x, present) if use_cache else x


# -- the model ------------------------------------------------------------------------------------


@register("gpt")
class GPT(nn.Module):
    """A GPT language model over ``vocab_size`` tokens with contexts of up to ``block_size``.

    Args:
        vocab_size: V, the number of token ids (or a ``GPTConfig`` holding every size).
        block_size: the longest context (rows of the position table ``wpe``).
        n_layer, n_head, n_embd: depth, heads, width E (defaults GPT-2 small: 12, 12, 768).
        dropout: dropout after the embeddings, on the attention weights and on each residual branch.
        bias: biases in the Linear and LayerNorm layers (False: a little faster and as good).

    Init as GPT-2: every Linear and Embedding weight N(0, 0.02²), biases 0; the residual
    projections (each ``c_proj``) N(0, (0.02/√(2·n_layer))²), so that the residual stream's
    variance does not grow with depth.

    forward(idx (B, T) int64, targets=None) returns ``(logits, loss)`` as nanoGPT's: logits
    (B, T, V), and the mean cross-entropy over the positions whose target is not −1 (None
    without targets). (nanoGPT returns only the last position's logits when there are no
    targets; here they are always (B, T, V).)

    >>> model = GPT(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128)
    >>> logits, loss = model(em.randint(0, 65, (2, 64)), em.randint(0, 65, (2, 64)))
    >>> logits.shape
    (2, 64, 65)
    >>> model.generate(em.zeros(1, 1, dtype=em.int64), max_new_tokens=20).shape
    (1, 21)
    """

    def __init__(self, vocab_size, block_size: int | None = None, n_layer: int = 12, n_head: int = 12,
                 n_embd: int = 768, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        if isinstance(vocab_size, GPTConfig):
            config = vocab_size
        else:
            if block_size is None:
                raise TypeError("GPT: missing block_size (or pass a GPTConfig)")
            config = GPTConfig(block_size=block_size, vocab_size=vocab_size, n_layer=n_layer, n_head=n_head,
                               n_embd=n_embd, dropout=dropout, bias=bias)
        if min(config.vocab_size, config.block_size, config.n_layer, config.n_head, config.n_embd) < 1:
            raise ValueError(f"GPT: every size must be >= 1, got {config}")
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            wpe=nn.Embedding(config.block_size, config.n_embd),
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=nn.LayerNorm(config.n_embd, bias=config.bias),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """GPT-2's initialisation (see the class docstring)."""
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * self.config.n_layer))

    def get_num_params(self, non_embedding: bool = True) -> int:
        """The number of parameters, the tied embedding once; without the position table by
        default (nanoGPT's count: the token table is also the output layer, so it stays)."""
        n = sum(p.numel() for p in self.parameters())
        return n - self.transformer.wpe.weight.numel() if non_embedding else n

    def forward(self, idx, targets=None):
        logits, _ = self._logits(idx)
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1), ignore_index=-1)
        return logits, loss

    def _logits(self, idx, past=None, use_cache: bool = False):
        """Logits of the tokens ``idx`` (B, T) at positions P..P+T−1 after the ``past`` caches
        (P cached positions; None: P = 0); with ``use_cache`` also the caches extended by T."""
        B, T = idx.shape
        start = 0 if past is None else past[0][0].shape[2]
        if start + T > self.config.block_size:
            raise ValueError(f"GPT: a sequence of length {start + T} is longer than block_size "
                             f"{self.config.block_size}; crop it to the last {self.config.block_size} tokens")
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(arange(start, start + T,
                                                                                          device=idx.device)))
        presents = []
        for i, block in enumerate(self.transformer.h):
            if use_cache:
                x, present = block(x, None if past is None else past[i], use_cache=True)
                presents.append(present)
            else:
                x = block(x)
        return self.lm_head(self.transformer.ln_f(x)), (presents if use_cache else None)

    @no_grad()
    def generate(self, idx, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 use_cache: bool = True, generator=None):
        """Extend ``idx`` (B, T) by ``max_new_tokens`` tokens sampled one at a time; returns (B, T + new).

        Each step samples from softmax(logits / temperature) of the last position, restricted
        to the ``top_k`` most likely tokens when given. With ``use_cache`` (default) the per-layer
        keys and values are kept and only the new token is run through the model; once the
        context exceeds ``block_size`` it falls back to cropping to the last ``block_size``
        tokens and recomputing, exactly as without the cache — so both give the same tokens
        from the same seed. Put the model in ``eval()`` first when it has dropout.
        """
        if temperature <= 0:
            raise ValueError(f"GPT.generate: temperature must be positive, got {temperature}")
        if top_k is not None and top_k < 1:
            raise ValueError(f"GPT.generate: top_k must be >= 1, got {top_k}")
        block_size, past = self.config.block_size, None
        for _ in range(max_new_tokens):
            if use_cache and past is not None and idx.shape[1] <= block_size:
                logits, past = self._logits(idx[:, -1:], past, use_cache=True)  # only the newest token
            else:
                logits, past = self._logits(idx[:, -block_size:], use_cache=use_cache)
            idx = cat([idx, self._sample(logits[:, -1, :], temperature, top_k, generator)], dim=1)
        return idx

    @staticmethod
    def _sample(logits, temperature: float, top_k: int | None, generator):
        """One token id per row of ``logits`` (B, V): (B, 1)."""
        logits = logits / temperature
        if top_k is not None and top_k < logits.shape[-1]:
            kth = topk(logits, top_k, dim=-1)[0][:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        return multinomial(softmax(logits, dim=-1), 1, generator=generator)

    def configure_optimizers(self, weight_decay: float, learning_rate: float, betas=(0.9, 0.95), device_type=None):
        """AdamW with weight decay on the ≥ 2-D parameters only (``ember.optim.param_groups``);
        ``device_type`` is accepted for nanoGPT's signature and unused."""
        from ember.optim import AdamW, param_groups

        return AdamW(param_groups(self, weight_decay), lr=learning_rate, betas=betas)

    def extra_repr(self) -> str:
        c = self.config
        return (f"vocab_size={c.vocab_size}, block_size={c.block_size}, n_layer={c.n_layer}, n_head={c.n_head}, "
                f"n_embd={c.n_embd}, dropout={c.dropout}, bias={c.bias}")
