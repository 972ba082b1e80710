"""Plain-text corpora: read_text, text_corpus, and bible_kjv with the `bible` program faked or missing."""
import os
import stat

import pytest

from ember.data.datasets import text as text_module
from ember.data.datasets.text import KJV_INSTALL, bible_kjv, read_text, text_corpus


def _script(path, body):
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_read_text_and_text_corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    content = "In the beginning…\nÇa va — 日本語\n"
    path.write_text(content, encoding="utf-8")
    assert read_text(path) == content
    assert text_corpus(str(path)) == content
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("café".encode("latin-1"))
    assert read_text(latin, encoding="latin-1") == "café"
    with pytest.raises(UnicodeDecodeError):
        read_text(latin)


def test_read_text_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file.*nope.txt"):
        read_text(tmp_path / "nope.txt")


def test_bible_missing_names_the_packages_and_the_alternative(monkeypatch):
    monkeypatch.setattr(text_module.shutil, "which", lambda name: None)
    for load in (bible_kjv, text_corpus):
        with pytest.raises(FileNotFoundError) as error:
            load()
        message = str(error.value)
        assert KJV_INSTALL in message and "bible-kjv-text" in message and "--text FILE" in message


def test_bible_runs_the_program_over_the_whole_range(tmp_path, monkeypatch):
    verse = "In the beginning God created the heaven and the earth."
    fake = _script(tmp_path / "bible", f'echo "args: $*"\necho "{verse}"\n')
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    text = bible_kjv()
    assert text.splitlines() == ["args: -f gen1:1-rev22:21", verse]
    assert text_corpus() == text
    assert bible_kjv(command=str(fake), reference="john3:16").splitlines()[0] == "args: -f john3:16"


def test_bible_drops_the_verse_references_unless_asked(tmp_path):
    """The program prints "Ge1:1 In the beginning ..."; the corpus keeps the words only."""
    fake = _script(tmp_path / "bible", 'echo "Ge1:1 In the beginning."\necho "1Jo5:7 For there are three."\n')
    assert bible_kjv(command=str(fake)).splitlines() == ["In the beginning.", "For there are three."]
    assert bible_kjv(command=str(fake), keep_references=True).splitlines()[1] == "1Jo5:7 For there are three."


def test_bible_failure_is_reported(tmp_path):
    broken = _script(tmp_path / "bible", 'echo "cannot open bible.data" >&2\nexit 2\n')
    with pytest.raises(RuntimeError, match="exit status 2.*cannot open bible.data"):
        bible_kjv(command=str(broken))
    silent = _script(tmp_path / "silent", "exit 0\n")
    with pytest.raises(RuntimeError, match="no output"):
        bible_kjv(command=str(silent))
