"""Training a recurrent language model with truncated BPTT: the loop, perplexity, samples.

A model here is any module with ``forward(tokens (N, T), state) -> (logits (N, T, V), state)``,
such as ``ember.models.CharLM``. Training streams the corpus through a ``BPTTBatcher``: the
state is carried from chunk to chunk and cut from the graph each time (``detach_state``), so
the gradient reaches back at most ``seq_len`` steps while the state itself sees the whole text.

    perplexity = exp(mean cross-entropy per token): the effective number of equally likely
    next tokens (V for a uniform guess, 1 for a perfect model).

>>> vocab, ids = char_corpus("to be or not to be " * 50)
>>> model = models.CharLM(len(vocab), hidden_size=64)
>>> history = fit_language_model(model, ids, epochs=2, batch_size=8, seq_len=20)
"""
from __future__ import annotations

import math
import time

import numpy as np

from ember.autograd.grad_mode import no_grad
from ember.nn import functional as F
from ember.nn.utils import clip_grad_norm_
from ember.optim import Adam
from ember.text.batching import BPTTBatcher, detach_state
from ember.text.tokenize import char_tokenize
from ember.text.vocab import Vocab

__all__ = ["char_corpus", "evaluate_perplexity", "fit_language_model"]


def char_corpus(text: str, min_count: int = 1, lower: bool = False) -> tuple[Vocab, np.ndarray]:
    """A character vocabulary of ``text`` and the text as an int64 id stream.

    Characters seen fewer than ``min_count`` times map to ``<unk>``.
    """
    chars = char_tokenize(text, lower=lower)
    vocab = Vocab([chars], min_count=min_count)
    return vocab, vocab.encode(chars)


def _chunk_loss(model, x, y, state):
    logits, state = model(x, detach_state(state))
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)), state


def evaluate_perplexity(model, ids, batch_size: int = 16, seq_len: int = 64) -> float:
    """exp(mean cross-entropy) of the model on the id stream ``ids``, in eval mode, without gradients."""
    was_training, total, count, state = model.training, 0.0, 0, None
    model.eval()
    with no_grad():
        for x, y in BPTTBatcher(ids, batch_size, seq_len):
            loss, state = _chunk_loss(model, x, y, state)
            total, count = total + loss.item() * y.numel(), count + y.numel()
    model.train(was_training)
    return math.exp(total / max(count, 1))


def fit_language_model(model, train_ids, dev_ids=None, epochs: int = 1, batch_size: int = 32, seq_len: int = 64,
                       lr: float = 2e-3, clip: float = 1.0, optimizer=None, on_epoch=None, progress: bool = False):
    """Train ``model`` on the id stream ``train_ids`` by truncated BPTT; returns one dict per epoch.

    Each epoch streams the text once (Adam at ``lr`` unless an ``optimizer`` is given; gradient
    norm clipped to ``clip``, which keeps exploding gradients in check) and records the training
    perplexity, the dev perplexity when ``dev_ids`` is given, and the seconds taken.
    ``on_epoch(epoch, record)`` runs after each epoch (print a sample there, say).
    """
    optimizer = optimizer or Adam(model.parameters(), lr=lr)
    history = []
    for epoch in range(1, epochs + 1):
        model.train()
        started, total, count, state = time.perf_counter(), 0.0, 0, None
        batches = BPTTBatcher(train_ids, batch_size, seq_len)
        if progress:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc=f"epoch {epoch}/{epochs}", leave=False)
        for x, y in batches:
            loss, state = _chunk_loss(model, x, y, state)
            optimizer.zero_grad()
            loss.backward()
            if clip:
                clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            total, count = total + loss.item() * y.numel(), count + y.numel()
        record = {"epoch": epoch, "perplexity": math.exp(total / max(count, 1)),
                  "seconds": time.perf_counter() - started}
        if dev_ids is not None:
            record["dev_perplexity"] = evaluate_perplexity(model, dev_ids, batch_size, seq_len)
        history.append(record)
        if on_epoch is not None:
            on_epoch(epoch, record)
    return history
