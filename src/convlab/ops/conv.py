"""N-d convolution and transposed convolution: the fast path (im2col + one GEMM).

The GEMMs go through ``ops/gemm.py``: convlab's compiled float32 GEMM (AVX-512 or AVX2) where it was built,
``numpy.matmul`` (BLAS) otherwise and for float64.

Layouts (named in words, as JAX does): inputs are ``(batch, channels, *spatial)``, weights
``(out_channels, in_channels/groups, *kernel)``. Inside, the input is padded once into
``(channels, batch, *padded)`` and unrolled into a column matrix laid out
``(channels, *kernel, batch, *out)``: for every kernel offset ``k`` one strided slice of the
padded input is copied into place, so there is a Python loop over the (few) kernel offsets and
never over the batch or the output pixels. Grouped, that matrix is
``(groups, in/groups * prod(kernel), batch * prod(out))`` and the forward pass is one batched
GEMM::

    y[g] = W[g] @ col[g]                 (out/groups, batch * prod(out))

The gradient algebra, for ``y = W @ col(x) + b``::

    grad_W   = grad_y @ col(x)^T         the seed-000 kernel gradient, for every weight at once
    grad_b   = grad_y summed over batch and pixels
    grad_x   = col2im(W^T @ grad_y)      col2im is the adjoint of im2col: each column entry
                                         is added back to the pixel it was copied from

``col2im(W^T @ grad_y)`` is exactly the transposed convolution ("full convolution with the
flipped kernel" of seed 003), so :class:`ConvTransposeNd` is that same code path run forwards,
and its backward is an ordinary convolution. With stride 1 the input gradient is computed
literally as seed 003 writes it: a convolution of the padded ``grad_y`` with the kernel flipped
180 degrees (and its in/out channel axes swapped), which reuses the fast forward path and
avoids the scattered adds of col2im.

Depthwise stride-1 convolutions (one input and one output channel per group) have no GEMM worth
the name, so ``ops/conv_depthwise.py`` computes them as ``prod(kernel)`` multiply-adds of shifted
slices instead.

Memory and speed: the column matrix holds ``prod(kernel)`` copies of the input, so the batch is
processed a few samples at a time, sized to stay in the CPU cache between the copy that builds
the columns and the GEMM that reads them (and never above the memory budget,
:func:`set_memory_budget`, default 1 GiB). The forward pass's columns are kept for the weight
gradient when all of them fit in the budget, and rebuilt chunk by chunk in the backward pass
when they do not. Chunking only splits the batch: every output element is the same sum.
"""

from __future__ import annotations

import functools
import math

from .. import backend
from ..grad_mode import is_grad_enabled
from ..graph import Function
from ..shapes import ConvGeometry
from . import gemm
from .conv_columns import batch_chunks, cache_bytes, channel_rows, col2im, get_memory_budget, im2col, set_memory_budget, swap01
from .conv_depthwise import depthwise_forward, depthwise_input_grad, depthwise_weight_grad, is_depthwise
from .conv_phase import phase_forward, phase_suits, phase_weight_grad
from .conv_shift import ShiftLayout, shift_forward, shift_input_grad, shift_weight_grad

_MAX_WASTE = 1.3  # see _shift_layout
_MAX_WASTE_DIRECT = 1.6  # the same for the compiled GEMM, which builds no columns
_FLIP_RATIO = 2  # see conv_input_grad
_FLIP_RATIO_DIRECT = 5.5  # the same on the compiled GEMM, which reads the flipped columns from the grid
_SHORT_ROWS = 24  # see conv_input_grad
_COLUMN_CHUNKS_FOLLOW_THREADS = True  # see _column_cache


def conv_forward(x, w, geom, bias=None, saved=None):
    """``y = conv(x, w) + bias`` for ``x`` ``(N, C, *in)`` and ``w`` ``(O, C/groups, *K)``.

    ``saved``, when a dict, receives what :func:`conv_weight_grad` needs: the shifted grid's
    buffer, the column matrices (when they fit in the memory budget) or the input itself.
    """
    if is_depthwise(w.shape, geom):
        if saved is not None:
            saved["x"] = x
        return depthwise_forward(x, w, geom, bias)
    if _tiny_pointwise(w.shape, geom, x.shape[0]):
        if saved is not None:
            saved["x"] = x
        return _pointwise_forward(x, w, bias)
    layout = _shift_layout(geom, x.shape[1], x.dtype.itemsize)
    if layout is not None:
        return shift_forward(x, w, layout, bias, saved)
    phases = phase_suits(x, w, geom, bias)
    if phases is not None:
        return phase_forward(x, w, phases, bias, saved)
    return _columns_forward(x, w, geom, bias, saved)


_TINY_MACS = 1 << 22  # see _tiny_pointwise


