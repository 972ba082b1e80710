"""Dataset loaders: digits, MNIST-1D, IDX (MNIST) and CIFAR-10 binary files written by the tests."""
import gzip
import importlib
import io
import random
import sys
import tarfile

import numpy as np
import pytest
import torch

from ember.data.datasets import cifar, cifar10, fashion_mnist, idx, mnist, parse_cifar_batch, read_idx, resize_bilinear

# The package exports the functions digits() and mnist1d() under their modules' names.
digits = importlib.import_module("ember.data.datasets.digits")
mnist1d = importlib.import_module("ember.data.datasets.mnist1d")


# -- digits ----------------------------------------------------------------------------
def test_digits_shapes_dtypes_and_ranges():
    X, y = (t.numpy() for t in digits.digits().tensors)
    assert X.shape == (1797, 1, 8, 8) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_array_equal(X * 16, np.round(X * 16))  # the original levels 0..16, divided by 16
    assert sorted(np.unique(y).tolist()) == list(range(10))


def test_digits_split_is_deterministic_disjoint_complete_and_stratified():
    labels = digits._load()[1]
    train, test = digits._stratified_split(labels, 0.2, 0)
    assert len(train) == 1438 and len(test) == 359
    assert np.intersect1d(train, test).size == 0
    np.testing.assert_array_equal(np.union1d(train, test), np.arange(1797))
    per_class = np.bincount(labels[test], minlength=10) / np.bincount(labels, minlength=10)
    assert np.all(np.abs(per_class - 0.2) < 0.01)
    again = digits._stratified_split(labels, 0.2, 0)[1]
    np.testing.assert_array_equal(test, again)
    assert not np.array_equal(test, digits._stratified_split(labels, 0.2, 1)[1])
    X_all = digits.digits().tensors[0].numpy()
    np.testing.assert_array_equal(digits.digits(train=False).tensors[0].numpy(), X_all[test])
    assert len(digits.digits(train=True)) == 1438


def test_digits_resize():
    X = digits.digits(train=False, resize=32).tensors[0].numpy()
    assert X.shape == (359, 1, 32, 32) and X.dtype == np.float32
    assert X.min() >= 0.0 and X.max() <= 1.0
    assert digits.digits(resize=(16, 12)).tensors[0].shape == (1797, 1, 16, 12)


def test_resize_bilinear_known_case():
    # Half-pixel centres: outputs 0..3 sample the source at 0, 0.25, 0.75, 1 (clamped).
    out = resize_bilinear(np.array([[0.0, 1.0], [2.0, 3.0]]), 4)
    f = np.array([0.0, 0.25, 0.75, 1.0])
    np.testing.assert_allclose(out, 2 * f[:, None] + f[None, :])
    np.testing.assert_array_equal(resize_bilinear(np.eye(3), 3), np.eye(3))


@pytest.mark.parametrize("size", [(32, 32), (5, 7), (3, 11), (8, 8)])
def test_resize_bilinear_matches_pytorch(size):
    x = np.random.default_rng(0).random((2, 3, 8, 8)).astype(np.float32)
    expected = torch.nn.functional.interpolate(torch.tensor(x), size=size, mode="bilinear", align_corners=False)
    out = resize_bilinear(x, size)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected.numpy(), atol=1e-6)


def test_digits_bad_arguments():
    with pytest.raises(ValueError, match="train"):
        digits.digits(train="test")
    with pytest.raises(ValueError, match="test_size"):
        digits.digits(train=True, test_size=1.5)


def test_digits_without_scikit_learn_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    digits._load.cache_clear()
    try:
        with pytest.raises(ImportError, match=r"pip install 'ember\[datasets\]'"):
            digits.digits()
    finally:
        digits._load.cache_clear()


# -- MNIST-1D ----------------------------------------------------------------------------
def test_mnist1d_shapes_and_determinism():
    np_state, py_state = np.random.get_state(), random.getstate()
    train = mnist1d.mnist1d(num_samples=200, seed=3)
    test = mnist1d.mnist1d(train=False, num_samples=200, seed=3)
    assert np.random.get_state()[1].tolist() == np_state[1].tolist()  # the caller's streams are untouched
    assert random.getstate() == py_state
    (X, y), (Xt, yt) = (t.numpy() for t in train.tensors), (t.numpy() for t in test.tensors)
    assert X.shape == (160, 40) and Xt.shape == (40, 40)
    assert X.dtype == Xt.dtype == np.float32 and y.dtype == yt.dtype == np.int64
    assert set(np.unique(y)) <= set(range(10))
    both = mnist1d.mnist1d(train=None, num_samples=200, seed=3).tensors[0].numpy()
    np.testing.assert_allclose(both.mean(), 0, atol=1e-5)  # standardised over the whole set
    np.testing.assert_allclose(both.std(), 1, atol=1e-4)
    other = mnist1d.mnist1d(num_samples=200, seed=4).tensors[0].numpy()
    assert not np.allclose(X, other)
    assert mnist1d.mnist1d(num_samples=200, seed=3, train_split=0.5).tensors[0].shape == (100, 40)


