"""PyTorch's ``torch.multiprocessing``: Python's ``multiprocessing`` under the name programs import.

Tensors moved into shared memory with ``share_memory_()`` (or a model's ``share_memory()``) before
the workers start are one memory for all of them under the ``fork`` start method (Linux's default):
Hogwild training, where each process updates the same parameters, works as in PyTorch. Under
``spawn`` a tensor is pickled and the child gets a copy.

>>> import ember.multiprocessing as mp
>>> model.share_memory()
>>> workers = [mp.Process(target=train, args=(model,)) for _ in range(2)]
"""
from multiprocessing import *  # noqa: F403 - the whole of multiprocessing, as torch.multiprocessing re-exports it
from multiprocessing import __all__  # noqa: F401 - the same public names
