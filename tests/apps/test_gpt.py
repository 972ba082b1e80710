"""``ember train gpt`` and ``ember generate``: a tiny run end to end, and bad arguments stopping at parsing."""
import json

import pytest

from ember.apps.gpt import CharTokenizer
from ember.cli import main

TEXT = "In the beginning God created the heaven and the earth. And the earth was without form, and void.\n" * 30
TINY = ["--iters", "30", "--eval-every", "15", "--eval-batches", "2", "--n-layer", "1", "--n-head", "2",
        "--n-embd", "16", "--block-size", "16", "--sample-chars", "30", "--no-progress"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("gpt")
    (root / "text.txt").write_text(TEXT)
    out = root / "run"
    assert main(["train", "gpt", "--text", str(root / "text.txt"), "--out", str(out), *TINY]) == 0
    return root, out


def test_train_writes_checkpoint_curves_metrics_and_samples(trained, capsys):
    _, out = trained
    assert (out / "gpt.safetensors").is_file()
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [15, 30]
    assert rows[-1]["dev_loss"] < rows[0]["dev_loss"] < 3.5  # ln(26 symbols) ≈ 3.26 at the start
    samples = (out / "samples.txt").read_text()
    assert samples.count("--- iteration") == 2 and len(samples) > 60


def test_train_prints_progress_and_samples(tmp_path, capsys):
    (tmp_path / "t.txt").write_text(TEXT)
    assert main(["train", "GPT", "--text", str(tmp_path / "t.txt"), "--out", str(tmp_path / "r"), *TINY]) == 0
    text = capsys.readouterr().out
    assert "iter 15/30" in text and "val loss" in text and "--- sample ---" in text and "parameters" in text


def test_generate_prints_a_continuation_of_the_prompt(trained, capsys):
    _, out = trained
    assert main(["generate", "--checkpoint", str(out), "--prompt", "In the", "--max-new-tokens", "25",
                 "--temperature", "0.5", "--top-k", "5", "--seed", "0"]) == 0
    printed = capsys.readouterr().out.rstrip("\n")
    assert printed.startswith("In the") and len(printed) == len("In the") + 25
    assert set(printed) <= set(TEXT)


def test_generate_is_reproducible_with_a_seed(trained, capsys):
    _, out = trained
    args = ["generate", "--checkpoint", str(out), "--prompt", "God", "--max-new-tokens", "20", "--seed", "3"]
    main(args)
    first = capsys.readouterr().out
    main(args)
    assert capsys.readouterr().out == first


def test_generate_refuses_unknown_characters_and_missing_checkpoints(trained, tmp_path, capsys):
    _, out = trained
    assert main(["generate", "--checkpoint", str(out), "--prompt", "Zebra!?"]) == 2
    assert "not in the model's vocabulary" in capsys.readouterr().err
    assert main(["generate", "--checkpoint", str(tmp_path)]) == 2
    assert "no gpt.safetensors" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["train", "gpt", "--iters", "0"], "--iters: expected a positive integer"),
    (["train", "gpt", "--text", "/no/such/file.txt"], "--text: no such file"),
    (["train", "gpt", "--dropout", "1.5"], "--dropout: expected a probability"),
    (["train", "gpt", "--lr", "-1"], "--lr: expected a positive number"),
    (["generate", "--checkpoint", "/no/such/dir"], "--checkpoint: no such directory"),
    (["generate"], "the following arguments are required: --checkpoint"),
    (["generate", "--checkpoint", ".", "--temperature", "0"], "--temperature: expected a positive number"),
    (["generate", "--checkpoint", ".", "--top-k", "0"], "--top-k: expected a positive integer"),
])
def test_bad_arguments_exit_2_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_sizes_that_do_not_fit_exit_2(tmp_path, capsys):
    (tmp_path / "t.txt").write_text(TEXT)
    assert main(["train", "gpt", "--text", str(tmp_path / "t.txt"), "--n-embd", "10", "--n-head", "3",
                 "--out", str(tmp_path / "r")]) == 2
    assert "multiple of --n-head" in capsys.readouterr().err


def test_help_texts_show_an_example(capsys):
    for argv in (["train", "gpt", "--help"], ["generate", "--help"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 0
    assert capsys.readouterr().out.count("example:\n  ember ") == 2


def test_char_tokenizer_round_trip():
    tok = CharTokenizer("hello world")
    assert len(tok) == 8 and tok.decode(tok.encode("low old")) == "low old"
    with pytest.raises(ValueError, match="'z'"):
        tok.encode("z")
