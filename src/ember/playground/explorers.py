"""The back ends of the playground's explorer pages: convolution, embeddings and attention.

- ``ImageStore`` and ``convolve`` / ``kernel_receptive_field``: a grey image (a bundled sample or an
  upload, at most 256 px a side) cross-correlated with a kernel from ``ember.vision.filters`` or the
  extra ones here, or a typed matrix up to 15 × 15; the receptive field of one output pixel comes
  from ``ember.viz.features.receptive_field`` on that one-layer network.
- ``DigitModel``: LeNet-5 trained on the bundled digits at first use (a few seconds; cached), its
  prediction and the feature maps of every layer for a digit drawn on the page.
- ``WordVectors``: word2vec vectors (``--vectors`` file or a tiny set trained at first use), a 2-D/3-D
  PCA of the most frequent words, nearest neighbours and analogies.
- ``DateModel``: the date translator saved by ``ember translate-dates`` (or quick-trained here, bounded),
  its translation of a typed date and the attention weights.
- ``GPTModel``: a small character GPT trained here in the background (~10 s; cached) and the
  self-attention weights of each of its layers and heads over a typed prompt.

Every public method validates its input and raises ``RequestError`` with a message for the page.
"""
from __future__ import annotations

import base64
import binascii
import io
import re
import secrets
import threading
from collections import OrderedDict
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

__all__ = ["GPT_SIZES", "KERNELS", "DateModel", "DigitModel", "GPTModel", "ImageStore", "WordVectors", "convolve",
           "get_kernel", "gpt_attention_maps", "gpt_text", "kernel_receptive_field", "prepare_digit"]

MAX_SIDE, MAX_KERNEL, MAX_UPLOAD_BYTES = 256, 15, 2 * 1024 * 1024
# NOTE: decoding costs up to 4 bytes a pixel before the image is shrunk to MAX_SIDE; 4096 × 4096 keeps
# that near 64 MB a request (JPEGs count after the decoder's own 1/8 scaling, so larger photos pass).
MAX_PIXELS = 4096 * 4096
_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")  # Pillow tries only these parsers on an upload

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


def _shapes(size: int = 160) -> np.ndarray:
    """A generated grey test picture: a disc, a square and a triangle on a soft gradient."""
    i, j = np.mgrid[0:size, 0:size] / size
    image = 0.25 + 0.2 * j
    image = np.where((i - 0.3) ** 2 + (j - 0.3) ** 2 < 0.04, 0.95, image)
    image = np.where((abs(i - 0.7) < 0.15) & (abs(j - 0.28) < 0.15), 0.05, image)
    return np.where((i > 0.45) & (i < 0.9) & (abs(j - 0.72) < (i - 0.45) * 0.5), 0.75, image)


def _checkerboard(size: int = 128, square: int = 16) -> np.ndarray:
    i, j = np.mgrid[0:size, 0:size] // square
    return ((i + j) % 2).astype(np.float64) * 0.8 + 0.1


