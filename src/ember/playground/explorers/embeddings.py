"""The embedding projector: word vectors in a 2-D/3-D PCA, nearest neighbours and analogies.

``WordVectors`` loads a word2vec file (``--vectors``, text or binary) or trains a tiny set at first
use: skip-gram word2vec (``ember.text.word2vec``) on Genesis and Exodus of the King James Bible when
Debian's ``bible-kjv`` is installed, else on ``generated_corpus``. Neighbours rank words by cosine
similarity cos(u, v) = u·v / (‖u‖ ‖v‖); the analogy a − b + c ranks them against
unit(a) − unit(b) + unit(c).

>>> WordVectors().analogy("king", "man", "woman", topn=1)["results"][0][0]   # doctest: +SKIP
'queen'
"""
from __future__ import annotations

import re
import threading
from pathlib import Path

import numpy as np

from ember.playground.validation import RequestError

__all__ = ["WordVectors", "generated_corpus"]

_STOPWORDS = set("the and of to in that a i it for is was he his they them him be with not all unto shall "
                 "their thou thy thee ye which me my by as from but were have had are this upon there on so "
                 "when then also an at or will s".split())
_GENERATED = {
    "royal": (["king", "queen"], ["prince", "princess"], ["rules", "reigns over", "governs"],
              ["the kingdom", "the realm", "the castle", "the crown"]),
    "family": (["father", "mother"], ["son", "daughter"], ["loves", "feeds", "teaches"],
               ["the family", "the child", "the house", "the home"]),
    "people": (["man", "woman"], ["boy", "girl"], ["walks to", "runs to", "works in"],
               ["the town", "the market", "the field", "the city"]),
}


def generated_corpus(sentences: int = 6000, seed: int = 0) -> list[list[str]]:
    """A small seeded corpus with structure word2vec can find: royal, family and everyday words, each
    in a male and a female form ("the king rules the realm", "he is a man", "she is a queen").
    """
    rng = np.random.default_rng(seed)
    corpus = []
    groups = list(_GENERATED.values())
    for _ in range(sentences):
        adults, young, verbs, places = groups[rng.integers(len(groups))]
        g = int(rng.integers(2))
        who = (adults if rng.random() < 0.6 else young)[g]
        pronoun = ("he", "she")[g]
        corpus.append(f"the {who} {verbs[rng.integers(len(verbs))]} {places[rng.integers(len(places))]}".split())
        corpus.append(f"{pronoun} is a {who} and {pronoun} {verbs[rng.integers(len(verbs))]} "
                      f"{places[rng.integers(len(places))]}".split())
    return corpus


def _kjv_corpus(max_words: int) -> list[list[str]] | None:
    from ember.data.datasets.text import bible_kjv

    try:
        text = bible_kjv(reference="gen1:1-exo40:38", timeout=30)
    except (FileNotFoundError, RuntimeError, OSError):
        return None
    sentences, total = [], 0
    for line in text.splitlines():
        words = re.findall(r"[a-z]+", line.lower())
        if words:
            sentences.append(words)
            total += len(words)
        if total >= max_words:
            break
    return sentences


class WordVectors:
    """Word vectors for the projector: a word2vec file (``--vectors``, text or binary) or a tiny trained set.

    Without a file, word2vec (skip-gram, 32 dimensions) trains at first use on Genesis and Exodus of
    the King James Bible when Debian's ``bible-kjv`` is installed, else on ``generated_corpus`` —
    at most ``max_words`` words, a few seconds.
    """

    def __init__(self, path=None, max_words: int = 80_000):
        self.path, self.max_words = path, max_words
        self._kv, self.source, self._lock = None, None, threading.Lock()

    def vectors(self):
        """The ``KeyedVectors``, loaded or trained on the first call."""
        with self._lock:
            if self._kv is None:
                self._kv = self._load() if self.path else self._train()
            return self._kv

    def _load(self):
        from ember.text.word2vec import KeyedVectors

        path = Path(self.path)
        if not path.is_file():
            raise RequestError(f"embeddings: no word-vector file at {path}", 404)
        try:
            kv = KeyedVectors.load_word2vec_format(path, binary=False)
        except (UnicodeDecodeError, ValueError, IndexError):
            kv = KeyedVectors.load_word2vec_format(path, binary=True)
        self.source = f"{path.name} ({len(kv)} words, {kv.vector_size} dimensions)"
        return kv

    def _train(self):
        from ember.text.word2vec import Word2Vec

        corpus = _kjv_corpus(self.max_words)
        name = "Genesis and Exodus (King James Bible)"
        if corpus is None:
            corpus, name = generated_corpus(), "a small generated corpus"
        model = Word2Vec(corpus, vector_size=32, window=4, min_count=5, sg=1, epochs=10, batch_words=500, alpha=0.05,
                         seed=1)
        self.source = f"word2vec trained here on {name}: {len(model.wv)} words, 32 dimensions"
        return model.wv

    def _word(self, kv, word) -> str:
        if word in kv:
            return word
        if word.lower() in kv:
            return word.lower()
        raise RequestError(f"embeddings: {word!r} is not in the vocabulary of {len(kv)} words")

    def projection(self, count: int, dims: int) -> dict:
        """The ``count`` most frequent words (stop words skipped) and their PCA coordinates in ``dims`` (2 or 3)."""
        from ember.viz.embeddings import pca_2d

        kv = self.vectors()
        keys = [k for k in kv.index_to_key if k.lower() not in _STOPWORDS][:count]
        if len(keys) < 3:
            raise RequestError("embeddings: fewer than three words to project")
        X = kv[keys].astype(np.float64)
        points = pca_2d(X) if dims == 2 else _pca(X, 3)
        # a few outlying words would squeeze the rest into a dot: scale to the 95th percentile, clip beyond
        points = np.clip(points / max(np.quantile(np.abs(points), 0.95), 1e-12), -1.15, 1.15)
        return {"words": keys, "points": np.round(points, 4).tolist(), "dims": dims, "source": self.source,
                "vocab_size": len(kv)}

    def neighbours(self, word: str, topn: int) -> dict:
        """The ``topn`` nearest words in cosine similarity."""
        kv = self.vectors()
        word = self._word(kv, word)
        return {"word": word, "neighbours": [[w, round(s, 4)] for w, s in kv.most_similar(word, topn=topn)]}

    def analogy(self, a: str, b: str, c: str, topn: int) -> dict:
        """a − b + c: the words nearest to unit(a) − unit(b) + unit(c), the three excluded (king − man + woman)."""
        kv = self.vectors()
        a, b, c = (self._word(kv, w) for w in (a, b, c))
        result = kv.most_similar(positive=[a, c], negative=[b], topn=topn)
        return {"query": [a, b, c], "results": [[w, round(s, 4)] for w, s in result]}


def _pca(X: np.ndarray, k: int) -> np.ndarray:
    """Coordinates of the centred rows of X on their first k principal axes (signs fixed as ``pca_2d``)."""
    X = X - X.mean(axis=0)
    _, _, Vt = np.linalg.svd(X, full_matrices=False)
    axes = Vt[:k].T
    axes = np.pad(axes, ((0, 0), (0, k - axes.shape[1])))
    axes = axes * np.sign(axes[np.abs(axes).argmax(axis=0), np.arange(k)] + 1e-300)
    return X @ axes

