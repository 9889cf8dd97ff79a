"""More activation layers: ``GELU``, ``Mish``, ``CELU``, ``SELU``, ``Softsign``, ``Tanhshrink``,
``LogSigmoid``, ``GLU`` and ``PReLU`` (the one with a learnable parameter), plus ``PixelShuffle``
and ``PixelUnshuffle``. Each calls :mod:`convlab.functional`; shapes: any -> same unless stated.
"""

from __future__ import annotations

from .. import functional as F
from .. import validate
from ..creation import full
from .activation import _Inplace
from .module import Module
from .parameter import Parameter


class GELU(Module):
    """``x * Phi(x)`` (``approximate='none'``, exact erf) or ``x/2 (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3)))``."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = validate.choice(approximate, ("none", "tanh"), "GELU", "approximate")

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Mish(_Inplace):
    """``x * tanh(softplus(x))``."""

    def forward(self, input):
        return F.mish(input)


class CELU(Module):
    """``max(0, x) + min(0, alpha (exp(x / alpha) - 1))``."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        return F.celu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class SELU(_Inplace):
    """``1.0507 * elu(x, 1.6733)`` (self-normalising networks)."""

    def forward(self, input):
        return F.selu(input)


class Softsign(Module):
    """``x / (1 + |x|)``."""

    def forward(self, input):
        return F.softsign(input)


class Tanhshrink(Module):
    """``x - tanh(x)``."""

    def forward(self, input):
        return F.tanhshrink(input)


class LogSigmoid(Module):
    """``log(sigmoid(x))``, computed without overflow."""

    def forward(self, input):
        return F.logsigmoid(input)


class GLU(Module):
    """``a * sigmoid(b)`` for the two halves of ``dim``. Shape: (*, 2n, *) -> (*, n, *)."""

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class PReLU(Module):
    """``x`` for x >= 0, ``a * x`` otherwise, with learnable ``a`` (``weight``): one shared value
    (``num_parameters=1``) or one per channel (dim 1 of the input), all starting at ``init``."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = validate.positive_int(num_parameters, "PReLU", "num_parameters")
        self.init = validate.real(init, "PReLU", "init")
        self.weight = Parameter(full((self.num_parameters,), self.init, dtype=dtype))

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class PixelShuffle(Module):
    """``(*, C r^2, H, W) -> (*, C, H r, W r)`` (sub-pixel convolution's rearrangement)."""

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = validate.positive_int(upscale_factor, "PixelShuffle", "upscale_factor")

    def forward(self, input):
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """``(*, C, H r, W r) -> (*, C r^2, H, W)``, the inverse of :class:`PixelShuffle`."""

    def __init__(self, downscale_factor: int):
        super().__init__()
        self.downscale_factor = validate.positive_int(downscale_factor, "PixelUnshuffle", "downscale_factor")

    def forward(self, input):
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"
