"""Hostile dataset files: IDX and CIFAR-10 readers refuse them quickly, with bounded memory and clear errors."""
import contextlib
import gzip
import io
import re
import tarfile
import tracemalloc
import zlib

import numpy as np
import pytest

from ember.data.datasets import cifar, cifar10, read_idx

MiB = 1 << 20


@contextlib.contextmanager
def _peak_memory_below(limit):
    """Fail when the body's traced allocations (Python and NumPy) ever reach ``limit`` bytes."""
    tracemalloc.start()
    try:
        yield
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < limit, f"peak traced memory {peak} bytes, expected under {limit}"


def _idx_header(shape, code=0x08):
    return bytes([0, 0, code, len(shape)]) + np.array(shape, dtype=">u4").tobytes()


def _gzip_of_zeros(head, n_zeros):
    """A gzip stream of ``head`` then ``n_zeros`` zero bytes, compressed about a thousand to one."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: the gzip container
    parts = [z.compress(head)] + [z.compress(bytes(MiB)) for _ in range(n_zeros // MiB)]
    return b"".join(parts + [z.flush()])


# -- IDX ---------------------------------------------------------------------------------
def test_read_idx_refuses_a_declared_size_past_the_limit_before_decompressing(tmp_path):
    # 64 MiB of real zeros behind a header that claims 4 GiB: the payload is never inflated.
    path = tmp_path / "claims-4gib.idx.gz"
    path.write_bytes(_gzip_of_zeros(_idx_header((65536, 65536)), 64 * MiB))
    with _peak_memory_below(8 * MiB), pytest.raises(ValueError) as err:
        read_idx(path)
    message = str(err.value)
    assert str(path) in message and "(65536, 65536)" in message and str(1 << 32) in message
    assert str(path.stat().st_size) in message  # the file's real (compressed) size


def test_read_idx_stops_reading_a_stream_longer_than_declared(tmp_path):
    # A header for 10 bytes followed by 64 MiB of zeros: reading stops just past byte 10.
    path = tmp_path / "long.idx.gz"
    path.write_bytes(_gzip_of_zeros(_idx_header((10,)) + bytes(10), 64 * MiB))
    with _peak_memory_below(8 * MiB), pytest.raises(ValueError, match=r"more than 18 bytes .* requires 18") as err:
        read_idx(path)
    assert str(path) in str(err.value) and "(10,)" in str(err.value)


@pytest.mark.parametrize("shape", [(2**32 - 1,) * 4, (65536,) * 4], ids=["max-dims", "product-wraps-to-zero"])
def test_read_idx_dimension_products_do_not_overflow(tmp_path, shape):
    # (2**16)**4 is 0 modulo 2**64: a fixed-width product would expect a header-only file and accept this one.
    path = tmp_path / "huge-dims.idx"
    path.write_bytes(_idx_header(shape))
    with pytest.raises(ValueError) as err:
        read_idx(path)
    message = str(err.value)
    assert str(path) in message and str(shape) in message and str(np.prod(shape, dtype=object)) in message


@pytest.mark.parametrize("damage", ["truncated", "bad-crc", "garbage"])
def test_read_idx_damaged_gzip_names_the_file(tmp_path, damage):
    packed = gzip.compress(_idx_header((4, 100)) + bytes(range(200)) * 2)
    if damage == "truncated":
        packed = packed[: len(packed) // 2]
    elif damage == "bad-crc":
        packed = packed[:-8] + bytes(4) + packed[-4:]  # the trailer is CRC-32 then the length
    else:
        packed = packed[:10] + b"\xff" * (len(packed) - 10)
    path = tmp_path / f"{damage}.idx.gz"
    path.write_bytes(packed)
    with pytest.raises(ValueError, match=re.escape(str(path))):
        read_idx(path)


# -- CIFAR-10 ----------------------------------------------------------------------------
def _archive(path, members):
    """A ``.tar.gz`` at ``path`` from (TarInfo, bytes) pairs; a TarInfo may declare more than its data."""
    raw = b"".join(info.tobuf() + data + bytes(-len(data) % 512) for info, data in members)
    path.write_bytes(gzip.compress(raw + bytes(1024)))  # two zero blocks end a tar archive
    return path


def _member(name, size, data=b""):
    info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
    info.size = size
    return info, data


def test_cifar10_refuses_a_member_declaring_a_huge_size(tmp_path):
    archive = _archive(tmp_path / "cifar-10-binary.tar.gz", [_member("test_batch.bin", 1 << 32, bytes(512))])
    with pytest.raises(ValueError) as err:
        cifar10(tmp_path, train=False)
    message = str(err.value)
    assert f"{archive}:cifar-10-batches-bin/test_batch.bin" in message
    assert str(1 << 32) in message and str(10000 * cifar.RECORD) in message


def test_cifar10_refuses_a_member_larger_than_a_batch_before_reading_it(tmp_path):
    size = 10001 * cifar.RECORD  # whole records, but one more than any CIFAR-10 batch holds
    info, _ = _member("test_batch.bin", size)
    with tarfile.open(tmp_path / "cifar-10-binary.tar.gz", "w:gz", compresslevel=1) as tar:
        tar.addfile(info, io.BytesIO(bytes(size)))
    with _peak_memory_below(8 * MiB), pytest.raises(ValueError, match=f"{size} bytes"):
        cifar10(tmp_path, train=False)


def test_cifar10_refuses_a_loose_batch_file_of_the_wrong_size(tmp_path):
    path = tmp_path / "test_batch.bin"
    with open(path, "wb") as f:
        f.truncate(10001 * cifar.RECORD)  # sparse: no disk space used
    with _peak_memory_below(8 * MiB), pytest.raises(ValueError, match=re.escape(str(path))):
        cifar10(tmp_path, train=False)


def test_cifar10_damaged_archive_names_the_file(tmp_path):
    archive = _archive(tmp_path / "cifar-10-binary.tar.gz", [_member("test_batch.bin", 2 * cifar.RECORD,
                                                                     bytes(2 * cifar.RECORD))])
    archive.write_bytes(archive.read_bytes()[:-20])
    with pytest.raises(ValueError, match=re.escape(str(archive))):
        cifar10(tmp_path, train=False)
