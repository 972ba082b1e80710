"""Plain-text corpora: any text file, or the King James Bible from Debian's ``bible-kjv`` packages.

The Bible is the default corpus of the character-level language model: about 4.4 million
characters, free of rights, and one ``apt install`` away on Debian and Ubuntu. Its text
ships in ``bible-kjv-text`` as a compressed data file (``/usr/share/bible-kjv/bible.data``)
that only the ``bible`` program of ``bible-kjv`` reads, so ``bible_kjv`` runs that program
(``bible -f gen1:1-rev22:21``: Genesis 1:1 to Revelation 22:21) and returns what it prints.
Nothing is ever downloaded; when the program is missing the error says what to install and
how to use any other text file instead.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

__all__ = ["KJV_INSTALL", "bible_kjv", "read_text", "text_corpus"]

KJV_INSTALL = "apt install bible-kjv-text bible-kjv"
KJV_RANGE = "gen1:1-rev22:21"


def read_text(path, encoding: str = "utf-8", errors: str = "strict") -> str:
    """The whole content of the text file ``path``, decoded with ``encoding``.

    >>> text = read_text("corpus.txt")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"read_text: no such file: {path}")
    return path.read_text(encoding=encoding, errors=errors)


def _missing_bible(command: str) -> FileNotFoundError:
    return FileNotFoundError(
        f"bible_kjv: the King James Bible is not installed (no {command!r} program on the PATH). "
        f"Install Debian's packages with `{KJV_INSTALL}`, or train on any text file instead "
        "(--text FILE on the command line, text_corpus(path) or read_text(path) in Python)"
    )


# the program starts each verse with its reference, e.g. "Ge1:1 " or "1Jo5:7 "
_VERSE_REFERENCE = re.compile(r"^\S*?\d+:\d+ ", re.MULTILINE)


def bible_kjv(command: str = "bible", reference: str = KJV_RANGE, timeout: float = 300.0,
              keep_references: bool = False) -> str:
    """The King James Bible as one string, printed by the ``bible`` program (package ``bible-kjv``).

    Args:
        command: the program's name or path.
        reference: the verse range to print (default: all of it, ``gen1:1-rev22:21``).
        timeout: seconds to wait for the program.
        keep_references: keep the "Ge1:1 " verse references that start each line (default: drop
            them, leaving one verse of plain text per line).

    Raises ``FileNotFoundError`` naming the packages to install when the program is missing,
    ``RuntimeError`` with its message when it fails or prints nothing.

    >>> text = bible_kjv()  # doctest: +SKIP
    >>> text.count("God") > 4000  # doctest: +SKIP
    True
    """
    program = shutil.which(command)
    if program is None:
        raise _missing_bible(command)
    try:
        done = subprocess.run([program, "-f", reference], capture_output=True, timeout=timeout, check=False)  # noqa: S603
    except subprocess.TimeoutExpired as error:
        raise RuntimeError(f"bible_kjv: {program} -f {reference} did not finish in {timeout} s") from error
    text = done.stdout.decode("utf-8", errors="replace")
    if done.returncode != 0 or not text.strip():
        message = done.stderr.decode("utf-8", errors="replace").strip() or "no output"
        raise RuntimeError(f"bible_kjv: {program} -f {reference} failed (exit status {done.returncode}): {message}. "
                           f"Is bible-kjv-text installed? (`{KJV_INSTALL}`)")
    return text if keep_references else _VERSE_REFERENCE.sub("", text)


def text_corpus(path=None, encoding: str = "utf-8") -> str:
    """A training corpus as one string: the file ``path`` if given, else the King James Bible.

    >>> text = text_corpus("shakespeare.txt")  # doctest: +SKIP
    """
    return bible_kjv() if path is None else read_text(path, encoding=encoding)
