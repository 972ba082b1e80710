"""MNIST and Fashion-MNIST from their IDX files, and a reader for the IDX format itself.

IDX (the format MNIST is distributed in): a 4-byte magic number ``00 00 TT DD`` — ``TT``
the element type, ``DD`` the number of dimensions — then ``DD`` sizes as big-endian
uint32, then the elements, big-endian, in C order. Files may be gzip-compressed.
"""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from ember.data.dataset import TensorDataset
from ember.data.datasets.fetch import locate, missing_file

__all__ = ["fashion_mnist", "mnist", "read_idx"]

# The element-type byte of the magic number → big-endian NumPy dtype.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

MNIST_FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# Where the files can be fetched from; also the torchvision folder names they may sit in.
MIRRORS = {
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/", "MNIST"),
    "fashion": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/", "FashionMNIST"),
}


# -- the IDX format --------------------------------------------------------------------
def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise FileNotFoundError(f"read_idx: no such file: {path}")
    with open(path, "rb") as f:
        raw = f.read()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw  # gzip by content, not by name


def read_idx(path) -> np.ndarray:
    """The array stored in the IDX file ``path`` (raw or gzip-compressed), in native byte order.

    Element types: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64.

    >>> images = read_idx("data/train-images-idx3-ubyte.gz")  # doctest: +SKIP
    >>> images.shape, images.dtype  # doctest: +SKIP
    ((60000, 28, 28), dtype('uint8'))
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"read_idx: {path} is not an IDX file (its magic number must start with two zero bytes)")
    code, ndim = raw[2], raw[3]
    if code not in IDX_DTYPES:
        raise ValueError(f"read_idx: {path} has unknown element type 0x{code:02X}; "
                         f"expected one of {', '.join(f'0x{c:02X}' for c in IDX_DTYPES)}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"read_idx: {path} is truncated: its header needs {header} bytes, the file has {len(raw)}")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"read_idx: {path} holds {len(raw)} bytes but its header (shape {shape}, "
                         f"dtype {dtype.name}) requires {expected}")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # a native-order, writable copy


# -- MNIST and Fashion-MNIST ------------------------------------------------------------
def _candidates(root: Path, name: str, kind: str) -> list[Path]:
    """Where a file may be: in ``root`` itself, or in torchvision's ``root/MNIST/raw`` layout."""
    folders = [root, root / MIRRORS[kind][1] / "raw"]
    return [folder / (name + ext) for folder in folders for ext in ("", ".gz")]


def _find(root: Path, name: str, kind: str, download: bool) -> Path:
    """The file's path; with ``download`` a missing one is fetched as ``root/name.gz``."""
    candidates = _candidates(root, name, kind)
    url = MIRRORS[kind][0] + name + ".gz"
    path = locate(candidates, url, candidates[1], download)
    if path is None:
        raise missing_file(kind, f"{candidates[0]} (or {candidates[1].name})", candidates, url, root)
    return path


def mnist(root, train=True, kind="mnist", download=False) -> TensorDataset:
    """MNIST (or Fashion-MNIST with ``kind='fashion'``) from the IDX files in ``root``.

    Returns a ``TensorDataset`` of images float32 in [0, 1] (pixel / 255), shape
    (N, 1, 28, 28), and labels int64 in 0–9; N is 60000 for ``train=True``, 10000 otherwise.
    The files keep their distributed names — ``train-images-idx3-ubyte``,
    ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` —
    raw or with ``.gz``, in ``root`` or in torchvision's ``root/MNIST/raw``
    (``root/FashionMNIST/raw``). Nothing is downloaded unless ``download=True``; a missing
    file raises FileNotFoundError naming it and where to get it.

    >>> train_set = mnist("~/data/mnist", train=True)  # doctest: +SKIP
    >>> test_set = mnist("~/data/fashion", train=False, kind="fashion")  # doctest: +SKIP
    """
    if kind not in MIRRORS:
        raise ValueError(f"mnist: kind must be one of {sorted(MIRRORS)}, got {kind!r}")
    root = Path(root).expanduser()
    image_name, label_name = MNIST_FILES[bool(train)]
    images = read_idx(_find(root, image_name, kind, download))
    labels = read_idx(_find(root, label_name, kind, download))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{kind}: expected images (N, H, W) and labels (N,), got {images.shape} and {labels.shape}")
    return TensorDataset((images[:, None] / np.float32(255)).astype(np.float32, copy=False), labels.astype(np.int64))


def fashion_mnist(root, train=True, download=False) -> TensorDataset:
    """Fashion-MNIST: ``mnist(root, train, kind='fashion')`` (same files, names and layout)."""
    return mnist(root, train=train, kind="fashion", download=download)
