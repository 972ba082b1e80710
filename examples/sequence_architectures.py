"""Three shapes of sequence model on synthetic data: many-to-one, many-to-many, one-to-many.

    python examples/sequence_architectures.py [STEPS]

- many-to-one: an ``LSTMClassifier`` reads a "review" of tokens worth −1, 0 or +1 and says whether
  the sum is positive (one label per sequence, from the last state).
- many-to-many: a GRU tags every step of a bit stream with its running parity x_1 ⊕ … ⊕ x_t (one
  output per input step).
- one-to-many: a ``CharLM`` learns a tiny repeated phrase, then generates it from a single seed
  character (one input, a sequence out).

Each demo trains for a few seconds and returns its score; the models live in ``ember.models``.
"""
import argparse

import numpy as np

import ember as em
from ember import nn
from ember.models.text import CharLM, LSTMClassifier
from ember.nn import functional as F
from ember.optim import Adam
from ember.text.language_model import char_corpus, fit_language_model

WORD_VALUES = np.array([0, -1, 0, 1])  # token 0 is padding; tokens 1, 2, 3 are "bad", "meh", "good"
PHRASE = "hello world. "


def _train(model, batches, steps: int, lr: float) -> None:
    """Adam on the cross-entropy of ``batches() -> (inputs, targets)``; logits may be (N, C) or (N, T, C)."""
    optimizer = Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        x, y = batches()
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def _accuracy(model, x, y) -> float:
    with em.no_grad():
        return float((model(x).argmax(dim=-1).numpy() == y.numpy()).mean())


# -- many-to-one: sequence → label ---------------------------------------------------------------------
def reviews(rng, n: int, length: int = 12):
    """Token ids (n, length) in 1..3 and labels 1 when the words' values sum above zero."""
    tokens = rng.integers(1, 4, size=(n, length))
    return em.tensor(tokens), em.tensor((WORD_VALUES[tokens].sum(axis=1) > 0).astype(np.int64))


def many_to_one(steps: int = 300, seed: int = 0) -> float:
    """Train an LSTM classifier on sum-positive "reviews"; returns its accuracy on fresh ones."""
    em.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = LSTMClassifier(vocab_size=4, embed_dim=8, hidden_size=32, num_classes=2)
    _train(model, lambda: reviews(rng, 64), steps, lr=1e-2)
    return _accuracy(model.eval(), *reviews(rng, 1000))


# -- many-to-many: a label for every step --------------------------------------------------------------
class Tagger(nn.Module):
    """Embedding → GRU → linear: class logits (N, T, C) for every step of a token sequence (N, T)."""

    def __init__(self, vocab_size: int, num_classes: int, hidden_size: int = 16):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, 8)
        self.rnn = nn.GRU(8, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, num_classes)

    def forward(self, tokens):
        return self.head(self.rnn(self.embedding(tokens))[0])


def bit_streams(rng, n: int, length: int = 16):
    """Random bits (n, length) and their running parity: y_t = x_1 ⊕ … ⊕ x_t."""
    bits = rng.integers(0, 2, size=(n, length))
    return em.tensor(bits), em.tensor(np.cumsum(bits, axis=1) % 2)


def many_to_many(steps: int = 300, seed: int = 0) -> float:
    """Train a GRU tagger on running parity; returns its per-step accuracy on fresh streams."""
    em.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = Tagger(vocab_size=2, num_classes=2)
    _train(model, lambda: bit_streams(rng, 64), steps, lr=1e-2)
    return _accuracy(model.eval(), *bit_streams(rng, 500))


# -- one-to-many: one seed → a sequence ----------------------------------------------------------------
def one_to_many(epochs: int = 20, seed: int = 0) -> tuple[str, float]:
    """Train a CharLM on a repeated phrase, generate 3 phrases' worth from its first character.

    Returns the generated text and the fraction of its characters that continue the phrase correctly.
    """
    em.manual_seed(seed)
    vocab, ids = char_corpus(PHRASE * 40)
    model = CharLM(len(vocab), embed_dim=16, hidden_size=64)
    fit_language_model(model, ids, epochs=epochs, batch_size=8, seq_len=26, lr=1e-2)
    start = vocab.encode([PHRASE[0]]).tolist()
    out = model.sample(start, length=3 * len(PHRASE), temperature=0.1, generator=np.random.default_rng(seed))
    text = "".join(vocab.decode(out))
    expected = (PHRASE * 4)[:len(text)]
    return text, float(np.mean([a == b for a, b in zip(text, expected, strict=True)]))


def main(steps: int = 300) -> dict:
    """Run the three demos, print and return their scores."""
    scores = {"many-to-one accuracy": many_to_one(steps), "many-to-many accuracy": many_to_many(steps)}
    text, scores["one-to-many match"] = one_to_many()
    for name, value in scores.items():
        print(f"{name:24s} {value:.3f}")
    print(f"generated from {PHRASE[0]!r}: {text!r}")
    return scores


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("steps", nargs="?", type=int, default=300)
    main(parser.parse_args().steps)