def _tiny_pointwise(w_shape, geom, n: int) -> bool:
    """A small 1x1 convolution (stride 1, no padding, one group, at most ~4M multiply-adds)."""
    return (geom.groups == 1 and all(k == 1 for k in geom.kernel) and all(s == 1 for s in geom.stride)
            and not any(lo or hi for lo, hi in geom.pads) and tuple(geom.in_size) == tuple(geom.out_size)
            and n * math.prod(w_shape[:2]) * math.prod(geom.out_size) <= _TINY_MACS)


def _pointwise_forward(x, w, bias):
    """A 1x1 convolution with stride 1 and no padding is the matmul ``W (O, C) @ X (N, C, H*W)``.
    Small ones are computed as exactly that matmul, so each output sums its ``C`` products in the
    order a matrix product does (channel 0 first), as torch's 1x1 convolution does: code that
    checks a 1x1 convolution against ``w.reshape(O, C) @ x.reshape(N, C, -1)`` (or a loop over
    the channels) with a tight tolerance sees the same agreement as on torch. Large ones keep the
    faster blocked kernels, whose sums are grouped differently."""
    xp = backend.array_module(x, w)
    n, c = x.shape[:2]
    o = w.shape[0]
    y = xp.matmul(w.reshape(o, c), x.reshape(n, c, -1))
    if bias is not None:
        y += bias.reshape(o, 1)
    return y.reshape((n, o) + x.shape[2:])


def _shift_layout(geom, c, itemsize, max_waste=None):
    """The flat-grid layout (``ops/conv_shift.py``) when it suits ``geom``, else None: stride 1,
    at most 30% extra GEMM on grid positions past the output's edge (``max_waste`` 1.3; LeNet's
    valid 5x5 on 14x14, at 40%, is faster on the column path), and one sample's columns within
    the memory budget (past it, the column path chunks finer or says why not). On the compiled
    float32 GEMM, which reads the grid without copying columns, up to 60% (LeNet-5's conv2
    forward+backward at batch 128: 5.2 ms on the column path, 4.1 ms on the grid)."""
    if max_waste is None:
        max_waste = _MAX_WASTE_DIRECT if itemsize == 4 and gemm.native_enabled() else _MAX_WASTE
    return _cached_shift_layout(geom, c, itemsize, max_waste, get_memory_budget())


@functools.lru_cache(maxsize=1024)
def _cached_shift_layout(geom, c, itemsize, max_waste, budget):
    """:func:`_shift_layout`, built once per geometry (layouts are never modified)."""
    if not ShiftLayout.fits(geom):
        return None
    layout = ShiftLayout(geom)
    if layout.waste() > max_waste or c * math.prod(geom.kernel) * layout.span * itemsize > budget:
        return None
    return layout


