"""``torch.nn.modules.pixelshuffle``."""

from ..activation_more import PixelShuffle, PixelUnshuffle  # noqa: F401
