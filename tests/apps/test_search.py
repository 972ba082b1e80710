"""``ember search``: a tiny run writes the table, CSV and plot; trials score real training; processes agree."""
import argparse
import csv
import pickle

import pytest

from ember.apps.search import DigitsObjective, add_arguments, default_space, load_digits_splits, run, search
from ember.train.search import Choice, LogUniform, OneMinusLogUniform, Uniform


@pytest.fixture(scope="module")
def data():
    return load_digits_splits(seed=0)


def parse(argv):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("search")
    lines = []
    return out, search(trials=2, epochs=1, zoom_rounds=1, out=out, log=lines.append), "\n".join(lines)


def read_rows(out):
    return list(csv.DictReader((out / "results.csv").open()))


def test_tiny_search_writes_results_and_prints_the_best(tiny):
    out, results, printed = tiny
    rows = read_rows(out)
    assert len(rows) == len(results) == 4 and [int(r["round"]) for r in rows] == [0, 0, 1, 1]
    assert set(rows[0]) == {"trial", "round", "score", "seconds", "lr", "beta1", "batch_size", "label_smoothing"}
    assert all(0.0 <= float(r["score"]) <= 1.0 for r in rows)
    assert (out / "search.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "rank  trial  round" in printed and f"best dev accuracy {results.best['score']:.4f}" in printed
    assert "results.csv" in printed and "search.png" in printed


def test_default_space_uses_the_course_scales():
    space = default_space()
    assert isinstance(space["lr"], LogUniform) and isinstance(space["beta1"], OneMinusLogUniform)
    assert isinstance(space["batch_size"], Choice) and isinstance(space["label_smoothing"], Uniform)


def test_objective_scores_dev_accuracy_of_real_training(data):
    assert data["train"][0].shape[1:] == (1, 32, 32) and len(data["dev"][1]) == 180
    objective = DigitsObjective(data, epochs=2)
    good = objective({"lr": 3e-3, "beta1": 0.9, "batch_size": 32, "label_smoothing": 0.0})
    hopeless = objective({"lr": 1e-7, "beta1": 0.9, "batch_size": 32, "label_smoothing": 0.0})
    assert good > 0.85 and hopeless < 0.4
    assert objective({"lr": 3e-3, "beta1": 0.9, "batch_size": 32, "label_smoothing": 0.0}) == good  # seeded
    assert pickle.loads(pickle.dumps(objective)).epochs == 2  # it can travel to worker processes
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        DigitsObjective(data, epochs=0)


def test_command_runs_trials_in_processes_with_the_same_results(tiny, tmp_path, capsys):
    out, _, _ = tiny
    argv = ["--trials", "2", "--epochs", "1", "--zoom-rounds", "1", "--jobs", "2", "--out", str(tmp_path)]
    assert run(parse(argv)) == 0
    assert "best dev accuracy" in capsys.readouterr().out

    def without_time(rows):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]

    assert without_time(read_rows(tmp_path)) == without_time(read_rows(out))


def test_command_reports_bad_options(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        parse(["--trials", "0", "--out", str(tmp_path)])
    assert stop.value.code == 2
    assert "argument --trials: expected a positive integer" in capsys.readouterr().err
