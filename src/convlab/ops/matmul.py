"""Matrix product with NumPy's ``matmul`` semantics (batched, broadcasting, 1-D promotion)."""

from __future__ import annotations

import numpy as np

from .. import backend
from ..graph import Function, unbroadcast
from ..validate import ConvlabError
from . import gemm


class MatMul(Function):
    """``a @ b``. Shapes: (..., n, k) @ (..., k, m) -> (..., n, m); a 1-D operand is a
    vector (a row for ``a``, a column for ``b``) and its axis is removed from the result.

    Gradients: dA = dC @ B^T and dB = A^T @ dC, summed over broadcast batch axes.
    """

    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ConvlabError(f"matmul: both operands need at least 1 dimension, got {a.shape} @ {b.shape}")
        ka = a.shape[-1]
        kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if ka != kb:
            raise ConvlabError(f"matmul: {tuple(a.shape)} @ {tuple(b.shape)}: inner dimensions {ka} and {kb} differ")
        ctx.save_for_backward(a, b)
        try:
            return gemm.matmul(a, b)
        except ValueError:
            raise ConvlabError(f"matmul: batch dimensions of {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast") from None

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        xp = backend.array_module(g)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        batch = tuple(np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]))
        g = g.reshape(batch + (a2.shape[-2], b2.shape[-1]))  # restore the axes 1-D promotion removed
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = unbroadcast(gemm.matmul(g, xp.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
        if ctx.needs_input_grad[1]:
            gb = unbroadcast(gemm.matmul(xp.swapaxes(a2, -1, -2), g), b2.shape).reshape(b.shape)
        return ga, gb


class Linear(Function):
    """``y = x W^T + b`` as one node: ``x`` ``(*, in)``, ``W`` ``(out, in)``, ``b`` ``(out,)`` or
    None -> ``y`` ``(*, out)``. (One node instead of transpose, matmul and add: a third of the
    bookkeeping, which is most of the time of a small layer at batch 1.)

    Gradients, with ``x`` and ``dy`` flattened to ``(rows, in)`` and ``(rows, out)``:
    ``dx = dy @ W``, ``dW = dy^T @ x``, ``db = dy`` summed over rows.
    """

    @staticmethod
    def forward(ctx, x, w, b=None):
        ctx.save_for_backward(x, w)
        y = gemm.matmul(x, w.T)
        if b is None:
            return y
        if b.dtype == y.dtype:
            y += b  # y is a fresh array: add in place
            return y
        return y + b

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved
        need = ctx.needs_input_grad
        g2 = g.reshape(-1, w.shape[0])
        gx = gemm.matmul(g, w) if need[0] else None
        gw = gemm.matmul(g2.T, x.reshape(-1, w.shape[1])) if need[1] else None
        gb = g2.sum(axis=0) if need[2] else None
        return gx, gw, gb
