"""Data: IDX/CIFAR/folder readers, synthetic datasets, a DataLoader and batched transforms.

>>> from convlab.data import LinesDataset, DataLoader
>>> loader = DataLoader(LinesDataset(n=10, size=8, seed=0), batch_size=4, shuffle=True, seed=0)
>>> images, labels = next(iter(loader))
>>> images.shape, labels.dtype
(convlab.Size([4, 1, 8, 8]), dtype('int64'))
"""

from . import transforms
from .cifar import CIFAR10, read_cifar_bin
from .collate import default_collate
from .datasets import (
    ArrayDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
    collate,
    random_split,
)
from .folder import ImageFolder, load_image, read_image
from .idx import IDXError, read_idx, write_idx
from .loader import DataLoader, get_worker_info
from .mnist import KMNIST, MNIST, FashionMNIST
from .samplers import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from .synthetic import EdgesDataset, LinesDataset
from .transforms import (
    Compose,
    Lambda,
    Normalize,
    Pad,
    RandomCrop,
    RandomErasing,
    RandomHorizontalFlip,
    ToTensor,
    Transform,
)

__all__ = [
    "CIFAR10", "KMNIST", "MNIST", "ArrayDataset", "Compose", "DataLoader", "Dataset", "EdgesDataset",
    "FashionMNIST", "IDXError", "ImageFolder", "Lambda", "LinesDataset", "Normalize", "Pad", "RandomCrop",
    "RandomErasing", "RandomHorizontalFlip", "Subset", "TensorDataset", "ToTensor", "Transform",
    "collate", "load_image", "BatchSampler", "ConcatDataset", "IterableDataset", "RandomSampler", "Sampler",
    "SequentialSampler", "SubsetRandomSampler", "WeightedRandomSampler", "default_collate", "get_worker_info",
    "random_split", "read_image", "read_cifar_bin", "read_idx", "transforms", "write_idx",
]

from .. import argcheck as _argcheck  # noqa: E402

_argcheck.check_namespace(globals())  # arguments checked against the signatures (convlab.argcheck.checked)
