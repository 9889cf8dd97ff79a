"""Depthwise convolution (``groups == in_channels == out_channels``) without a GEMM.

Each channel is convolved with its own kernel, so im2col + GEMM would be a batch of
matrix-vector products with one row each. Instead, every kernel offset ``k`` contributes one
multiply-add of a strided slice over all pixels at once::

    y[n, c, o]      = sum_k w[c, k] * x_pad[n, c, o*s + k*d]
    grad_w[c, k]    = sum_{n, o} grad_y[n, c, o] * x_pad[n, c, o*s + k*d]
    grad_x_pad[...] = sum_k w[c, k] * grad_y   added back at the same slices

The batch is processed a few samples at a time so the slices stay in the CPU cache.
"""

from __future__ import annotations

import itertools
import math

from .. import backend
from .conv_columns import batch_chunks, interior, window_slices


def is_depthwise(w_shape, geom) -> bool:
    """One input and one output channel per group."""
    return w_shape[1] == 1 and w_shape[0] == geom.groups and geom.groups > 1


def _padded(x, geom, xp):
    if not any(lo or hi for lo, hi in geom.pads):
        return x
    out = xp.zeros(x.shape[:2] + geom.padded, dtype=x.dtype)
    out[(slice(None), slice(None)) + interior(geom)] = x
    return out


def _chunks(n, c, geom, itemsize):
    """Three planes per channel (input slice, product, accumulator) per sample."""
    return batch_chunks(n, c, geom, itemsize, per_sample=3 * c * math.prod(geom.padded) * itemsize)


def _taps(w, geom):
    """(slices, per-channel weight broadcastable over (n, c, *out)) for each kernel offset."""
    nd = geom.nd
    for k in itertools.product(*(range(k) for k in geom.kernel)):
        wk = w[(slice(None), 0) + k].reshape((1, -1) + (1,) * nd)
        yield k, (slice(None), slice(None)) + window_slices(geom, k), wk


def depthwise_forward(x, w, geom, bias=None):
    xp = backend.array_module(x, w)
    n, c = x.shape[:2]
    y = xp.empty((n, c) + geom.out_size, dtype=x.dtype)
    for sl in _chunks(n, c, geom, x.dtype.itemsize):
        src = _padded(x[sl], geom, xp)
        acc = y[sl]
        tmp = xp.empty_like(acc)
        for i, (_, win, wk) in enumerate(_taps(w, geom)):
            if i == 0:
                xp.multiply(src[win], wk, out=acc)
            else:
                xp.multiply(src[win], wk, out=tmp)
                acc += tmp
        if bias is not None:
            acc += bias.reshape((1, c) + (1,) * geom.nd)
    return y


def depthwise_input_grad(gy, w, geom):
    xp = backend.array_module(gy, w)
    n, c = gy.shape[:2]
    gx = xp.empty((n, c) + geom.in_size, dtype=gy.dtype)
    for sl in _chunks(n, c, geom, gy.dtype.itemsize):
        g = gy[sl]
        dst = xp.zeros(g.shape[:2] + geom.padded, dtype=gy.dtype)
        tmp = xp.empty_like(g)
        for _, win, wk in _taps(w, geom):
            xp.multiply(g, wk, out=tmp)
            dst[win] += tmp
        gx[sl] = dst[(slice(None), slice(None)) + interior(geom)]
    return gx


def depthwise_weight_grad(x, gy, geom):
    xp = backend.array_module(x, gy)
    n, c = x.shape[:2]
    gw = xp.zeros((c, 1) + geom.kernel, dtype=gy.dtype)
    axes = (0,) + tuple(range(2, gy.ndim))
    for sl in _chunks(n, c, geom, x.dtype.itemsize):
        src = _padded(x[sl], geom, xp)
        g = gy[sl]
        tmp = xp.empty_like(g)
        for k, win, _ in _taps(gw, geom):
            xp.multiply(src[win], g, out=tmp)
            gw[(slice(None), 0) + k] += tmp.sum(axis=axes)
    return gw
