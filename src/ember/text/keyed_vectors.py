"""``KeyedVectors``, gensim's word-vector store: ``kv[word]``, cosine queries and the word2vec C formats.

A vocabulary (``index_to_key``, ``key_to_index``) and its (V, d) ``vectors``. The queries work on
unit rows v̂ = v / ‖v‖: ``similarity`` is û·v̂, ``most_similar`` ranks every word by cosine to the
normalised mean of the signed unit query vectors, ``doesnt_match`` picks the word furthest from
their mean and ``evaluate_word_analogies`` scores a:b = c:? by 3CosAdd, argmax_x x̂·unit(b̂ − â + ĉ).
``save_word2vec_format``/``load_word2vec_format`` read and write the C tool's text and binary files.
``Word2Vec`` (``ember.text.word2vec``) trains the vectors and hands them over as ``model.wv``.
"""
from __future__ import annotations

from itertools import chain
from pathlib import Path

import numpy as np

__all__ = ["KeyedVectors"]


def _unit(M):
    norms = np.linalg.norm(M, axis=-1, keepdims=True)
    return M / np.maximum(norms, 1e-12)


# ---------------------------------------------------------------- KeyedVectors

class KeyedVectors:
    """A vocabulary and its vectors: ``kv[word]``, cosine queries and the word2vec file formats.

    ``index_to_key`` lists the words, ``key_to_index`` maps them back, ``vectors`` is the
    (len(vocab), vector_size) float32 matrix, row i the vector of ``index_to_key[i]``.

    >>> kv = KeyedVectors(3); kv.add_vectors(["a", "b"], np.eye(2, 3))
    >>> kv.similarity("a", "b")
    0.0
    """

    def __init__(self, vector_size, count=0, dtype=np.float32):
        self.vector_size = int(vector_size)
        self.index_to_key: list[str] = []
        self.key_to_index: dict[str, int] = {}
        self.vectors = np.zeros((count, self.vector_size), dtype=dtype)

    def add_vectors(self, keys, weights):
        """Append ``keys`` with the rows of ``weights`` (len(keys), vector_size)."""
        weights = np.asarray(weights, dtype=self.vectors.dtype).reshape(len(keys), self.vector_size)
        for key in keys:
            self.key_to_index[key] = len(self.index_to_key)
            self.index_to_key.append(key)
        self.vectors = np.concatenate([self.vectors[:len(self.index_to_key) - len(keys)], weights])

    def __len__(self):
        return len(self.index_to_key)

    def __contains__(self, key):
        return key in self.key_to_index

    def get_index(self, key):
        """The row of ``key``; KeyError naming it when it is not in the vocabulary."""
        if key not in self.key_to_index:
            raise KeyError(f"KeyedVectors: key {key!r} not present in the vocabulary of {len(self)} words")
        return self.key_to_index[key]

    def __getitem__(self, keys):
        if isinstance(keys, str):
            return self.vectors[self.get_index(keys)]
        return self.vectors[[self.get_index(k) for k in keys]]

    def get_normed_vectors(self):
        """The rows scaled to unit L2 norm (zero rows stay zero)."""
        return _unit(self.vectors.astype(np.float32))

    # ------------------------------------------------------------ queries

    def similarity(self, w1, w2):
        """Cosine similarity u·v / (‖u‖‖v‖) of two words."""
        u, v = _unit(self[w1]), _unit(self[w2])
        return float(np.dot(u, v))

    def _query(self, items, sign):
        if items is None:
            return []
        if isinstance(items, (str, np.ndarray)):
            items = [items]
        return [(item, sign) for item in items]

    def most_similar(self, positive=None, negative=None, topn=10, restrict_vocab=None):
        """The ``topn`` words closest in cosine to mean(unit(positive)) − mean-weighted unit(negative).

        As gensim: each word (or raw vector) in ``positive`` weighs +1, in ``negative`` −1; the mean
        of the weighted unit vectors is normalised and compared with every unit word vector; the
        query words themselves are excluded. Returns [(word, similarity)], best first.

        >>> model.wv.most_similar("king", topn=3)
        >>> model.wv.most_similar(positive=["woman", "king"], negative=["man"])
        """
        terms = self._query(positive, 1.0) + self._query(negative, -1.0)
        if not terms:
            raise ValueError("most_similar: give at least one positive or negative word")
        normed = self.get_normed_vectors()
        limit = len(self) if restrict_vocab is None else min(int(restrict_vocab), len(self))
        rows, exclude = [], set()
        for item, sign in terms:
            if isinstance(item, np.ndarray):
                rows.append(sign * _unit(item.astype(np.float32)))
            else:
                exclude.add(self.get_index(item))
                rows.append(sign * normed[self.get_index(item)])
        query = _unit(np.mean(rows, axis=0))
        sims = normed[:limit] @ query
        order = np.argsort(-sims, kind="stable")[:topn + len(exclude)]
        return [(self.index_to_key[i], float(sims[i])) for i in order if i not in exclude][:topn]

    def doesnt_match(self, words):
        """The word of ``words`` furthest (cosine) from the normalised mean of their unit vectors."""
        used = [w for w in words if w in self]
        if not used:
            raise ValueError(f"doesnt_match: none of {list(words)} is in the vocabulary")
        vecs = self.get_normed_vectors()[[self.key_to_index[w] for w in used]]
        return used[int(np.argmin(vecs @ _unit(vecs.mean(axis=0))))]

    def evaluate_word_analogies(self, analogies, restrict_vocab=300000, case_insensitive=True):
        """Accuracy on a questions-words file: ': section' headers, then lines 'a b c d' meaning a:b = c:d.

        The prediction is 3CosAdd, argmax over the first ``restrict_vocab`` words of
        cos(x, b) − cos(x, a) + cos(x, c) via most_similar(positive=[b, c], negative=[a]), the
        three query words excluded; questions with a word outside that vocabulary are skipped.
        Returns (accuracy, sections) like gensim: each section a dict with 'section', 'correct'
        and 'incorrect' lists of (a, b, c, d) tuples, the last one 'Total accuracy'.

        >>> score, sections = model.wv.evaluate_word_analogies("questions-words.txt")
        """
        keys = self.index_to_key[:restrict_vocab]
        fold = str.upper if case_insensitive else str
        ok_vocab = {fold(k): self.key_to_index[k] for k in reversed(keys)}  # the most frequent spelling wins
        sections, questions = _read_analogies(analogies, fold)
        kept = [q for q in questions if all(w in ok_vocab for w in q[1])]
        if kept:
            ids = np.array([[ok_vocab[w] for w in q[1]] for q in kept])
            predicted = self._cos_add(ids[:, :3], len(keys))
            for (sec, quad), pred, expected in zip(kept, predicted, ids[:, 3], strict=True):
                sections[sec]["correct" if pred == expected else "incorrect"].append(quad)
        total = {"section": "Total accuracy",
                 "correct": list(chain.from_iterable(s["correct"] for s in sections)),
                 "incorrect": list(chain.from_iterable(s["incorrect"] for s in sections))}
        answered = len(total["correct"]) + len(total["incorrect"])
        return (len(total["correct"]) / answered if answered else 0.0), sections + [total]

    def _cos_add(self, abc, limit, chunk=1024):
        """argmax_x over the first ``limit`` rows of unit(b − a + c)·x̂, the three query rows excluded."""
        normed = self.get_normed_vectors()[:limit]
        out = np.empty(len(abc), dtype=np.int64)
        for s in range(0, len(abc), chunk):
            a, b, c = (normed[abc[s:s + chunk, j]] for j in range(3))
            sims = _unit((b - a + c) / 3.0) @ normed.T
            np.put_along_axis(sims, abc[s:s + chunk], -np.inf, axis=1)
            out[s:s + chunk] = sims.argmax(axis=1)
        return out

    # ------------------------------------------------------------ word2vec C formats

    def save_word2vec_format(self, fname, binary=False):
        """Write the word2vec C format: a 'count dim' header line, then per word either
        'word v1 v2 ...' (text, 9 significant digits: float32 round-trips exactly) or
        'word ' + dim little-endian float32 bytes + newline (binary, as the C tool writes it).
        """
        V = self.vectors.astype("<f4")
        with open(fname, "wb") as f:
            f.write(f"{len(self)} {self.vector_size}\n".encode())
            for key, row in zip(self.index_to_key, V, strict=True):
                if binary:
                    f.write(key.encode() + b" " + row.tobytes() + b"\n")
                else:
                    f.write(f"{key} {' '.join(format(float(v), '.9g') for v in row)}\n".encode())

    @classmethod
    def load_word2vec_format(cls, fname, binary=False, encoding="utf8", limit=None, datatype=np.float32):
        """Read a word2vec C text or binary file (as written by the C tool, gensim or ours).

        >>> kv = KeyedVectors.load_word2vec_format("vectors.bin", binary=True)
        """
        data = Path(fname).read_bytes()
        end = data.index(b"\n")
        count, dim = (int(x) for x in data[:end].split())
        count = count if limit is None else min(count, int(limit))
        kv = cls(dim)
        keys, rows = (_read_binary if binary else _read_text)(data, end + 1, count, dim, encoding)
        if len(keys) != count:
            raise ValueError(f"load_word2vec_format: {fname} promises {count} vectors, found {len(keys)}")
        kv.add_vectors(keys, np.asarray(rows, dtype=datatype))
        return kv


