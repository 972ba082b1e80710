"""The date translator app: it learns a small set, draws attention heatmaps, saves and loads, translates."""
import json

import numpy as np
import pytest

import ember as em
from ember.apps import date_translator as dt
from ember.apps.date_translator import DateTranslator, evaluate, run
from ember.text.dates import build_char_vocabs, generate_dates
from ember.viz import plot_attention

SMALL = {"train_size": 2000, "test_size": 300, "epochs": 10, "hidden_size": 32, "embed_dim": 16, "lr": 1e-2,
         "batch_size": 32, "families": ["numeric_eu", "long_month", "numeric_ymd"]}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("dates")
    report = run(out=out, log=None, **SMALL)
    return out, report


def test_learns_a_small_set(trained):
    out, report = trained
    assert report["test_size"] == 300
    assert report["history"][-1]["loss"] < 0.2 * report["history"][0]["loss"]
    assert report["greedy"]["exact_match"] >= 0.9, report["greedy_errors"]
    assert report["beam3"]["exact_match"] >= 0.9
    assert report["greedy"]["bleu"] > 90
    saved = json.loads((out / "report.json").read_text())
    assert saved["greedy"]["exact_match"] == report["greedy"]["exact_match"]


def test_attention_heatmap_written_and_rows_are_distributions(trained):
    out, _ = trained
    png = out / "attention.png"
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    translator = DateTranslator.load(out)
    texts = ["21.03.2021", "March 3, 1999"]
    outputs, attention = translator.decode(texts)
    for text, weights in zip(texts, attention, strict=True):
        assert weights.shape == (11, len(text))
        np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    plot_attention(texts, outputs, attention, out / "extra" / "heat.png")
    assert (out / "extra" / "heat.png").stat().st_size > 1000


def test_save_load_round_trip_gives_identical_translations(trained, tmp_path):
    out, _ = trained
    original = DateTranslator.load(out)
    original.save(tmp_path / "copy")
    copy = DateTranslator.load(tmp_path / "copy")
    texts = [h for h, _ in generate_dates(50, seed=99, families=SMALL["families"])]
    assert copy.translate(texts) == original.translate(texts)
    assert copy.translate(texts, beam_width=3) == original.translate(texts, beam_width=3)
    for a, b in zip(copy.model.parameters(), original.model.parameters(), strict=True):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert copy.src_vocab == original.src_vocab and copy.config == original.config


def test_translate_one_string(trained):
    out, _ = trained
    translator = DateTranslator.load(out)
    assert translator.translate("21.03.2021") == "2021-03-21"
    assert translator.translate("March 3, 1999", beam_width=3) == "1999-03-03"


def test_is_iso_date_accepts_only_real_calendar_dates():
    assert dt.is_iso_date("2021-03-03") and dt.is_iso_date("2020-02-29")
    for bad in ("2021-03-33", "2021-02-29", "2021-13-01", "2021-00-10", "20210303", "2021-3-3", "", "2021-03-03-"):
        assert not dt.is_iso_date(bad), bad


def test_translate_checked_gives_validity_and_the_answer_probability(trained):
    out, _ = trained
    translator = DateTranslator.load(out)
    checked = translator.translate_checked("21.03.2021")
    assert isinstance(checked, dt.Translation) and checked.text == "2021-03-21" and checked.valid
    text, valid, confidence = checked  # a NamedTuple: unpacks like PyTorch's (values, indices)
    # the confidence is the product of the per-token probabilities of the answer and its <eos>
    src, lengths = translator.encode_sources(["21.03.2021"])
    tgt_in, tgt_out = translator.encode_targets([text])
    with em.no_grad():
        log_probs = em.nn.functional.log_softmax(translator.model(src, lengths, tgt_in), dim=-1).numpy()
    expected = np.exp(np.take_along_axis(log_probs[0], tgt_out.numpy()[0, :, None], axis=1).sum())
    assert 0.5 < confidence <= 1.0 and confidence == pytest.approx(expected, rel=1e-4)
    texts = ["March 3, 1999", "2001.12.24"]
    assert [c.text for c in translator.translate_checked(texts, beam_width=3)] == translator.translate(texts, 3)
    assert all(c.valid for c in translator.translate_checked(texts))


