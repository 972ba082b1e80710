"""Training a recurrent language model with truncated BPTT: the trainer, perplexity, samples.

A model here is any module with ``forward(tokens (N, T), state) -> (logits (N, T, V), state)``,
such as ``ember.models.CharLM``. Training streams the corpus through a ``BPTTBatcher``: the
state is carried from chunk to chunk and cut from the graph each time (``detach_state``), so
the gradient reaches back at most ``seq_len`` steps while the state itself sees the whole text.
``BPTTTrainer`` is the ``Trainer`` whose step does that; ``fit_language_model`` configures it.

    perplexity = exp(mean cross-entropy per token): the effective number of equally likely
    next tokens (V for a uniform guess, 1 for a perfect model).

>>> vocab, ids = char_corpus("to be or not to be " * 50)
>>> model = models.CharLM(len(vocab), hidden_size=64)
>>> history = fit_language_model(model, ids, epochs=2, batch_size=8, seq_len=20)
"""
from __future__ import annotations

import math

import numpy as np

from ember.autograd.grad_mode import no_grad
from ember.nn import functional as F
from ember.optim import Adam
from ember.text.batching import BPTTBatcher, detach_state
from ember.text.tokenize import char_tokenize
from ember.text.vocab import Vocab
from ember.train.callbacks import Callback, GradientClipping, ProgressBar
from ember.train.trainer import Trainer

__all__ = ["BPTTTrainer", "char_corpus", "evaluate_perplexity", "fit_language_model"]


def char_corpus(text: str, min_count: int = 1, lower: bool = False) -> tuple[Vocab, np.ndarray]:
    """A character vocabulary of ``text`` and the text as an int64 id stream.

    Characters seen fewer than ``min_count`` times map to ``<unk>``.
    """
    chars = char_tokenize(text, lower=lower)
    vocab = Vocab([chars], min_count=min_count)
    return vocab, vocab.encode(chars)


def _token_loss(logits, y):
    """Mean cross-entropy per token of logits (N, T, V) against the next tokens y (N, T)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def _stream_loss(model, chunks) -> float:
    """Mean cross-entropy per token over consecutive chunks, the state carried; eval mode, no gradients."""
    was_training, total, count, state = model.training, 0.0, 0, None
    model.eval()
    with no_grad():
        for x, y in chunks:
            logits, state = model(x, state)
            total, count = total + _token_loss(logits, y).item() * y.numel(), count + y.numel()
    model.train(was_training)
    return total / max(count, 1)


def evaluate_perplexity(model, ids, batch_size: int = 16, seq_len: int = 64) -> float:
    """exp(mean cross-entropy) of the model on the id stream ``ids``, in eval mode, without gradients."""
    return math.exp(_stream_loss(model, BPTTBatcher(ids, batch_size, seq_len)))


class BPTTTrainer(Trainer):
    """A ``Trainer`` for truncated BPTT: each step starts from the hidden state the previous one ended with.

    The batches are consecutive chunks of a stream (a ``BPTTBatcher``: row b of a chunk
    continues row b of the chunk before). ``train_step`` feeds the model the carried state cut
    from the graph (``detach_state``), so backward stops at the chunk border, and keeps the state
    it returns; each epoch starts again from no state (the text from its start). The loss is the
    mean cross-entropy per token, and an epoch's ``loss`` its mean over all tokens (a chunk
    weighs its N·T tokens), so ``exp(loss)`` is the training perplexity.

    Args:
        model: ``forward(tokens (N, T), state) -> (logits (N, T, V), state)``.
        optimizer: over the model's parameters.
        clip: rescale the gradients to this global L2 norm at most (``GradientClipping``); 0 or
            None for none. It keeps the exploding gradients of long unrolled graphs in check.
        callbacks, **kwargs: as ``Trainer`` (no metrics and no bias/variance diagnosis by default).

    >>> trainer = BPTTTrainer(model, optim.Adam(model.parameters(), lr=2e-3))
    >>> trainer.fit(BPTTBatcher(ids, batch_size=32, seq_len=64), epochs=5)["loss"]
    """

    def __init__(self, model, optimizer, clip: float | None = 1.0, callbacks=(), **kwargs):
        kwargs.setdefault("metrics", None)
        kwargs.setdefault("diagnose", False)
        clipping = [GradientClipping(max_norm=clip)] if clip else []
        super().__init__(model, optimizer, _token_loss, callbacks=[*clipping, *callbacks], **kwargs)
        self.state, self._state_epoch = None, None

    def train_step(self, batch) -> tuple[dict, int]:
        """One chunk ``(x, y)``: forward from the carried state, backward within the chunk, step."""
        if self._state_epoch != self.epoch:  # a new epoch reads the stream from its start
            self.state, self._state_epoch = None, self.epoch
        (x,), y = self._unpack(batch)
        logits, state = self.model(x, self.state)
        self.state = detach_state(state)  # the values go on to the next chunk, the graph does not
        loss = self.loss_fn(logits, y)
        self.optimize(loss)
        return {"loss": float(loss.item())}, int(y.numel())

    def evaluate(self, loader) -> dict:
        """``{'loss'}``: the mean cross-entropy per token over the chunks of ``loader``, the state carried."""
        return {"loss": _stream_loss(self.model, ((self._to_device(x), self._to_device(y)) for x, y in loader))}


class _PerplexityRecords(Callback):
    """The records ``fit_language_model`` returns: each epoch's perplexities, exp of its mean losses."""

    def __init__(self, on_epoch=None):
        self.on_epoch, self.history = on_epoch, []

    def on_epoch_end(self, trainer, epoch, logs):
        record = {"epoch": epoch + 1, "perplexity": math.exp(logs["loss"]), "seconds": logs["time"]}
        if "dev_loss" in logs:
            record["dev_perplexity"] = math.exp(logs["dev_loss"])
        self.history.append(record)
        if self.on_epoch is not None:
            self.on_epoch(epoch + 1, record)


def fit_language_model(model, train_ids, dev_ids=None, epochs: int = 1, batch_size: int = 32, seq_len: int = 64,
                       lr: float = 2e-3, clip: float = 1.0, optimizer=None, on_epoch=None, progress: bool = False):
    """Train ``model`` on the id stream ``train_ids`` by truncated BPTT (a ``BPTTTrainer``); returns one dict per epoch.

    Each epoch streams the text once (Adam at ``lr`` unless an ``optimizer`` is given; gradient
    norm clipped to ``clip``, which keeps exploding gradients in check) and records the training
    perplexity, the dev perplexity when ``dev_ids`` is given, and the seconds taken.
    ``on_epoch(epoch, record)`` runs after each epoch (print a sample there, say).
    """
    records = _PerplexityRecords(on_epoch)
    callbacks = [records] + ([ProgressBar(disable=False, print_metrics=False)] if progress else [])
    trainer = BPTTTrainer(model, optimizer or Adam(model.parameters(), lr=lr), clip=clip, callbacks=callbacks)
    dev = None if dev_ids is None else BPTTBatcher(dev_ids, batch_size, seq_len)
    trainer.fit(BPTTBatcher(train_ids, batch_size, seq_len), dev, epochs=epochs)
    return records.history
