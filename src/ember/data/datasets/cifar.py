"""CIFAR-10 from its binary version (``cifar-10-binary.tar.gz``).

Each batch file is a sequence of 3073-byte records: one label byte (0–9), then the
32×32 image as 1024 red, 1024 green and 1024 blue bytes, rows in order — already the
CHW layout. Training data is ``data_batch_1.bin`` … ``data_batch_5.bin`` (50000 images),
test data ``test_batch.bin`` (10000).
"""
from __future__ import annotations

import gzip
import tarfile
import zlib
from pathlib import Path

import numpy as np

from ember.data.dataset import TensorDataset
from ember.data.datasets.fetch import locate, missing_file

__all__ = ["CIFAR10_CLASSES", "cifar10", "parse_cifar_batch"]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
FOLDER = "cifar-10-batches-bin"
ARCHIVE = "cifar-10-binary.tar.gz"
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILES = ("test_batch.bin",)
RECORD = 1 + 3 * 32 * 32
BATCH_RECORDS = 10000  # every CIFAR-10 batch file holds this many; a larger one is refused unread


def parse_cifar_batch(raw: bytes, name: str = "<bytes>") -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 (N, 3, 32, 32) and labels int64 (N,) from the bytes of one batch file.

    >>> record = bytes([3]) + bytes(3072)
    >>> images, labels = parse_cifar_batch(record * 2)
    >>> images.shape, labels.tolist()
    ((2, 3, 32, 32), [3, 3])
    """
    if len(raw) % RECORD:
        raise ValueError(f"cifar10: {name} has {len(raw)} bytes, not a whole number of {RECORD}-byte records")
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.size and labels.max() > 9:
        raise ValueError(f"cifar10: {name} holds label {labels.max()}, outside 0–9 (is this the CIFAR-100 file?)")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


def _check_batch_size(name: str, size: int) -> None:
    """Refuse, before reading a byte of it, a batch whose size no CIFAR-10 batch has."""
    if size % RECORD or size > BATCH_RECORDS * RECORD:
        raise ValueError(f"cifar10: {name} is {size} bytes; a batch file holds whole {RECORD}-byte records, "
                         f"at most {BATCH_RECORDS} of them ({BATCH_RECORDS * RECORD} bytes)")


def _read_file(path: Path) -> bytes:
    _check_batch_size(str(path), path.stat().st_size)
    return path.read_bytes()


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo, name: str) -> bytes:
    # A tar header's size is only a claim: check it before reading. Members are read into memory,
    # never extracted, so a hostile name cannot write outside the dataset folder.
    if not member.isfile():
        raise ValueError(f"cifar10: {name} is not a regular file in the archive")
    _check_batch_size(name, member.size)
    return tar.extractfile(member).read()


def _from_archive(archive: Path, names) -> list[bytes]:
    """The bytes of the batches ``names``, in one pass over the compressed archive."""
    wanted = {f"{FOLDER}/{name}": None for name in names}
    try:
        with tarfile.open(archive, "r|gz") as tar:  # a stream: members in order, no seeking back
            for member in tar:
                if member.name in wanted:
                    wanted[member.name] = _read_member(tar, member, f"{archive}:{member.name}")
                if all(raw is not None for raw in wanted.values()):
                    break
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise ValueError(f"cifar10: {archive} is not a readable .tar.gz archive ({e})") from e
    missing = [name for name, raw in wanted.items() if raw is None]
    if missing:
        raise FileNotFoundError(f"cifar10: archive {archive} has no member {missing[0]}")
    return list(wanted.values())


def _read_batches(root: Path, names, download: bool) -> list[tuple[str, bytes]]:
    """The bytes of each batch file: from ``root/cifar-10-batches-bin``, ``root`` or the archive."""
    for folder in (root / FOLDER, root):
        paths = [folder / n for n in names]
        if all(p.is_file() for p in paths):
            return [(str(p), _read_file(p)) for p in paths]
    archive = locate([root / ARCHIVE], CIFAR10_URL, root / ARCHIVE, download)
    if archive is not None:
        return list(zip((f"{archive}:{n}" for n in names), _from_archive(archive, names), strict=True))
    folder = root / FOLDER if (root / FOLDER).is_dir() else root
    missing = [folder / n for n in names if not (folder / n).is_file()]
    more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
    raise missing_file("cifar10", f"{missing[0]}{more}", [root / FOLDER, root, root / ARCHIVE], CIFAR10_URL, root)


def cifar10(root, train=True, download=False) -> TensorDataset:
    """CIFAR-10 as a ``TensorDataset`` of images float32 in [0, 1] (N, 3, 32, 32) and labels int64.

    Reads the binary batches from ``root/cifar-10-batches-bin`` (the archive's own folder),
    from ``root`` itself, or straight out of ``root/cifar-10-binary.tar.gz``. Nothing is
    downloaded unless ``download=True``; a missing file raises FileNotFoundError naming it.
    A batch file of a size no CIFAR-10 batch has (a whole number of 3073-byte records, at most
    10000) or a damaged archive raises ValueError naming it, before the batch is read.
    Class names are in ``CIFAR10_CLASSES``.

    >>> train_set = cifar10("~/data/cifar10", train=True)  # doctest: +SKIP
    >>> len(train_set)  # doctest: +SKIP
    50000
    """
    root = Path(root).expanduser()
    parts = [parse_cifar_batch(raw, name) for name, raw in _read_batches(root, TRAIN_FILES if train else TEST_FILES,
                                                                         download)]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    return TensorDataset((images / np.float32(255)).astype(np.float32, copy=False), labels)
