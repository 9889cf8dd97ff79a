"""N-d pooling: max, average, adaptive average/max and max-unpooling, forward and backward.

Fixed-window pooling walks the kernel offsets (a handful) and, for each, reads one strided
slice of the padded input covering every output position at once, as im2col does
(``ops/conv.py``); there is no loop over output pixels, and an input larger than the cache is
taken a few (sample, channel) planes at a time so that the slices after the first are read
from the cache (:func:`_by_plane_chunks`).

Why the gradients look the way they do:

- **max** passes one value per window, so its derivative is 1 at the window's argmax and 0
  elsewhere: the upstream gradient is routed to that single cell (seed 000's global max pool).
  Ties go to the first maximum in the window in row-major order, as torch does.
- **average** is linear with weight ``1/divisor`` on every cell of the window, so the gradient
  is spread evenly: each cell receives ``grad / divisor`` from every window that contains it.
- **adaptive average** is linear and separable: per axis it is a small matrix ``A`` (output x
  input) whose row ``i`` averages the window ``[floor(i*W/O), ceil((i+1)*W/O))``, so the
  forward is ``A @ x`` along each axis and the backward is ``A^T @ grad``.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .. import backend
from ..graph import Function
from . import fused
from .conv_columns import cache_bytes, interior, windows


def _padded(x, geom, value):
    """``x`` with the geometry's padding filled with ``value`` (no copy when there is none)."""
    if not any(lo or hi for lo, hi in geom.pads):
        return x
    xp = backend.array_module(x)
    out = xp.full(x.shape[:2] + geom.padded, value, dtype=x.dtype)
    out[(slice(None), slice(None)) + interior(geom)] = x
    return out


@functools.lru_cache(maxsize=1024)
def _windows(geom):
    """(offset number, slices into the padded input) for every kernel offset, row-major."""
    return tuple((i, (slice(None), slice(None)) + sl) for i, (_, sl) in enumerate(windows(geom)))


def _scatter_windows(parts, geom, shape, dtype, xp):
    """Sum ``parts(i)`` (one array per kernel offset) back onto the input pixels they came from."""
    dst = xp.zeros(shape[:2] + geom.padded, dtype=dtype)
    for i, sl in _windows(geom):
        dst[sl] += parts(i)
    return dst[(slice(None), slice(None)) + interior(geom)]


def _lowest(dtype):
    return -np.inf if np.dtype(dtype).kind == "f" else np.iinfo(dtype).min


class MaxPoolNd(Function):
    """Max pooling; returns ``(values, indices)`` where ``indices`` are flat positions in each
    input plane (``h * W + w`` in 2-D), as torch's ``return_indices``.

    Forward: the window maxima are a running ``maximum`` over the kernel offsets' slices; the
    argmax (kernel-offset number) is then found walking the offsets backwards, so that the
    first offset equal to the maximum is the one left (torch's tie rule). Windows holding a NaN
    (checked on the maxima, not the input) take the slower pass that lets the first NaN win.
    Backward: when the windows tile the input (stride == kernel, no padding, dilation 1) every
    input pixel is in at most one window and the gradient is written slice by slice
    (``grad * (arg == k)``); otherwise it is scattered.
    """

    @staticmethod
    def forward(ctx, x, geom=None):
        if _compiled(x, geom) and fused.pool_vectorised():  # one compiled pass over the planes (ops/fused.py)
            best, arg = fused.maxpool_2d(x, geom)
        else:
            best, arg = _by_plane_chunks(lambda xs: _max_forward(xs, geom), [x])
        ctx.geom, ctx.arg, ctx.shape = geom, arg, x.shape
        return best, arg

    @staticmethod
    def backward(ctx, gy):
        arg, geom = ctx.arg, ctx.geom
        if _compiled(gy, geom) and arg.dtype == np.int8 and not _tiles(geom):  # overlapping windows
            return fused.maxpool_backward_2d(gy, arg, geom)
        xp = backend.array_module(gy)
        if _tiles(geom):
            def part(g, a):
                return _tile_backward(g, a, geom)
        else:
            def part(g, a):
                return _scatter_windows(lambda i: g * (a == i), geom, g.shape[:2] + geom.in_size, g.dtype, xp)
        return _by_plane_chunks(part, [gy, arg], ctx.shape)


