"""Stride-1 convolution on a flat padded grid: every kernel offset is one *shift*.

Lay the input out channel-major and flatten each sample's padded grid, ``(C, N * P)``, where
the grid keeps only one band of zeros between neighbouring rows (and planes, and samples):
``S_d = in_d + max(lo_d, hi_d)`` positions along each spatial axis, because the zeros after one
row double as the padding before the next. An output position ``q`` of the grid then reads
kernel offset ``k`` at ``q + shift_k``, with ``shift_k = sum_d k_d * dilation_d * st_d``
(``st_d`` the grid's stride of axis ``d``): a shift, the same for every position::

    buf        (C, base + N * P + tail)   x at base + n*P + sum_d i_d * st_d, zeros elsewhere
    col[c, k]  = buf[c, n*P + shift_k + q]  for q < span = out_0 * st_0 in each sample: a run
                                          of ``span`` contiguous values per (channel, k, sample)
    y_grid     = W @ col                  (O, N, out_0, *S[1:]);  y = y_grid[..., :out_1, ...]

A read that falls outside the input lands, after wrapping into the previous row or sample,
in the zero band of the first axis that overflowed, so it reads zero exactly as padding does.
Each sample's rows are computed whole, ``S_d`` positions along every axis after the first,
and the ones past the output's edge (``out_d <= i_d < S_d``) are dropped: the price is
``prod(S[1:]) / prod(out[1:])`` extra GEMM work (3% at 32x32 with padding 1, 12% at 8x8),
against column copies that are long contiguous runs instead of one short row per output line.
The weight gradient uses the same columns::

    grad_W = grad_y_grid @ col^T          grad_y_grid: grad_y on the grid, zero past the edge
    grad_x = the same convolution of grad_y with the flipped kernel (ops/conv.py)

On convlab's compiled GEMM (float32, ``ops/gemm.py``) the column matrix is never built: row
``(c, k)`` of it is the buffer's row ``c`` read from ``shift_k`` on, so the GEMM is handed the
buffer and one offset per row (:meth:`ShiftLayout.row_offsets`) and reads its tiles from there.
Otherwise :meth:`ShiftLayout.columns` copies each chunk's columns and ``numpy.matmul`` runs.
"""

from __future__ import annotations

import itertools
import math

from .. import backend
from . import fused, gemm
from .conv_columns import batch_chunks, cache_bytes

# On numpy.matmul, the forward pass keeps its column matrices for the weight gradient when all
# of them take at most this much memory (small layers, where rebuilding them costs as much as
# the GEMM: 25-35% of the weight gradient of LeNet-5's conv2 or SmallCNN's 3-channel conv1);
# larger layers keep only the grid buffer and rebuild each chunk's columns, which is cheap next
# to their GEMM. The compiled GEMM reads the columns from the grid and never builds them.
KEEP_BYTES = 16 << 20
_PACKED_MIN_ROWS = 128  # _sgemm_conv.c's PACKED_MIN_ROWS: see shift_weight_grad


