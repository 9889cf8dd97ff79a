"""Activation layers: ``ReLU``, ``LeakyReLU``, ``ReLU6``, ``SiLU``, ``Hardswish``,
``Hardsigmoid``, ``Sigmoid``, ``Tanh``, ``Softmax``, ``LogSoftmax``. None has parameters.

``inplace=True`` is accepted for compatibility and ignored: convlab never modifies a tensor
that the graph still needs.
"""

from __future__ import annotations

from .. import functional as F
from ..ops import elementwise as _elementwise
from . import _fastpath
from .module import Module


class _Inplace(Module):
    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class ReLU(_Inplace):
    """``max(x, 0)`` element-wise. Shape: any -> same."""

    def forward(self, input):
        if _fastpath.key(self, input) is not None:  # nothing to check but the input's type (nn/_fastpath.py)
            return _fastpath.run(_elementwise.ReLU, input._data)
        return F.relu(input)


class ReLU6(_Inplace):
    """``min(max(x, 0), 6)`` element-wise."""

    def forward(self, input):
        return F.relu6(input)


class SiLU(_Inplace):
    """SiLU / swish, ``x * sigmoid(x)`` (EfficientNet's activation)."""

    def forward(self, input):
        return F.silu(input)


class Hardswish(_Inplace):
    """``x * relu6(x + 3) / 6``."""

    def forward(self, input):
        return F.hardswish(input)


class Hardsigmoid(_Inplace):
    """``relu6(x + 3) / 6``."""

    def forward(self, input):
        return F.hardsigmoid(input)


class LeakyReLU(Module):
    """``x`` for x >= 0, ``negative_slope * x`` otherwise."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class Sigmoid(Module):
    """``1 / (1 + exp(-x))``, computed stably for large |x|."""

    def forward(self, input):
        return F.sigmoid(input)


class Tanh(Module):
    def forward(self, input):
        return F.tanh(input)


class Softmax(Module):
    """``exp(x_i) / sum_j exp(x_j)`` along ``dim`` (shifted by the max, so it never overflows).

    ``dim=None`` picks torch's legacy default: 0 for 0-D, 1-D and 3-D inputs, else 1.
    """

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def _dim(self, input) -> int:
        if self.dim is not None:
            return self.dim
        return 0 if input.ndim in (0, 1, 3) else 1

    def forward(self, input):
        return F.softmax(input, self._dim(input))

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """``log(softmax(x))`` along ``dim``, computed as ``x - logsumexp(x)``."""

    def forward(self, input):
        return F.log_softmax(input, self._dim(input))
