"""Fast runs of the one-shot, transfer-learning and multi-task examples: each runs and learns."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def one_shot(tmp_path_factory):
    out = tmp_path_factory.mktemp("one_shot")
    return _load("one_shot_digits").main(["--steps", "200", "--out", str(out)])


def test_one_shot_verification_learns_on_unseen_digits(one_shot):
    before, after = one_shot["before"], one_shot["after"]
    assert after["verification_accuracy"] >= 0.70 and after["auc"] >= 0.75  # chance: 0.5 and 0.5
    assert after["auc"] > before["auc"] + 0.05  # earned by training, not by the architecture
    assert after["one_shot_accuracy"] > 0.6  # chance: 1/3
    losses = one_shot["losses"]
    assert np.mean(losses[-20:]) < np.mean(losses[:20])


def test_one_shot_writes_the_roc_curve(one_shot):
    assert one_shot["roc_path"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_orientation_classes_are_new_identities():
    demo = _load("one_shot_digits")
    images = np.arange(2 * 64, dtype=np.float32).reshape(2, 1, 8, 8)
    views, labels = demo.orientation_classes(images, np.array([0, 3]))
    assert views.shape == (16, 1, 8, 8) and sorted(labels.tolist()) == list(range(8)) + list(range(24, 32))
    assert len({v.tobytes() for v in views}) == 16


def test_transfer_learning_runs_and_keeps_the_body_frozen(capsys):
    result = _load("transfer_learning").main(["--pretrain-steps", "100", "--steps", "100", "--draws", "1"])
    assert result["source_accuracy"] > 0.9
    assert result["fine_tuned"] > 0.3 and result["scratch"] > 0.6  # chance: 0.2
    assert "from scratch" in capsys.readouterr().out


def test_multitask_masked_loss_beats_dropping_incomplete_rows():
    result = _load("multitask").main(["--steps", "100"])
    assert 0.45 < result["labelled_fraction"] < 0.55
    masked, dropped = result["masked"], result["complete_rows_only"]
    assert min(masked.values()) > 0.85  # chance: about 0.5–0.6 per task
    assert np.mean(list(masked.values())) > np.mean(list(dropped.values())) + 0.02
