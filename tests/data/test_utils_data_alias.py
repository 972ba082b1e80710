"""``ember.utils.data`` is ``ember.data`` under PyTorch's import path: every import form gives the same objects."""
import importlib
import subprocess
import sys

import torch.utils.data as tud

import ember
import ember.data
import ember.utils.data


def test_the_alias_is_the_module_itself():
    assert ember.utils.data is ember.data
    assert importlib.import_module("ember.utils.data") is ember.data


def test_from_imports_resolve_to_embers_classes():
    from ember.utils.data import (
        BatchSampler,
        ConcatDataset,
        DataLoader,
        Dataset,
        IterableDataset,
        RandomSampler,
        Subset,
        TensorDataset,
        default_collate,
        get_worker_info,
        random_split,
    )

    assert DataLoader is ember.data.DataLoader and Dataset is ember.data.dataset.Dataset
    assert (TensorDataset, Subset, ConcatDataset, random_split) == (
        ember.data.TensorDataset, ember.data.Subset, ember.data.ConcatDataset, ember.data.random_split)
    assert (IterableDataset, RandomSampler, BatchSampler) == (
        ember.data.IterableDataset, ember.data.sampler.RandomSampler, ember.data.sampler.BatchSampler)
    assert default_collate is ember.data.collate.default_collate and get_worker_info() is None


def test_submodule_paths_are_embers_modules():
    import ember.utils.data.dataloader
    import ember.utils.data.dataset
    import ember.utils.data.distributed
    import ember.utils.data.sampler
    from ember.utils.data.dataloader import default_collate

    from ember.distributed.sampler import DistributedSampler

    assert ember.utils.data.dataloader is sys.modules["ember.data.dataloader"]
    assert ember.utils.data.dataset is sys.modules["ember.data.dataset"]
    assert ember.utils.data.sampler is sys.modules["ember.data.sampler"]
    assert ember.utils.data.distributed.DistributedSampler is DistributedSampler
    assert ember.utils.data.DistributedSampler is DistributedSampler
    assert default_collate is ember.data.default_collate


def test_torchs_public_names_exist():
    names = ["BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset", "DistributedSampler",
             "IterableDataset", "RandomSampler", "Sampler", "SequentialSampler", "StackDataset", "Subset",
             "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler", "default_collate", "default_convert",
             "get_worker_info", "random_split"]
    assert all(hasattr(tud, name) for name in names)  # the list is torch's
    assert [name for name in names if not hasattr(ember.utils.data, name)] == []
    namespace = {}
    exec("from ember.utils.data import *", namespace)  # noqa: S102 - the star import itself is under test
    assert set(names) <= set(namespace)


def test_a_fresh_interpreter_imports_the_alias_first():
    code = ("import ember.utils.data.sampler as s, ember.utils.data as d, ember.data as e; "
            "from ember.utils.data import DataLoader; "
            "assert d is e and s is e.sampler and DataLoader is e.DataLoader; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