class ShiftLayout:
    """The flat grid of one stride-1 geometry: axis sizes, strides, shifts, base offset."""

    def __init__(self, geom):
        self.geom = geom
        self.grid = tuple(w + max(lo, hi) for w, (lo, hi) in zip(geom.in_size, geom.pads))
        self.steps = tuple(math.prod(self.grid[d + 1:]) for d in range(geom.nd))
        self.plane = math.prod(self.grid)
        self.span = geom.out_size[0] * self.steps[0]  # grid positions computed per sample
        self.base = sum(lo * st for (lo, _), st in zip(geom.pads, self.steps))
        self.shifts = tuple(sum(kd * dd * st for kd, dd, st in zip(k, geom.dilation, self.steps))
                            for k in itertools.product(*(range(k) for k in geom.kernel)))
        self.reach = max(self.base, self.shifts[-1])

    @staticmethod
    def fits(geom) -> bool:
        """Stride 1 and outputs that fit the grid (padding no wider than the kernel's reach)."""
        return all(s == 1 for s in geom.stride) and all(
            min(lo, hi) <= d * (k - 1) for (lo, hi), d, k in zip(geom.pads, geom.dilation, geom.kernel))

    def waste(self) -> float:
        """Grid positions computed per output position."""
        return self.span / math.prod(self.geom.out_size)

    def flat_input(self):
        """The input on the grid as 2-D ``(h, w, grid_h, grid_w)`` for the compiled copies
        (ops/fused.py; a 1-D geometry is one row), None for 3-D."""
        return {2: lambda: self.geom.in_size + self.grid, 1: lambda: (1, self.geom.in_size[0], 1, self.grid[0])}.get(
            self.geom.nd, lambda: None)()

    def flat_output(self, rows):
        """:meth:`flat_input` for the output laid on the grid with ``rows`` rows per sample (the
        output's own, as the GEMM computes them, or the grid's, for whole planes)."""
        out = self.geom.out_size
        return {2: lambda: (out[0], out[1], rows, self.grid[1]), 1: lambda: (1, out[0], 1, rows)}.get(
            self.geom.nd, lambda: None)()

    def scatter(self, x):
        """``(n, c, *in)`` -> the zero buffer ``(c, reach + n * plane)`` with ``x`` on the grid."""
        xp = backend.array_module(x)
        n, c = x.shape[:2]
        dims = self.flat_input()
        if dims and fused.suits(x):  # one pass writing every value (NumPy: zeros, then a strided copy)
            buf = xp.empty((c, self.reach + n * self.plane), dtype=x.dtype)
            fused.grid_in(x, dims, self.base, buf)
            return buf
        buf = xp.zeros((c, self.reach + n * self.plane), dtype=x.dtype)
        grid = buf[:, self.base:self.base + n * self.plane].reshape((c, n) + self.grid)
        grid[(slice(None), slice(None)) + tuple(slice(0, s) for s in x.shape[2:])] = x.swapaxes(0, 1)
        return buf

    def output_grids(self, gy, chunks, whole_planes=False):
        """Per chunk of samples, ``gy`` ``(n, o, *out)`` as ``(o, ns * span)``, laid out as
        :meth:`crop` reads it and zero past the output's edge (``(o, ns * plane)``, the whole
        grid of every sample, with ``whole_planes``): one buffer, refilled per chunk (the zeros
        stay put), so that each chunk is built in the cache its GEMM reads it from."""
        xp = backend.array_module(gy)
        o, ns = gy.shape[1], max(s1 - s0 for s0, s1 in chunks)
        rows = self.grid[0] if whole_planes else self.geom.out_size[0]
        dims = self.flat_output(rows)
        if dims and fused.suits(gy):
            for s0, s1 in chunks:
                part = xp.empty((o, (s1 - s0) * dims[2] * dims[3]), dtype=gy.dtype)
                fused.grid_in(gy[s0:s1], dims, 0, part)
                yield part
            return
        grid = xp.zeros((o, ns, rows) + self.grid[1:], dtype=gy.dtype)
        inner = (slice(None), slice(None)) + tuple(slice(0, s) for s in gy.shape[2:])
        for s0, s1 in chunks:
            part = grid[:, :s1 - s0]
            part[inner] = gy[s0:s1].swapaxes(0, 1)
            yield part.reshape(o, -1)

    def columns(self, buf, s0, s1):
        """Column matrix ``(C * prod(kernel), (s1 - s0) * span)`` of samples ``[s0, s1)``, rows
        ordered ``(channel, kernel offset)`` like the weight's ``(C, *kernel)`` axes."""
        xp = backend.array_module(buf)
        c, ns, p = buf.shape[0], s1 - s0, self.plane
        col = xp.empty((c, len(self.shifts), ns, self.span), dtype=buf.dtype)
        for i, s in enumerate(self.shifts):
            start = s0 * p + s
            col[:, i] = buf[:, start:start + ns * p].reshape(c, ns, p)[:, :, :self.span]
        return col.reshape(c * len(self.shifts), ns * self.span)

    def row_offsets(self, buf, c0, c1):
        """Flat offsets in ``buf`` (``(C, length)``, from :meth:`scatter`) of the column matrix's
        rows for channels ``[c0, c1)``, ordered like :meth:`columns`' rows: channel, then kernel
        offset (sample 0; sample ``s`` is ``s * plane`` further)."""
        xp = backend.array_module(buf)
        rows = xp.arange(c0, c1, dtype=xp.int64)[:, None] * buf.shape[1]
        return (rows + xp.asarray(self.shifts, dtype=xp.int64)[None, :]).ravel()

    def crop(self, out, n):
        """``(o, n * span)`` from the GEMM -> the output's ``(o, n, *out_size)`` view."""
        g = out.reshape((out.shape[0], n, self.geom.out_size[0]) + self.grid[1:])
        return g[(slice(None), slice(None), slice(None)) + tuple(slice(0, s) for s in self.geom.out_size[1:])]