def _read_text(data, pos, count, dim, encoding):
    keys, rows = [], []
    for n, line in enumerate(data[pos:].decode(encoding).splitlines()):
        if len(keys) == count:
            break
        parts = line.rstrip().split(" ")
        if len(parts) != dim + 1:
            raise ValueError(f"load_word2vec_format: line {n + 2} has {len(parts) - 1} values, expected {dim}")
        keys.append(parts[0])
        rows.append([float(x) for x in parts[1:]])
    return keys, np.array(rows, dtype=np.float64).reshape(-1, dim)


def _read_binary(data, pos, count, dim, encoding):
    keys, rows, nbytes = [], [], 4 * dim
    for _ in range(count):
        space = data.find(b" ", pos)
        if space < 0 or len(data) - space - 1 < nbytes:
            break
        keys.append(data[pos:space].decode(encoding).lstrip("\n"))  # the C tool ends each vector with '\n'
        rows.append(np.frombuffer(data, dtype="<f4", count=dim, offset=space + 1))
        pos = space + 1 + nbytes
    return keys, np.array(rows, dtype=np.float32).reshape(-1, dim)


def _read_analogies(path, fold):
    """([section dicts], [(section index, (a, b, c, d))]) from a questions-words file."""
    sections, questions = [], []
    for n, line in enumerate(Path(path).read_text(encoding="utf8").splitlines()):
        if line.startswith(": "):
            sections.append({"section": line[2:].strip(), "correct": [], "incorrect": []})
            continue
        words = line.split()
        if not words:
            continue
        if not sections:
            raise ValueError(f"evaluate_word_analogies: missing ': section' header before line {n + 1} of {path}")
        if len(words) == 4:  # other malformed lines are skipped, as gensim does
            questions.append((len(sections) - 1, tuple(fold(w) for w in words)))
    return sections, questions
