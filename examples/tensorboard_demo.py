"""Watch networks learn in TensorBoard: curves, weight and gradient histograms, filters, feature
maps, the model graph, language-model samples, embeddings in the projector, an attention map.

    python examples/tensorboard_demo.py [RUNS_DIR]        # default runs/
    tensorboard --logdir runs                              # then open http://localhost:6006

Two runs are written under RUNS_DIR/tensorboard-demo-<time>/: ``digits`` (a small conv net on
the 8×8 handwritten digits, with its first-layer filters and feature maps after every epoch)
and ``charlm`` (a character language model, with a sample after every epoch, its character
embeddings for the projector and the heat map of a dot-product self-attention between them). Needs the
tensorboard extra (``pip install 'ember[tensorboard]'``) and scikit-learn for the digits.
The logging lives in ``ember.train.tensorboard``.
"""
import argparse
import time
from pathlib import Path

import numpy as np

import ember as em
from ember import nn, optim
from ember.data import DataLoader, TensorDataset
from ember.data.datasets.digits import digits
from ember.models.text import CharLM
from ember.nn import functional as F
from ember.text.language_model import char_corpus
from ember.train import Trainer
from ember.train.tensorboard import (
    TensorBoardLogger,
    feature_map_grid,
    filter_grid,
    log_attention,
    log_embeddings,
)

TEXT = ("to be, or not to be, that is the question: whether 'tis nobler in the mind to suffer "
        "the slings and arrows of outrageous fortune, or to take arms against a sea of troubles ") * 8


def digits_run(log_dir, epochs: int = 4):
    """A conv net on the digits, logged with its conv filters, the feature maps of one test digit and its graph."""
    em.manual_seed(0)
    train, dev = digits(train=True), digits(train=False)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(8 * 4 * 4, 10))
    probe = dev.tensors[0][:1]
    logger = TensorBoardLogger(log_dir, graph_input=probe, images={
        "conv1/filters": lambda m: filter_grid(m[0]),
        "conv1/feature_maps": lambda m: feature_map_grid(m, "0", probe),
        "input": lambda m: probe.numpy()[0].repeat(4, axis=1).repeat(4, axis=2),
    })
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=3e-3), nn.CrossEntropyLoss(), callbacks=[logger])
    return trainer.fit(DataLoader(train, batch_size=64, shuffle=True, seed=0), DataLoader(dev, batch_size=256),
                       epochs=epochs)


class NextCharLogits(nn.Module):
    """A CharLM as the Trainer sees it: tokens (N, T) → next-character scores (N, V, T), PyTorch's layout
    for a cross-entropy over every position."""

    def __init__(self, lm):
        super().__init__()
        self.lm = lm

    def forward(self, tokens):
        logits, _ = self.lm(tokens)
        return logits.transpose(1, 2)


def char_lm_run(log_dir, epochs: int = 20, seq_len: int = 32):
    """A character LM trained on windows of TEXT, logged with a sample per epoch; then its embeddings
    (labelled by character) for the projector, and the weights of a dot-product self-attention over a
    phrase with those embeddings as queries and keys (each character attends to the ones it resembles)."""
    em.manual_seed(0)
    vocab, ids = char_corpus(TEXT)
    n = (len(ids) - 1) // seq_len
    x, y = ids[:n * seq_len].reshape(n, seq_len), ids[1:n * seq_len + 1].reshape(n, seq_len)
    lm = CharLM(len(vocab), embed_dim=16, hidden_size=64, cell="gru")
    rng = np.random.default_rng(0)

    def sample(model):
        tokens = model.lm.sample(list(vocab.encode(list("to be"))), 80, temperature=0.7, generator=rng)
        return "".join(vocab.decode(tokens))

    logger = TensorBoardLogger(log_dir, text_samples=sample)
    model = NextCharLogits(lm)
    Trainer(model, optim.Adam(model.parameters(), lr=1e-2), nn.CrossEntropyLoss(), callbacks=[logger]).fit(
        DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, seed=0), epochs=epochs)
    log_embeddings(log_dir, lm.embedding.weight, labels=[repr(c) for c in vocab.itos], tag="char_embedding")
    phrase = "to be or not to be"
    with em.no_grad():  # dot-product self-attention, softmax(E Eᵀ/√d), with the learned embeddings E
        e = lm.embedding(em.tensor(vocab.encode(list(phrase))))
        weights = F.softmax(e @ e.transpose(0, 1) / e.shape[1] ** 0.5, dim=-1)
    tokens = [c if c != " " else "␣" for c in phrase]
    log_attention(log_dir, weights.numpy(), tokens, tokens, tag="attention/embedding_self_attention")


def main(runs_dir="runs") -> Path:
    """Write both runs; returns their parent directory (give it, or RUNS_DIR, to ``tensorboard --logdir``)."""
    root = Path(runs_dir) / f"tensorboard-demo-{time.strftime('%Y%m%d-%H%M%S')}"
    history = digits_run(root / "digits")
    print(f"digits: dev accuracy {history['dev_accuracy'][-1]:.3f} after {len(history)} epochs")
    char_lm_run(root / "charlm")
    print(f"wrote {root}; view it with: tensorboard --logdir {runs_dir}")
    return root


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs_dir", nargs="?", default="runs")
    main(parser.parse_args().runs_dir)
