"""The compiled memory passes around the GEMM (``convlab._kernels``, src/convlab/_kernels.c).

NumPy spends four or five passes over the activations on a training-mode batch norm and two on a
ReLU, and small layers wait on memory, not arithmetic; the compiled passes do each in the fewest
the maths allows (batch norm: the statistics in one read, the normalisation in one read and one
write). Their callers: :class:`~convlab.ops.elementwise.ReLU`,
:class:`~convlab.ops.norm.BatchNorm`, :func:`~convlab.ops.conv_columns.im2col` and ``col2im``
for 2-D geometries (NumPy's padded copy and one strided copy per kernel offset move three times
the bytes), :class:`~convlab.ops.pool.MaxPoolNd` (2-D), the flat grid's copies in
ops/conv_shift.py (1-D and 2-D) and the depthwise convolution of ops/conv_depthwise.py (2-D).
Each calls them where :func:`suits` says so and keeps its NumPy code for everything else
(float64, GPU arrays, non-contiguous views, 3-D, a build without a C compiler).
``set_enabled(False)`` or ``CONVLAB_KERNELS=numpy`` keeps everything on NumPy; the tests run
both.

Threads: each pass is cut into pieces that write disjoint outputs and sum nothing across the cut
(elements, rows, channels or samples), so its result is the same bits on any thread count; a
pass runs on one thread per ``PARALLEL_MIN_VALUES`` values it touches, at most
``convlab.get_num_threads()``.

Shapes: ``x`` and ``g`` are C-contiguous float32 ``(N, C, *spatial)``; per-channel vectors are
``(C,)``; the statistics come back in float64 (summed in float64, rows merged with Chan's
formula) for the caller to round.
"""

from __future__ import annotations

import math
import os

import numpy as np

from .. import threads

try:
    from .. import _kernels
except ImportError:  # built without a C compiler: NumPy only
    _kernels = None

_AVAILABLE = _kernels is not None
_enabled = _AVAILABLE and os.environ.get("CONVLAB_KERNELS", "auto").lower() != "numpy"
# The size rule for the passes' threads: one thread per PARALLEL_MIN_VALUES values a pass touches
# (1 MiB of float32), at most convlab's thread count; a smaller pass stays on the calling thread.
# Measured on a 2-vCPU Zen 5 VM before the pool was persistent: with passes from 128K values split,
# LeNet-5's training step went from 5.45 to 7.9 ms (a pass reads what the op before it just wrote
# into the calling core's cache, and the other core pays to fetch it, plus a thread start). With
# the persistent pool, training steps on 2 threads, minimum of 11 interleaved (19:57 UTC, load 3.5
# from other sessions' low-priority jobs; the convolutions' size rule at 16 MFLOP): ResNet-20
# 136 ms at 256K values per thread against 140-145 at 1M (ResNet-20's 32- and 64-channel stages,
# 0.5-1M values a pass, ran their batch norms and ReLUs on one thread), LeNet-5 3.60 against
# 3.6-3.7 ms; 128K and 64K no better than 256K.
PARALLEL_MIN_VALUES = 1 << 18
if _AVAILABLE and hasattr(_kernels, "set_threads"):  # a build older than the pool runs every pass on one thread
    threads.on_change(lambda n: _kernels.set_threads(n, PARALLEL_MIN_VALUES))


def available() -> bool:
    """True when the compiled passes were built."""
    return _AVAILABLE


def enabled() -> bool:
    """True when the ops use the compiled passes (built and not switched off)."""
    return _enabled


def set_enabled(on: bool) -> bool:
    """Use the compiled passes (when built) or keep every op on NumPy; returns the
    previous setting. ``set_enabled(True)`` where they were not built raises ``RuntimeError``."""
    global _enabled
    if on and not _AVAILABLE:
        raise RuntimeError("set_enabled: convlab's compiled kernels are not available here (built without a C compiler)")
    previous, _enabled = _enabled, bool(on)
    return previous


