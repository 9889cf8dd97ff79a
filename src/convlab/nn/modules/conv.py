"""``torch.nn.modules.conv``: ``_ConvNd`` (to subclass) and the convolution layers."""

from ..conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, _ConvNd  # noqa: F401