def _compiled(a, geom):
    """2-D float32 pooling the compiled passes take (C-contiguous NumPy arrays, int8 offsets):
    the forward where the CPU has the AVX-512 loop (ms, NumPy / compiled, one thread: LeNet-5's
    first 2x2 pool 0.51 / 0.21, SmallCNN-sized (128, 32, 32, 32) 6.1 / 1.2, ResNet-18's 3x3/2 27 /
    14), the backward when windows overlap (ResNet-18's: 27 / 6.6; for tiling windows NumPy's
    one strided write per offset is the faster)."""
    return (geom.nd == 2 and math.prod(geom.kernel) < 128 and fused.suits(a)
            and hasattr(fused._kernels, "maxpool_2d"))  # (a build older than the pooling pass: NumPy)


def _tile_backward(gy, arg, geom):
    """Max pooling's input gradient when the windows tile the input: one strided write per
    kernel offset, ``grad * (arg == k)``, and zeros where no window reads."""
    xp = backend.array_module(gy)
    gx = xp.empty(gy.shape[:2] + geom.in_size, dtype=gy.dtype)
    if any(o * k < w for o, k, w in zip(geom.out_size, geom.kernel, geom.in_size)):  # rows/columns no window reads
        gx[...] = 0
    for i, sl in _windows(geom):
        xp.multiply(gy, arg == i, out=gx[sl])
    return gx


def _max_forward(x, geom):
    """Window maxima and their kernel-offset numbers (see :class:`MaxPoolNd`)."""
    xp = backend.array_module(x)
    src = _padded(x, geom, _lowest(x.dtype))
    views = [src[sl] for _, sl in _windows(geom)]
    best = views[0].copy()
    for v in views[1:]:
        xp.maximum(best, v, out=best)
    itype = np.int8 if len(views) < 128 else np.int64
    if x.dtype.kind == "f" and bool(xp.isnan(best).any()):
        arg = _nan_argmax(views, xp, itype)
    else:  # backwards, so that the first maximum is written last (arithmetic: where() is slow)
        arg = (views[-1] == best) * itype(len(views) - 1)
        for i in range(len(views) - 2, -1, -1):
            arg += (views[i] == best) * (itype(i) - arg)
    return best, arg


# Inputs up to this many cache sizes are pooled whole: LeNet-5's (128, 6, 28, 28) (2.4 MB) was
# 10-20% slower in three chunks, SmallCNN's (128, 32, 32, 32) (16 MB) twice as fast in sixteen.
_CHUNK_ABOVE = 4


