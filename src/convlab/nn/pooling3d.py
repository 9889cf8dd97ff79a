"""The remaining pooling layers: 3-D max/average pooling, adaptive max pooling in 1-D and 3-D,
adaptive average pooling in 3-D, and max unpooling (the inverse that SegNet-style decoders use:
each value goes back to the position its max came from, every other cell is zero).

Thin wrappers over ``convlab.functional``, with torch's constructor arguments.
"""

from __future__ import annotations

from .. import functional as F
from .module import Module
from .pooling import _AdaptiveNd, _AvgPoolNd, _MaxPoolNd

__all__ = ["MaxPool3d", "AvgPool3d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool3d", "MaxUnpool1d",
           "MaxUnpool2d", "MaxUnpool3d"]


class MaxPool3d(_MaxPoolNd):
    """3-D max pooling over (N, C, D, H, W). See :class:`MaxPool2d`."""

    _fn = "max_pool3d"


class AvgPool3d(_AvgPoolNd):
    """3-D average pooling over (N, C, D, H, W). See :class:`AvgPool2d`."""

    _fn = "avg_pool3d"


class AdaptiveAvgPool3d(_AdaptiveNd):
    _fn = "adaptive_avg_pool3d"


class _AdaptiveMax(_AdaptiveNd):
    def __init__(self, output_size, return_indices: bool = False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input):
        return getattr(F, self._fn)(input, self.output_size, self.return_indices)


class AdaptiveMaxPool1d(_AdaptiveMax):
    _fn = "adaptive_max_pool1d"


class AdaptiveMaxPool3d(_AdaptiveMax):
    _fn = "adaptive_max_pool3d"


class _MaxUnpoolNd(Module):
    _fn, _n = "max_unpool2d", 2

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()

        def nt(v):  # torch keeps these as n-tuples
            return tuple(v) if isinstance(v, (tuple, list)) else (v,) * self._n

        self.kernel_size = nt(kernel_size)
        self.stride = nt(stride if stride is not None else kernel_size)
        self.padding = nt(padding)

    def forward(self, input, indices, output_size=None):
        return getattr(F, self._fn)(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    _fn, _n = "max_unpool1d", 1


class MaxUnpool2d(_MaxUnpoolNd):
    """Partial inverse of :class:`MaxPool2d` (``return_indices=True``): (N, C, H, W) -> the pooled
    layer's input size (or ``output_size``), zeros except at the recorded maxima."""

    _fn, _n = "max_unpool2d", 2


class MaxUnpool3d(_MaxUnpoolNd):
    _fn, _n = "max_unpool3d", 3