def test_surrounding_whitespace_is_ignored(trained):
    out, _ = trained
    translator = DateTranslator.load(out)
    outputs, attention = translator.decode(["  21.03.2021 \n", "21.03.2021"])
    assert outputs[0] == outputs[1] == "2021-03-21"
    assert attention[0].shape == attention[1].shape == (11, 10)
    assert translator.translate_checked("\t21.03.2021 ") == translator.translate_checked("21.03.2021")


def test_cli_translate_warns_on_an_impossible_or_unsure_answer(trained, capsys, monkeypatch):
    import argparse

    out, _ = trained
    parser = argparse.ArgumentParser()
    dt.add_arguments(parser)
    args = parser.parse_args(["--out", str(out), "--translate", "  2001.12.24 "])
    assert dt.main_translate_dates(args) == 0
    assert capsys.readouterr() == ("2001-12-24\n", "")  # a confident, real date: no warning
    doubts = [(dt.Translation("2021-03-33", False, 0.93), "'2021-03-33' is not a real calendar date"),
              (dt.Translation("2021-03-03", True, 0.3), "confidence 0.30 < --min-confidence 0.5")]
    for answer, message in doubts:
        monkeypatch.setattr(DateTranslator, "translate_checked", lambda self, text, beam_width=1, a=answer: a)
        assert dt.main_translate_dates(args) == 0
        captured = capsys.readouterr()
        assert captured.out == answer.text + "\n"
        assert captured.err.startswith("ember translate-dates: warning: ") and message in captured.err
    args.min_confidence = 0.2
    assert dt.main_translate_dates(args) == 0 and capsys.readouterr().err == ""


def test_zero_epochs_run_draws_its_heatmaps(tmp_path):
    # an untrained model writes specials and stops early: the heatmap labels must still fit
    report = run(out=tmp_path, log=None, **{**SMALL, "epochs": 0, "train_size": 64, "test_size": 16})
    assert report["history"] == [] and (tmp_path / "attention.png").read_bytes()[:4] == b"\x89PNG"


def test_untrained_model_does_not_pass_the_bound():
    # the bound of test_learns_a_small_set is not met by chance: an untrained model scores ~0
    em.manual_seed(0)
    pairs = generate_dates(200, seed=1, families=SMALL["families"])
    translator = DateTranslator(*build_char_vocabs(pairs), embed_dim=16, hidden_size=32)
    assert evaluate(translator, pairs)["exact_match"] < 0.05


def test_cli_entry_points(trained, capsys):
    import argparse

    out, _ = trained
    parser = argparse.ArgumentParser()
    dt.add_arguments(parser)
    args = parser.parse_args(["--out", str(out), "--translate", "2001.12.24"])
    assert dt.main_translate_dates(args) == 0
    assert capsys.readouterr().out.strip() == "2001-12-24"
    missing = parser.parse_args(["--out", str(out / "nothing"), "--translate", "x"])
    assert dt.main_translate_dates(missing) == 2
    assert "train one first" in capsys.readouterr().err


def test_bad_options():
    with pytest.raises(ValueError, match="unknown options"):
        run(out="unused", log=None, epoch=3)
    translator = DateTranslator(*build_char_vocabs([("1 May 2000", "2000-05-01")]), embed_dim=8, hidden_size=8)
    with pytest.raises(ValueError, match="non-empty"):
        translator.encode_sources(["", "1 May 2000"])


@pytest.mark.slow
def test_default_recipe_reaches_99_percent(tmp_path):
    report = run(out=tmp_path, log=None)
    assert report["test_size"] == 2000
    assert report["greedy"]["exact_match"] >= 0.99, report["greedy_errors"]
    assert report["train_seconds"] < 600
    # Chinese dates too, in Arabic and in Chinese numerals ('二〇二一年三月三日星期三')
    chinese = evaluate(DateTranslator.load(tmp_path), generate_dates(300, seed=123, families=["chinese"]))
    assert chinese["exact_match"] >= 0.99