def _by_plane_chunks(fn, arrays, shape=None):
    """``fn(*arrays)``, computed a few ``(sample, channel)`` planes at a time when the arrays
    are larger than the cache, and stitched back together.

    Every kernel offset reads a strided view that spans the whole input; with one offset after
    another over an input larger than the cache, each view is streamed from memory again
    (nine times for 3x3 windows). On chunks of about ``cache_bytes()`` the views after the
    first are read from the cache: 3x3/2 max pooling of (8, 64, 112, 112) went from 61 to 21 ms
    (``benchmarks/conv.py``). The chunks are whole planes, so every window is computed exactly
    as before. ``arrays`` are ``(N, C, *spatial)`` and so are ``fn``'s results (an array or a
    tuple of arrays); ``shape`` is the largest array's shape when it is not ``arrays[0]``'s.
    """
    shape = arrays[0].shape if shape is None else shape
    planes = shape[0] * shape[1]
    plane_bytes = max(math.prod(shape[2:]) * arrays[0].dtype.itemsize, 1)
    if planes * plane_bytes <= _CHUNK_ABOVE * cache_bytes():  # a few MB: chunking costs more than it saves
        return fn(*arrays)
    step = max(1, cache_bytes() // plane_bytes)
    xp = backend.array_module(*arrays)
    flat = [a.reshape((planes, 1) + a.shape[2:]) for a in arrays]
    outs = None
    for start in range(0, planes, step):
        sl = slice(start, start + step)
        res = fn(*(f[sl] for f in flat))
        parts = res if isinstance(res, tuple) else (res,)
        if outs is None:
            outs = [xp.empty((planes,) + r.shape[1:], dtype=r.dtype) for r in parts]
        for out, r in zip(outs, parts):
            out[sl] = r
    outs = tuple(out.reshape(shape[:2] + out.shape[2:]) for out in outs)
    return outs if isinstance(res, tuple) else outs[0]


def _tiles(geom):
    """Windows that never overlap and need no padding: each input pixel is in at most one."""
    return (geom.stride == geom.kernel and all(d == 1 for d in geom.dilation)
            and not any(lo or hi for lo, hi in geom.pads)
            and all(o * k <= w for o, k, w in zip(geom.out_size, geom.kernel, geom.in_size)))


def _nan_argmax(views, xp, itype):
    """First-maximum offsets where the first NaN in a window counts as its maximum."""
    best = views[0].copy()
    arg = xp.zeros(best.shape, dtype=itype)
    for i, v in enumerate(views[1:], 1):  # (masked copies are slow in NumPy: update with arithmetic)
        m = (v > best) | (xp.isnan(v) & ~xp.isnan(best))  # strict: the first maximum wins ties
        xp.maximum(best, v, out=best)
        arg += m * (itype(i) - arg)
    return arg


def flat_indices(arg, geom):
    """Kernel-offset numbers from :class:`MaxPoolNd` -> flat input positions per plane."""
    xp = backend.array_module(arg)
    ks = np.unravel_index(np.arange(math.prod(geom.kernel)), geom.kernel)
    flat = xp.zeros(arg.shape, dtype=np.int64)
    a = arg.astype(np.int64)
    for d in range(geom.nd):
        o = xp.arange(geom.out_size[d]).reshape((-1,) + (1,) * (geom.nd - 1 - d))
        pos = o * geom.stride[d] - geom.pads[d][0] + xp.asarray(ks[d] * geom.dilation[d])[a]
        flat = flat * geom.in_size[d] + pos
    return flat


def avg_divisor(geom, count_include_pad, divisor_override, xp, dtype):
    """The number each window's sum is divided by (broadcastable to the output)."""
    if divisor_override:
        return dtype.type(divisor_override)
    div = None
    for d in range(geom.nd):
        w, k, s, p = geom.in_size[d], geom.kernel[d], geom.stride[d], geom.pads[d][0]
        start = np.arange(geom.out_size[d]) * s - p
        end = np.minimum(start + k, w + p)
        count = end - start if count_include_pad else np.minimum(end, w) - np.maximum(start, 0)
        count = count.reshape((-1,) + (1,) * (geom.nd - 1 - d))
        div = count if div is None else div * count
    return xp.asarray(div.astype(dtype))


class AvgPoolNd(Function):
    """Average pooling: window sums divided by :func:`avg_divisor`."""

    @staticmethod
    def forward(ctx, x, geom=None, count_include_pad=True, divisor_override=None):
        xp = backend.array_module(x)
        div = avg_divisor(geom, count_include_pad, divisor_override, xp, x.dtype)
        ctx.geom, ctx.div, ctx.shape = geom, div, x.shape
        return _by_plane_chunks(lambda xs: _window_means(xs, geom, div), [x])

    @staticmethod
    def backward(ctx, gy):
        xp = backend.array_module(gy)
        geom = ctx.geom

        def spread(g):
            share = g / ctx.div
            return _scatter_windows(lambda i: share, geom, g.shape[:2] + geom.in_size, g.dtype, xp)

        return _by_plane_chunks(spread, [gy], ctx.shape)


def _window_means(x, geom, div):
    """Sum of every window of ``x`` (zero padding) divided by ``div``."""
    src = _padded(x, geom, 0)
    wins = iter(_windows(geom))
    _, sl = next(wins)
    acc = src[sl].copy()
    for _, sl in wins:
        acc += src[sl]
    acc /= div
    return acc


def adaptive_windows(size, out):
    """Torch's adaptive windows: ``[floor(i*W/O), ceil((i+1)*W/O))`` for ``i < O``."""
    starts = [(i * size) // out for i in range(out)]
    ends = [-(-((i + 1) * size) // out) for i in range(out)]
    return starts, ends


def _average_matrix(size, out, dtype):
    a = np.zeros((out, size))
    for i, (s, e) in enumerate(zip(*adaptive_windows(size, out))):
        a[i, s:e] = 1.0 / (e - s)
    return a.astype(dtype)


def _along(x, axis, m, xp):
    """Apply matrix ``m`` (new x old) along ``axis`` of ``x``."""
    return xp.moveaxis(xp.tensordot(x, m, axes=([axis], [1])), -1, axis)


class AdaptiveAvgPoolNd(Function):
    @staticmethod
    def forward(ctx, x, output_size=None):
        xp = backend.array_module(x)
        nd = len(output_size)
        ctx.shape = x.shape
        size = x.shape[2:]
        if all(w % o == 0 for w, o in zip(size, output_size)):  # equal windows: reshape and mean
            k = tuple(w // o for w, o in zip(size, output_size))
            ctx.uniform = k
            split = x.shape[:2] + tuple(v for o, kk in zip(output_size, k) for v in (o, kk))
            return x.reshape(split).mean(axis=tuple(3 + 2 * i for i in range(nd)))
        ctx.uniform = None
        ctx.mats = [xp.asarray(_average_matrix(w, o, x.dtype)) for w, o in zip(size, output_size)]
        for d, m in enumerate(ctx.mats):
            x = _along(x, 2 + d, m, xp)
        return xp.ascontiguousarray(x)

    @staticmethod
    def backward(ctx, gy):
        xp = backend.array_module(gy)
        nd = gy.ndim - 2
        if ctx.uniform is not None:
            k = ctx.uniform
            g = (gy / gy.dtype.type(math.prod(k))).reshape(gy.shape[:2] + tuple(v for o in gy.shape[2:] for v in (o, 1)))
            full = xp.broadcast_to(g, gy.shape[:2] + tuple(v for o, kk in zip(gy.shape[2:], k) for v in (o, kk)))
            return full.reshape(ctx.shape)
        for d in range(nd):
            gy = _along(gy, 2 + d, ctx.mats[d].T, xp)
        return xp.ascontiguousarray(gy)


class AdaptiveMaxPoolNd(Function):
    """Adaptive max pooling: windows of varying length are gathered into a padded block
    (short windows repeat their last index, which never changes the max or the first argmax)."""

    @staticmethod
    def forward(ctx, x, output_size=None):
        xp = backend.array_module(x)
        nd = len(output_size)
        size = x.shape[2:]
        idx = []
        for w, o in zip(size, output_size):
            starts, ends = adaptive_windows(w, o)
            length = max(e - s for s, e in zip(starts, ends))
            idx.append(np.array([[min(s + j, e - 1) for j in range(length)] for s, e in zip(starts, ends)]))
        # gather to (N, C, o1, L1, o2, L2, ...) then move window axes last
        index = tuple(xp.asarray(ix.reshape(ix.shape + (1, 1) * (nd - 1 - d))) for d, ix in enumerate(idx))
        block = x[(slice(None), slice(None)) + index]
        order = (0, 1) + tuple(2 + 2 * d for d in range(nd)) + tuple(3 + 2 * d for d in range(nd))
        block = block.transpose(order).reshape(x.shape[:2] + tuple(output_size) + (-1,))
        pick = block.argmax(axis=-1)  # first maximum (and NaN propagates: argmax picks the first NaN)
        values = xp.take_along_axis(block, pick[..., None], axis=-1)[..., 0]
        lengths = tuple(ix.shape[1] for ix in idx)
        local = np.unravel_index(backend.to_numpy(pick), lengths)
        flat = np.zeros(pick.shape, dtype=np.int64)
        for d in range(nd):
            o = np.arange(output_size[d]).reshape((-1,) + (1,) * (nd - 1 - d))
            flat = flat * size[d] + idx[d][o, local[d]]
        flat = xp.asarray(flat)
        ctx.flat, ctx.shape = flat, x.shape
        return values, flat

    @staticmethod
    def backward(ctx, gy):
        return scatter_planes(gy, ctx.flat, ctx.shape)


def scatter_planes(values, flat, shape):
    """Add ``values`` at flat per-plane positions ``flat`` into zeros of ``shape`` (repeats add)."""
    xp = backend.array_module(values)
    n, c = shape[:2]
    plane = math.prod(shape[2:])
    rows = xp.arange(n * c).reshape(n, c, *(1,) * (values.ndim - 2)) * plane
    total = xp.bincount((rows + flat).ravel(), weights=values.ravel().astype(np.float64), minlength=n * c * plane)
    return total.astype(values.dtype).reshape(shape)


class MaxUnpoolNd(Function):
    """Put each value back at its flat per-plane index in zeros of ``output_size`` (the
    partial inverse of max pooling); the gradient gathers from the same positions."""

    @staticmethod
    def forward(ctx, x, indices=None, output_size=None):
        xp = backend.array_module(x)
        n, c = x.shape[:2]
        out = xp.zeros((n, c, math.prod(output_size)), dtype=x.dtype)
        flat = indices.reshape(n, c, -1)
        xp.put_along_axis(out, flat, x.reshape(n, c, -1), axis=2)
        ctx.flat, ctx.shape = flat, x.shape
        return out.reshape((n, c) + tuple(output_size))

    @staticmethod
    def backward(ctx, gy):
        xp = backend.array_module(gy)
        g = gy.reshape(gy.shape[0], gy.shape[1], -1)
        return xp.take_along_axis(g, ctx.flat, axis=2).reshape(ctx.shape)
