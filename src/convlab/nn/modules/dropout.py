"""``torch.nn.modules.dropout``."""

from ..dropout import Dropout, Dropout2d, _DropoutNd  # noqa: F401
