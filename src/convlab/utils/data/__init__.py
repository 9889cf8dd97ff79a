"""``torch.utils.data`` for convlab: datasets, samplers, collation and the :class:`DataLoader`.

The classes are convlab's own (:mod:`convlab.data`); this namespace gathers them under torch's
names so that ``from torch.utils.data import DataLoader, Dataset`` becomes
``from convlab.utils.data import DataLoader, Dataset``.

>>> import numpy as np
>>> from convlab.utils.data import DataLoader, TensorDataset
>>> ds = TensorDataset(np.arange(6.0).reshape(6, 1), np.arange(6))
>>> [y.tolist() for _, y in DataLoader(ds, batch_size=4)]
[[0, 1, 2, 3], [4, 5]]
"""

from ...data.collate import default_collate
from ...data.datasets import ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split
from ...data.loader import DataLoader
from ...data.samplers import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from ...data.workers import get_worker_info
from . import dataloader, dataset, distributed, sampler  # noqa: F401  (torch.utils.data.<module> paths)

__all__ = [
    "BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "IterableDataset", "RandomSampler", "Sampler",
    "SequentialSampler", "Subset", "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler",
    "default_collate", "get_worker_info", "random_split",
]
