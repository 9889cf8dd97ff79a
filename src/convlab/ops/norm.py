"""Normalisation layers as fused Functions: batch norm, group norm, layer norm.

Each normalises ``x`` over some axes, ``x_hat = (x - mean) / sqrt(var + eps)`` with the biased
variance, then applies a per-channel (or per-element) affine map ``y = w * x_hat + b``.

One forward and one backward per layer, instead of a chain of primitive ops, keeps the
graph one node long and the number of passes over the activations small.

The backward (same algebra for all three, over the M elements that share one mean/var):

    dL/dw = sum(g * x_hat)         dL/db = sum(g)
    dx_hat = g * w
    dL/dx = invstd * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat))

The last line is the derivative of ``x_hat`` through the mean and the variance: subtracting
the mean removes the component along the constant vector, and the variance term removes the
component along ``x_hat`` itself (``x_hat`` has zero mean and unit variance by construction).
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..graph import Function
from . import fused

# batch norms over at least this many pixels per channel and sample take the compiled passes
# (a (N, C) batch norm after a linear layer has rows of one value: NumPy's reductions suit it)
_FUSED_MIN_PIXELS = 8


def _compiled(x3):
    """Whether a batch norm of ``x3`` ``(N, C, L)`` takes the compiled passes."""
    return x3.shape[2] >= _FUSED_MIN_PIXELS and fused.suits(x3)


def _per_channel(v):
    """Shape a (C,) vector to broadcast over (N, C, L)."""
    return v[:, None]


class BatchNorm(Function):
    """Batch norm over every axis except the channel axis 1: ``x`` is (N, C) or (N, C, *).

    Training (``training=True``) normalises with the batch's statistics and, when running
    buffers are given, updates them in place::

        running_mean = (1 - momentum) * running_mean + momentum * mean
        running_var  = (1 - momentum) * running_var  + momentum * var * M / (M - 1)

    (the running variance is the unbiased one, as in torch). Evaluation normalises with the
    running statistics, which makes the layer a per-channel affine map.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean=None, running_var=None, training=True, momentum=0.1, eps=1e-5):
        xp = backend.array_module(x)
        n, c = x.shape[:2]
        x3 = x.reshape(n, c, -1)
        m = n * x3.shape[2]
        ctx.shape, ctx.training, ctx.weight = x.shape, training, weight
        if training:
            # the compiled passes (ops/fused.py) read x once for the statistics and once for y,
            # and keep x itself for the backward instead of a centred copy
            ctx.fused = _compiled(x3)
            if ctx.fused:
                mean, var = (v.astype(x.dtype) for v in fused.moments(x3))
            else:
                mean = x3.mean(axis=(0, 2))
                xc = x3 - _per_channel(mean)
                var = xp.einsum("ncl,ncl->c", xc, xc) / x.dtype.type(m)
            invstd = 1 / xp.sqrt(var + x.dtype.type(eps))
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += (momentum * mean).astype(running_mean.dtype, copy=False)
            if running_var is not None:
                unbiased = var * (m / (m - 1)) if m > 1 else var
                running_var *= 1 - momentum
                running_var += (momentum * unbiased).astype(running_var.dtype, copy=False)
            scale = invstd if weight is None else weight * invstd
            if ctx.fused:
                ctx.save_for_backward(x3, mean, invstd)
                return fused.normalize(x3, mean, scale, bias).reshape(x.shape)
            y = xc * _per_channel(scale)
            ctx.save_for_backward(xc, invstd)
        else:
            invstd = (1 / xp.sqrt(running_var + eps)).astype(x.dtype, copy=False)
            mean = running_mean.astype(x.dtype, copy=False)
            scale = invstd if weight is None else weight * invstd
            ctx.save_for_backward(x3, mean, invstd)
            if _compiled(x3):  # one pass: inference's batch norm
                return fused.normalize(x3, mean, scale, bias).reshape(x.shape)
            y = x3 * _per_channel(scale) - _per_channel(mean * scale)
        if bias is not None:
            y += _per_channel(bias)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        n, c = ctx.shape[:2]
        g3 = g.reshape(n, c, -1)
        xp = backend.array_module(g)
        w = ctx.weight
        needs = ctx.needs_input_grad
        if ctx.training:
            m = g.dtype.type(g3.shape[0] * g3.shape[2])
            if ctx.fused:
                x3, mean, invstd = ctx.saved
            else:
                xc, invstd = ctx.saved
            k = invstd if w is None else w * invstd
            if ctx.fused and fused.suits(g3):
                sum_g, sum_gxc = (v.astype(g.dtype) for v in fused.grad_sums(g3, x3, mean))
                # dx = k * (g - sum_g / M - xc * invstd^2 * sum_gxc / M), in one pass
                grad_x = None if not needs[0] else fused.normalize_backward(
                    g3, x3, k, mean, -k * invstd * invstd * sum_gxc / m, -k * sum_g / m).reshape(ctx.shape)
            else:
                if ctx.fused:  # a gradient the compiled passes do not take (a strided view)
                    xc = x3 - _per_channel(mean)
                sum_g = g3.sum(axis=(0, 2))
                sum_gxc = xp.einsum("ncl,ncl->c", g3, xc)
                # dx = k * (g - sum_g / M - xc * invstd^2 * sum_gxc / M), as three fused passes
                gx = g3 * _per_channel(k)
                gx += xc * _per_channel(-k * invstd * invstd * sum_gxc / m)
                gx -= _per_channel(k * sum_g / m)
                grad_x = gx.reshape(ctx.shape)
            sum_gxhat = sum_gxc * invstd
        else:
            sum_g = g3.sum(axis=(0, 2))
            x3, mean, invstd = ctx.saved
            k = invstd if w is None else w * invstd
            grad_x = (g3 * _per_channel(k)).reshape(ctx.shape)
            sum_gxhat = xp.einsum("ncl,ncl->c", g3, x3 - _per_channel(mean)) * invstd
        return grad_x if needs[0] else None, sum_gxhat if needs[1] else None, sum_g if needs[2] else None


