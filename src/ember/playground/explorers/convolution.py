"""The convolution page: an image cross-correlated with a kernel, a pixel's receptive field, LeNet-5 on a drawing.

- ``get_kernel`` / ``convolve``: a kernel from ``ember.vision.filters``, a classic one from
  ``KERNELS`` or a typed matrix up to ``MAX_KERNEL`` × ``MAX_KERNEL``, applied with 'same' padding,
  y[i, j] = Σ_{u,v} K[u, v] · x[i + u − ⌊(kh−1)/2⌋, j + v − ⌊(kw−1)/2⌋] (zeros outside the image).
- ``kernel_receptive_field``: where one output pixel looks, from the gradient |∂y[i, j]/∂x| of that
  one-layer network (``ember.viz.features.receptive_field``).
- ``DigitModel``: LeNet-5 trained on the bundled digits at first use (a few seconds; cached), its
  prediction and the feature maps of every layer for a digit drawn on the page.

>>> convolve(np.eye(8), get_kernel("laplacian"))["signed"]
True
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

import ember as em
from ember import nn
from ember.autograd.grad_mode import no_grad
from ember.autograd.tensor import Tensor
from ember.playground.encoding import encode_image, encode_map
from ember.playground.validation import RequestError
from ember.vision import filters
from ember.viz.features import feature_maps, receptive_field

__all__ = ["KERNELS", "LENET_LAYERS", "MAX_KERNEL", "DigitModel", "convolve", "get_kernel", "kernel_receptive_field",
           "prepare_digit"]

MAX_KERNEL = 15

# -- convolution ------------------------------------------------------------------------------------

KERNELS = {
    **{name: make().tolist() for name, make in filters.KERNELS.items()},
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "box_blur": [[1 / 9] * 3] * 3,
    "gaussian_blur": (np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256).tolist(),
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
}
"""The kernels the page offers by name: the six edge detectors of ``ember.vision.filters`` and a few classics."""


def get_kernel(kernel) -> np.ndarray:
    """A named kernel or a checked typed matrix (at most 15 × 15 finite numbers) as a float32 array."""
    if isinstance(kernel, str):
        if kernel not in KERNELS:
            raise RequestError(f"convolution: unknown kernel {kernel!r}; choose one of {sorted(KERNELS)} "
                               "or send a matrix")
        return np.asarray(KERNELS[kernel], dtype=np.float32)
    rows = kernel if isinstance(kernel, list) and 1 <= len(kernel) <= MAX_KERNEL else None
    width = len(rows[0]) if rows and isinstance(rows[0], list) else 0
    if not rows or not 1 <= width <= MAX_KERNEL or not all(
            isinstance(r, list) and len(r) == width and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) <= 1e6 for v in r) for r in rows):
        raise RequestError(f"convolution: 'kernel' must be a name or a rectangular matrix of at most "
                           f"{MAX_KERNEL}×{MAX_KERNEL} numbers (|v| ≤ 1e6)")
    array = np.asarray(rows, dtype=np.float32)
    if not np.isfinite(array).all():
        raise RequestError("convolution: the kernel holds a non-finite number")
    return array


def _conv_model(kernel: np.ndarray) -> nn.Sequential:
    return nn.Sequential(filters.as_conv2d(kernel[None], padding="same"))


def convolve(image: np.ndarray, kernel: np.ndarray) -> dict:
    """The 'same'-padded cross-correlation of a grey image with a kernel, encoded for the page.

    Returns {"input": image, "output": signed map, "signed": whether the output has negative values,
    "min", "max"}.
    """
    with no_grad():
        out = filters.apply(image.astype(np.float32), kernel, padding="same").astype(np.float64)
    return {"input": encode_image(image), "output": encode_map(out), "signed": bool(out.min() < -1e-6),
            "min": float(out.min()), "max": float(out.max())}


def kernel_receptive_field(image: np.ndarray, kernel: np.ndarray, row: int, col: int) -> dict:
    """Where output pixel (row, col) looks: the bounding box of |∂y/∂x| ≠ 0, the weights there, the value.

    The box is the kernel's window centred on the pixel ('same' padding), clipped at the border.
    """
    H, W = image.shape
    if not (0 <= row < H and 0 <= col < W):
        raise RequestError(f"convolution: pixel ({row}, {col}) is outside the {H}×{W} output")
    model = _conv_model(kernel)
    x = image.astype(np.float32)[None, None]
    grad = receptive_field(model, "0", x, position=(row, col))
    rows, cols = np.nonzero(grad)
    kh, kw = kernel.shape
    top, left = row - (kh - 1) // 2, col - (kw - 1) // 2  # the window, also where the kernel has zeros
    box = {"top": max(top, 0), "left": max(left, 0), "bottom": min(top + kh, H) - 1, "right": min(left + kw, W) - 1}
    with no_grad():
        value = float(model(Tensor(x)).array[0, 0, row, col])
    return {"row": row, "col": col, "box": box, "value": value,
            "support": int(len(rows)), "window": [kh, kw]}


# -- LeNet-5 on a drawn digit ------------------------------------------------------------------------

LENET_LAYERS = (("conv1 + ReLU", "features.1"), ("pool1", "features.2"), ("conv2 + ReLU", "features.4"),
                ("pool2", "features.5"), ("fc1 + ReLU", "classifier.1"), ("fc2 + ReLU", "classifier.3"))


def prepare_digit(pixels) -> np.ndarray:
    """A drawing (s × s, ink in [0, 1]) → the (1, 1, 32, 32) input LeNet-5 was trained on.

    The bundled digits are 8 × 8 counts of ink in 4 × 4 blocks of a 32 × 32 bitmap in which the
    digit fills the height, upsampled back to 32 × 32: so the drawing is cropped to its ink, centred
    in a square, resized to 32 × 32, averaged over 4 × 4 blocks, scaled to a maximum of 1 and
    resized to 32 × 32 bilinearly, the same path the training images took.
    """
    from ember.data.datasets.digits import resize_bilinear

    a = np.asarray(pixels, dtype=np.float64)
    rows, cols = np.nonzero(a > 0.1)
    if not len(rows):
        raise RequestError("digit: the drawing is empty; draw a digit first")
    a = a[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    side = max(a.shape)
    square = np.zeros((side, side))
    top, left = (side - a.shape[0]) // 2, (side - a.shape[1]) // 2
    square[top:top + a.shape[0], left:left + a.shape[1]] = a
    frame = np.clip(resize_bilinear(square, 32), 0.0, 1.0)
    blocks = frame.reshape(8, 4, 8, 4).mean(axis=(1, 3))
    blocks = blocks / max(blocks.max(), 1e-6)
    return resize_bilinear(blocks, 32).astype(np.float32)[None, None]


class DigitModel:
    """LeNet-5 for the digit page: loaded from ``path``, else from the cache, else trained there (once).

    Args:
        path: a checkpoint written by ``ember.save(model.state_dict(), path)`` (``--lenet``), or None.
        cache_dir: where a trained model is cached (``lenet5-digits.safetensors``).
        epochs: epochs of the first-use training (Adam 3e-3, batch 64; ~95 % held-out accuracy at 8).
    """

    def __init__(self, path=None, cache_dir=None, epochs: int = 8):
        self.path, self.cache_dir, self.epochs = path, cache_dir, epochs
        self._model, self._lock, self.accuracy = None, threading.Lock(), None

    @property
    def ready(self) -> bool:
        return self._model is not None

    def model(self):
        """The LeNet-5, loading or training it on first call (other callers wait)."""
        with self._lock:
            if self._model is None:
                self._model = self._load_or_train()
            return self._model

    def _load_or_train(self):
        from ember.models.lenet import LeNet5

        model = LeNet5()
        cached = Path(self.cache_dir) / "lenet5-digits.safetensors" if self.cache_dir else None
        source = Path(self.path) if self.path else cached
        if source is not None and source.is_file():
            model.load_state_dict(em.load(source))
        elif self.path:
            raise RequestError(f"digit: no LeNet-5 checkpoint at {self.path}", 404)
        else:
            self.accuracy = _train_lenet(model, self.epochs)
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                em.save(model.state_dict(), cached)
        return model.eval()

    def predict(self, pixels) -> dict:
        """Prediction, class probabilities, the 32 × 32 input and each layer's feature maps for a drawing."""
        x = prepare_digit(pixels)
        model = self.model()
        with no_grad():
            logits = model(Tensor(x)).array[0].astype(np.float64)
        p = np.exp(logits - logits.max())
        p /= p.sum()
        layers = []
        for label, name in LENET_LAYERS:
            a = feature_maps(model, name, x).array[0].astype(np.float64)
            maps = [encode_map(m) for m in a] if a.ndim == 3 else [encode_map(a[None, :])]
            layers.append({"name": label, "shape": list(a.shape), "maps": maps})
        return {"prediction": int(p.argmax()), "probabilities": np.round(p, 5).tolist(),
                "input": encode_image(x[0, 0]), "layers": layers}


def _train_lenet(model, epochs: int) -> float:
    """Adam 3e-3, batch 64, cross-entropy on the training side of the bundled digits at 32 × 32; returns the
    test accuracy."""
    from ember.data import DataLoader
    from ember.data.datasets.digits import digits
    from ember.ops.loss import cross_entropy
    from ember.optim import Adam
    from ember.train.trainer import Trainer

    train, test = (digits(train=side, resize=32) for side in (True, False))
    loader = DataLoader(train, batch_size=64, shuffle=True, generator=np.random.default_rng(0))
    Trainer(model, Adam(model.parameters(), lr=3e-3), cross_entropy, metrics=None, diagnose=False).fit(
        loader, epochs=epochs)
    model.eval()
    Xt, yt = test.tensors
    with no_grad():
        return float((model(Xt).array.argmax(1) == yt.array).mean())
