"""word2vec's hand-derived batched update equals one SGD step of autograd on the same loss.

``Word2Vec`` writes its gradients out by hand (batched matrix products, shift-adds, row scatters).
Here one batch of that update is replayed with ``nn.Embedding`` tables, ``negative_sampling_loss``
and plain SGD: every (centre, context) pair of the batch, with the batch's own negatives, adds
its loss, the sum is differentiated once from the vectors at the start of the batch (as the
batched update reads them), and both steps must leave the same two matrices.
"""
import numpy as np
import pytest

import ember as em
from ember import nn
from ember.ops.loss import negative_sampling_loss
from ember.optim import SGD
from ember.text.word2vec import Word2Vec

CORPUS = [["the", "cat", "sat", "on", "the", "mat"],
          ["a", "dog", "sat", "on", "a", "log"],
          ["the", "dog", "saw", "the", "cat"]]
WINDOW, NEGATIVE, LR, DIM = 2, 3, 0.5, 6
START, END = 3, 12  # the batch: token positions START..END−1, so its windows reach outside it


class RecordedDraws:
    """A seeded generator that keeps the uniforms it hands out: the negatives the batch drew."""

    def __init__(self, seed):
        self.rng, self.uniforms = np.random.default_rng(seed), []

    def random(self, size):
        u = self.rng.random(size)
        self.uniforms.append(u)
        return u


def prepared_model(sg, cbow_mean, seed=0, compiled=False):
    """A model on CORPUS with random input and output vectors (the output ones start at zero in
    training, where the input vectors would get no gradient) and recorded negative draws."""
    model = Word2Vec(vector_size=DIM, window=WINDOW, min_count=1, sample=0, sg=sg, negative=NEGATIVE,
                     cbow_mean=cbow_mean, shrink_windows=False, workers=1, seed=seed, compiled=compiled)
    model.build_vocab(CORPUS)
    rng = np.random.default_rng(seed)
    V = len(model.wv)
    model.wv.vectors = rng.normal(0.0, 0.5, (V, DIM)).astype(np.float32)
    model.syn1neg = rng.normal(0.0, 0.5, (V, DIM)).astype(np.float32)
    model.random = RecordedDraws(seed)
    return model


def hand_step(model):
    """(ids, sentence ids) of the corpus, after one hand-derived batch update of START..END−1.

    The damping of rows read many times in one batch (a guard for large batches, not part of the
    gradient) is switched off, so the step is the plain gradient step.
    """
    model._max_updates_per_row = 10 ** 9
    ids, sent = model._encode(CORPUS)
    model._train_batch(ids, sent, START, END, LR)
    return ids, sent


def context(ids, sent, t):
    """Token ids around position t within its sentence, by offset −WINDOW..WINDOW (0 excluded)."""
    return [int(ids[t + o]) for o in range(-WINDOW, WINDOW + 1)
            if o != 0 and 0 <= t + o < len(ids) and sent[t + o] == sent[t]]


def negatives(model, shape):
    """The batch's one draw of negatives, as word ids from the unigram^0.75 table."""
    (uniforms,) = model.random.uniforms
    assert uniforms.shape == shape
    return model.noise.draw(uniforms)


def pair_loss(table_in, table_out, hidden, centre, negs):
    """negative_sampling_loss of one hidden vector (1, D) against the centre's output vector (label 1)
    and the drawn negatives other than the centre (label 0), which word2vec skips."""
    noise = [int(n) for n in negs if n != centre]
    positive = table_out(em.tensor([centre]))
    return negative_sampling_loss(hidden, positive, table_out(em.tensor(noise))[None], reduction="sum")


def autograd_step(W_in, W_out, losses):
    """One SGD step of rate LR on the summed losses over float64 nn.Embedding tables; the new tables."""
    table_in = nn.Embedding(*W_in.shape, _weight=W_in.astype(np.float64))
    table_out = nn.Embedding(*W_out.shape, _weight=W_out.astype(np.float64))
    optimizer = SGD(table_in.parameters(), lr=LR)
    optimizer.add_param_group({"params": list(table_out.parameters())})
    optimizer.zero_grad()
    total = sum(losses(table_in, table_out))
    total.backward()
    optimizer.step()
    return table_in.weight.detach().numpy(), table_out.weight.detach().numpy()


def assert_same_step(model, W_in, W_out, new_in, new_out):
    """The hand-derived and autograd steps agree, compared as steps (float32 against float64)."""
    assert np.abs(new_in - W_in).max() > 1e-2 and np.abs(new_out - W_out).max() > 1e-2  # both tables moved
    np.testing.assert_allclose(model.wv.vectors - W_in, new_in - W_in, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(model.syn1neg - W_out, new_out - W_out, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("pairs_per_draw", [1, 16])
@pytest.mark.parametrize("compiled", [False, True], ids=["numpy", "numba"])
def test_skipgram_negative_sampling_step(compiled, pairs_per_draw):
    """Skip-gram: each context word's input vector v predicts the centre's output vector u_o,
    ℓ = −log σ(u_o·v) − Σ_k log σ(−u_k·v); consecutive groups of pairs share one draw of negatives
    (the compiled path's default is a draw per pair, the NumPy path's one per 16 pairs). Both the
    NumPy update and the compiled one (numba, a test dependency) take this step at either setting."""
    model = prepared_model(sg=1, cbow_mean=1, compiled=compiled)
    model._pairs_per_draw = pairs_per_draw
    W_in, W_out = model.wv.vectors.copy(), model.syn1neg.copy()
    ids, sent = hand_step(model)
    pairs = [(int(ids[t]), c) for t in range(START, END) for c in context(ids, sent, t)]
    groups = -(-len(pairs) // pairs_per_draw)
    negs = negatives(model, (groups, NEGATIVE))

    def losses(table_in, table_out):
        for p, (centre, ctx) in enumerate(pairs):
            hidden = table_in(em.tensor([ctx]))
            yield pair_loss(table_in, table_out, hidden, centre, negs[p // pairs_per_draw])

    assert_same_step(model, W_in, W_out, *autograd_step(W_in, W_out, losses))


@pytest.mark.parametrize("cbow_mean", [1, 0])
def test_cbow_negative_sampling_step(cbow_mean):
    """CBOW: the mean (or sum) h of the context's input vectors predicts the centre, each centre with
    negatives of its own. As the C tool and gensim, the error of h reaches every context word whole
    with the mean, and divided by the context size |C| with the sum: the step on an input vector is
    |C| (or 1/|C|) times its gradient, which the hook on h reproduces."""
    model = prepared_model(sg=0, cbow_mean=cbow_mean)
    W_in, W_out = model.wv.vectors.copy(), model.syn1neg.copy()
    ids, sent = hand_step(model)
    negs = negatives(model, (END - START, NEGATIVE))

    def losses(table_in, table_out):
        for b, t in enumerate(range(START, END)):
            words = context(ids, sent, t)
            if not words:
                continue
            rows = table_in(em.tensor(words))
            hidden = rows.mean(axis=0, keepdims=True) if cbow_mean else rows.sum(axis=0, keepdims=True)
            factor = len(words) if cbow_mean else 1.0 / len(words)
            hidden.register_hook(lambda g, factor=factor: g * factor)
            yield pair_loss(table_in, table_out, hidden, int(ids[t]), negs[b])

    assert_same_step(model, W_in, W_out, *autograd_step(W_in, W_out, losses))