def _columns_forward(x, w, geom, bias, saved):
    """im2col + GEMM a few samples at a time (any stride); keeps the columns in ``saved`` when
    all of them fit in the memory budget, else the input."""
    xp = backend.array_module(x, w)
    n, c = x.shape[:2]
    o, g = w.shape[0], geom.groups
    wm = w.reshape(g, o // g, -1)
    y = xp.empty((n, o) + geom.out_size, dtype=x.dtype)
    perm = swap01(geom.nd)
    b = None if bias is None else bias.reshape((o, 1) + (1,) * geom.nd)
    keep = None
    if saved is not None:
        if c * math.prod(geom.kernel) * n * math.prod(geom.out_size) * x.dtype.itemsize <= get_memory_budget():
            keep = saved["cols"] = []
        else:
            saved["x"] = x
    chunks = batch_chunks(n, c, geom, x.dtype.itemsize, cache=_column_cache(w.shape, x, geom))
    if saved is not None:  # the weight gradient sums the same chunks (their count may follow the threads)
        saved["chunks"] = chunks
    for sl in chunks:
        xs = x[sl]
        col = im2col(xs, geom).reshape(g, wm.shape[2], -1)
        if keep is not None:
            keep.append(col)
        ys = gemm.matmul(wm, col).reshape((o, xs.shape[0]) + geom.out_size)
        if b is None:
            y[sl] = ys.transpose(perm)
        else:  # the bias add rides on the copy back to (N, O, *out)
            xp.add(ys, b, out=y[sl].transpose(perm))
    return y


def conv_input_grad(gy, w, geom):
    """``grad_x`` of ``y = conv(x, w)``: the transposed convolution of ``grad_y`` with ``w``."""
    if is_depthwise(w.shape, geom):
        return depthwise_input_grad(gy, w, geom)
    flipped = _flipped_geometry(geom)
    o, cg = w.shape[:2]
    # its columns have one row per output channel and one column per *input* pixel, col2im's the
    # reverse; take it when they are not much larger (col2im's scattered adds cost about double).
    # The compiled GEMM builds no columns for it, so it wins up to a ratio of about 6, batch 128
    # (ms, flipped / col2im): 16x6x5x5 on 14x14 (ratio 5.2) 1.85 / 2.30; 20x8x3x3 on 16x16 (2.5)
    # 1.42 / 2.02; 12x4x3x3 on 28x28 (3.0) 2.70 / 2.92; 6x1x5x5 on 28x28 (6.0) 2.94 / 2.24;
    # 32x3x3x3 on 32x32 (10.7) 10.5 / 4.6.
    ratio = _FLIP_RATIO_DIRECT if gemm.native_for(gy, w) else _FLIP_RATIO
    if flipped is not None and o * math.prod(geom.in_size) <= ratio * cg * geom.groups * math.prod(geom.out_size):
        g = geom.groups
        wf = w.reshape((g, o // g, cg) + geom.kernel).swapaxes(1, 2).reshape((g * cg, o // g) + geom.kernel)
        wf = wf[(slice(None), slice(None)) + (slice(None, None, -1),) * geom.nd]
        return conv_forward(gy, backend.array_module(w).ascontiguousarray(wf), flipped)
    # col2im's scattered adds run along output rows: short rows (LeNet's 10) make its strided
    # adds slow, and the flat grid's shifted adds (rows of the whole sample) win by about 25%
    layout = _shift_layout(geom, w.shape[1] * geom.groups, gy.dtype.itemsize, max_waste=1.5)
    if layout is not None and geom.out_size[-1] < _SHORT_ROWS:
        return shift_input_grad(gy, w, layout)
    xp = backend.array_module(gy, w)
    n, c = gy.shape[0], w.shape[1] * geom.groups
    o, g = w.shape[0], geom.groups
    wt = w.reshape(g, o // g, -1).transpose(0, 2, 1)
    gx = xp.empty((n, c) + geom.in_size, dtype=gy.dtype)
    for sl in batch_chunks(n, c, geom, gy.dtype.itemsize, cache=_column_cache(w.shape, gy, geom)):
        rows = channel_rows(gy[sl], g)
        gcol = gemm.matmul(wt, rows).reshape((c,) + geom.kernel + (gy[sl].shape[0],) + geom.out_size)
        gx[sl] = col2im(gcol, geom)
    return gx


def _flipped_geometry(geom):
    """For stride 1, the geometry of ``grad_x = conv(pad(grad_y), flipped w)``, else None.

    An output pixel ``o`` reads input ``o + k*d - lo``; so input ``i`` receives from outputs
    ``i + lo - k*d``: a correlation with the flipped kernel after padding ``grad_y`` by
    ``d(K-1) - lo`` before and ``W + lo - O`` after (``d(K-1) - hi`` unless a transposed
    convolution's ``output_padding`` made the input longer).
    """
    if any(s != 1 for s in geom.stride):
        return None
    pads = tuple((d * (k - 1) - lo, w + lo - o)
                 for k, d, (lo, _), w, o in zip(geom.kernel, geom.dilation, geom.pads, geom.in_size, geom.out_size))
    if any(a < 0 or b < 0 for a, b in pads):  # padding wider than the kernel: use col2im
        return None
    return ConvGeometry(geom.kernel, geom.stride, geom.dilation, pads, geom.groups, geom.out_size, geom.in_size)


def conv_weight_grad(x, gy, geom, w_shape, saved=None):
    """``grad_W = grad_y @ col(x)^T``, summed over the batch chunk by chunk, from what
    :func:`conv_forward` put in ``saved`` (or from ``x`` when ``saved`` is None)."""
    saved = saved or {"x": x}
    if is_depthwise(w_shape, geom):
        return depthwise_weight_grad(saved["x"], gy, geom)
    c = w_shape[1] * geom.groups
    if "phase_buf" in saved:  # a stride-2 layer's forward pass took the phase grids
        return phase_weight_grad(saved["phase_buf"], gy, saved["phase_layout"], w_shape)
    if "buf" in saved:  # the forward pass took the flat grid: the same layout, whatever changed since
        return shift_weight_grad(saved["buf"], gy, saved["layout"], w_shape, saved.get("cols"))
    layout = _shift_layout(geom, c, gy.dtype.itemsize) if "x" in saved else None
    if layout is not None:
        return shift_weight_grad(layout.scatter(saved["x"]), gy, layout, w_shape)
    n, g = gy.shape[0], geom.groups
    cols, x = saved.get("cols"), saved.get("x")
    gw = None
    chunks = saved.get("chunks") or batch_chunks(n, c, geom, gy.dtype.itemsize, cache=_column_cache(w_shape, gy, geom))
    for i, sl in enumerate(chunks):
        col = cols[i] if cols is not None else im2col(x[sl], geom).reshape(g, c // g * math.prod(geom.kernel), -1)
        part = gemm.matmul(channel_rows(gy[sl], g), col.transpose(0, 2, 1))
        gw = part if gw is None else gw + part
    return gw.reshape(w_shape)


def _weight_cache(w_shape, a):
    """Chunk bytes for a weight of ``w_shape``: at least the weight, which every chunk's GEMM reads."""
    return max(cache_bytes(), math.prod(w_shape) * a.dtype.itemsize)


def _column_cache(w_shape, a, geom):
    """Chunk bytes for the column path (``a`` ``(N, ...)``, the input or grad_y): at least the
    weight's (:func:`_weight_cache`), and, where the size rule (``ops/gemm.py``) gives the whole
    layer's product ``t >= 2`` threads, chunks whose products each get all ``t``: a strided
    layer's cache-sized chunks (ResNet-20's 16>32 stride-2 layer: 7 samples, 16 MFLOP) ran one
    after another on one thread, while the other cores waited. Fewer, larger chunks live in the
    shared L3 instead of one core's L2. The weight gradient's sum over the chunks then follows
    the thread count (one more place where its float32 rounding does, besides the product's k
    split: ``convlab.threads``)."""
    base = _weight_cache(w_shape, a)
    n, per_flops = a.shape[0], 2 * math.prod(geom.out_size) * math.prod(w_shape)
    t = gemm.threads_for(n * per_flops // 2) if _COLUMN_CHUNKS_FOLLOW_THREADS and gemm.native_for(a) else 1
    if t < 2 or n < 2:
        return base
    samples = -(-t * gemm.flops_per_thread() // per_flops)  # a chunk's product at t threads' worth
    step = -(-n // max(1, n // samples))  # as even as the count allows
    per_sample = w_shape[1] * geom.groups * math.prod(geom.kernel) * math.prod(geom.out_size) * a.dtype.itemsize
    return max(base, step * per_sample)


def _bias_grad(gy):
    """Every output pixel adds the bias once: sum over batch and pixels."""
    return gy.sum(axis=(0,) + tuple(range(2, gy.ndim)))


# --------------------------------------------------------------------------- Functions
class ConvNd(Function):
    """Convolution (torch's cross-correlation) of ``(N, C, *in)`` with ``(O, C/groups, *K)``.

    ``geom`` is a checked :class:`convlab.shapes.ConvGeometry` (see ``conv_geometry``).
    """

    @staticmethod
    def forward(ctx, x, w, b=None, geom=None):
        ctx.geom = geom
        # grad_x needs only w; grad_w what the forward pass leaves in ctx.for_w (nothing without autograd)
        ctx.for_w = {} if ctx.needs_input_grad[1] and is_grad_enabled() else None
        ctx.save_for_backward(w)
        return conv_forward(x, w, geom, bias=b, saved=ctx.for_w)

    @staticmethod
    def backward(ctx, gy):
        (w,) = ctx.saved
        need_x, need_w = ctx.needs_input_grad[:2]
        gx = conv_input_grad(gy, w, ctx.geom) if need_x else None
        gw = conv_weight_grad(None, gy, ctx.geom, w.shape, saved=ctx.for_w) if need_w else None
        gb = _bias_grad(gy) if len(ctx.needs_input_grad) > 2 and ctx.needs_input_grad[2] else None
        return gx, gw, gb


class ConvTransposeNd(Function):
    """Transposed convolution of ``(N, C_in, *in)`` with ``(C_in, C_out/groups, *K)``.

    It is the adjoint of the convolution described by ``geom`` (whose ``in_size`` is this op's
    output size): the forward pass is that convolution's input gradient ``col2im(W^T @ x)``;
    the input gradient is the convolution itself; the weight gradient is that convolution's
    weight gradient with the roles of input and output gradient swapped.
    """

    @staticmethod
    def forward(ctx, x, w, b=None, geom=None):
        ctx.geom = geom
        ctx.save_for_backward(x, w)
        y = conv_input_grad(x, w, geom)
        if b is not None:
            y += b.reshape((b.shape[0],) + (1,) * geom.nd)
        return y

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved
        need_x, need_w = ctx.needs_input_grad[:2]
        gx = conv_forward(gy, w, ctx.geom) if need_x else None
        gw = conv_weight_grad(gy, x, ctx.geom, w.shape) if need_w else None
        gb = _bias_grad(gy) if len(ctx.needs_input_grad) > 2 and ctx.needs_input_grad[2] else None
        return gx, gw, gb


__all__ = ["ConvNd", "ConvTransposeNd", "col2im", "conv_forward", "conv_input_grad", "conv_weight_grad",
           "get_memory_budget", "im2col", "set_memory_budget"]
