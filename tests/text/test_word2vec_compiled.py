"""The compiled skip-gram update (numba, ``ember[fast]``) equals the NumPy reference.

numba is a test dependency, so these run in CI: the kernel must take the same step as
``Word2Vec._skipgram_negative`` on NumPy — same pairs, same shared negatives, the same damping of
rows read many times — batch by batch and over a whole run, alone and in worker processes.
"""
import numpy as np
import pytest
from word2vec_topics import topic_corpus, topic_gap

from ember.text import word2vec
from ember.text.word2vec import Word2Vec


def twin_models(pairs_per_draw=1, **options):
    """Two identically seeded skip-gram models on one corpus, NumPy and compiled, vocabulary built,
    both sharing each draw of negatives among ``pairs_per_draw`` pairs."""
    corpus = topic_corpus(200, seed=1) + [["rare", "words", "here"]] * 3
    settings = dict(vector_size=24, window=4, min_count=1, sg=1, negative=5, seed=11, workers=1, **options)
    models = [Word2Vec(compiled=compiled, **settings) for compiled in (False, True)]
    for model in models:
        model.build_vocab(corpus)
        model._pairs_per_draw = pairs_per_draw
        rng = np.random.default_rng(0)  # non-zero output vectors, so that every term of the step is live
        model.syn1neg = rng.normal(0.0, 0.3, model.syn1neg.shape).astype(np.float32)
    return corpus, models


@pytest.mark.parametrize("pairs_per_draw", [1, 16])
def test_one_batch_equals_numpy_with_damping(pairs_per_draw):
    """A batch of 2000 tokens over a 19-word vocabulary reads every row far more than
    _MAX_UPDATES_PER_ROW times, so the damped scatters are exercised on both matrices."""
    corpus, (reference, compiled) = twin_models(pairs_per_draw, compute_loss=True)
    ids, sent = reference._encode(corpus)
    for model in (reference, compiled):
        model._train_batch(ids, sent, 5, 1805, 0.05)
    assert np.abs(reference.wv.vectors - compiled.wv.vectors).max() < 1e-6
    assert np.abs(reference.syn1neg - compiled.syn1neg).max() < 1e-6
    assert np.abs(compiled.wv.vectors - twin_models()[1][1].wv.vectors).max() > 1e-3  # the batch moved them
    assert compiled.running_training_loss == pytest.approx(reference.running_training_loss, rel=1e-5)


@pytest.mark.parametrize("pairs_per_draw", [1, 16])
def test_training_run_equals_numpy(pairs_per_draw):
    corpus, (reference, compiled) = twin_models(pairs_per_draw, batch_words=300, sample=1e-2)
    for model in (reference, compiled):
        model.train(corpus, total_examples=len(corpus), epochs=3)
    assert reference.alpha_schedule == compiled.alpha_schedule
    np.testing.assert_allclose(compiled.wv.vectors, reference.wv.vectors, atol=2e-5)
    np.testing.assert_allclose(compiled.syn1neg, reference.syn1neg, atol=2e-5)
    assert topic_gap(compiled.wv) > 0.3


def test_worker_processes_use_the_kernel(monkeypatch):
    """workers=2 forks after the kernel is compiled; both processes' updates land, each damping a
    row's updates at half the cap (at the full cap this run diverged in 3 of 30 tries)."""
    model = Word2Vec(topic_corpus(), vector_size=16, window=3, min_count=1, sample=0, sg=1, epochs=10, seed=3,
                     batch_words=500, alpha=0.05, workers=2, compute_loss=True, compiled=True)
    assert model.compiled and model.get_latest_training_loss() > 0
    assert model._max_updates_per_row == word2vec._MAX_UPDATES_PER_ROW / 2
    assert topic_gap(model.wv) > 0.3


def test_compiled_choice(monkeypatch):
    assert Word2Vec(compiled=False).compiled is False
    assert Word2Vec().compiled is True  # numba installed: used by default
    assert (Word2Vec()._pairs_per_draw, Word2Vec(compiled=False)._pairs_per_draw) == (1, 16)
    monkeypatch.setenv("EMBER_COMPILED", "0")  # ember's switch for all its compiled kernels
    assert Word2Vec().compiled is False and Word2Vec(compiled=True).compiled is True
    monkeypatch.delenv("EMBER_COMPILED")
    monkeypatch.setattr(word2vec, "_import_kernels", lambda: (_ for _ in ()).throw(ImportError("no numba")))
    assert Word2Vec().compiled is False
    with pytest.raises(ImportError, match=r"ember\[fast\]"):
        Word2Vec(compiled=True)
