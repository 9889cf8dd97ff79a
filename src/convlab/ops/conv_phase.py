"""Stride-2 convolutions as one stride-1 product over the input's four polyphase grids.

A 2-D convolution with stride 2 reads, for output ``(i, j)``, the padded input at
``(2i + kh, 2j + kw)``. Split the padded input into its four *phases*
``P_ab[u, v] = x_pad[2u + a, 2v + b]`` (``a, b`` in ``{0, 1}``): kernel offset ``(kh, kw)`` then
reads phase ``(kh mod 2, kw mod 2)`` at ``(i + kh // 2, j + kw // 2)``, a stride-1 shift::

    y[o, i, j] = sum_{c, kh, kw} W[o, c, kh, kw] * P_{kh%2, kw%2}[c, i + kh//2, j + kw//2]

Each phase of each channel is laid on a flat grid of ``GH x GW = (OH + (KH-1)//2) x
(OW + (KW-1)//2)`` positions per sample, as ``ops/conv_shift.py`` lays a stride-1 input (the
padding is in the phases themselves), so row ``(c, kh, kw)`` of the column matrix is grid
``(c, kh%2, kw%2)`` read from the shift ``(kh//2) * GW + kw//2``. The compiled chunk-per-thread
passes of the flat grid (``gemm.grid_conv_forward`` and ``grid_conv_weight_grad``) then run the
forward pass and the weight gradient as for a stride-1 layer: no column matrix (9 copies of
the output's pixels per channel, written and read back), the product's tiles read in place,
each chunk of samples done whole by one thread, the same bits on any thread count. The price is
``GW / OW`` extra positions (6% at 16x16 with a 3x3 kernel), and a buffer of about the input's
size kept for the weight gradient (the columns were 2.25 times it). The input gradient stays on
the column path (``col2im``).

Used for float32 on the compiled GEMM, 2-D, stride 2 on both axes, no dilation, one group and
kernels of at least 2x2 (a 1x1 kernel reads one phase of the four: ``x[:, :, ::2, ::2]`` is
cheaper); everything else keeps im2col.
"""

from __future__ import annotations

import functools

import numpy as np

from . import fused, gemm
from .conv_columns import batch_chunks, cache_bytes
from .conv_shift import _even, _thread_chunks

_enabled = True  # False keeps stride-2 layers on the column path (for comparisons)


class PhaseLayout:
    """The four phase grids of one stride-2 geometry: sizes, the column rows' phases and shifts."""

    def __init__(self, geom):
        self.geom = geom
        (kh, kw), (oh, ow) = geom.kernel, geom.out_size
        self.grid = (oh + (kh - 1) // 2, ow + (kw - 1) // 2)
        self.plane = self.grid[0] * self.grid[1]
        self.span = oh * self.grid[1]  # grid positions computed per sample
        self.tail = (kh - 1) // 2 * self.grid[1] + (kw - 1) // 2  # the furthest shift, read past the last plane
        # per kernel offset (row-major, like the weight's axes): its phase (0..3) and its shift
        self.taps = tuple(((i % 2) * 2 + j % 2, (i // 2) * self.grid[1] + j // 2) for i in range(kh) for j in range(kw))

    @staticmethod
    def fits(geom) -> bool:
        """2-D, stride 2 on both axes, no dilation, one group, a kernel of at least 2x2."""
        return (geom.nd == 2 and tuple(geom.stride) == (2, 2) and tuple(geom.dilation) == (1, 1) and geom.groups == 1
                and min(geom.kernel) >= 2)

    def scatter(self, x):
        """``(n, c, h, w)`` -> ``(4c, n * plane + tail)``: row ``4c + 2a + b`` holds phase ``(a, b)``
        of channel ``c``, sample ``s`` at ``s * plane``, zeros in the padding and past the planes."""
        n, c = x.shape[:2]
        buf = np.empty((4 * c, n * self.plane + self.tail), dtype=np.float32)
        (top, _), (left, _) = self.geom.pads
        fused.phase_grid(x, self.geom.in_size + self.grid, top, left, buf)
        return buf

    def row_offsets(self, buf):
        """Flat offsets in ``buf`` of the column matrix's rows ``(c, kh, kw)`` (sample 0)."""
        c, length = buf.shape[0] // 4, buf.shape[1]
        phase, shift = (np.asarray(v, dtype=np.int64) for v in zip(*self.taps))
        return ((np.arange(c, dtype=np.int64)[:, None] * 4 + phase) * length + shift).ravel()


@functools.lru_cache(maxsize=256)
def phase_layout(geom):
    """The :class:`PhaseLayout` of ``geom`` when it fits, else None (built once per geometry)."""
    return PhaseLayout(geom) if PhaseLayout.fits(geom) else None


def phase_suits(x, w, geom, bias=None):
    """The layout when the phase path runs this convolution (float32 NumPy arrays on the compiled
    float32 GEMM and passes, a fitting geometry), else None."""
    if not (_enabled and fused.suits(x) and hasattr(fused._kernels, "phase_grid") and gemm.grid_conv_suits(x, w, bias)):
        return None
    return phase_layout(geom)


def phase_forward(x, w, layout, bias=None, saved=None):
    """``y = conv(x, w) + bias`` through the phase grids; ``saved`` (a dict) receives the grids
    for :func:`phase_weight_grad`. Shapes: ``x`` ``(N, C, H, W)``, ``w`` ``(O, C, KH, KW)`` ->
    ``(N, O, OH, OW)``."""
    n, o = x.shape[0], w.shape[0]
    buf = layout.scatter(x)
    if saved is not None:
        saved["phase_buf"], saved["phase_layout"] = buf, layout
    y = np.empty((n, o) + layout.geom.out_size, dtype=np.float32)
    if n == 0:
        return y
    per_sample = o * layout.span * 4
    chunks = batch_chunks(n, 1, layout.geom, 4, per_sample=per_sample, cache=max(cache_bytes(), w.size * 4))
    chunks = _thread_chunks(_even(n, len(chunks)), n)
    gemm.grid_conv_forward(w.reshape(o, -1), buf, layout.row_offsets(buf), layout.span, layout.plane, layout.grid[1],
                           chunks, bias, y, 0)
    return y


def phase_weight_grad(buf, gy, layout, w_shape):
    """``grad_W = grad_y_grid @ col^T`` with the columns read from the phase grids ``buf`` (the
    forward pass's), summed over chunks of samples in chunk order (``_sgemm_conv.c``: the same
    bits on any thread count). Shapes: ``gy`` ``(N, O, OH, OW)`` -> ``w_shape``."""
    n, o = gy.shape[:2]
    gw = np.empty((o, buf.shape[0] // 4 * len(layout.taps)), dtype=np.float32)
    if n == 0:
        gw[...] = 0
        return gw.reshape(w_shape)
    # chunks whose grad_y grid and phase grids fit the cache together (cut by size, never by threads)
    per_sample = (o + buf.shape[0]) * layout.plane * 4
    chunks = batch_chunks(n, 1, layout.geom, 4, per_sample=per_sample, cache=max(cache_bytes(), gw.size * 4))
    gemm.grid_conv_weight_grad(gy, 0, o, buf, layout.row_offsets(buf), layout.grid[0], layout.grid[1],
                               _even(n, len(chunks)), gw)
    return gw.reshape(w_shape)
