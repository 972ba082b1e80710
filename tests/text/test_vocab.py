"""Vocab (build, order, encode/decode, save/load, errors) and the tokenisers."""
import json
from collections import Counter

import numpy as np
import pytest

import ember as em
from ember.text.tokenize import Tokenizer, char_tokenize, normalize, word_tokenize
from ember.text.vocab import SPECIALS, Vocab

CORPUS = [["the", "cat", "sat", "on", "the", "mat"], ["the", "dog", "sat"], ["a", "cat", "ran"]]


# -- Vocab ---------------------------------------------------------------------------------
def test_specials_come_first_at_fixed_indices():
    v = Vocab(CORPUS)
    assert v.itos[:4] == list(SPECIALS) == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert (v.pad_index, v.unk_index, v.bos_index, v.eos_index) == (0, 1, 2, 3)


def test_order_is_count_then_first_appearance():
    v = Vocab(CORPUS)
    # counts: the 3, cat 2, sat 2, then the singletons in order of first appearance
    assert v.itos[4:] == ["the", "cat", "sat", "on", "mat", "dog", "a", "ran"]
    assert v.stoi == {t: i for i, t in enumerate(v.itos)}


def test_order_is_deterministic_and_counter_input_agrees():
    counts = Counter()
    for tokens in CORPUS:
        counts.update(tokens)
    assert Vocab(CORPUS) == Vocab(CORPUS) == Vocab(counts)
    # a mapping gives its own insertion order to break ties
    assert Vocab({"b": 1, "a": 1, "c": 2}).itos[4:] == ["c", "b", "a"]


def test_min_count_and_max_size():
    v = Vocab(CORPUS, min_count=2)
    assert v.itos[4:] == ["the", "cat", "sat"]
    assert "dog" not in v and "the" in v
    assert v.freq["dog"] == 1 and v.freq["the"] == 3  # counts kept for every token
    assert Vocab(CORPUS, max_size=2).itos[4:] == ["the", "cat"]
    assert len(Vocab(CORPUS, max_size=0)) == 4


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_min_count_is_rejected(bad):
    with pytest.raises(ValueError, match="min_count"):
        Vocab(CORPUS, min_count=bad)


def test_bad_corpus_and_options_are_rejected():
    with pytest.raises(TypeError, match="tokenise"):
        Vocab("the cat")
    with pytest.raises(TypeError, match="list of tokens"):
        Vocab(["the cat", "sat"])
    with pytest.raises(ValueError, match="max_size"):
        Vocab(CORPUS, max_size=-1)
    with pytest.raises(ValueError, match="distinct"):
        Vocab(CORPUS, specials=["<pad>", "<pad>"])


def test_encode_decode_round_trip_and_unknowns():
    v = Vocab(CORPUS)
    tokens = ["the", "dog", "sat", "on", "a", "mat"]
    ids = v.encode(tokens)
    assert ids.dtype == np.int64 and ids.tolist() == [v.stoi[t] for t in tokens]
    assert v.decode(ids) == tokens
    framed = v.encode(tokens, add_bos=True, add_eos=True)
    assert framed[0] == v.bos_index and framed[-1] == v.eos_index and framed[1:-1].tolist() == ids.tolist()
    assert v.decode(framed) == tokens
    assert v.decode(framed, skip_special=False) == ["<bos>", *tokens, "<eos>"]
    assert v.encode(["the", "zebra"]).tolist() == [v["the"], v.unk_index]
    assert v.decode(em.tensor(ids)) == tokens
    assert v.token_to_index("cat") == 5 and v.index_to_token(5) == "cat"


def test_specials_in_the_corpus_are_not_duplicated():
    v = Vocab([["<eos>", "x", "<eos>"]])
    assert v.itos == [*SPECIALS, "x"] and v.freq["<eos>"] == 2


def test_missing_specials_give_clear_errors():
    v = Vocab(CORPUS, specials=["<pad>"])
    assert v.pad_index == 0 and v.unk_index is None and v.bos_index is None and v.eos_index is None
    assert v.itos[1] == "the"
    with pytest.raises(KeyError, match="zebra"):
        v.encode(["the", "zebra"])
    with pytest.raises(ValueError, match="<bos>"):
        v.encode(["the"], add_bos=True)
    with pytest.raises(IndexError, match="out of range"):
        v.decode([0, 99])
    with pytest.raises(IndexError, match="out of range"):
        v.index_to_token(-1)


def test_save_load_round_trip(tmp_path):
    v = Vocab([list("naïve café 日本"), list("naïve")], min_count=1, max_size=6)
    path = tmp_path / "sub" / "vocab.json"
    v.save(path)
    loaded = Vocab.load(path)
    assert loaded == v
    assert loaded.itos == v.itos and loaded.freq == v.freq
    assert (loaded.min_count, loaded.max_size, loaded.specials) == (1, 6, v.specials)
    assert loaded.encode(list("café")).tolist() == v.encode(list("café")).tolist()
    assert json.loads(path.read_text(encoding="utf-8"))["itos"] == v.itos
    assert [p.name for p in path.parent.iterdir()] == ["vocab.json"]  # no temporary file left behind


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        Vocab.load(tmp_path / "missing.json")
    other = tmp_path / "other.json"
    other.write_text('{"a": 1}')
    with pytest.raises(ValueError, match="not a saved ember Vocab"):
        Vocab.load(other)


# -- tokenisers ----------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("Don't panic, it's 3.14!", ["don't", "panic", ",", "it's", "3", ".", "14", "!"]),
    ("  well-known\t(e.g.)\n\nend ", ["well", "-", "known", "(", "e", ".", "g", ".", ")", "end"]),
    ("Rock'n'roll isn’t dead...", ["rock'n'roll", "isn’t", "dead", ".", ".", "."]),
    ("snake_case 'quoted'", ["snake", "_", "case", "'", "quoted", "'"]),
    ("Café Zürich 東京タワー", ["café", "zürich", "東京タワー"]),
    ("", []),
    ("   \n", []),
])
def test_word_tokenize(text, expected):
    assert word_tokenize(text) == expected


def test_word_tokenize_keeps_everything_but_whitespace():
    text = "He said: «Ça va?» — 'Yes!' (x2)\tfoo_bar; ok…"
    tokens = word_tokenize(text, lower=False)
    assert "".join(tokens) == "".join(normalize(text).split())
    assert all(t and not any(c.isspace() for c in t) for t in tokens)


def test_word_tokenize_case_and_pattern():
    assert word_tokenize("The CAT", lower=False) == ["The", "CAT"]
    assert word_tokenize("a1 b22 c", pattern=r"[a-z]\d+") == ["a1", "b22"]


def test_char_tokenize_and_normalize():
    decomposed = "Cafe\u0301\n"
    assert char_tokenize(decomposed) == ["C", "a", "f", "é", "\n"]  # NFC composes the accent
    assert char_tokenize("A b", lower=True) == ["a", " ", "b"]
    assert normalize("ﬁ", form="NFKC") == "fi"
    with pytest.raises(TypeError, match="str"):
        normalize(["x"])


def test_tokenizer_callable():
    chars, words = Tokenizer("char"), Tokenizer("word")
    text = "Hello,  World!\n"
    assert chars(text) == list(text) and chars.join(chars(text)) == text
    assert words(text) == ["hello", ",", "world", "!"]
    assert words.join(words(text)) == "hello , world !"
    assert Tokenizer("word", lower=False)("Hi") == ["Hi"]
    with pytest.raises(ValueError, match="level"):
        Tokenizer("byte")
