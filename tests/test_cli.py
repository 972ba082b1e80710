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
