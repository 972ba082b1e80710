"""Data augmentation on real images: each transform of ``ember.vision.transforms`` on two photos and two digits.

    python examples/augmentation_grid.py --out augmentation.png [--seed 0]

Loads scikit-learn's sample photos china.jpg and flower.jpg (downscaled to 128 × 192 with Pillow)
and two of its handwritten digits (8 × 8, enlarged to 32 × 32), applies every transform to each
batch under one seed, and saves a labelled PNG grid: a row per transform, a column per image.
"""
import argparse
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits, load_sample_images

from ember.vision import transforms as T
from ember.viz.features import plot_images

PHOTO_SIZE = (128, 192)  # (H, W)
NCOLS, PANEL_INCHES = 4, 2.5

# name → transform for a batch x; p=1 where a transform has a p, so every panel shows it
TRANSFORMS = {
    "original": lambda x: T.Compose([]),
    "horizontal flip": lambda x: T.RandomHorizontalFlip(p=1.0),
    "vertical flip": lambda x: T.RandomVerticalFlip(p=1.0),
    "crop, padding ⅛ (reflect)": lambda x: T.RandomCrop(x.shape[-2:], padding=x.shape[-2] // 8,
                                                       padding_mode="reflect"),
    "rotation ±30°": lambda x: T.RandomRotation(30, interpolation="bilinear"),
    "shear ±25°": lambda x: T.RandomAffine(0, shear=25, interpolation="bilinear"),
    "affine": lambda x: T.RandomAffine(15, translate=(0.1, 0.1), scale=(0.8, 1.1), shear=10, interpolation="bilinear"),
    # Simard's MNIST setting (α = 34, σ = 4 on 28-pixel digits), scaled with the image height
    "elastic": lambda x: T.ElasticTransform(alpha=34.0 * x.shape[-2] / 28, sigma=4.0 * x.shape[-2] / 28),
    "channel shift ±0.2": lambda x: T.RandomChannelShift(0.2),
    # eigenvalues are variances: their square roots give shifts on the scale of the pixels
    "PCA colour (√λ, std 1)": lambda x: T.PCAColorAugmentation(1.0, *_sqrt_eigvals(T.pca_color_basis(x))),
    "random erasing": lambda x: T.RandomErasing(p=1.0, value="random"),
}


def _sqrt_eigvals(basis):
    return np.sqrt(basis[0]), basis[1]


def load_images():
    """Two (N, C, H, W) float32 batches in [0, 1]: the photos (2, 3, 128, 192) and digits (2, 1, 32, 32)."""
    photos = [np.asarray(Image.fromarray(p).resize(PHOTO_SIZE[::-1], Image.BILINEAR)) for p in
              load_sample_images().images]
    digits = load_digits().images[:2, None] / 16
    return T.ToFloat(channels_last=True)(np.stack(photos)), np.kron(digits, np.ones((4, 4))).astype(np.float32)


def augmented_panels(seed: int = 0) -> dict:
    """Panel title → image: every transform applied to the photos and the digits."""
    photos, digits = load_images()
    panels, rng = {}, np.random.default_rng(seed)
    for name, make in TRANSFORMS.items():
        images = [*make(photos)(photos, rng), *make(digits)(digits, rng)]
        panels.update({f"{name} ({i + 1})": image for i, image in enumerate(images)})
    return panels


def main(out="augmentation.png", seed: int = 0, dpi: int = 80) -> Path:
    """Write the grid to ``out`` and return its path."""
    path = Path(out)
    plot_images(augmented_panels(seed), path, ncols=NCOLS, panel_size=PANEL_INCHES, dpi=dpi)
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="augmentation.png")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("saved", main(args.out, args.seed))
