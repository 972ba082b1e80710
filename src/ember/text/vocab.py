"""``Vocab``: the token ↔ index tables of a corpus, with special tokens and saved counts.

Building: count every token, keep those seen at least ``min_count`` times (at most
``max_size`` of them), and number them after the specials by descending count, ties
broken by first appearance in the corpus — so the same corpus always gives the same
indices, whatever the hash seed. The specials come first, at fixed indices (by default
``<pad>`` 0, ``<unk>`` 1, ``<bos>`` 2, ``<eos>`` 3); a pad index of 0 is what
``Embedding(padding_idx=0)`` and ``pad_sequence(padding_value=0)`` expect.

Saved as JSON (UTF-8, atomically): the index → token list, the counts and the options.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from ember import backend
from ember.autograd.tensor import Tensor
from ember.serialization import atomic_write

__all__ = ["BOS", "EOS", "PAD", "SPECIALS", "UNK", "Vocab"]

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIALS = (PAD, UNK, BOS, EOS)
_FORMAT, _VERSION = "ember.Vocab", 1


def _count(corpus) -> Counter:
    """Token counts of an iterable of token lists, or of a ready ``Mapping`` token → count.

    ``Counter`` keeps insertion order, which is the order of first appearance: the tie-break.
    """
    if corpus is None:
        return Counter()
    if isinstance(corpus, Mapping):
        return Counter({token: int(n) for token, n in corpus.items()})
    if isinstance(corpus, str):
        raise TypeError("Vocab: expected an iterable of token lists, got a str; tokenise it first "
                        "(e.g. [char_tokenize(text)] or [word_tokenize(line) for line in lines])")
    counts = Counter()
    for tokens in corpus:
        if isinstance(tokens, str):
            raise TypeError(f"Vocab: expected each item of the corpus to be a list of tokens, got the str {tokens!r}")
        counts.update(tokens)
    return counts


def _check_options(min_count, max_size, specials):
    if isinstance(min_count, bool) or not isinstance(min_count, (int, np.integer)) or min_count < 1:
        raise ValueError(f"Vocab: min_count should be a positive integer, got {min_count!r}")
    if max_size is not None and (isinstance(max_size, bool) or not isinstance(max_size, (int, np.integer))
                                 or max_size < 0):
        raise ValueError(f"Vocab: max_size should be a non-negative integer or None, got {max_size!r}")
    if len(set(specials)) != len(specials):
        raise ValueError(f"Vocab: specials must be distinct, got {list(specials)}")


class Vocab:
    """The vocabulary of a corpus: ``itos`` (index → token) and ``stoi`` (token → index).

    Args:
        corpus: an iterable of token lists (``[["the", "cat"], ["a", "dog"]]``), or a
            ``Counter``/mapping token → count; ``None`` for specials only.
        min_count: keep tokens seen at least this many times (≥ 1).
        max_size: keep at most this many non-special tokens (the most frequent); ``None``: all.
        specials: tokens placed first, at indices 0, 1, ...; the roles ``pad_index``,
            ``unk_index``, ``bos_index``, ``eos_index`` are found by the names ``<pad>``,
            ``<unk>``, ``<bos>``, ``<eos>`` (``None`` when a name is absent).

    Order: specials, then tokens by descending count, ties by first appearance. ``freq``
    holds the counts of every token of the corpus, kept or not.

    >>> v = Vocab([["the", "cat", "sat"], ["the", "dog"]])
    >>> v.itos
    ['<pad>', '<unk>', '<bos>', '<eos>', 'the', 'cat', 'sat', 'dog']
    >>> v.encode(["the", "bird"], add_eos=True).tolist()
    [4, 1, 3]
    >>> v.decode([2, 4, 7, 3])
    ['the', 'dog']
    """

    def __init__(self, corpus=None, min_count: int = 1, max_size: int | None = None,
                 specials: Iterable[str] = SPECIALS):
        specials = list(specials)
        _check_options(min_count, max_size, specials)
        self.freq = _count(corpus)
        self.min_count, self.max_size, self.specials = int(min_count), max_size, specials
        special_set = set(specials)
        kept = [t for t, n in self.freq.items() if n >= min_count and t not in special_set]
        kept.sort(key=lambda t: -self.freq[t])  # stable: equal counts keep first-appearance order
        self.itos = specials + kept[:max_size]
        self.stoi = {token: i for i, token in enumerate(self.itos)}

    # -- the tables --------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token) -> bool:
        return token in self.stoi

    def __iter__(self):
        return iter(self.itos)

    def __getitem__(self, token) -> int:
        """The index of ``token`` (``<unk>``'s for an unknown token)."""
        return self.token_to_index(token)

    def token_to_index(self, token) -> int:
        """The index of ``token``; an unknown token maps to ``<unk>`` (KeyError without one)."""
        index = self.stoi.get(token, self.unk_index)
        if index is None:
            raise KeyError(f"Vocab: token {token!r} is not in the vocabulary and there is no {UNK} token "
                           f"to map it to (specials: {self.specials})")
        return index

    def index_to_token(self, index) -> str:
        """The token at ``index``."""
        index = int(index)
        if not 0 <= index < len(self.itos):
            raise IndexError(f"Vocab: index {index} is out of range for a vocabulary of {len(self.itos)} tokens")
        return self.itos[index]

    @property
    def pad_index(self):
        return self.stoi.get(PAD) if PAD in self.specials else None

    @property
    def unk_index(self):
        return self.stoi.get(UNK) if UNK in self.specials else None

    @property
    def bos_index(self):
        return self.stoi.get(BOS) if BOS in self.specials else None

    @property
    def eos_index(self):
        return self.stoi.get(EOS) if EOS in self.specials else None

    # -- encoding ----------------------------------------------------------------------
    def encode(self, tokens, add_bos: bool = False, add_eos: bool = False) -> np.ndarray:
        """The int64 indices of ``tokens``, unknowns → ``<unk>``, optionally framed by ``<bos>``/``<eos>``.

        >>> Vocab([list("abba")]).encode(list("abc"), add_bos=True).tolist()
        [2, 4, 5, 1]
        """
        stoi, unk = self.stoi, self.unk_index
        tokens = list(tokens)
        ids = [stoi.get(t, unk) for t in tokens]
        if unk is None and None in ids:
            self.token_to_index(tokens[ids.index(None)])  # raises, naming the token
        head = [self._special(BOS, "add_bos")] if add_bos else []
        tail = [self._special(EOS, "add_eos")] if add_eos else []
        return np.asarray(head + ids + tail, dtype=np.int64)

    def _special(self, name, option):
        index = self.stoi.get(name) if name in self.specials else None
        if index is None:
            raise ValueError(f"Vocab: {option}=True needs the special token {name}, absent from {self.specials}")
        return index

    def decode(self, indices, skip_special: bool = True) -> list:
        """The tokens at ``indices`` (a list, array or 1-D Tensor), the specials dropped unless asked.

        Join them yourself: ``"".join(...)`` for characters, ``" ".join(...)`` for words.
        """
        if isinstance(indices, Tensor):
            indices = indices.array
        flat = np.asarray(backend.to_numpy(indices) if not isinstance(indices, (list, tuple)) else indices)
        flat = flat.reshape(-1).astype(np.int64)
        if flat.size and (flat.min() < 0 or flat.max() >= len(self.itos)):
            bad = flat[(flat < 0) | (flat >= len(self.itos))][0]
            raise IndexError(f"Vocab: index {bad} is out of range for a vocabulary of {len(self.itos)} tokens")
        skip = set(range(len(self.specials))) if skip_special else set()
        return [self.itos[i] for i in flat.tolist() if i not in skip]

    # -- saving ------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything needed to rebuild this vocabulary, as plain JSON-able values."""
        return {"format": _FORMAT, "version": _VERSION, "specials": self.specials, "min_count": self.min_count,
                "max_size": self.max_size, "itos": self.itos, "freq": dict(self.freq)}

    def save(self, path) -> None:
        """Write the vocabulary to ``path`` as UTF-8 JSON, atomically."""
        text = json.dumps(self.state_dict(), ensure_ascii=False, indent=0)
        atomic_write(path, (text + "\n").encode("utf-8"))

    @classmethod
    def load(cls, path) -> Vocab:
        """The vocabulary saved at ``path`` by ``save`` (same indices, counts and options)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"Vocab.load: no such file: {path}")
        state = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise ValueError(f"Vocab.load: {path} is not a saved ember Vocab (no \"format\": \"{_FORMAT}\")")
        vocab = cls.__new__(cls)
        vocab.specials, vocab.min_count, vocab.max_size = list(state["specials"]), state["min_count"], state["max_size"]
        vocab.freq = Counter(state["freq"])
        vocab.itos = list(state["itos"])
        vocab.stoi = {token: i for i, token in enumerate(vocab.itos)}
        return vocab

    def __eq__(self, other) -> bool:
        if not isinstance(other, Vocab):
            return NotImplemented
        return self.itos == other.itos and self.specials == other.specials and self.freq == other.freq

    __hash__ = None

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)}, specials={self.specials}, min_count={self.min_count})"