def test_mnist1d_errors(monkeypatch):
    with pytest.raises(ValueError, match="unknown dataset argument 'colour'"):
        mnist1d.mnist1d(num_samples=20, colour=1)
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)
    with pytest.raises(ImportError, match=r"pip install 'ember\[datasets\]'"):
        mnist1d.mnist1d(num_samples=30, seed=123)


# -- IDX ---------------------------------------------------------------------------------
def _idx_bytes(array, code):
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return header + array.astype(idx.IDX_DTYPES[code]).tobytes()


def _write(path, payload, compress=False):
    path.write_bytes(gzip.compress(payload) if compress else payload)
    return path


@pytest.mark.parametrize("code, dtype", [(0x08, np.uint8), (0x09, np.int8), (0x0B, np.int16), (0x0C, np.int32),
                                         (0x0D, np.float32), (0x0E, np.float64)])
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trip(tmp_path, code, dtype, compress):
    rng = np.random.default_rng(code)
    array = (rng.integers(0, 120, (3, 4, 5)) - (0 if code == 0x08 else 60)).astype(dtype)
    if dtype in (np.float32, np.float64):
        array = array * np.asarray(0.37, dtype=dtype)
    path = _write(tmp_path / ("a.idx.gz" if compress else "a.idx"), _idx_bytes(array, code), compress)
    out = read_idx(path)
    assert out.dtype == dtype and out.dtype.isnative and out.flags.writeable
    np.testing.assert_array_equal(out, array)


def test_read_idx_big_endian_known_bytes(tmp_path):
    # a 1-D int16 file holding [1, -2]: the magic 00 00 0B 01, the size 2, then 00 01 FF FE.
    path = _write(tmp_path / "k", bytes([0, 0, 0x0B, 1, 0, 0, 0, 2, 0x00, 0x01, 0xFF, 0xFE]))
    assert read_idx(path).tolist() == [1, -2]


def test_read_idx_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere"):
        read_idx(tmp_path / "nothere")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(_write(tmp_path / "bad", b"\x01\x00\x08\x01\x00\x00\x00\x01\x00"))
    with pytest.raises(ValueError, match="unknown element type 0x0A"):
        read_idx(_write(tmp_path / "code", b"\x00\x00\x0a\x01\x00\x00\x00\x01\x00"))
    with pytest.raises(ValueError, match=r"requires 13"):
        read_idx(_write(tmp_path / "short", _idx_bytes(np.zeros(5, np.uint8), 0x08)[:-1] + b""))
    with pytest.raises(ValueError, match=r"holds 12 bytes .* requires 13"):  # the same, read through gzip
        read_idx(_write(tmp_path / "short.gz", _idx_bytes(np.zeros(5, np.uint8), 0x08)[:-1], compress=True))
    with pytest.raises(ValueError, match=r"truncated: its header needs 12 bytes, the file has 9"):
        read_idx(_write(tmp_path / "header.gz", _idx_bytes(np.zeros((2, 2), np.uint8), 0x08)[:9], compress=True))


def _write_mnist(folder, n_train=5, n_test=3, compress=True):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    data = {}
    for train, n in ((True, n_train), (False, n_test)):
        images = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        image_name, label_name = idx.MNIST_FILES[train]
        suffix = ".gz" if compress else ""
        _write(folder / (image_name + suffix), _idx_bytes(images, 0x08), compress)
        _write(folder / (label_name + suffix), _idx_bytes(labels, 0x08), compress)
        data[train] = images, labels
    return data


@pytest.mark.parametrize("compress", [True, False])
def test_mnist_reads_train_and_test(tmp_path, compress):
    data = _write_mnist(tmp_path, compress=compress)
    for train, n in ((True, 5), (False, 3)):
        X, y = (t.numpy() for t in mnist(tmp_path, train=train).tensors)
        assert X.shape == (n, 1, 28, 28) and X.dtype == np.float32 and y.dtype == np.int64
        np.testing.assert_allclose(X[:, 0] * 255, data[train][0], atol=1e-4)
        np.testing.assert_array_equal(y, data[train][1])


def test_mnist_torchvision_layout_and_fashion(tmp_path):
    data = _write_mnist(tmp_path / "FashionMNIST" / "raw")
    ds = fashion_mnist(tmp_path, train=False)
    np.testing.assert_array_equal(ds.tensors[1].numpy(), data[False][1])
    with pytest.raises(FileNotFoundError):
        mnist(tmp_path, train=False)  # plain MNIST is looked up in root and root/MNIST/raw only


