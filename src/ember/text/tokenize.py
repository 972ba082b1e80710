"""Tokenisers: text → list of tokens, by characters or by words (a regular expression).

The word rule (``WORD_PATTERN``), applied after Unicode normalisation (NFC) and, by
default, lower-casing:

- a *word* is a run of letters and digits (any script), possibly joined by apostrophes
  inside it: ``don't``, ``o'clock``, ``rock'n'roll`` stay one token;
- every other non-space character is a token of its own: ``,`` ``.`` ``"`` ``-`` ``(``;
  so ``well-known`` → ``well - known`` and ``3.14`` → ``3 . 14``;
- whitespace only separates tokens and never appears in one.

Nothing is lost but the whitespace: ``"".join(tokens)`` equals the input with its spaces
removed (after normalisation).
"""
from __future__ import annotations

import re
import unicodedata

__all__ = ["WORD_PATTERN", "Tokenizer", "char_tokenize", "normalize", "word_tokenize"]

# [^\W_] is "a letter or digit" in any script (\w minus the underscore).
WORD_PATTERN = r"[^\W_]+(?:['’][^\W_]+)*|[^\w\s]|_"


def normalize(text: str, lower: bool = False, form: str = "NFC") -> str:
    """``text`` in Unicode normal form ``form`` (composed accents by default), lower-cased if asked.

    >>> normalize("Cafe\u0301", lower=True)
    'café'
    """
    if not isinstance(text, str):
        raise TypeError(f"normalize: expected a str, got {type(text).__name__}")
    text = unicodedata.normalize(form, text) if form else text
    return text.lower() if lower else text


def char_tokenize(text: str, lower: bool = False) -> list[str]:
    """The characters of ``text`` (after NFC normalisation), spaces and newlines included.

    >>> char_tokenize("Hi!\\n")
    ['H', 'i', '!', '\\n']
    """
    return list(normalize(text, lower=lower))


def word_tokenize(text: str, lower: bool = True, pattern: str | re.Pattern = WORD_PATTERN) -> list[str]:
    """The words and punctuation marks of ``text``: every match of ``pattern`` (see the module's rule).

    >>> word_tokenize("Don't panic, it's 3.14!")
    ["don't", 'panic', ',', "it's", '3', '.', '14', '!']
    """
    return re.findall(pattern, normalize(text, lower=lower))


class Tokenizer:
    """A tokeniser as a callable: ``tok(text)`` → tokens, and ``tok.join(tokens)`` → text.

    Args:
        level: ``"char"`` (``char_tokenize``) or ``"word"`` (``word_tokenize``).
        lower: lower-case first (default: True for words, False for characters).
        pattern: the word regular expression (``level="word"`` only).

    ``join`` inverts ``__call__`` exactly for characters; for words it puts one space
    between tokens (the original spacing is not kept).

    >>> tok = Tokenizer("word")
    >>> tok("Hello, world.")
    ['hello', ',', 'world', '.']
    >>> Tokenizer("char").join(Tokenizer("char")("abc"))
    'abc'
    """

    def __init__(self, level: str = "word", lower: bool | None = None, pattern: str = WORD_PATTERN):
        if level not in ("char", "word"):
            raise ValueError(f"Tokenizer: level should be 'char' or 'word', got {level!r}")
        if level == "char" and pattern != WORD_PATTERN:
            raise ValueError("Tokenizer: pattern applies to level='word' only")
        self.level = level
        self.lower = (level == "word") if lower is None else bool(lower)
        self.pattern = re.compile(pattern)

    def __call__(self, text: str) -> list[str]:
        if self.level == "char":
            return char_tokenize(text, lower=self.lower)
        return word_tokenize(text, lower=self.lower, pattern=self.pattern)

    def join(self, tokens) -> str:
        """Tokens back to text: concatenated for characters, space-separated for words."""
        return ("" if self.level == "char" else " ").join(tokens)

    def __repr__(self) -> str:
        return f"Tokenizer(level={self.level!r}, lower={self.lower})"
