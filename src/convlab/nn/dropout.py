"""``Dropout`` and ``Dropout2d``: random zeroing during training, identity in eval mode."""

from __future__ import annotations

from .. import functional as F
from ..validate import ConvlabError
from .module import Module


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ConvlabError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """In training, zero each element with probability ``p`` and scale the survivors by
    ``1/(1-p)`` so the expected value is unchanged; in eval mode, return the input.

    Masks come from convlab's generator (``convlab.manual_seed`` makes them repeatable).
    """

    def forward(self, input):
        return F.dropout(input, self.p, self.training)


class Dropout2d(_DropoutNd):
    """Zero whole channels (one draw per sample and channel) of (N, C, H, W) input: neighbouring
    pixels are strongly correlated, so per-element dropout would barely regularise conv maps."""

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training)
