"""Depthwise stride-1 convolution (``groups == in_channels == out_channels``) without a GEMM.

Each channel is convolved with its own kernel, so im2col + GEMM would be a batch of
matrix-vector products with one row each. Instead, each kernel offset ``k`` contributes one
multiply-add over all pixels at once::

    y[c, p]         = sum_k w[c, k] * x_pad[c, p + shift_k]
    grad_w[c, k]    = sum_p grad_y[c, p] * x_pad[c, p + shift_k]
    grad_x_pad[c, p + shift_k] += w[c, k] * grad_y[c, p]

Here the padded input is laid out channel-major and flattened, ``(channels, batch * padded
pixels)``, so that a kernel offset is a single *shift* of the flat index
(``shift_k = sum_d k_d * dilation_d * row_length_d``) and every product is one long contiguous
run scaled by one per-channel number. The outputs are computed at every padded position; those
past the output's edge (the last ``D(K-1)`` rows/columns of each padded grid) are dropped, and
their gradient is zero. The batch is processed a few samples at a time so the runs stay in
the CPU cache. Strided depthwise convolutions take the general GEMM path.

2-D float32 arrays take compiled loops instead (``ops/fused.py``): the same offsets, one
(sample, channel) plane at a time through a small padded copy that stays in the L1 cache
(the conv suite's 32-channel 3x3 layer at batch 64, forward+backward 17.2 -> 7.4 ms).
"""

from __future__ import annotations

import itertools
import math

from .. import backend
from . import fused
from .conv_columns import batch_chunks, interior, swap01


def is_depthwise(w_shape, geom) -> bool:
    """One input and one output channel per group, stride 1."""
    return w_shape[1] == 1 and w_shape[0] == geom.groups > 1 and all(s == 1 for s in geom.stride)


def _shifts(geom):
    """(kernel offset, flat shift) pairs, row-major over the kernel."""
    row = [math.prod(geom.padded[d + 1:]) for d in range(geom.nd)]
    for k in itertools.product(*(range(k) for k in geom.kernel)):
        yield k, sum(kd * dd * r for kd, dd, r in zip(k, geom.dilation, row))


def _grid(flat, geom, n):
    """View the leading ``n * prod(padded)`` entries of ``(c, length)`` as ``(c, n, *padded)``."""
    return flat[:, :n * math.prod(geom.padded)].reshape((flat.shape[0], n) + geom.padded)


def _flatten(a, geom, xp, at):
    """``(n, c, *size)`` -> zeros ``(c, n * P + tail)`` with ``a`` placed at ``at`` slices of each grid."""
    n, c = a.shape[:2]
    tail = max(s for _, s in _shifts(geom))
    flat = xp.zeros((c, n * math.prod(geom.padded) + tail), dtype=a.dtype)
    _grid(flat, geom, n)[(slice(None), slice(None)) + at] = a.transpose(swap01(geom.nd))
    return flat


def _corner(size):
    return tuple(slice(0, s) for s in size)


_CHUNK_BYTES = 4 << 20


def _chunks(n, c, geom, itemsize):
    """Three flat planes per channel (input, product, accumulator) per sample."""
    return batch_chunks(n, c, geom, itemsize, per_sample=3 * c * math.prod(geom.padded) * itemsize, cache=_CHUNK_BYTES)


def depthwise_forward(x, w, geom, bias=None):
    if geom.nd == 2 and fused.suits(x, w):
        return fused.depthwise_2d(0, x, w, geom, bias)
    xp = backend.array_module(x, w)
    n, c = x.shape[:2]
    y = xp.empty((n, c) + geom.out_size, dtype=x.dtype)
    wf = w.reshape(c, -1)
    for sl in _chunks(n, c, geom, x.dtype.itemsize):
        src = _flatten(x[sl], geom, xp, interior(geom))
        ns = src.shape[1] // math.prod(geom.padded)
        m = ns * math.prod(geom.padded)
        acc, tmp = xp.empty((c, m), dtype=x.dtype), xp.empty((c, m), dtype=x.dtype)
        for i, (_, shift) in enumerate(_shifts(geom)):
            xp.multiply(src[:, shift:shift + m], wf[:, i:i + 1], out=acc if i == 0 else tmp)
            if i:
                acc += tmp
        if bias is not None:
            acc += bias.reshape(c, 1)
        y[sl] = _grid(acc, geom, ns)[(slice(None), slice(None)) + _corner(geom.out_size)].transpose(swap01(geom.nd))
    return y


def depthwise_input_grad(gy, w, geom):
    if geom.nd == 2 and fused.suits(gy, w):
        return fused.depthwise_2d(1, gy, w, geom)
    xp = backend.array_module(gy, w)
    n, c = gy.shape[:2]
    gx = xp.empty((n, c) + geom.in_size, dtype=gy.dtype)
    wf = w.reshape(c, -1)
    for sl in _chunks(n, c, geom, gy.dtype.itemsize):
        g = _flatten(gy[sl], geom, xp, _corner(geom.out_size))  # zero beyond the outputs
        ns = gy[sl].shape[0]
        m = ns * math.prod(geom.padded)
        dst, tmp = xp.zeros_like(g), xp.empty((c, m), dtype=gy.dtype)
        for i, (_, shift) in enumerate(_shifts(geom)):
            xp.multiply(g[:, :m], wf[:, i:i + 1], out=tmp)
            dst[:, shift:shift + m] += tmp
        gx[sl] = _grid(dst, geom, ns)[(slice(None), slice(None)) + interior(geom)].transpose(swap01(geom.nd))
    return gx


def depthwise_weight_grad(x, gy, geom):
    if geom.nd == 2 and fused.suits(x, gy):
        return fused.depthwise_2d(2, x, gy, geom)
    xp = backend.array_module(x, gy)
    n, c = x.shape[:2]
    gw = xp.zeros((c, math.prod(geom.kernel)), dtype=gy.dtype)
    for sl in _chunks(n, c, geom, x.dtype.itemsize):
        src = _flatten(x[sl], geom, xp, interior(geom))
        g = _flatten(gy[sl], geom, xp, _corner(geom.out_size))
        m = x[sl].shape[0] * math.prod(geom.padded)
        for i, (_, shift) in enumerate(_shifts(geom)):  # one dot product per channel
            gw[:, i] += xp.matmul(g[:, None, :m], src[:, shift:shift + m, None])[:, 0, 0]
    return gw.reshape((c, 1) + geom.kernel)
