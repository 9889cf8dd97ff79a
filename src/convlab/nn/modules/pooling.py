"""``torch.nn.modules.pooling``."""

from ..pooling import *  # noqa: F401,F403
from ..pooling3d import *  # noqa: F401,F403
