"""MNIST and Fashion-MNIST from their IDX files, and a reader for the IDX format itself.

IDX (the format MNIST is distributed in): a 4-byte magic number ``00 00 TT DD`` — ``TT``
the element type, ``DD`` the number of dimensions — then ``DD`` sizes as big-endian
uint32, then the elements, big-endian, in C order. Files may be gzip-compressed.
"""
from __future__ import annotations

import gzip
import math
import zlib
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
# The largest payload read_idx accepts. A header is only a claim: without a ceiling, a small gzip
# file could declare (and inflate to) any size. The biggest IDX datasets (EMNIST) hold about 0.55 GB.
MAX_IDX_BYTES = 1 << 31
CHUNK = 1 << 24  # read in pieces: memory grows with the bytes actually there, never ahead of a claim


def _is_gzip(path: Path) -> bool:
    if not path.is_file():
        raise FileNotFoundError(f"read_idx: no such file: {path}")
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"  # gzip by content, not by name


def _read_header(f, path: Path) -> tuple[np.dtype, tuple[int, ...]]:
    """The element type and shape from the magic number and the sizes that follow it."""
    magic = f.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0:
        raise ValueError(f"read_idx: {path} is not an IDX file (its magic number must start with two zero bytes)")
    code, ndim = magic[2], magic[3]
    if code not in IDX_DTYPES:
        raise ValueError(f"read_idx: {path} has unknown element type 0x{code:02X}; "
                         f"expected one of {', '.join(f'0x{c:02X}' for c in IDX_DTYPES)}")
    sizes = f.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise ValueError(f"read_idx: {path} is truncated: its header needs {4 + 4 * ndim} bytes, "
                         f"the file has {4 + len(sizes)}")
    return IDX_DTYPES[code], tuple(int(d) for d in np.frombuffer(sizes, dtype=">u4"))


def _check_declared_size(path: Path, dtype: np.dtype, shape: tuple[int, ...], gzipped: bool) -> int:
    """The payload's size in bytes, checked to be under ``MAX_IDX_BYTES`` and, for a raw file, the file's own."""
    # Python integers, because fixed-width products of four uint32 sizes wrap (65536**4 is 0 mod 2**64);
    # empty dimensions count as one, as NumPy refuses a shape past its limits even when it holds nothing.
    span = math.prod(max(d, 1) for d in shape) * dtype.itemsize
    file_size = path.stat().st_size
    if span > MAX_IDX_BYTES:
        raise ValueError(f"read_idx: {path} declares shape {shape} of {dtype.name}, {span} bytes, more than "
                         f"MAX_IDX_BYTES = {MAX_IDX_BYTES}; the file is {file_size} bytes"
                         f"{' (gzip-compressed)' if gzipped else ''}")
    nbytes = math.prod(shape) * dtype.itemsize
    if not gzipped and file_size != 4 + 4 * len(shape) + nbytes:
        raise _size_mismatch(path, dtype, shape, str(file_size))
    return nbytes


def _size_mismatch(path: Path, dtype: np.dtype, shape: tuple[int, ...], held: str) -> ValueError:
    required = 4 + 4 * len(shape) + math.prod(shape) * dtype.itemsize
    return ValueError(f"read_idx: {path} holds {held} bytes but its header (shape {shape}, "
                     f"dtype {dtype.name}) requires {required}")


def _read_payload(f, path: Path, dtype: np.dtype, shape: tuple[int, ...], nbytes: int) -> bytes:
    """Exactly ``nbytes`` more bytes of ``f``, which must then end."""
    chunks, got = [], 0
    while got < nbytes:
        chunk = f.read(min(CHUNK, nbytes - got))
        if not chunk:
            raise _size_mismatch(path, dtype, shape, str(4 + 4 * len(shape) + got))
        chunks.append(chunk)
        got += len(chunk)
    if f.read(1):  # more follows: say so without inflating the rest
        raise _size_mismatch(path, dtype, shape, f"more than {4 + 4 * len(shape) + nbytes}")
    return b"".join(chunks)


def read_idx(path) -> np.ndarray:
    """The array stored in the IDX file ``path`` (raw or gzip-compressed), in native byte order.

    Element types: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64.
    The file is streamed, its header checked before the elements are read: a declared shape
    over ``MAX_IDX_BYTES`` (2 GiB), contents longer or shorter than the shape declares, or a
    damaged gzip stream raise ValueError naming the file, having read no more than was declared.

    >>> images = read_idx("data/train-images-idx3-ubyte.gz")  # doctest: +SKIP
    >>> images.shape, images.dtype  # doctest: +SKIP
    ((60000, 28, 28), dtype('uint8'))
    """
    path = Path(path)
    gzipped = _is_gzip(path)
    try:
        with gzip.open(path, "rb") if gzipped else open(path, "rb") as f:
            dtype, shape = _read_header(f, path)
            payload = _read_payload(f, path, dtype, shape, _check_declared_size(path, dtype, shape, gzipped))
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise ValueError(f"read_idx: {path} is a damaged gzip file: {e}") from e
    data = np.frombuffer(payload, dtype=dtype).reshape(shape)
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
