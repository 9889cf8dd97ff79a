"""Pooling layers: max, average and adaptive average/max pooling in 1-D and 2-D.

Thin wrappers over ``convlab.functional``; see ``convlab/ops/pool.py`` for the arithmetic
(max pooling routes each gradient to its window's maximum, average pooling spreads it).
"""

from __future__ import annotations

from .. import functional as F
from ..functional.pool import _output_size
from ..ops import pool as _pool_ops
from ..shapes import _pool_geometry
from . import _fastpath
from .module import Module

_POOL_DIMS = {"max_pool1d": 1, "max_pool2d": 2, "max_pool3d": 3}
_ADAPTIVE_DIMS = {"adaptive_avg_pool1d": 1, "adaptive_avg_pool2d": 2, "adaptive_avg_pool3d": 3}


class _MaxPoolNd(Module):
    _fn = "max_pool2d"

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input):
        options = (self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode, self.return_indices)
        k = _fastpath.key(self, input, *options) if not self.return_indices else None
        geom = _fastpath.recall(self, k)
        if geom is not None:  # the same shapes passed every check before (nn/_fastpath.py)
            return _fastpath.run(_pool_ops.MaxPoolNd, input._data, geom=geom)
        y = getattr(F, self._fn)(input, self.kernel_size, self.stride, self.padding, self.dilation,
                                 ceil_mode=self.ceil_mode, return_indices=self.return_indices)
        if k is not None and input.ndim == _POOL_DIMS.get(self._fn, -2) + 2:
            _fastpath.remember(self, k, _pool_geometry(self._fn, input.shape, *options[:5]))
        return y

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """1-D max pooling over (N, C, L). See :class:`MaxPool2d`."""

    _fn = "max_pool1d"


class MaxPool2d(_MaxPoolNd):
    """2-D max pooling: the maximum of each ``kernel_size`` window, moved by ``stride``
    (default: ``kernel_size``, non-overlapping windows).

    Shape: (N, C, H, W) -> (N, C, H_out, W_out), ``H_out = floor((H + 2P - D(K-1) - 1) / S) + 1``
    (``ceil`` with ``ceil_mode=True``). Padding is -inf, so it never wins.
    """

    _fn = "max_pool2d"


class _AvgPoolNd(Module):
    _fn = "avg_pool2d"

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input):
        kw = {"divisor_override": self.divisor_override} if self.divisor_override is not None else {}
        return getattr(F, self._fn)(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                       self.count_include_pad, **kw)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """1-D average pooling over (N, C, L). See :class:`AvgPool2d`."""

    _fn = "avg_pool1d"

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        def single(v):  # torch stores AvgPool1d's sizes as 1-tuples
            return v if v is None or isinstance(v, tuple) else (v,)

        super().__init__(single(kernel_size), single(stride), single(padding), ceil_mode, count_include_pad)


class AvgPool2d(_AvgPoolNd):
    """2-D average pooling: the mean of each window.

    ``count_include_pad`` counts padded zeros in the divisor; ``divisor_override`` replaces
    the divisor. Shape as :class:`MaxPool2d` (without dilation).
    """

    _fn = "avg_pool2d"


class _AdaptiveNd(Module):
    _fn = "adaptive_avg_pool2d"

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        avg = self._fn.startswith("adaptive_avg")
        k = _fastpath.key(self, input, self.output_size) if avg else None
        size = _fastpath.recall(self, k)
        if size is not None:  # the same shapes passed every check before (nn/_fastpath.py)
            return _fastpath.run(_pool_ops.AdaptiveAvgPoolNd, input._data, output_size=size)
        y = getattr(F, self._fn)(input, self.output_size)
        nd = _ADAPTIVE_DIMS.get(self._fn)
        if k is not None and input.ndim == (nd or 0) + 2:
            _fastpath.remember(self, k, _output_size(self._fn, nd, input, self.output_size))
        return y

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveNd):
    _fn = "adaptive_avg_pool1d"


class AdaptiveAvgPool2d(_AdaptiveNd):
    """Average pooling to a fixed ``output_size`` whatever the input size: output cell ``i``
    averages input rows ``floor(i*H/H_out)`` to ``ceil((i+1)*H/H_out)``. ``(1, 1)`` is global
    average pooling. ``None`` in ``output_size`` keeps that input dimension."""

    _fn = "adaptive_avg_pool2d"


class AdaptiveMaxPool2d(_AdaptiveNd):
    """Max pooling to a fixed ``output_size`` (windows as :class:`AdaptiveAvgPool2d`)."""

    _fn = "adaptive_max_pool2d"

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input):
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)
