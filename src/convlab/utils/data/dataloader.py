"""``torch.utils.data.dataloader``: the DataLoader and its collate function under torch's module path."""

from ...data.collate import default_collate  # noqa: F401
from ...data.loader import DataLoader  # noqa: F401
from ...data.workers import get_worker_info  # noqa: F401
