"""``torch.utils``: :mod:`convlab.utils.data` (datasets, samplers and the DataLoader)."""

from . import data, model_zoo  # noqa: F401  (tensorboard is imported on demand: an optional extra)

__all__ = ["data"]
