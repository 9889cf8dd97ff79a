"""Selecting entries by index or mask: ``index_select``, ``masked_select`` and the embedding
lookup. Each backward adds every output gradient back into the entry it was read from (an entry
read twice receives both gradients)."""

from __future__ import annotations

from .. import backend
from ..graph import Function


class IndexSelect(Function):
    """``out = take(a, index, axis)``: ``a`` (..., n, ...) with ``index`` (m,) -> (..., m, ...)."""

    @staticmethod
    def forward(ctx, a, index, axis):
        ctx.info = (a.shape, index, axis)
        return backend.array_module(a).take(a, index, axis=axis)

    @staticmethod
    def backward(ctx, g):
        xp = backend.array_module(g)
        shape, index, axis = ctx.info
        moved = xp.zeros((shape[axis],) + tuple(s for i, s in enumerate(shape) if i != axis), dtype=g.dtype)
        xp.add.at(moved, index, xp.moveaxis(g, axis, 0))
        return xp.moveaxis(moved, 0, axis), None


class MaskedSelect(Function):
    """``a[mask]`` for ``a`` and a bool ``mask`` of one shape -> 1-d, in row-major order."""

    @staticmethod
    def forward(ctx, a, mask):
        ctx.info = (a.shape, mask)
        return a[mask]

    @staticmethod
    def backward(ctx, g):
        shape, mask = ctx.info
        grad = backend.array_module(g).zeros(shape, dtype=g.dtype)
        grad[mask] = g
        return grad, None


class EmbeddingLookup(Function):
    """``out = weight[index]``: ``weight`` (num, dim), integer ``index`` (*) -> (*, dim).

    Backward: row ``r`` of the weight gradient is the sum of the output gradients of every position
    holding ``r`` (divided by how often ``r`` occurs when ``scale_grad_by_freq``); the
    ``padding_idx`` row gets none."""

    @staticmethod
    def forward(ctx, weight, index, padding_idx, scale_grad_by_freq):
        ctx.info = (weight.shape, index, padding_idx, scale_grad_by_freq)
        return weight[index]

    @staticmethod
    def backward(ctx, g):
        xp = backend.array_module(g)
        shape, index, padding_idx, by_freq = ctx.info
        flat = index.reshape(-1)
        rows = g.reshape(-1, shape[1])
        if by_freq:
            counts = xp.bincount(flat, minlength=shape[0]).astype(g.dtype)
            rows = rows / counts[flat][:, None]
        grad = xp.zeros(shape, dtype=g.dtype)
        xp.add.at(grad, flat, rows)
        if padding_idx is not None:
            grad[padding_idx] = 0
        return grad, None
