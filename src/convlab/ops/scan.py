"""Running and whole-axis products and sums: ``cumsum``, ``cumprod`` and ``prod``.

Each works along one axis ``dim`` (already normalised by the caller); the shape is kept by the
scans, ``prod`` drops the axis unless ``keepdim`` (``dim=None``: all elements, a 0-d result).
"""

from __future__ import annotations

from .. import backend
from ..graph import Function


def _exclusive_products(x, axis):
    """``prod_{k != i} x_k`` along ``axis`` for every ``i``, as (product of the entries before ``i``)
    times (product of those after it): no division, so zeros give exact gradients."""
    xp = backend.array_module(x)
    ones = xp.ones_like(xp.take(x, [0], axis=axis))
    left = xp.cumprod(xp.concatenate([ones, xp.take(x, range(x.shape[axis] - 1), axis=axis)], axis=axis), axis=axis)
    flipped = xp.flip(x, axis=axis)
    right = xp.cumprod(xp.concatenate([ones, xp.take(flipped, range(x.shape[axis] - 1), axis=axis)], axis=axis),
                       axis=axis)
    return left * xp.flip(right, axis=axis)


class Cumsum(Function):
    """``out_j = sum_{i <= j} x_i``: shape kept. Backward: ``dx_i = sum_{j >= i} g_j`` (a reversed scan)."""

    @staticmethod
    def forward(ctx, a, axis):
        ctx.axis = axis
        return backend.array_module(a).cumsum(a, axis=axis)

    @staticmethod
    def backward(ctx, g):
        xp = backend.array_module(g)
        return xp.flip(xp.cumsum(xp.flip(g, axis=ctx.axis), axis=ctx.axis), axis=ctx.axis), None


class Cumprod(Function):
    """``out_j = prod_{i <= j} x_i``: shape kept. Backward: ``dx_i = sum_{j >= i} g_j out_j / x_i``
    when no entry is zero; with zeros, ``dx_i = left_i * sum_{j >= i} g_j prod_{i < k <= j} x_k``
    (``left_i`` the product before ``i``), computed position by position."""

    @staticmethod
    def forward(ctx, a, axis):
        out = backend.array_module(a).cumprod(a, axis=axis)
        ctx.save_for_backward(a, out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, g):
        xp = backend.array_module(g)
        a, out = ctx.saved
        axis = ctx.axis
        if a.shape[axis] == 0:
            return xp.zeros_like(g), None
        if bool((a != 0).all()):
            return xp.flip(xp.cumsum(xp.flip(g * out, axis=axis), axis=axis), axis=axis) / a, None
        x, gm = xp.moveaxis(a, axis, -1), xp.moveaxis(g, axis, -1)
        grad = xp.empty_like(gm)
        n = x.shape[-1]
        for i in range(n):
            left = out.take(i - 1, axis=axis) if i else xp.ones(x.shape[:-1], dtype=x.dtype)
            after = xp.cumprod(x[..., i + 1:], axis=-1)  # prod_{i < k <= j} x_k for j = i+1..n-1
            grad[..., i] = left * (gm[..., i] + (gm[..., i + 1:] * after).sum(axis=-1))
        return xp.moveaxis(grad, -1, axis), None


class Prod(Function):
    """Product over ``axis`` (``None``: every element). Backward: ``dx_i = g * prod_{k != i} x_k``."""

    @staticmethod
    def forward(ctx, a, axis, keepdim):
        ctx.save_for_backward(a)
        ctx.info = (axis, keepdim)
        return backend.array_module(a).prod(a, axis=axis, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        xp = backend.array_module(g)
        (a,) = ctx.saved
        axis, keepdim = ctx.info
        if axis is None:
            flat = a.reshape(-1)
            return (g * _exclusive_products(flat, 0)).reshape(a.shape) if flat.size else xp.zeros_like(a), None
        if a.shape[axis] == 0:
            return xp.zeros_like(a), None
        if not keepdim:
            g = xp.expand_dims(g, axis)
        return g * _exclusive_products(a, axis), None