def suits(*arrays) -> bool:
    """True when the compiled passes are on and every array is a C-contiguous float32 NumPy array."""
    return _enabled and all(type(a) is np.ndarray and a.dtype == np.float32 and a.flags.c_contiguous for a in arrays)


def relu(x):
    """``(max(x, 0), not x <= 0)`` in one pass (a NaN stays NaN and keeps its gradient)."""
    y, mask = np.empty_like(x), np.empty(x.shape, dtype=bool)
    _kernels.relu(x, y, mask)
    return y, mask


def relu_backward(g, mask):
    """``g * mask`` (the gradient of :func:`relu`), as NumPy computes it."""
    out = np.empty_like(g)
    _kernels.relu_backward(g, mask, out)
    return out


def moments(x):
    """Per-channel mean and biased variance of ``x`` ``(N, C, *)``, float64 ``(C,)`` each."""
    c = x.shape[1]
    mean, var = np.empty(c), np.empty(c)
    _kernels.moments(x, x.shape[0], c, mean, var)
    return mean, var


def normalize(x, mean, scale, shift=None):
    """``(x - mean) * scale + shift`` per channel: ``x`` ``(N, C, *)``, the rest ``(C,)`` float32
    (no ``shift``: 0)."""
    y = np.empty_like(x)
    shift = np.zeros(x.shape[1], np.float32) if shift is None else _vec(shift)
    _kernels.normalize(x, x.shape[0], x.shape[1], _vec(mean), _vec(scale), shift, y)
    return y


def grad_sums(g, x, mean):
    """Per channel ``sum(g)`` and ``sum(g * (x - mean))``, float64 ``(C,)`` each."""
    c = x.shape[1]
    sum_g, sum_gxc = np.empty(c), np.empty(c)
    _kernels.grad_sums(g, x, x.shape[0], c, _vec(mean), sum_g, sum_gxc)
    return sum_g, sum_gxc


def normalize_backward(g, x, k, mean, a, b):
    """``g * k + (x - mean) * a + b`` per channel: ``g``, ``x`` ``(N, C, *)``, the rest ``(C,)``."""
    out = np.empty_like(g)
    _kernels.normalize_backward(g, x, x.shape[0], x.shape[1], _vec(k), _vec(mean), _vec(a), _vec(b), out)
    return out


def im2col_2d(x, geom):
    """:func:`~convlab.ops.conv_columns.im2col` of a 2-D geometry: ``(N, C, H, W)`` -> columns
    ``(C, KH, KW, N, OH, OW)``, read straight from ``x`` (zeros in the padding)."""
    n, c = x.shape[:2]
    col = np.empty((c,) + geom.kernel + (n,) + geom.out_size, dtype=np.float32)
    _kernels.im2col_2d(x, _geometry(n, c, geom), col)
    return col


def col2im_2d(col, geom):
    """:func:`~convlab.ops.conv_columns.col2im` of a 2-D geometry: columns ``(C, KH, KW, N, OH, OW)``
    -> ``(N, C, H, W)``, every entry added onto the pixel it was read from."""
    c, n = col.shape[0], col.shape[3]
    out = np.empty((n, c) + geom.in_size, dtype=np.float32)
    _kernels.col2im_2d(col, _geometry(n, c, geom), out)
    return out


def grid_in(x, dims, base, out):
    """``x`` ``(N, C, h, w)`` (any shape with those sizes) onto the flat padded grids of ``out``
    ``(C, L)``: ``out[c, base + s * grid_h * grid_w + i * grid_w + j] = x[s, c, i, j]``, zeros
    elsewhere (ops/conv_shift.py). ``dims`` is ``(h, w, grid_h, grid_w)``."""
    _kernels.grid_in(x, (x.shape[0], x.shape[1]) + tuple(dims) + (base,), out)


