"""The images of the convolution page: bundled samples and uploads, decoded to grey and bounded in size.

An upload (a data URL or plain base64 of a PNG, JPEG, GIF, BMP or WebP) is checked against
``MAX_UPLOAD_BYTES``, its header against ``MAX_PIXELS``, then decoded to grey float64 in [0, 1]
and shrunk to at most ``MAX_SIDE`` pixels a side. ``ImageStore`` holds the samples (two
generated pictures and the photos matplotlib and scikit-learn ship) and the latest uploads.

>>> store = ImageStore()
>>> store.get("shapes").shape
(160, 160)
"""
from __future__ import annotations

import base64
import binascii
import io
import secrets
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ember.playground.validation import RequestError

__all__ = ["MAX_PIXELS", "MAX_SIDE", "MAX_UPLOAD_BYTES", "ImageStore", "decode_image"]

MAX_SIDE, MAX_UPLOAD_BYTES = 256, 2 * 1024 * 1024
# NOTE: decoding costs up to 4 bytes a pixel before the image is shrunk to MAX_SIDE; 4096 × 4096 keeps
# that near 64 MB a request (JPEGs count after the decoder's own 1/8 scaling, so larger photos pass).
MAX_PIXELS = 4096 * 4096
_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")  # Pillow tries only these parsers on an upload


# -- samples ----------------------------------------------------------------------------------------

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


# -- decoding ---------------------------------------------------------------------------------------


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


# -- the store ------------------------------------------------------------------------------------


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

