"""examples/augmentation_grid.py: the command line writes a labelled PNG grid in which every transform shows."""
import subprocess
import sys
from pathlib import Path

import numpy as np

from example_scripts import load_example

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "augmentation_grid.py"


def _example():
    module = load_example("augmentation_grid")
    return module


def test_augmentation_grid_example_writes_the_png(tmp_path):
    import matplotlib.image as mpimg

    out = tmp_path / "grid" / "augmentation.png"
    result = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out), "--seed", "1"],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert out.exists() and str(out) in result.stdout
    example = _example()
    png = mpimg.imread(out)
    rows = len(example.TRANSFORMS)
    assert png.shape[1] == example.NCOLS * example.PANEL_INCHES * 80 and png.shape[0] > rows * 100
    assert png[..., :3].std() > 0.05  # not blank


def test_every_transform_changes_every_image():
    example = _example()
    panels = example.augmented_panels(seed=0)
    originals = [image for name, image in panels.items() if name.startswith("original")]
    assert [o.shape for o in originals] == [(3, 128, 192)] * 2 + [(1, 32, 32)] * 2
    for name in list(example.TRANSFORMS)[1:]:
        for i, original in enumerate(originals):
            image = panels[f"{name} ({i + 1})"]
            assert image.shape == original.shape and image.dtype == np.float32
            assert np.abs(image - original).mean() > 1e-3, (name, i)