def _sample_files() -> dict[str, Path]:
    import matplotlib

    candidates = {"grace_hopper": Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"}
    try:
        import sklearn

        folder = Path(sklearn.__file__).parent / "datasets" / "images"
        candidates.update(china=folder / "china.jpg", flower=folder / "flower.jpg")
    except ImportError:
        pass
    return {name: path for name, path in candidates.items() if path.is_file()}


def decode_image(data: bytes) -> np.ndarray:
    """PNG/JPEG/GIF/BMP/WebP bytes → a grey float64 image in [0, 1], shrunk to at most 256 px a side.

    The size is read from the header first: an image that would decode to more than ``MAX_PIXELS``
    pixels is refused (413) before any pixel is decoded — a 100 KB PNG can claim 36 megapixels.
    """
    from PIL import Image, UnidentifiedImageError

    if len(data) > MAX_UPLOAD_BYTES:
        raise RequestError(f"image: {len(data)} bytes is over the {MAX_UPLOAD_BYTES} byte limit", 413)
    try:
        with Image.open(io.BytesIO(data), formats=_FORMATS) as image:
            return _shrink(image)
    except Image.DecompressionBombError as error:  # Pillow's own refusal, far above MAX_PIXELS
        raise RequestError(f"image: {error}; at most {MAX_PIXELS} pixels are decoded here", 413) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise RequestError(f"image: not a readable image ({type(error).__name__}); send a PNG, JPEG, GIF, BMP "
                           "or WebP") from None


def _shrink(image) -> np.ndarray:
    """An opened (not yet decoded) image as grey float64 at most MAX_SIDE a side, or 413 over MAX_PIXELS."""
    width, height = image.size
    image.draft("L", (MAX_SIDE, MAX_SIDE))  # JPEG: the decoder itself scales by 1/2, 1/4 or 1/8
    if image.width * image.height > MAX_PIXELS:
        raise RequestError(f"image: {width}×{height} is {width * height} pixels, over the limit of {MAX_PIXELS} "
                           f"({MAX_PIXELS / 1e6:.1f} megapixels); the page shows at most {MAX_SIDE} px a side", 413)
    if image.mode not in ("L", "RGB"):
        # palette and 1-bit images would be resampled by nearest neighbour, and alpha would be premultiplied
        # in a full-size copy; grey first costs one byte a pixel and drops the alpha the page ignores anyway
        image = image.convert("L")
    # NOTE: an RGB image is shrunk before its grey conversion, so no full-size grey copy exists; thumbnail
    # reduces by whole-pixel box averages first, then resamples the small result.
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    return np.asarray(image.convert("L"), dtype=np.float64) / 255.0


class ImageStore:
    """The images the convolution page can use: bundled samples by name, and up to ``capacity`` uploads by id."""

    def __init__(self, capacity: int = 16):
        self.capacity, self._uploads, self._lock = capacity, OrderedDict(), threading.Lock()
        self._generated = {"shapes": _shapes, "checkerboard": _checkerboard}
        self._files, self._cache = _sample_files(), {}

    def samples(self) -> list[str]:
        """The names of the bundled sample images."""
        return [*self._files, *self._generated]

    def get(self, name) -> np.ndarray:
        """The grey image of a sample name or an upload id; ``RequestError`` 400/404 otherwise."""
        if not isinstance(name, str) or len(name) > 64:
            raise RequestError("convolution: 'image' must be a sample name or an upload id (a short string)")
        with self._lock:
            if name in self._uploads:
                self._uploads.move_to_end(name)
                return self._uploads[name]
            if name not in self._cache and name in self._generated:
                self._cache[name] = self._generated[name]()
            if name not in self._cache and name in self._files:
                self._cache[name] = decode_image(self._files[name].read_bytes())
            if name in self._cache:
                return self._cache[name]
        raise RequestError(f"convolution: no image {name!r}; samples are {self.samples()}, or upload one", 404)

    def upload(self, data_url) -> tuple[str, np.ndarray]:
        """Decode an uploaded image given as a data URL or plain base64; returns (its id, the grey image)."""
        if not isinstance(data_url, str):
            raise RequestError("image: 'data' must be a string (a data URL or base64)")
        payload = data_url.split(",", 1)[1] if data_url.startswith("data:") and "," in data_url else data_url
        if len(payload) > MAX_UPLOAD_BYTES * 4 // 3 + 8:
            raise RequestError(f"image: over the {MAX_UPLOAD_BYTES} byte limit", 413)
        try:
            raw = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise RequestError("image: 'data' is not valid base64") from None
        image = decode_image(raw)
        key = "upload-" + secrets.token_hex(6)
        with self._lock:
            self._uploads[key] = image
            while len(self._uploads) > self.capacity:
                self._uploads.popitem(last=False)
        return key, image


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
    """Adam 3e-3, batch 64, on the training side of the bundled digits at 32 × 32; returns test accuracy."""
    from ember.data.datasets.digits import digits
    from ember.ops.loss import cross_entropy
    from ember.optim import Adam

    (X, y), (Xt, yt) = (digits(train=side, resize=32).tensors for side in (True, False))
    optimizer, rng = Adam(model.parameters(), lr=3e-3), np.random.default_rng(0)
    model.train()
    for _ in range(epochs):
        order = rng.permutation(len(y.array))
        for start in range(0, len(order), 64):
            index = order[start:start + 64]
            loss = cross_entropy(model(Tensor(X.array[index])), Tensor(y.array[index]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    with no_grad():
        return float((model(Xt).array.argmax(1) == yt.array).mean())


# -- word vectors --------------------------------------------------------------------------------------

_STOPWORDS = set("the and of to in that a i it for is was he his they them him be with not all unto shall "
                 "their thou thy thee ye which me my by as from but were have had are this upon there on so "
                 "when then also an at or will s".split())
_GENERATED = {
    "royal": (["king", "queen"], ["prince", "princess"], ["rules", "reigns over", "governs"],
              ["the kingdom", "the realm", "the castle", "the crown"]),
    "family": (["father", "mother"], ["son", "daughter"], ["loves", "feeds", "teaches"],
               ["the family", "the child", "the house", "the home"]),
    "people": (["man", "woman"], ["boy", "girl"], ["walks to", "runs to", "works in"],
               ["the town", "the market", "the field", "the city"]),
}


def generated_corpus(sentences: int = 6000, seed: int = 0) -> list[list[str]]:
    """A small seeded corpus with structure word2vec can find: royal, family and everyday words, each
    in a male and a female form ("the king rules the realm", "he is a man", "she is a queen").
    """
    rng = np.random.default_rng(seed)
    corpus = []
    groups = list(_GENERATED.values())
    for _ in range(sentences):
        adults, young, verbs, places = groups[rng.integers(len(groups))]
        g = int(rng.integers(2))
        who = (adults if rng.random() < 0.6 else young)[g]
        pronoun = ("he", "she")[g]
        corpus.append(f"the {who} {verbs[rng.integers(len(verbs))]} {places[rng.integers(len(places))]}".split())
        corpus.append(f"{pronoun} is a {who} and {pronoun} {verbs[rng.integers(len(verbs))]} "
                      f"{places[rng.integers(len(places))]}".split())
    return corpus


def _kjv_corpus(max_words: int) -> list[list[str]] | None:
    from ember.data.datasets.text import bible_kjv

    try:
        text = bible_kjv(reference="gen1:1-exo40:38", timeout=30)
    except (FileNotFoundError, RuntimeError, OSError):
        return None
    sentences, total = [], 0
    for line in text.splitlines():
        words = re.findall(r"[a-z]+", line.lower())
        if words:
            sentences.append(words)
            total += len(words)
        if total >= max_words:
            break
    return sentences


class WordVectors:
    """Word vectors for the projector: a word2vec file (``--vectors``, text or binary) or a tiny trained set.

    Without a file, word2vec (skip-gram, 32 dimensions) trains at first use on Genesis and Exodus of
    the King James Bible when Debian's ``bible-kjv`` is installed, else on ``generated_corpus`` —
    at most ``max_words`` words, a few seconds.
    """

    def __init__(self, path=None, max_words: int = 80_000):
        self.path, self.max_words = path, max_words
        self._kv, self.source, self._lock = None, None, threading.Lock()

    def vectors(self):
        """The ``KeyedVectors``, loaded or trained on the first call."""
        with self._lock:
            if self._kv is None:
                self._kv = self._load() if self.path else self._train()
            return self._kv

    def _load(self):
        from ember.text.word2vec import KeyedVectors

        path = Path(self.path)
        if not path.is_file():
            raise RequestError(f"embeddings: no word-vector file at {path}", 404)
        try:
            kv = KeyedVectors.load_word2vec_format(path, binary=False)
        except (UnicodeDecodeError, ValueError, IndexError):
            kv = KeyedVectors.load_word2vec_format(path, binary=True)
        self.source = f"{path.name} ({len(kv)} words, {kv.vector_size} dimensions)"
        return kv

    def _train(self):
        from ember.text.word2vec import Word2Vec

        corpus = _kjv_corpus(self.max_words)
        name = "Genesis and Exodus (King James Bible)"
        if corpus is None:
            corpus, name = generated_corpus(), "a small generated corpus"
        model = Word2Vec(corpus, vector_size=32, window=4, min_count=5, sg=1, epochs=10, batch_words=500, alpha=0.05,
                         seed=1)
        self.source = f"word2vec trained here on {name}: {len(model.wv)} words, 32 dimensions"
        return model.wv

    def _word(self, kv, word) -> str:
        if word in kv:
            return word
        if word.lower() in kv:
            return word.lower()
        raise RequestError(f"embeddings: {word!r} is not in the vocabulary of {len(kv)} words")

    def projection(self, count: int, dims: int) -> dict:
        """The ``count`` most frequent words (stop words skipped) and their PCA coordinates in ``dims`` (2 or 3)."""
        from ember.viz.embeddings import pca_2d

        kv = self.vectors()
        keys = [k for k in kv.index_to_key if k.lower() not in _STOPWORDS][:count]
        if len(keys) < 3:
            raise RequestError("embeddings: fewer than three words to project")
        X = kv[keys].astype(np.float64)
        points = pca_2d(X) if dims == 2 else _pca(X, 3)
        # a few outlying words would squeeze the rest into a dot: scale to the 95th percentile, clip beyond
        points = np.clip(points / max(np.quantile(np.abs(points), 0.95), 1e-12), -1.15, 1.15)
        return {"words": keys, "points": np.round(points, 4).tolist(), "dims": dims, "source": self.source,
                "vocab_size": len(kv)}

    def neighbours(self, word: str, topn: int) -> dict:
        """The ``topn`` nearest words in cosine similarity."""
        kv = self.vectors()
        word = self._word(kv, word)
        return {"word": word, "neighbours": [[w, round(s, 4)] for w, s in kv.most_similar(word, topn=topn)]}

    def analogy(self, a: str, b: str, c: str, topn: int) -> dict:
        """a − b + c: the words nearest to unit(a) − unit(b) + unit(c), the three excluded (king − man + woman)."""
        kv = self.vectors()
        a, b, c = (self._word(kv, w) for w in (a, b, c))
        result = kv.most_similar(positive=[a, c], negative=[b], topn=topn)
        return {"query": [a, b, c], "results": [[w, round(s, 4)] for w, s in result]}


def _pca(X: np.ndarray, k: int) -> np.ndarray:
    """Coordinates of the centred rows of X on their first k principal axes (signs fixed as ``pca_2d``)."""
    X = X - X.mean(axis=0)
    _, _, Vt = np.linalg.svd(X, full_matrices=False)
    axes = Vt[:k].T
    axes = np.pad(axes, ((0, 0), (0, k - axes.shape[1])))
    axes = axes * np.sign(axes[np.abs(axes).argmax(axis=0), np.arange(k)] + 1e-300)
    return X @ axes


# -- the date translator's attention ---------------------------------------------------------------------


class DateModel:
    """The date translator for the attention page: ``--dates-model DIR``, else a quick-trained one.

    ``quick_train`` trains a small translator (hidden 48, ≤ 20,000 pairs, ≤ 5 epochs) in a background
    thread and saves it under ``cache_dir``; a translator quick-trained before is found there.
    """

    HOW_TO = ("no date translator is loaded: train one with 'ember translate-dates --out DIR' and start "
              "'ember playground --dates-model DIR', or quick-train a small one on this page")

    def __init__(self, path=None, cache_dir=None):
        self.path, self.cache_dir = path, cache_dir
        self._translator, self._lock = None, threading.Lock()
        self.training, self.message = False, None
        self._thread = None

    def _quick_dir(self):
        return Path(self.cache_dir) / "dates-quick" if self.cache_dir else None

    def translator(self):
        """The loaded translator, or None (with ``message`` saying why)."""
        from ember.apps.date_translator import DateTranslator

        with self._lock:
            if self._translator is None and not self.training:
                for directory in filter(None, (self.path, self._quick_dir())):
                    try:
                        self._translator = DateTranslator.load(directory)
                        self.message = f"loaded from {Path(directory).name}"
                        break
                    except (FileNotFoundError, ValueError, KeyError, OSError) as error:
                        self.message = f"{error}" if directory == self.path else self.message
            return self._translator

    def status(self) -> dict:
        """{'ready', 'training', 'message'} for the page."""
        ready = self.translator() is not None
        return {"ready": ready, "training": self.training,
                "message": self.message if ready or self.training else (self.message or self.HOW_TO)}

    def quick_train(self, train_size: int, epochs: int) -> None:
        """Start training a small translator in the background; RequestError 409 when one is training."""
        from ember.apps import date_translator

        try:
            import babel  # noqa: F401 - the date generator needs both
            import faker  # noqa: F401
        except ImportError:
            raise RequestError("dates: quick training needs faker and babel: pip install 'ember[dates]'", 501) from None
        with self._lock:
            if self.training:
                raise RequestError("dates: a translator is already training", 409)
            self.training, self.message = True, f"training on {train_size} dates for {epochs} epoch(s)…"
        out = self._quick_dir() or Path(".") / "runs" / "playground-dates"

        def work():
            try:
                date_translator.run(out=out, train_size=train_size, test_size=200, epochs=epochs, hidden_size=48,
                                    embed_dim=24, log=None)
                translator = date_translator.DateTranslator.load(out)
                with self._lock:
                    self._translator, self.message = translator, f"quick-trained on {train_size} dates"
            except Exception as error:  # noqa: BLE001 - reported on the page
                with self._lock:
                    self.message = f"quick training failed: {type(error).__name__}: {error}"
            finally:
                self.training = False

        self._thread = threading.Thread(target=work, name="playground-dates", daemon=True)
        self._thread.start()

    def translate(self, text: str) -> dict:
        """The ISO output and the attention weights (output steps incl. <eos> × input characters)."""
        translator = self.translator()
        if translator is None:
            raise RequestError(self.message if self.training else self.HOW_TO, 409)
        text = text.strip()  # as the translator reads it: the attention columns are its characters
        with self._lock:  # one decode at a time: the model is shared
            outputs, attention = translator.decode([text])
        weights = np.asarray(attention[0], dtype=np.float64)
        rows = list(outputs[0]) + ["<eos>"]  # the decoder stops on <eos> or after 11 steps
        return {"text": text, "output": outputs[0], "input_chars": list(text), "output_chars": rows[:len(weights)],
                "attention": np.round(weights, 4).tolist()}


# -- a character GPT's self-attention ---------------------------------------------------------------------

GPT_SIZES = {"n_layer": 2, "n_head": 4, "n_embd": 64, "block_size": 64}
"""The character GPT of the attention page: small enough to train here in seconds."""

_GPT_PASSAGE = (
    "In the beginning God created the heaven and the earth. And the earth was without form, and void; and "
    "darkness was upon the face of the deep. And the Spirit of God moved upon the face of the waters. And God "
    "said, Let there be light: and there was light. And God saw the light, that it was good: and God divided "
    "the light from the darkness. And God called the light Day, and the darkness he called Night. And the "
    "evening and the morning were the first day.")
"""Genesis 1:1-5 (King James Bible): the training text when Debian's ``bible-kjv`` is not installed."""


def gpt_text() -> tuple[str, str]:
    """(text, its name): Genesis 1-3 of the King James Bible, else the built-in passage; whitespace as spaces
    so that every character of the vocabulary can be typed in a one-line field."""
    from ember.data.datasets.text import bible_kjv

    try:
        return " ".join(bible_kjv(reference="gen1:1-gen3:24", timeout=30).split()), "Genesis 1-3 (King James Bible)"
    except (FileNotFoundError, RuntimeError, OSError):
        return _GPT_PASSAGE, "Genesis 1:1-5 (King James Bible, built in)"


def gpt_attention_maps(model, idx) -> np.ndarray:
    """(layers, heads, T, T): every block's causal softmax weights for the tokens ``idx`` (1, T).

    Each block's ``c_attn`` projection of ln_1(x) gives Q, K, V per head; the weights are
    softmax(Q Kᵀ / √d + causal mask) row by row (query t over keys s ≤ t), the ones
    ``F.scaled_dot_product_attention`` applies inside the block; x then goes through the whole block.
    """
    import math

    from ember.nn import functional as F

    _, T = idx.shape
    mask = nn.Transformer.generate_square_subsequent_mask(T)  # −inf above the diagonal: no look ahead
    with no_grad():
        x = model.transformer.wte(idx) + model.transformer.wpe(em.arange(T))
        maps = []
        for block in model.transformer.h:
            attn = block.attn
            q, k, _ = (t.view(1, T, attn.n_head, -1).transpose(1, 2)  # (1, heads, T, E/heads)
                       for t in attn.c_attn(block.ln_1(x)).split(attn.n_embd, dim=2))
            maps.append(F.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]) + mask, dim=-1).array[0])
            x = block(x)
    return np.stack([np.asarray(m, dtype=np.float64) for m in maps])


