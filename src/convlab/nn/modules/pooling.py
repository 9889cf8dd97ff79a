"""``torch.nn.modules.pooling``."""

from ..pooling import *  # noqa: F401,F403
