"""Data: datasets, samplers, batching (in worker processes if asked) and the bundled/standard dataset loaders.

The names and behaviour are PyTorch's ``torch.utils.data`` (also importable as ``ember.utils.data``).

>>> from ember.data import DataLoader, TensorDataset, random_split
>>> from ember.data.datasets import digits
>>> train, test = digits(train=True), digits(train=False)
>>> for x, y in DataLoader(train, batch_size=64, shuffle=True, seed=0):
...     pass
"""
from ember.data import datasets
from ember.data.collate import default_collate, default_convert
from ember.data.dataloader import DataLoader
from ember.data.dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
    random_split,
)
from ember.data.sampler import (
    BatchSampler,
    BucketBatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from ember.data.worker import WorkerInfo, get_worker_info

__all__ = [
    "BatchSampler", "BucketBatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset",
    "DistributedSampler", "IterableDataset", "RandomSampler", "Sampler", "SequentialSampler", "StackDataset", "Subset",
    "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler", "WorkerInfo", "datasets", "default_collate",
    "default_convert", "get_worker_info", "random_split",
]


def __getattr__(name):
    # PyTorch has DistributedSampler here too (and its module as ``.distributed``); it lives in
    # ember.distributed, a layer above, so it is imported only when asked for.
    if name in ("DistributedSampler", "distributed"):
        from ember.distributed import sampler

        return sampler.DistributedSampler if name == "DistributedSampler" else sampler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