def _normalize_backward(dxhat, xhat, invstd, axis):
    """dL/dx from dL/dx_hat for x_hat normalised over ``axis`` (see the module docstring)."""
    mean_d = dxhat.mean(axis=axis, keepdims=True)
    mean_dx = (dxhat * xhat).mean(axis=axis, keepdims=True)
    return invstd * (dxhat - mean_d - xhat * mean_dx)


def _moments(xg, axis, eps):
    xp = backend.array_module(xg)
    mean = xg.mean(axis=axis, keepdims=True)
    xc = xg - mean
    var = (xc * xc).mean(axis=axis, keepdims=True)
    invstd = 1 / xp.sqrt(var + xg.dtype.type(eps))
    return xc * invstd, invstd


class GroupNorm(Function):
    """Group norm: ``x`` (N, C, *) split into ``num_groups`` groups of C/G channels; each
    (sample, group) is normalised over its channels and positions; then a per-channel affine."""

    @staticmethod
    def forward(ctx, x, weight, bias, num_groups, eps=1e-5):
        n, c = x.shape[:2]
        xhat, invstd = _moments(x.reshape(n, num_groups, -1), 2, eps)
        y = xhat.reshape(n, c, -1)
        if weight is not None:
            y = y * _per_channel(weight)
        if bias is not None:
            y = y + _per_channel(bias)
        ctx.save_for_backward(xhat, invstd, weight)
        ctx.shape = x.shape
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        xhat, invstd, w = ctx.saved
        n, c = ctx.shape[:2]
        g3 = g.reshape(n, c, -1)
        dxhat = g3 if w is None else g3 * _per_channel(w)
        needs = ctx.needs_input_grad
        gx = _normalize_backward(dxhat.reshape(xhat.shape), xhat, invstd, 2).reshape(ctx.shape) if needs[0] else None
        gw = (g3 * xhat.reshape(g3.shape)).sum(axis=(0, 2)) if needs[1] else None
        gb = g3.sum(axis=(0, 2)) if needs[2] else None
        return gx, gw, gb


class LayerNorm(Function):
    """Layer norm over the trailing ``k`` axes of ``x`` (``k = len(normalized_shape)``), with
    an element-wise affine of that trailing shape."""

    @staticmethod
    def forward(ctx, x, weight, bias, k=1, eps=1e-5):
        trailing = x.shape[x.ndim - k :]
        size = int(np.prod(trailing))
        xhat, invstd = _moments(x.reshape(-1, size), 1, eps)
        y = xhat
        if weight is not None:
            y = y * weight.reshape(-1)
        if bias is not None:
            y = y + bias.reshape(-1)
        ctx.save_for_backward(xhat, invstd, weight)
        ctx.shape, ctx.trailing = x.shape, trailing
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        xhat, invstd, w = ctx.saved
        g2 = g.reshape(xhat.shape)
        dxhat = g2 if w is None else g2 * w.reshape(-1)
        needs = ctx.needs_input_grad
        gx = _normalize_backward(dxhat, xhat, invstd, 1).reshape(ctx.shape) if needs[0] else None
        gw = (g2 * xhat).sum(axis=0).reshape(ctx.trailing) if needs[1] else None
        gb = g2.sum(axis=0).reshape(ctx.trailing) if needs[2] else None
        return gx, gw, gb
