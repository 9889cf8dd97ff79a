"""``torch.nn.modules.normalization``."""

from ..layers_more import LocalResponseNorm  # noqa: F401
from ..normalization import GroupNorm, LayerNorm  # noqa: F401
