"""``torch.nn.modules.batchnorm``: ``_BatchNorm`` (to subclass) and ``BatchNorm1d/2d/3d``."""

from ..normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, _BatchNorm  # noqa: F401

_NormBase = _BatchNorm
