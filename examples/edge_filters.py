"""The course's edge detectors on a real photograph: vertical and horizontal edges, Sobel and Scharr.

    python examples/edge_filters.py [OUT_DIR]          # default runs/edge_filters/

Loads scikit-learn's bundled sample photo ``china.jpg``, converts it to grey, and saves one
PNG grid of the edge maps (edge_filters.png). The filters live in ``ember.vision.filters``.
"""
import argparse
from pathlib import Path

import numpy as np
from sklearn.datasets import load_sample_image

from ember.vision import filters
from ember.viz.features import plot_images

NCOLS, PANEL_INCHES = 3, 4.0


def edge_maps(photo: np.ndarray) -> dict:
    """Panel title → image for an (H, W, 3) uint8 photo."""
    rgb = photo.transpose(2, 0, 1).astype(np.float32) / 255  # NCHW convention: (3, H, W) in [0, 1]
    grey = filters.rgb_to_grayscale(rgb)[0]
    same = {"padding": "same", "padding_mode": "reflect"}  # reflect: no false edges at the border
    return {
        "photo": rgb,
        "grey": grey,
        "vertical edge [[1,0,-1]]×3 (left − right)": filters.apply(grey, "vertical_edge", **same),
        "horizontal edge (top − bottom)": filters.apply(grey, "horizontal_edge", **same),
        "Sobel magnitude √(gx² + gy²)": filters.edge_magnitude(grey, "sobel", **same),
        "Scharr magnitude √(gx² + gy²)": filters.edge_magnitude(grey, "scharr", **same),
    }


def main(out_dir="runs/edge_filters", dpi: int = 100) -> Path:
    """Write ``OUT_DIR/edge_filters.png`` and return its path."""
    path = Path(out_dir) / "edge_filters.png"
    plot_images(edge_maps(load_sample_image("china.jpg")), path, ncols=NCOLS, panel_size=PANEL_INCHES,
                title="Classic 3×3 edge filters (cross-correlation)", dpi=dpi)
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", default="runs/edge_filters")
    print("saved", main(parser.parse_args().out_dir))
