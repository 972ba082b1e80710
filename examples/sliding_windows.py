"""Convolutional sliding windows: a classifier of 16×16 windows finds a digit on a larger canvas in one pass.

    python examples/sliding_windows.py [OUT_DIR]          # default runs/sliding_windows/

Trains a small CNN on 16×16 windows: an 8×8 scikit-learn digit near the centre is its class
(0–9); a digit well off-centre, or none, is class 10 (background). ``convolutionalize`` then
turns the classifier into a fully convolutional network that runs once over a 48×48 canvas
holding one test digit: each cell of its output grid scores one window, 4 pixels apart (the
product of the two pooling strides). Saves the canvas beside the map of P(digit) per window
(sliding_windows.png).
"""
import argparse
from pathlib import Path

import numpy as np

import ember as em
from ember import nn
from ember.data.datasets.digits import digits
from ember.nn import functional as F
from ember.vision.sliding_window import convolutionalize, window_stride
from ember.viz.features import plot_images

WINDOW, DIGIT, CANVAS, BACKGROUND = 16, 8, 48, 10
CENTRE, JITTER, FAR = (WINDOW - DIGIT) // 2, 2, 3  # a digit is "in" a window within JITTER px of its centre
INK = 3.0  # digit pixels scaled from [0, 1] to [0, 3], about unit variance: measured, twice as fast to learn


def digit_images(train):
    """The 8×8 digits of one side of the split, (n, 1, 8, 8) in [0, INK], and their labels."""
    images, labels = digits(train=train).tensors
    return images.numpy() * INK, labels.numpy()


def place(images, tops, lefts, size):
    """Paste 8×8 images (n, 1, 8, 8) on black (n, 1, size, size) canvases at (tops, lefts), clipped at the edges."""
    n, pad = len(images), DIGIT
    canvas = np.zeros((n, 1, size + 2 * pad, size + 2 * pad), np.float32)
    rows = (tops + pad)[:, None] + np.arange(DIGIT)
    cols = (lefts + pad)[:, None] + np.arange(DIGIT)
    canvas[np.arange(n)[:, None, None], 0, rows[:, :, None], cols[:, None, :]] = images[:, 0]
    return canvas[:, :, pad:pad + size, pad:pad + size]


def windows(images, labels, rng):
    """Training windows: 60% centred digits (± JITTER px) keep their label; the rest are background:
    empty, or a digit shifted by FAR px or more along at least one axis."""
    n = len(images)
    digit = rng.random(n) < 0.6
    shift = rng.integers(-JITTER, JITTER + 1, (n, 2))
    far = rng.integers(FAR, DIGIT + 1, (n, 2)) * rng.choice([-1, 1], (n, 2))
    far[np.arange(n), rng.integers(0, 2, n)] *= rng.random(n) < 0.5  # often off-centre along one axis only
    offsets = CENTRE + np.where(digit[:, None], shift, far)
    x = place(images, offsets[:, 0], offsets[:, 1], WINDOW)
    x[~digit & (rng.random(n) < 0.2)] = 0  # some background windows are empty
    return x, np.where(digit, labels, BACKGROUND)


def classifier():
    """conv → relu → maxpool → conv → relu → maxpool → flatten → linear → relu → linear, on 16×16 windows."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),  # 16 → 14 → 7
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),  # 7 → 5 → 2
        nn.Flatten(), nn.Linear(64 * 2 * 2, 64), nn.ReLU(), nn.Linear(64, 11),
    )


def train_classifier(steps=400, batch_size=64, seed=0):
    """Train on windows of the training digits; return (model, accuracy on windows of the test digits)."""
    em.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model, (images, labels) = classifier(), digit_images(train=True)
    optimizer = em.optim.Adam(model.parameters(), lr=5e-3)
    for _ in range(steps):
        pick = rng.integers(0, len(images), batch_size)
        x, y = windows(images[pick], labels[pick], rng)
        loss = F.cross_entropy(model(em.tensor(x)), em.tensor(y))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    x, y = windows(*digit_images(train=False), rng)
    with em.no_grad():
        accuracy = float((model(em.tensor(x)).numpy().argmax(axis=1) == y).mean())
    return model, accuracy


def find_digit(model, canvas):
    """Run the convolutionalized model once over canvas (1, 1, H, W): (class, (top, left), P(digit) map)."""
    detector = convolutionalize(model, (1, WINDOW, WINDOW))
    with em.no_grad():
        probs = F.softmax(detector(em.tensor(canvas)), dim=1).numpy()[0]  # (11, Gh, Gw)
    p_digit = probs[:BACKGROUND].max(axis=0)
    i, j = np.unravel_index(p_digit.argmax(), p_digit.shape)
    sh, sw = window_stride(model)
    return int(probs[:BACKGROUND, i, j].argmax()), (int(i) * sh + CENTRE, int(j) * sw + CENTRE), p_digit


def main(out_dir="runs/sliding_windows", steps=400, seed=0) -> dict:
    """Train, find one test digit on a canvas, write OUT_DIR/sliding_windows.png; return what was found."""
    model, accuracy = train_classifier(steps, seed=seed)
    rng = np.random.default_rng(seed + 1)
    images, labels = digit_images(train=False)
    k = int(rng.integers(0, len(labels)))
    top, left = (int(v) for v in rng.integers(0, CANVAS - DIGIT + 1, 2))
    canvas = place(images[k:k + 1], np.array([top]), np.array([left]), CANVAS)
    found, found_at, p_digit = find_digit(model, canvas)
    path = Path(out_dir) / "sliding_windows.png"
    title = f"digit {int(labels[k])} at {(top, left)}; found {found} at {found_at} (window accuracy {accuracy:.2f})"
    plot_images({"canvas": canvas[0, 0], "P(digit) per 16×16 window, stride 4": p_digit}, path, cmap="magma",
                title=title)
    return {"path": path, "window_accuracy": accuracy, "digit": int(labels[k]), "placed_at": (top, left),
            "found": found, "found_at": found_at}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", default="runs/sliding_windows")
    parser.add_argument("--steps", type=int, default=400)
    result = main(**vars(parser.parse_args()))
    print(f"window accuracy {result['window_accuracy']:.3f}; digit {result['digit']} placed at {result['placed_at']}, "
          f"found {result['found']} at {result['found_at']}; saved {result['path']}")