class GPTModel:
    """A character GPT (``GPT_SIZES``) for the attention page, trained here in the background on ``gpt_text``.

    ``train(steps)`` runs AdamW (3e-3, batch 16 windows of ``block_size``) in a thread and caches the
    weights (``gpt-chars.safetensors``, an ``ember.save`` of the state dict) and the vocabulary
    (``gpt-chars.json``) under ``cache_dir``, where a later start finds them. 300 steps take ~10 s.
    """

    NAME = "gpt-chars"

    def __init__(self, cache_dir=None):
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self._model, self.vocab, self._lock = None, None, threading.Lock()
        self.training, self.message, self._thread = False, None, None

    def _files(self):
        return (self.cache_dir / f"{self.NAME}.safetensors", self.cache_dir / f"{self.NAME}.json") \
            if self.cache_dir else (None, None)

    def model(self):
        """The trained GPT, or None; loads a cached one on the first call."""
        import json

        from ember.models.gpt import GPT

        weights, meta = self._files()
        with self._lock:
            if self._model is None and not self.training and meta is not None and meta.is_file():
                try:
                    info = json.loads(meta.read_text())
                    model = GPT(len(info["vocab"]), **info["sizes"])
                    model.load_state_dict(em.load(weights))
                    self._model, self.vocab = model.eval(), info["vocab"]
                    self.message = f"loaded from the cache: {info['message']}"
                except (OSError, ValueError, KeyError, TypeError, RuntimeError) as error:
                    self.message = f"the cached GPT could not be loaded ({type(error).__name__}: {error}); train one"
            return self._model

    def status(self) -> dict:
        """{'ready', 'training', 'message', 'vocab', 'block_size', 'layers', 'heads'} for the page."""
        ready = self.model() is not None
        message = self.message if ready or self.training else (self.message or "no GPT yet: train one on this page")
        return {"ready": ready, "training": self.training, "message": message, "vocab": self.vocab if ready else None,
                "block_size": GPT_SIZES["block_size"], "layers": GPT_SIZES["n_layer"], "heads": GPT_SIZES["n_head"]}

    def train(self, steps: int, seed: int = 0) -> None:
        """Start training in the background; RequestError 409 when one is already training."""
        with self._lock:
            if self.training:
                raise RequestError("gpt: a GPT is already training", 409)
            self.training, self.message = True, f"training for {steps} steps…"
        self._thread = threading.Thread(target=self._work, args=(steps, seed), name="playground-gpt", daemon=True)
        self._thread.start()

    def _work(self, steps: int, seed: int) -> None:
        try:
            model, vocab, message = _train_gpt(steps, seed, self._progress)
            self._cache(model, vocab, message)
            with self._lock:
                self._model, self.vocab, self.message = model.eval(), vocab, message
        except Exception as error:  # noqa: BLE001 - reported on the page
            with self._lock:
                self.message = f"training failed: {type(error).__name__}: {error}"
        finally:
            self.training = False

    def _progress(self, step: int, steps: int, loss: float) -> None:
        self.message = f"training: step {step} of {steps}, loss {loss:.3f}…"

    def _cache(self, model, vocab: str, message: str) -> None:
        import json

        weights, meta = self._files()
        if weights is None:
            return
        weights.parent.mkdir(parents=True, exist_ok=True)
        em.save(model.state_dict(), weights)
        meta.write_text(json.dumps({"vocab": vocab, "sizes": GPT_SIZES, "message": message}))  # last: marks it whole

    def attention(self, text: str) -> dict:
        """The characters of ``text`` and every layer's and head's attention weights over them (rounded)."""
        model = self.model()
        if model is None:
            raise RequestError(self.message if self.training else "gpt: no GPT yet; train one first", 409)
        block = model.config.block_size
        if len(text) > block:
            raise RequestError(f"gpt/attention: 'text' has {len(text)} characters; at most {block} (the block size)")
        unknown = sorted(set(text) - set(self.vocab))
        if unknown:
            raise RequestError(f"gpt/attention: characters not in the vocabulary: {' '.join(map(repr, unknown))}; "
                               f"use only {self.vocab!r}")
        stoi = {c: i for i, c in enumerate(self.vocab)}
        weights = gpt_attention_maps(model, Tensor(np.array([[stoi[c] for c in text]], dtype=np.int64)))
        return {"tokens": list(text), "weights": np.round(weights, 4).tolist(), "layers": int(weights.shape[0]),
                "heads": int(weights.shape[1])}


def _train_gpt(steps: int, seed: int, progress) -> tuple:
    """A GPT (``GPT_SIZES``) trained for ``steps`` AdamW steps on ``gpt_text``; (model, vocabulary, a summary)."""
    from ember.models.gpt import GPT
    from ember.optim import AdamW

    text, name = gpt_text()
    vocab = "".join(sorted(set(text)))
    stoi = {c: i for i, c in enumerate(vocab)}
    data = np.array([stoi[c] for c in text], dtype=np.int64)
    block = GPT_SIZES["block_size"]
    em.manual_seed(seed)
    model = GPT(len(vocab), **GPT_SIZES)
    optimizer, rng = AdamW(model.parameters(), lr=3e-3, weight_decay=0.0), np.random.default_rng(seed)
    model.train()
    for step in range(1, steps + 1):
        windows = data[rng.integers(0, len(data) - block - 1, 16)[:, None] + np.arange(block + 1)]
        _, loss = model(Tensor(windows[:, :-1]), Tensor(windows[:, 1:]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 10 == 0 or step == steps:
            progress(step, steps, float(loss.item()))
    return model, vocab, f"{steps} steps on {name} ({len(text)} characters), final loss {float(loss.item()):.3f}"
