"""Truncated BPTT as a Trainer: the same steps as the hand-written loop, the state carried and reset."""
import math

import numpy as np
import pytest

import ember as em
from ember import models, optim
from ember.nn import functional as F
from ember.nn.utils import clip_grad_norm_
from ember.text import BPTTBatcher, char_corpus, detach_state, evaluate_perplexity, fit_language_model
from ember.text.language_model import BPTTTrainer

TEXT = "to be or not to be, that is the question " * 12


def _model(vocab, seed=0):
    em.manual_seed(seed)
    return models.CharLM(len(vocab), hidden_size=16)


def _params(model):
    return [p.detach().numpy().copy() for p in model.parameters()]


def _hand_written(model, ids, epochs, batch_size, seq_len, lr, clip):
    """The textbook loop: carry the state, cut the graph, clip, step; the token-weighted mean loss per epoch."""
    opt, losses = optim.Adam(model.parameters(), lr=lr), []
    for _ in range(epochs):
        model.train()
        total, count, state = 0.0, 0, None
        for x, y in BPTTBatcher(ids, batch_size, seq_len):
            logits, state = model(x, detach_state(state))
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            clip_grad_norm_(model.parameters(), clip)
            opt.step()
            total, count = total + loss.item() * y.numel(), count + y.numel()
        losses.append(total / count)
    return losses


def test_fit_language_model_takes_the_hand_written_loops_steps():
    vocab, ids = char_corpus(TEXT)
    ours, theirs = _model(vocab), _model(vocab)
    records = []
    history = fit_language_model(ours, ids[:400], ids[400:], epochs=2, batch_size=4, seq_len=9, lr=1e-2, clip=0.5,
                                 on_epoch=lambda epoch, record: records.append(epoch))
    losses = _hand_written(theirs, ids[:400], 2, 4, 9, 1e-2, 0.5)
    for a, b in zip(_params(ours), _params(theirs), strict=True):
        np.testing.assert_array_equal(a, b)
    assert [r["perplexity"] for r in history] == [math.exp(v) for v in losses]
    assert [r["dev_perplexity"] for r in history][-1] == evaluate_perplexity(ours, ids[400:], 4, 9)
    assert records == [1, 2] and list(history[0]) == ["epoch", "perplexity", "seconds", "dev_perplexity"]


def test_the_state_is_carried_within_an_epoch_and_reset_at_the_next():
    vocab, ids = char_corpus(TEXT)
    model = _model(vocab)
    trainer = BPTTTrainer(model, optim.SGD(model.parameters(), lr=0.0))
    starts = []
    original = model.forward

    def recording(x, state=None):
        starts.append(state is None)
        return original(x, state)

    model.forward = recording
    batches = BPTTBatcher(ids, 4, 10)
    trainer.fit(batches, epochs=2)
    assert starts == ([True] + [False] * (len(batches) - 1)) * 2
    assert not trainer.state[0].requires_grad  # kept cut from the graph


def test_step_by_step_driving_carries_the_state_across_calls():
    vocab, ids = char_corpus(TEXT)
    model = _model(vocab)
    trainer = BPTTTrainer(model, optim.Adam(model.parameters(), lr=1e-2), clip=None)
    assert not any(type(c).__name__ == "GradientClipping" for c in trainer.callbacks)
    model.train()
    first = [trainer.step(batch)[0]["loss"] for batch in BPTTBatcher(ids, 4, 10)]
    assert trainer.state is not None and trainer.global_step == len(first)
    later = [trainer.step(batch)[0]["loss"] for batch in BPTTBatcher(ids, 4, 10)]
    assert np.mean(later) < np.mean(first)


def test_evaluate_is_the_perplexitys_log():
    vocab, ids = char_corpus(TEXT)
    model = _model(vocab)
    trainer = BPTTTrainer(model, optim.SGD(model.parameters(), lr=0.1))
    loss = trainer.evaluate(BPTTBatcher(ids, 4, 10))["loss"]
    assert math.exp(loss) == pytest.approx(evaluate_perplexity(model, ids, 4, 10), rel=1e-12)
    assert model.training
