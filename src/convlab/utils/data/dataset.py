"""``torch.utils.data.dataset``: the dataset classes under their torch module path."""

from ...data.datasets import (  # noqa: F401
    ConcatDataset,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
    random_split,
)