def phase_grid(x, dims, top, left, out):
    """``x`` ``(N, C, h, w)``'s four stride-2 phases on flat grids (ops/conv_phase.py): ``out``
    ``(4C, L)``, ``out[4c + 2a + b, s * grid_h * grid_w + u * grid_w + v] = x[s, c, 2u + a - top,
    2v + b - left]``, zeros outside ``x`` and past the planes. ``dims`` is ``(h, w, grid_h, grid_w)``."""
    _kernels.phase_grid(x, (x.shape[0], x.shape[1]) + tuple(dims) + (top, left), out)


def grid_out(src, dims, bias, out):
    """The reverse of :func:`grid_in` with ``base`` 0, plus a per-channel ``bias`` (or None):
    ``out[s, c, i, j] = src[c, s * grid_h * grid_w + i * grid_w + j] (+ bias[c])``, ``out``
    ``(N, C, h, w)``."""
    _kernels.grid_out(src, (out.shape[0], out.shape[1]) + tuple(dims), None if bias is None else _vec(bias), out)


def depthwise_2d(mode, a, b, geom, bias=None):
    """Stride-1 depthwise convolution of a 2-D geometry (ops/conv_depthwise.py), plane by plane:
    mode 0 ``conv(a=x, b=w) + bias`` -> ``(N, C, *out)``; 1 the input gradient from ``a=grad_y``,
    ``b=w`` -> ``(N, C, *in)``; 2 the weight gradient from ``a=x``, ``b=grad_y`` ->
    ``(C, 1, *kernel)`` (summed in float64 over the planes, returned in float32)."""
    n, c = a.shape[:2]
    if mode == 2:
        out = np.empty(c * math.prod(geom.kernel))
    else:
        out = np.empty((n, c) + (geom.out_size if mode == 0 else geom.in_size), dtype=np.float32)
    _kernels.depthwise_2d(mode, a, b, _geometry(n, c, geom), None if bias is None else _vec(bias), out)
    return out.astype(np.float32).reshape((c, 1) + geom.kernel) if mode == 2 else out


def maxpool_2d(x, geom):
    """2-D max pooling of ``x`` ``(N, C, H, W)``: the window maxima ``(N, C, OH, OW)`` and the
    row-major kernel-offset number of each (int8; ties and NaNs as ops/pool.py's MaxPoolNd), in
    one pass (a window that reads only padding gives -inf and offset 0)."""
    n, c = x.shape[:2]
    best = np.empty((n, c) + geom.out_size, dtype=np.float32)
    arg = np.empty(best.shape, dtype=np.int8)
    _kernels.maxpool_2d(x, _geometry(n, c, geom), best, arg)
    return best, arg


def pool_vectorised() -> bool:
    """True when :func:`maxpool_2d` runs the AVX-512 loop (the CPU has AVX-512F), which the ops
    take; the portable loop is slower than NumPy on short rows and stays for the tests."""
    return hasattr(_kernels, "pool_simd") and bool(_kernels.pool_simd())  # (a build older than it: no)


def maxpool_backward_2d(gy, arg, geom):
    """The input gradient of :func:`maxpool_2d`: each ``gy`` ``(N, C, OH, OW)`` entry added onto
    the cell its window's maximum came from -> ``(N, C, H, W)``."""
    n, c = gy.shape[:2]
    out = np.empty((n, c) + geom.in_size, dtype=np.float32)
    _kernels.maxpool_backward_2d(gy, np.ascontiguousarray(arg, dtype=np.int8), _geometry(n, c, geom), out)
    return out


def _geometry(n, c, geom):
    return (n, c, *geom.in_size, *geom.kernel, *geom.stride, *geom.dilation, geom.pads[0][0], geom.pads[1][0],
            *geom.out_size)


def _vec(v):
    return np.ascontiguousarray(v, dtype=np.float32)


__all__ = ["available", "col2im_2d", "depthwise_2d", "enabled", "grad_sums", "grid_in", "grid_out", "im2col_2d",
           "maxpool_2d", "maxpool_backward_2d", "moments", "normalize", "normalize_backward", "phase_grid",
           "pool_vectorised", "relu",
           "relu_backward", "set_enabled", "suits"]
