"""The sequence models learn toy tasks: classifiers, the character language model, the regressor."""
import numpy as np
import pytest

import ember as em
from ember import nn
from ember.models.text import BagOfEmbeddings, CharLM, LSTMClassifier, RNNRegressor, TextCNN

VOCAB, T = 20, 8


def _train(model, inputs, targets, steps, lr=0.02, loss_fn=None, **kwargs):
    """Adam on one fixed batch; returns the first and last losses."""
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    optimizer = em.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(inputs, **kwargs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses[0], losses[-1]


def _contains_task(n=128, seed=0):
    """Label 1 when token 3 occurs in the sentence (words 4.. are filler); lengths vary, pad is 0."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(4, VOCAB, (n, T))
    labels = rng.integers(0, 2, n)
    lengths = rng.integers(3, T + 1, n)
    for i in range(n):
        if labels[i]:
            tokens[i, rng.integers(0, lengths[i])] = 3
        tokens[i, lengths[i]:] = 0
    return em.tensor(tokens), em.tensor(labels), em.tensor(lengths)


def _accuracy(logits, labels):
    return float((logits.argmax(dim=1) == labels).numpy().mean())


@pytest.mark.parametrize("make", [
    lambda: BagOfEmbeddings(VOCAB, 16, 2),
    lambda: LSTMClassifier(VOCAB, 16, 24, 2),
    lambda: LSTMClassifier(VOCAB, 16, 24, 2, bidirectional=True, cell="gru"),
    lambda: TextCNN(VOCAB, 16, 2, kernel_sizes=(2, 3), num_filters=8, dropout=0.0),
])
def test_classifiers_learn_which_sentences_contain_a_word(make):
    em.manual_seed(0)
    tokens, labels, lengths = _contains_task()
    model = make()
    first, last = _train(model, tokens, labels, steps=80, lengths=lengths)
    assert last < 0.5 * first
    assert _accuracy(model(tokens, lengths=lengths), labels) > 0.9


def test_padding_does_not_change_a_bag_of_embeddings_or_an_lstm_prediction():
    em.manual_seed(0)
    tokens, _, lengths = _contains_task(n=4)
    wider = em.tensor(np.pad(tokens.numpy(), ((0, 0), (0, 5))))
    for model in (BagOfEmbeddings(VOCAB, 8, 3), LSTMClassifier(VOCAB, 8, 12, 3)):
        model.eval()
        np.testing.assert_allclose(model(tokens, lengths=lengths).detach().numpy(),
                                   model(wider, lengths=lengths).detach().numpy(),
                                   rtol=1e-5, atol=1e-6)


def test_charlm_perplexity_falls_and_greedy_sampling_continues_the_text():
    em.manual_seed(0)
    text = "the cat sat on the mat. " * 8
    chars = sorted(set(text))
    ids = np.array([chars.index(c) for c in text])
    x, y = em.tensor(ids[None, :-1]), em.tensor(ids[None, 1:])
    model = CharLM(len(chars), embed_dim=16, hidden_size=64)
    optimizer = em.optim.Adam(model.parameters(), lr=0.02)
    loss_fn = nn.CrossEntropyLoss()
    start = None
    for _ in range(120):
        optimizer.zero_grad()
        logits, _ = model(x)
        loss = loss_fn(logits.reshape(-1, len(chars)), y.reshape(-1))
        loss.backward()
        optimizer.step()
        start = start or loss.item()
    assert CharLM.perplexity(start) > 8 and CharLM.perplexity(loss.item()) < 1.5
    prefix = [chars.index(c) for c in "the cat "]
    sampled = model.sample(prefix, 15, top_k=1)
    assert "".join(chars[i] for i in sampled) == ("the cat sat on the mat. ")[: len(prefix) + 15]
    hot = model.sample(prefix, 40, temperature=2.0, generator=np.random.default_rng(0))
    assert len(hot) == len(prefix) + 40 and all(0 <= i < len(chars) for i in hot)


def test_rnn_regressor_forecasts_a_sine_wave():
    em.manual_seed(0)
    t = np.arange(400) * 0.2
    series = np.sin(t).astype(np.float32)
    windows = np.lib.stride_tricks.sliding_window_view(series[:-1], 20)[::3]
    targets = series[20::3][: len(windows), None]
    model = RNNRegressor(input_size=1, hidden_size=24, horizon=1)
    first, last = _train(model, em.tensor(windows), em.tensor(targets), steps=150, lr=0.01, loss_fn=nn.MSELoss())
    assert first > 0.1 and last < 0.01