def test_mnist_missing_file_names_the_path_and_the_source(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        mnist(tmp_path, train=True)
    message = str(err.value)
    assert str(tmp_path / "train-images-idx3-ubyte") in message
    assert idx.MIRRORS["mnist"][0] + "train-images-idx3-ubyte.gz" in message
    with pytest.raises(FileNotFoundError, match="fashion-mnist"):
        mnist(tmp_path, kind="fashion")
    with pytest.raises(ValueError, match="kind"):
        mnist(tmp_path, kind="kmnist")


def test_mnist_download_when_asked(tmp_path, monkeypatch):
    data = _write_mnist(tmp_path / "mirror")
    monkeypatch.setitem(idx.MIRRORS, "mnist", ((tmp_path / "mirror").as_uri() + "/", "MNIST"))
    ds = mnist(tmp_path / "root", train=True, download=True)
    np.testing.assert_array_equal(ds.tensors[1].numpy(), data[True][1])
    assert (tmp_path / "root" / "train-images-idx3-ubyte.gz").is_file()
    assert not list((tmp_path / "root").glob("*.part"))
    assert sorted(p.name for p in (tmp_path / "root").iterdir()) == [  # no temporary file left behind
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]


# -- CIFAR-10 ----------------------------------------------------------------------------
def _cifar_records(n, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = rng.integers(0, 256, (n, 3, 32, 32)).astype(np.uint8)
    raw = np.concatenate([labels[:, None], images.reshape(n, -1)], axis=1).tobytes()
    return raw, images, labels


def _write_cifar(folder, n=2):
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for i, name in enumerate(cifar.TRAIN_FILES + cifar.TEST_FILES):
        raw, images, labels = _cifar_records(n, i)
        (folder / name).write_bytes(raw)
        out[name] = images, labels
    return out


def test_parse_cifar_batch_layout():
    record = bytes([7]) + bytes([10] * 1024 + [20] * 1024 + [30] * 1024)  # R plane, G plane, B plane
    images, labels = parse_cifar_batch(record * 2)
    assert images.shape == (2, 3, 32, 32) and labels.tolist() == [7, 7]
    assert images[1, :, 5, 9].tolist() == [10, 20, 30]
    with pytest.raises(ValueError, match="3073-byte records"):
        parse_cifar_batch(record[:-1], "x.bin")
    with pytest.raises(ValueError, match="outside 0–9"):
        parse_cifar_batch(bytes([42]) + bytes(3072))


def test_cifar10_train_and_test(tmp_path):
    data = _write_cifar(tmp_path / "cifar-10-batches-bin")
    X, y = (t.numpy() for t in cifar10(tmp_path, train=True).tensors)
    assert X.shape == (10, 3, 32, 32) and X.dtype == np.float32 and y.dtype == np.int64
    expected = np.concatenate([data[name][0] for name in cifar.TRAIN_FILES])
    np.testing.assert_allclose(X * 255, expected, atol=1e-4)
    np.testing.assert_array_equal(y, np.concatenate([data[name][1] for name in cifar.TRAIN_FILES]))
    Xt, yt = (t.numpy() for t in cifar10(tmp_path, train=False).tensors)
    assert Xt.shape == (2, 3, 32, 32)
    np.testing.assert_array_equal(yt, data["test_batch.bin"][1])


def test_cifar10_from_the_archive(tmp_path):
    data = _write_cifar(tmp_path / "src" / "cifar-10-batches-bin")
    with tarfile.open(tmp_path / "cifar-10-binary.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "src" / "cifar-10-batches-bin", arcname="cifar-10-batches-bin")
    y = cifar10(tmp_path, train=False).tensors[1].numpy()
    np.testing.assert_array_equal(y, data["test_batch.bin"][1])


def test_cifar10_missing_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        cifar10(tmp_path, train=False)
    assert str(tmp_path / "test_batch.bin") in str(err.value) and cifar.CIFAR10_URL in str(err.value)
    folder = tmp_path / "cifar-10-batches-bin"
    _write_cifar(folder)
    (folder / "data_batch_3.bin").unlink()
    with pytest.raises(FileNotFoundError, match=str(folder / "data_batch_3.bin")):
        cifar10(tmp_path, train=True)
    archive = tmp_path / "other" / "cifar-10-binary.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-bin/readme.html")
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(FileNotFoundError, match="no member cifar-10-batches-bin/test_batch.bin"):
        cifar10(archive.parent, train=False)


def test_cifar10_download_when_asked(tmp_path, monkeypatch):
    data = _write_cifar(tmp_path / "src" / "cifar-10-batches-bin")
    mirror = tmp_path / "mirror" / "cifar-10-binary.tar.gz"
    mirror.parent.mkdir()
    with tarfile.open(mirror, "w:gz") as tar:
        tar.add(tmp_path / "src" / "cifar-10-batches-bin", arcname="cifar-10-batches-bin")
    monkeypatch.setattr(cifar, "CIFAR10_URL", mirror.as_uri())
    with pytest.raises(FileNotFoundError, match="download=True"):
        cifar10(tmp_path / "root", train=False)  # nothing is fetched unless asked
    y = cifar10(tmp_path / "root", train=False, download=True).tensors[1].numpy()
    np.testing.assert_array_equal(y, data["test_batch.bin"][1])
    assert [p.name for p in (tmp_path / "root").iterdir()] == ["cifar-10-binary.tar.gz"]
