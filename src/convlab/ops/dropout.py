"""Dropout's one op: multiply by a fixed random mask (0 or 1/(1-p)); the backward multiplies
the gradient by the same mask, so dropped units get no gradient."""

from __future__ import annotations

from ..graph import Function


class MaskedScale(Function):
    """``x * mask`` with a non-differentiable ``mask`` that broadcasts against ``x``."""

    @staticmethod
    def forward(ctx, x, mask):
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved
        return g * mask
