"""Dataset loaders, each returning a ``TensorDataset`` of (inputs, int64 labels).

- ``digits``: scikit-learn's bundled 8×8 handwritten digits (no download; the default).
- ``mnist1d``: MNIST-1D, generated locally by the ``mnist1d`` package.
- ``mnist`` / ``fashion_mnist``: from the IDX files (``read_idx`` reads any IDX file).
- ``cifar10``: from the binary batches.
- ``text_corpus`` / ``read_text`` / ``bible_kjv``: plain-text corpora (the King James Bible via
  Debian's bible-kjv-text when installed).
- ``load(name, resize=None)``: the download-free ones (``digits``, ``mnist1d``) by name, as the
  ``ember`` command loads them.

No loader downloads at run time unless asked (``download=True``); a missing file raises
FileNotFoundError naming it and where to get it.

>>> from ember.data.datasets import digits
>>> X, y = digits().tensors
>>> X.shape, y.dtype
((1797, 1, 8, 8), dtype('int64'))
"""
from ember.data.datasets.catalog import load, names
from ember.data.datasets.cifar import CIFAR10_CLASSES, cifar10, parse_cifar_batch
from ember.data.datasets.digits import digits, resize_bilinear
from ember.data.datasets.idx import fashion_mnist, mnist, read_idx
from ember.data.datasets.mnist1d import mnist1d
from ember.data.datasets.text import bible_kjv, read_text, text_corpus

__all__ = [
    "CIFAR10_CLASSES", "bible_kjv", "cifar10", "digits", "fashion_mnist", "load", "mnist", "mnist1d", "names",
    "parse_cifar_batch", "read_idx", "read_text", "resize_bilinear", "text_corpus",
]