def shift_forward(x, w, layout, bias=None, saved=None):
    """``y = conv(x, w) + bias`` through the flat grid; ``saved`` (a dict) receives the buffer
    for the weight gradient. Shapes: ``x`` ``(N, C, *in)``, ``w`` ``(O, C/groups, *K)``."""
    xp = backend.array_module(x, w)
    geom = layout.geom
    n, c = x.shape[:2]
    o, g = w.shape[0], geom.groups
    wm = w.reshape(g, o // g, -1)
    buf = layout.scatter(x)
    # the compiled GEMM packs its panels straight from the grid: no column matrix at all
    direct = gemm.shifted_suits(o // g, wm, buf)
    keep = None
    if saved is not None:
        saved["buf"], saved["layout"] = buf, layout
        if not direct and c * len(layout.shifts) * n * layout.span * x.dtype.itemsize <= KEEP_BYTES:
            keep = saved["cols"] = []
    y = xp.empty((n, o) + geom.out_size, dtype=x.dtype)
    b = None if bias is None else bias.reshape((1, o) + (1,) * geom.nd)
    per_sample = o * layout.span * x.dtype.itemsize if direct else None
    chunks = _chunks(layout, c, n, x.dtype.itemsize, w.size, per_sample)
    dims = layout.flat_output(geom.out_size[0])
    if direct and dims and n and gemm.grid_conv_suits(y, bias):  # each chunk's product and crop by one thread
        y4, m = y.reshape((n, o) + dims[:2]), o // g
        chunks = _thread_chunks(chunks, n)
        for i in range(g):
            gemm.grid_conv_forward(wm[i], buf, layout.row_offsets(buf, i * (c // g), (i + 1) * (c // g)), layout.span,
                                   layout.plane, dims[3], chunks, None if bias is None else bias[i * m:(i + 1) * m], y4,
                                   i * m)
        return y
    for s0, s1 in chunks:
        if direct:
            product = _direct_product(wm, buf, layout, s0, s1)
        else:
            col = layout.columns(buf, s0, s1).reshape(g, wm.shape[2], -1)
            if keep is not None:
                keep.append(col)
            product = gemm.matmul(wm, col).reshape(o, -1)
        if dims and fused.suits(product, y):  # the crop and the bias in one compiled pass
            fused.grid_out(product, dims, bias, y[s0:s1])
            continue
        part = layout.crop(product, s1 - s0).swapaxes(0, 1)
        if b is None:
            y[s0:s1] = part
        else:  # the bias add rides on the copy out of the grid
            xp.add(part, b, out=y[s0:s1])
    return y


def _direct_product(wm, buf, layout, s0, s1):
    """``W @ col`` of samples ``[s0, s1)`` with the column matrix read from the grid ``buf`` by
    the compiled GEMM, group by group: ``wm`` ``(g, o/g, C/g * prod(kernel))`` ->
    ``(o, (s1 - s0) * span)``."""
    g, cg = wm.shape[0], wm.shape[2] // len(layout.shifts)
    parts = [gemm.shifted_matmul(wm[i], buf, layout.row_offsets(buf, i * cg, (i + 1) * cg) + s0 * layout.plane,
                                 layout.span, layout.plane, s1 - s0) for i in range(g)]
    return parts[0] if g == 1 else backend.array_module(buf).concatenate(parts)


def shift_weight_grad(buf, gy, layout, w_shape, cols=None):
    """``grad_W = grad_y_grid @ col^T`` summed over chunks of samples; ``buf`` is the forward
    pass's (and ``cols`` its columns, when it kept them), ``gy`` ``(N, O, *out)``, the result
    ``w_shape``."""
    n, o = gy.shape[:2]
    g, c = layout.geom.groups, w_shape[1] * layout.geom.groups
    if not cols and gemm.shifted_suits(o // g, gy, buf):
        # chunks whose grad_y grid and input grid fit the cache together: the dot products sum
        # a whole chunk in registers before each store
        per_sample = (o + c) * layout.plane * gy.dtype.itemsize
        # with PACKED_MIN_ROWS output channels or more (_sgemm_conv.c) the products run on packed
        # panels, k a cache-sized block at a time: chunks at least the weight's size, as the
        # forward pass cuts them, so that fewer partial sums (each the weight's size) are added
        w_size = math.prod(w_shape) if o // g >= _PACKED_MIN_ROWS else 0
        return _direct_weight_grad(buf, gy, layout, w_shape, _chunks(layout, c, n, gy.dtype.itemsize, w_size, per_sample))
    chunks = _chunks(layout, c, n, gy.dtype.itemsize, math.prod(w_shape))
    gw = None
    for i, ((s0, s1), grid) in enumerate(zip(chunks, layout.output_grids(gy, chunks))):
        col = cols[i] if cols else layout.columns(buf, s0, s1).reshape(g, c // g * len(layout.shifts), -1)
        part = gemm.matmul(grid.reshape(g, o // g, -1), col.transpose(0, 2, 1))
        gw = part if gw is None else gw + part
    return gw.reshape(w_shape)


def _direct_weight_grad(buf, gy, layout, w_shape, chunks):
    """:func:`shift_weight_grad` on the compiled GEMM, the columns read from the grid ``buf``
    and every chunk's product added into one result, group by group."""
    o, g, cg = gy.shape[1], layout.geom.groups, w_shape[1]
    gw = backend.array_module(gy).empty((g, o // g, cg * len(layout.shifts)), dtype=gy.dtype)
    offsets = [layout.row_offsets(buf, i * cg, (i + 1) * cg) for i in range(g)]
    dims = layout.flat_output(layout.grid[0])
    if dims and gy.shape[0] and gemm.grid_conv_suits(gy):  # each chunk's grad_y grid and dot products by one thread
        gy4 = gy.reshape(gy.shape[:2] + dims[:2])
        for i in range(g):
            gemm.grid_conv_weight_grad(gy4, i * (o // g), o // g, buf, offsets[i], dims[2], dims[3], chunks, gw[i])
        return gw.reshape(w_shape)
    # grad_y on whole planes (zero past the output's edge), so that every column of the grid's
    # column matrix is one contiguous run across the chunk's samples
    # (ResNet-20's 64-channel 8x8 layer: 4.1 -> 2.2 ms against runs of one sample's span each)
    for first, ((s0, _), grid) in enumerate(zip(chunks, layout.output_grids(gy, chunks, whole_planes=True))):
        rows = grid.reshape(g, o // g, -1)
        for i in range(g):
            gemm.dot_shifted_matmul(rows[i], buf, offsets[i] + s0 * layout.plane, gw[i], accumulate=first > 0)
    return gw.reshape(w_shape)


def shift_input_grad(gy, w, layout):
    """``grad_x = col2im(W^T @ grad_y_grid)`` with col2im as one shifted add per kernel offset:
    column row ``(c, k)`` at grid position ``q`` came from ``buf[c, q + shift_k]``, so it is
    added back there (reads of the padding land in the zero bands, which are dropped).
    Shapes: ``gy`` ``(N, O, *out)``, ``w`` ``(O, C/groups, *K)`` -> ``(N, C, *in)``."""
    xp = backend.array_module(gy, w)
    geom = layout.geom
    n, o = gy.shape[:2]
    g, cg = geom.groups, w.shape[1]
    c, nk, p, span = cg * g, len(layout.shifts), layout.plane, layout.span
    wt = w.reshape(g, o // g, cg * nk).transpose(0, 2, 1)
    dst = xp.zeros((c, layout.reach + n * p), dtype=gy.dtype)
    chunks = _chunks(layout, c, n, gy.dtype.itemsize, w.size)
    for (s0, s1), grid in zip(chunks, layout.output_grids(gy, chunks)):
        ns = s1 - s0
        gcol = gemm.matmul(wt, grid.reshape(g, o // g, -1)).reshape(c, nk, ns, span)
        for i, s in enumerate(layout.shifts):
            start = s0 * p + s
            dst[:, start:start + ns * p].reshape(c, ns, p)[:, :, :span] += gcol[:, i]
    inner = dst[:, layout.base:layout.base + n * p].reshape((c, n) + layout.grid)
    return xp.ascontiguousarray(inner[(slice(None), slice(None)) + tuple(slice(0, s) for s in geom.in_size)].swapaxes(0, 1))


def _chunks(layout, c, n, itemsize, w_size, per_sample=None):
    """``(first, end)`` samples of chunks whose columns (``C * prod(kernel)`` rows of ``span``, or
    ``per_sample`` bytes each) fit the cache, or are at least as large as the weight (``w_size``
    entries), which every chunk's GEMM reads again: with 512 channels, 1 MiB chunks made the
    layer 1.2-1.5x slower."""
    per_sample = per_sample or c * len(layout.shifts) * layout.span * itemsize
    chunks = batch_chunks(n, c, layout.geom, itemsize, per_sample=per_sample, cache=max(cache_bytes(), w_size * itemsize))
    return _even(n, len(chunks))


def _even(n, count):
    """``count`` chunks of ``n`` samples as even as whole samples allow (sizes differ by at most
    one; 128 in 5: 26, 26, 26, 25, 25 rather than 30, 30, 30, 30, 8), so that threads sharing
    them out get equal work."""
    return [(n * i // count, n * (i + 1) // count) for i in range(count)]


def _thread_chunks(chunks, n):
    """A forward pass's chunks for the chunk-per-thread GEMM (``gemm.grid_conv_forward``): at least
    two per thread where the batch has the samples, a multiple of the thread count, even. The
    forward's sums do not depend on the chunks (each output column sums its own inner dimension),
    so this may follow the thread count; the weight gradient's chunks may not."""
    t = gemm.get_num_threads()
    count = max(len(chunks), min(n, 2 * t))
    if count >= t:
        count = min(n, -(-count // t) * t)
    return _even(n, count)
