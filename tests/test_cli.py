"""The ember command line: help texts, the digits demo end to end, train, summary, the apps."""
import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from ember import models
from ember.cli import build_parser, main

SUBCOMMANDS = ("demo", "train", "search", "summary", "word2vec", "translate-dates", "detect-shapes", "bench",
               "playground")


def test_top_level_help_lists_every_subcommand_with_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for name in SUBCOMMANDS:
        lines = [line for line in text.splitlines() if line.strip().startswith(name + " ")]
        assert len(lines) == 1, name


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_each_subcommand_help_shows_an_example(name, capsys):
    with pytest.raises(SystemExit):
        main([name, "--help"])
    assert f"example:\n  ember {name}" in capsys.readouterr().out


def test_python_dash_m_ember_demo_help():
    done = subprocess.run([sys.executable, "-m", "ember", "demo", "--help"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and "--epochs" in done.stdout and "example:" in done.stdout


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "COMMAND" in capsys.readouterr().out


def test_demo_trains_lenet5_to_98_percent_and_writes_its_outputs(tmp_path, capsys):
    out = tmp_path / "runs"
    assert main(["demo", "--out", str(out), "--no-progress", "--seed", "0"]) == 0
    text = capsys.readouterr().out
    assert "LeNet5(" in text and "epoch 30/30" in text and "test accuracy" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["test_accuracy"] >= 0.98
    for picture in ("curves.png", "filters.png"):
        assert (out / picture).read_bytes()[:4] == b"\x89PNG"
    with (out / "metrics.csv").open(newline="") as f:
        assert len(list(csv.DictReader(f))) == 30
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 30
    assert (out / "best.safetensors").exists() and (out / "last.safetensors").exists()


def test_train_lenet5_on_resized_digits(tmp_path, capsys):
    out = tmp_path / "t"
    assert main(["train", "lenet5", "--resize", "28", "--epochs", "2", "--out", str(out), "--no-progress"]) == 0
    assert "samples of shape (1, 28, 28)" in capsys.readouterr().out
    assert json.loads((out / "summary.json").read_text())["test_accuracy"] > 0.5
    assert (out / "filters.png").exists()


def test_summary_prints_the_layer_table(capsys):
    assert main(["summary", "lenet5", "--input-shape", "2", "1", "32", "32", "--kwargs", "num_classes=4"]) == 0
    text = capsys.readouterr().out
    assert "features.0" in text and "(2, 6, 28, 28)" in text and "(2, 4)" in text
    assert f"{sum(p.numel() for p in models.lenet5(num_classes=4).parameters()):,}" in text
    assert main(["summary", "lenet5", "--kwargs", "num_classes"]) == 2
    assert main(["summary", "nope"]) == 2


def test_train_mlp_on_digits(tmp_path, capsys):
    out = tmp_path / "t"
    assert main(["train", "mlp", "--hidden", "32", "--epochs", "3", "--out", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["test_accuracy"] > 0.8 and summary["options"]["hidden"] == [32]
    assert "Linear(in_features=64, out_features=32" in capsys.readouterr().out


def test_train_unknown_model(capsys):
    assert main(["train", "nope"]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err


def test_parser_defaults():
    args = build_parser().parse_args(["demo"])
    assert (args.epochs, args.batch_size, args.seed, args.out) == (30, 32, 0, "runs/demo")


def test_train_charlm_on_a_text_file_prints_samples_and_saves(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 60)
    out = tmp_path / "lm"
    assert main(["train", "charlm", "--text", str(corpus), "--epochs", "3", "--batch-size", "8", "--seq-len", "32",
                 "--hidden", "64", "--lr", "0.01", "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert text.count("--- sample ---") == 3 and "epoch 3/3" in text
    perplexities = [float(line.split("perplexity ")[1].split()[0]) for line in text.splitlines()
                    if line.startswith("epoch ")]
    assert perplexities[-1] < 0.5 * perplexities[0]
    assert (out / "charlm.safetensors").exists() and (out / "vocab.json").exists()


def test_train_charlm_without_a_corpus_says_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    assert main(["train", "charlm", "--out", str(tmp_path), "--no-progress"]) == 2
    assert "bible-kjv-text" in capsys.readouterr().err


def test_word2vec_trains_writes_vectors_and_plot(tmp_path, capsys):
    from ember.text import KeyedVectors

    rng = np.random.default_rng(0)
    topics = [["ant", "bee", "cat", "dog", "eel", "fox"], ["oak", "elm", "ash", "fir", "yew", "ivy"]]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(" ".join(rng.choice(topics[k % 2], size=8)) for k in range(300)))
    out = tmp_path / "w2v"
    assert main(["word2vec", str(corpus), "--out", str(out), "--min-count", "1", "--vector-size", "16",
                 "--window", "3", "--epochs", "5", "--workers", "1", "--sample", "0", "--query", "ant", "zz"]) == 0
    text = capsys.readouterr().out
    assert "300 sentences, 2,400 words" in text
    neighbours = [w.split()[0] for w in text.split("ant:")[1].splitlines()[0].split(",")]
    assert sum(w in topics[0] for w in neighbours[:4]) >= 3  # its own topic first
    assert "zz: not in the vocabulary" in text
    kv = KeyedVectors.load_word2vec_format(out / "vectors.txt")
    assert len(kv) == 12 and kv.vector_size == 16
    assert (out / "embeddings.png").read_bytes()[:4] == b"\x89PNG"


def test_bench_runs_a_benchmark_and_prints_one_table(capsys):
    assert main(["bench", "--only", "mlp", "--rounds", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["benchmark", "case", "unit", "ember", "reference", "against", "ratio"]
    row = lines[2].split()
    assert row[0] == "mlp" and row[-2] == "torch" and row[-1].endswith("x") and float(row[-1][:-1]) > 0


def test_bench_rows_cover_cases_and_conv_layers():
    from ember.apps.bench import rows_of

    result = {"models": {"lenet5 train": {"unit": "samples/s", "throughput": {"ember": 10.0, "torch": 20.0},
                                          "ratio": 0.5}},
              "convs": [{"input": [8, 3, 32, 32], "out_channels": 16, "kernel": 3, "ms": {"ember": 2.0, "torch": 1.0},
                         "ratio": 0.5}]}
    rows = rows_of("cnn", result)
    assert [r["case"] for r in rows] == ["lenet5 train", "conv (8, 3, 32, 32) -> 16 k3"]
    assert rows[1]["ember"] == 500.0 and rows[1]["other"] == 1000.0 and rows[1]["reference"] == "torch"
    gensim = {"cases": {"skip-gram": {"unit": "words/s", "throughput": {"ember": 3.0, "gensim": 4.0}, "ratio": 0.75}}}
    assert rows_of("word2vec", gensim)[0]["reference"] == "gensim" and rows_of("word2vec", gensim)[0]["other"] == 4.0


# -- bad arguments: every subcommand stops while parsing, exit 2, one line naming the option -----------
MISSING = "/nonexistent/ember-tests/missing.txt"
BAD_ARGUMENTS = [
    (["demo", "--epochs", "0"], "--epochs"),
    (["demo", "--epochs", "-3"], "--epochs"),
    (["demo", "--epochs", "two"], "--epochs"),
    (["demo", "--batch-size", "0"], "--batch-size"),
    (["demo", "--lr", "0"], "--lr"),
    (["demo", "--lr", "nan"], "--lr"),
    (["demo", "--label-smoothing", "1.5"], "--label-smoothing"),
    (["demo", "--seed", "-1"], "--seed"),
    (["train", "mlp", "--hidden", "64", "0"], "--hidden"),
    (["train", "mlp", "--dropout", "1.5"], "--dropout"),
    (["train", "mlp", "--dropout", "-0.1"], "--dropout"),
    (["train", "mlp", "--batch-size", "-8"], "--batch-size"),
    (["train", "mlp", "--lr", "inf"], "--lr"),
    (["train", "lenet5", "--resize", "0"], "--resize"),
    (["train", "charlm", "--text", MISSING], "--text"),
    (["train", "charlm", "--seq-len", "0"], "--seq-len"),
    (["train", "charlm", "--max-chars", "-5"], "--max-chars"),
    (["summary", "lenet5", "--input-shape", "1", "0", "32", "32"], "--input-shape"),
    (["summary", "lenet5", "--input-shape", "1", "1", "x", "32"], "--input-shape"),
    (["translate-dates", "--epochs", "0"], "--epochs"),
    (["translate-dates", "--epochs", "-1"], "--epochs"),
    (["translate-dates", "--batch-size", "0"], "--batch-size"),
    (["translate-dates", "--lr", "-0.1"], "--lr"),
    (["translate-dates", "--train-size", "0"], "--train-size"),
    (["translate-dates", "--test-size", "-5"], "--test-size"),
    (["translate-dates", "--hidden-size", "0"], "--hidden-size"),
    (["translate-dates", "--beam-width", "0"], "--beam-width"),
    (["translate-dates", "--seed", "-1"], "--seed"),
    (["translate-dates", "--translate", "   "], "--translate"),
    (["translate-dates", "--min-confidence", "1.5"], "--min-confidence"),
    (["search", "--trials", "0"], "--trials"),
    (["search", "--zoom-rounds", "-1"], "--zoom-rounds"),
    (["search", "--zoom-top", "0"], "--zoom-top"),
    (["search", "--epochs", "0"], "--epochs"),
    (["search", "--jobs", "0"], "--jobs"),
    (["search", "--seed", "-2"], "--seed"),
    (["word2vec", MISSING], "corpus"),
    (["word2vec", "--vector-size", "0"], "--vector-size"),
    (["word2vec", "--window", "0"], "--window"),
    (["word2vec", "--negative", "-1"], "--negative"),
    (["word2vec", "--min-count", "-1"], "--min-count"),
    (["word2vec", "--sample", "-0.5"], "--sample"),
    (["word2vec", "--epochs", "0"], "--epochs"),
    (["word2vec", "--alpha", "0"], "--alpha"),
    (["word2vec", "--workers", "0"], "--workers"),
    (["word2vec", "--analogies", MISSING], "--analogies"),
    (["detect-shapes", "--epochs", "0"], "--epochs"),
    (["detect-shapes", "--train-size", "0"], "--train-size"),
    (["detect-shapes", "--anchors", "0"], "--anchors"),
    (["detect-shapes", "--width", "-4"], "--width"),
    (["detect-shapes", "--batch-size", "abc"], "--batch-size"),
    (["bench", "--rounds", "0"], "--rounds"),
    (["playground", "--port", "70000"], "--port"),
    (["playground", "--port", "-1"], "--port"),
    (["playground", "--max-sessions", "0"], "--max-sessions"),
    (["playground", "--lenet", MISSING], "--lenet"),
    (["playground", "--vectors", MISSING], "--vectors"),
    (["playground", "--dates-model", MISSING], "--dates-model"),
]


@pytest.fixture
def parse_only(monkeypatch):
    """Every subcommand's entry point replaced by a stub that returns 0: arguments that pass parsing run nothing."""
    import importlib

    from ember import cli

    def stub(args):
        return 0

    for name in ("cmd_demo", "cmd_train", "cmd_summary", "cmd_translate_dates"):
        monkeypatch.setattr(cli, name, stub)
    for module, *_ in cli._APPS.values():
        monkeypatch.setattr(importlib.import_module(module), "run", stub)


def test_bad_arguments_walk_covers_every_subcommand():
    assert {argv[0] for argv, _ in BAD_ARGUMENTS} == set(SUBCOMMANDS)


@pytest.mark.parametrize(("argv", "option"), BAD_ARGUMENTS, ids=[" ".join(a) for a, _ in BAD_ARGUMENTS])
def test_bad_arguments_stop_while_parsing_with_one_line_naming_the_option(argv, option, parse_only, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    captured = capsys.readouterr()
    assert exit_info.value.code == 2, f"{argv} passed the argument checks"
    last = captured.err.strip().splitlines()[-1]
    assert last.startswith(f"ember {argv[0]}: error: argument {option}"), captured.err
    assert "Traceback" not in captured.out + captured.err


def test_bad_epochs_of_translate_dates_exit_2_without_a_traceback():
    done = subprocess.run([sys.executable, "-m", "ember", "translate-dates", "--epochs", "0"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert "argument --epochs: expected a positive integer, got '0'" in done.stderr
    assert "Traceback" not in done.stderr


def test_summary_refuses_constructor_arguments_and_shapes_the_model_rejects(capsys):
    assert main(["summary", "lenet5", "--kwargs", "num_classes=-1"]) == 2
    assert main(["summary", "lenet5", "--input-shape", "1", "3", "32", "32"]) == 2
    err = capsys.readouterr().err
    assert err.count("ember summary: lenet5") == 2 and "Traceback" not in err
