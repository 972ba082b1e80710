"""The detect-shapes app: a tiny run through its command-line entry point, saving and loading, the full recipe."""
import argparse
import json
import re

import numpy as np
import pytest

import ember as em
from ember.apps import detect_shapes as ds
from ember.vision.shapes import make_shapes


def _args(*argv):
    parser = argparse.ArgumentParser()
    ds.add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("shapes")
    args = _args("--train-size", "64", "--test-size", "16", "--epochs", "2", "--width", "4", "--batch-size", "16",
                 "--no-progress", "--out", str(out))
    return out, args


def test_run_prints_map_and_writes_png_checkpoint_report(tiny_run, capsys):
    out, args = tiny_run
    assert ds.run(args) == 0
    printed = capsys.readouterr().out
    match = re.search(r"held-out mAP@0\.5 (\d\.\d{3})", printed)
    assert match, printed
    assert "epoch 2/2" in printed and "training" in printed
    png = out / "detections.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    report = json.loads((out / "report.json").read_text())
    assert report["map50"] == pytest.approx(float(match.group(1)), abs=5e-4)
    assert 0.0 <= report["map50"] <= 1.0 and set(report["ap50"]) == {"circle", "square", "triangle"}
    assert report["recipe"]["train_size"] == 64 and len(report["history"]) == 2
    assert (out / "model.safetensors").is_file() and (out / "model.json").is_file()


def test_saved_detector_reloads_with_identical_outputs(tiny_run):
    out, args = tiny_run
    if not (out / "model.safetensors").exists():
        ds.run(args)
    model = ds.load_detector(out)
    again = ds.load_detector(out / "model.safetensors")
    images = make_shapes(4, seed=123).images
    with em.no_grad():
        a, b = model(em.tensor(images)), again(em.tensor(images))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not model.training and model.num_anchors == 2
    with pytest.raises(FileNotFoundError, match="train one first"):
        ds.load_detector(out / "missing")


def test_plot_detections_draws_ground_truth_too(tmp_path):
    data = make_shapes(3, seed=0)
    detections = [{"boxes": t["boxes"], "scores": np.ones(len(t["boxes"])), "labels": t["labels"]}
                  for t in data.targets()]
    fig = ds.plot_detections(data.images, detections, tmp_path / "a" / "b.png", targets=data.targets())
    assert (tmp_path / "a" / "b.png").stat().st_size > 1000
    assert sum(len(ax.patches) for ax in fig.axes) == 2 * sum(len(t["boxes"]) for t in data.targets())


def test_unknown_option():
    with pytest.raises(ValueError, match="unknown options"):
        ds.detect_shapes(out="unused", log=None, epoch=3)


@pytest.mark.slow
def test_default_recipe_reaches_map_0_8(tmp_path):
    report = ds.detect_shapes(out=tmp_path, log=None, progress=False)
    assert report["map50"] >= 0.8, report["ap50"]
    assert report["total_seconds"] < 600
