"""Lazy layers: ``LazyLinear`` and ``LazyConv1d/2d/3d`` learn their input size from the first
batch, as torch's do.

Until that first forward pass the weight is an empty placeholder (``in_features`` /
``in_channels`` read 0); the pass sets the real shape and runs the usual initialisation, drawing
from the library generator exactly what torch's would. The parameter objects stay the same, so an
optimizer made before the first pass updates the materialised weights (torch advises a dry run
first; both orders work here).
"""

from __future__ import annotations

from ..tensor import zeros
from ..validate import ConvlabError
from .conv import Conv1d, Conv2d, Conv3d
from .linear import Linear
from .module import Module
from .parameter import register_weight_and_bias


class _Lazy:
    """Mixin: ``reset_parameters`` waits for the shape; ``has_uninitialized_params`` says so."""

    _materialized = False

    def has_uninitialized_params(self) -> bool:
        return not self._materialized

    def reset_parameters(self) -> None:
        if self._materialized:
            super().reset_parameters()

    def _materialize(self, weight_shape) -> None:
        self.weight.data = zeros(*weight_shape, dtype=self.weight.dtype, device=self.weight.device)
        self._materialized = True
        self.reset_parameters()


class LazyLinear(_Lazy, Linear):
    """:class:`Linear` whose ``in_features`` is ``input.shape[-1]`` of the first batch.

    >>> import convlab
    >>> fc = LazyLinear(3)
    >>> fc(convlab.ones(2, 5)).shape, fc.in_features, fc.weight.shape
    (convlab.Size([2, 3]), 5, convlab.Size([3, 5]))
    """

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None):
        Module.__init__(self)
        if isinstance(out_features, bool) or not isinstance(out_features, int) or not 0 <= out_features < 2**63:
            raise ConvlabError(f"LazyLinear: out_features must be a non-negative integer, got {out_features!r}")
        self.in_features, self.out_features = 0, out_features
        register_weight_and_bias(self, (out_features, 0), out_features if bias else None, dtype)
        if device is not None:
            self.to(device)

    def forward(self, input):
        if not self._materialized:
            self.in_features = input.shape[-1]
            self._materialize((self.out_features, self.in_features))
        return super().forward(input)


class _LazyConv(_Lazy):
    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None):
        # groups stands in for in_channels until the first batch: checked here under its own name
        if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
            raise ConvlabError(f"{type(self).__name__}: groups must be a positive integer, got {groups!r}")
        super().__init__(groups, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                         device, dtype)
        self.in_channels = 0

    def forward(self, input):
        if not self._materialized:
            self.in_channels = input.shape[-self._nd - 1]
            if self.in_channels % self.groups:
                raise ConvlabError(f"{type(self).__name__}: in_channels ({self.in_channels}) must be divisible by "
                                 f"groups ({self.groups})")
            self._materialize((self.out_channels, self.in_channels // self.groups) + self.kernel_size)
        return super().forward(input)


class LazyConv1d(_LazyConv, Conv1d):
    """:class:`Conv1d` whose ``in_channels`` comes from the first batch."""


class LazyConv2d(_LazyConv, Conv2d):
    """:class:`Conv2d` whose ``in_channels`` comes from the first batch.

    >>> import convlab
    >>> conv = LazyConv2d(4, 3)
    >>> conv(convlab.ones(1, 2, 5, 5)).shape, conv.weight.shape
    (convlab.Size([1, 4, 3, 3]), convlab.Size([4, 2, 3, 3]))
    """


class LazyConv3d(_LazyConv, Conv3d):
    """:class:`Conv3d` whose ``in_channels`` comes from the first batch."""
