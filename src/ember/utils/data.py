"""``ember.utils.data``: PyTorch's ``torch.utils.data`` path to ``ember.data`` (the same module, not a copy).

``import ember.utils.data``, ``from ember.utils.data import DataLoader`` and the submodule
paths ``ember.utils.data.dataloader``, ``.dataset``, ``.sampler`` (and ``.distributed``, for
``DistributedSampler``) all resolve to ember's own modules, so classes and ``isinstance``
checks are shared.

>>> import ember.utils.data
>>> ember.utils.data.DataLoader is ember.data.DataLoader
True
"""
import sys

from ember import data as _data
from ember.data import collate, dataloader, dataset, datasets, sampler, worker
from ember.distributed import sampler as distributed

_SUBMODULES = {"collate": collate, "dataloader": dataloader, "dataset": dataset, "datasets": datasets,
               "distributed": distributed, "sampler": sampler, "worker": worker}

for _name, _module in _SUBMODULES.items():
    sys.modules[f"{__name__}.{_name}"] = _module
# Replacing this module in sys.modules makes the import system bind ember.data itself here.
sys.modules[__name__] = _data
