"""The ember command line: help texts, the digits demo end to end, train, planned commands."""
import csv
import json
import subprocess
import sys

import pytest

from ember import models
from ember.cli import build_parser, main

SUBCOMMANDS = ("demo", "train", "search", "summary", "word2vec", "translate-dates", "detect-shapes", "bench")


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


def test_planned_commands_say_they_are_not_available(capsys):
    assert main(["bench"]) == 1
    assert "'bench' is not available yet" in capsys.readouterr().err


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
