"""Column machinery shared by convolution and pooling: im2col/col2im as loops over kernel
offsets with strided slices, batch chunking, and the memory budget.

``im2col`` turns a convolution into a matrix product by copying, for each kernel offset ``k``,
the strided slice of the padded input that offset reads at every output position. ``col2im``
is its adjoint: each column entry is added back onto the pixel it was copied from.
"""

from __future__ import annotations

import functools
import itertools
import math

from .. import backend
from ..validate import ConvlabError
from . import fused

_budget = {"bytes": 1 << 30}


def set_memory_budget(nbytes: int) -> int:
    """Set the largest im2col buffer (bytes) before the batch is chunked; returns the old one."""
    nbytes = int(nbytes)
    if nbytes < 1:
        raise ConvlabError(f"set_memory_budget: budget must be a positive number of bytes, got {nbytes}")
    old, _budget["bytes"] = _budget["bytes"], nbytes
    return old


def get_memory_budget() -> int:
    """The largest im2col buffer (bytes) before the batch is chunked."""
    return _budget["bytes"]


# --------------------------------------------------------------------------- im2col / col2im
def window_slices(geom, k):
    """Slices of the padded input read by kernel offset ``k``: ``k*d + s*o`` for every output o."""
    return tuple(slice(kd * d, kd * d + s * (o - 1) + 1, s)
                 for kd, d, s, o in zip(k, geom.dilation, geom.stride, geom.out_size))


@functools.lru_cache(maxsize=1024)
def windows(geom):
    """``(k, window_slices(geom, k))`` for every kernel offset ``k`` in row-major order, built
    once per geometry (a layer meets the same geometry at every step)."""
    return tuple((k, window_slices(geom, k)) for k in itertools.product(*(range(k) for k in geom.kernel)))


def interior(geom):
    return tuple(slice(lo, lo + w) for (lo, _), w in zip(geom.pads, geom.in_size))


def swap01(nd):
    return (1, 0) + tuple(range(2, nd + 2))


def im2col(x, geom):
    """``(N, C, *in)`` -> columns ``(C, *kernel, N, *out)`` with
    ``col[c, k, n, o] = padded_x[n, c, o * stride + k * dilation]`` (2-D float32: one compiled
    pass, ops/fused.py)."""
    if geom.nd == 2 and fused.suits(x):
        return fused.im2col_2d(x, geom)
    xp = backend.array_module(x)
    n, c = x.shape[:2]
    perm = swap01(geom.nd)
    if any(lo or hi for lo, hi in geom.pads):
        src = xp.zeros((c, n) + geom.padded, dtype=x.dtype)
        src[(slice(None), slice(None)) + interior(geom)] = x.transpose(perm)
    else:
        src = x.transpose(perm)
    col = xp.empty((c,) + geom.kernel + (n,) + geom.out_size, dtype=x.dtype)
    for k, sl in windows(geom):
        col[(slice(None),) + k] = src[(slice(None), slice(None)) + sl]
    return col


def col2im(col, geom):
    """Adjoint of :func:`im2col`: columns ``(C, *kernel, N, *out)`` -> ``(N, C, *in)``, adding
    every entry back onto the input pixel it was read from (padding is dropped; 2-D float32:
    one compiled pass, ops/fused.py)."""
    if geom.nd == 2 and fused.suits(col):
        return fused.col2im_2d(col, geom)
    xp = backend.array_module(col)
    c, n = col.shape[0], col.shape[1 + geom.nd]
    dst = xp.zeros((c, n) + geom.padded, dtype=col.dtype)
    for k, sl in windows(geom):
        dst[(slice(None), slice(None)) + sl] += col[(slice(None),) + k]
    return xp.ascontiguousarray(dst[(slice(None), slice(None)) + interior(geom)].transpose(swap01(geom.nd)))


# --------------------------------------------------------------------------- GEMM helpers
def channel_rows(a, groups):
    """``(N, C, *sp)`` -> ``(groups, C/groups, N * prod(sp))`` (channels first, one copy)."""
    n, c = a.shape[:2]
    return a.transpose(swap01(a.ndim - 2)).reshape(groups, c // groups, n * math.prod(a.shape[2:]))


# Columns for a few samples at a time stay in the CPU cache between the copy that builds them
# and the GEMM that reads them; one huge column matrix would be streamed from memory twice.
# About one core's L2: OpenBLAS's float32 GEMM on these shapes runs 5-30% faster on 1 MiB
# chunks than on 4 MiB ones (benchmarks/conv.py). Buffers up to _FLOOR_BYTES are always
# allowed, whatever the memory budget, so a tiny budget means "one sample per chunk".
_CACHE_BYTES = 1 << 20
_FLOOR_BYTES = 4 << 20


def cache_bytes() -> int:
    """The column chunk size aimed at (bytes)."""
    return _CACHE_BYTES


def batch_chunks(n, c, geom, itemsize, per_sample=None, cache=None):
    """Batch slices whose column matrices (or ``per_sample`` bytes each) fit both the cache
    target (``cache`` bytes, default ``_CACHE_BYTES``) and the memory budget."""
    if per_sample is None:
        per_sample = c * math.prod(geom.kernel) * math.prod(geom.out_size) * itemsize
    per_sample = max(per_sample, 1)
    # A sample is never split, so one sample is the smallest chunk: refuse, before allocating
    # anything, a sample whose columns exceed the budget.
    if per_sample > max(_budget["bytes"], _FLOOR_BYTES):
        raise MemoryError(
            f"convolution: one sample's column buffer needs {per_sample} bytes ({per_sample / 2**30:.2f} GiB), more than "
            f"the memory budget of {_budget['bytes']} bytes; raise it with convlab.ops.conv.set_memory_budget() "
            "or use a smaller input"
        )
    step = max(1, min(n, min(cache or _CACHE_BYTES, _budget["bytes"]) // per_sample))
    return [slice(s, min(s + step, n)) for s in range(0, n, step)]
