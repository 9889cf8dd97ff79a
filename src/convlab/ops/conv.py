"""N-d convolution and transposed convolution: the fast path (im2col + one GEMM on BLAS).

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
and its backward is an ordinary convolution.

Memory: the column matrix holds ``prod(kernel)`` copies of the input. When it would exceed the
budget (:func:`set_memory_budget`, default 1 GiB) the batch is processed in chunks; each
output element is then the same sum in the same order, so the results match.
"""

from __future__ import annotations

import itertools
import math

from .. import backend
from ..tensor import Function

_budget = {"bytes": 1 << 30}


def set_memory_budget(nbytes: int) -> int:
    """Set the largest im2col buffer (bytes) before the batch is chunked; returns the old one."""
    nbytes = int(nbytes)
    if nbytes < 1:
        raise ValueError(f"set_memory_budget: budget must be a positive number of bytes, got {nbytes}")
    old, _budget["bytes"] = _budget["bytes"], nbytes
    return old


def get_memory_budget() -> int:
    """The largest im2col buffer (bytes) before the batch is chunked."""
    return _budget["bytes"]


# --------------------------------------------------------------------------- im2col / col2im
def _offsets(geom):
    return itertools.product(*(range(k) for k in geom.kernel))


def _window(geom, k):
    """Slices of the padded input read by kernel offset ``k``: ``k*d + s*o`` for every output o."""
    return tuple(slice(kd * d, kd * d + s * (o - 1) + 1, s)
                 for kd, d, s, o in zip(k, geom.dilation, geom.stride, geom.out_size))


def _interior(geom):
    return tuple(slice(lo, lo + w) for (lo, _), w in zip(geom.pads, geom.in_size))


def _swap01(nd):
    return (1, 0) + tuple(range(2, nd + 2))


def im2col(x, geom):
    """``(N, C, *in)`` -> columns ``(C, *kernel, N, *out)`` with
    ``col[c, k, n, o] = padded_x[n, c, o * stride + k * dilation]``."""
    xp = backend.array_module(x)
    n, c = x.shape[:2]
    perm = _swap01(geom.nd)
    if any(lo or hi for lo, hi in geom.pads):
        src = xp.zeros((c, n) + geom.padded, dtype=x.dtype)
        src[(slice(None), slice(None)) + _interior(geom)] = x.transpose(perm)
    else:
        src = x.transpose(perm)
    col = xp.empty((c,) + geom.kernel + (n,) + geom.out_size, dtype=x.dtype)
    for k in _offsets(geom):
        col[(slice(None),) + k] = src[(slice(None), slice(None)) + _window(geom, k)]
    return col


def col2im(col, geom):
    """Adjoint of :func:`im2col`: columns ``(C, *kernel, N, *out)`` -> ``(N, C, *in)``, adding
    every entry back onto the input pixel it was read from (padding is dropped)."""
    xp = backend.array_module(col)
    c, n = col.shape[0], col.shape[1 + geom.nd]
    dst = xp.zeros((c, n) + geom.padded, dtype=col.dtype)
    for k in _offsets(geom):
        dst[(slice(None), slice(None)) + _window(geom, k)] += col[(slice(None),) + k]
    return xp.ascontiguousarray(dst[(slice(None), slice(None)) + _interior(geom)].transpose(_swap01(geom.nd)))


# --------------------------------------------------------------------------- GEMM helpers
def _rows(a, groups):
    """``(N, C, *sp)`` -> ``(groups, C/groups, N * prod(sp))`` (channels first, one copy)."""
    n, c = a.shape[:2]
    return a.transpose(_swap01(a.ndim - 2)).reshape(groups, c // groups, n * math.prod(a.shape[2:]))


def _chunk(n, per_sample_bytes):
    return max(1, min(n, _budget["bytes"] // max(per_sample_bytes, 1)))


def _col_bytes(c, geom, itemsize):
    return c * math.prod(geom.kernel) * math.prod(geom.out_size) * itemsize


def conv_forward(x, w, geom, bias=None, keep_col=False):
    """``y = conv(x, w) + bias``; returns ``(y, col)`` where ``col`` (the grouped column
    matrix) is kept only when ``keep_col`` and the batch fitted in one chunk."""
    xp = backend.array_module(x, w)
    n, c = x.shape[:2]
    o, g = w.shape[0], geom.groups
    wm = w.reshape(g, o // g, -1)
    y = xp.empty((n, o) + geom.out_size, dtype=x.dtype)
    perm = _swap01(geom.nd)
    step = _chunk(n, _col_bytes(c, geom, x.dtype.itemsize))
    b = None if bias is None else bias.reshape((o, 1) + (1,) * geom.nd)
    kept = None
    for s in range(0, n, step):
        xs = x[s:s + step]
        col = im2col(xs, geom).reshape(g, wm.shape[2], -1)
        ys = xp.matmul(wm, col).reshape((o, xs.shape[0]) + geom.out_size)
        if b is None:
            y[s:s + step] = ys.transpose(perm)
        else:  # the bias add rides on the copy back to (N, O, *out)
            xp.add(ys, b, out=y[s:s + step].transpose(perm))
        if keep_col and step >= n:
            kept = col
    return y, kept


def conv_input_grad(gy, w, geom, channels):
    """``grad_x = col2im(W^T @ grad_y)`` for input channels ``channels``: also the transposed
    convolution of ``gy`` with ``w``."""
    xp = backend.array_module(gy, w)
    n = gy.shape[0]
    o, g = w.shape[0], geom.groups
    wt = w.reshape(g, o // g, -1).transpose(0, 2, 1)
    gx = xp.empty((n, channels) + geom.in_size, dtype=gy.dtype)
    step = _chunk(n, _col_bytes(channels, geom, gy.dtype.itemsize))
    for s in range(0, n, step):
        gys = gy[s:s + step]
        gcol = xp.matmul(wt, _rows(gys, g))
        gx[s:s + step] = col2im(gcol.reshape((channels,) + geom.kernel + (gys.shape[0],) + geom.out_size), geom)
    return gx


def conv_weight_grad(x, gy, geom, w_shape, col=None):
    """``grad_W = grad_y @ col(x)^T`` summed over the batch (in chunks when needed)."""
    xp = backend.array_module(gy)
    g = geom.groups
    if col is not None:
        return xp.matmul(_rows(gy, g), col.transpose(0, 2, 1)).reshape(w_shape)
    n, c = x.shape[:2]
    step = _chunk(n, _col_bytes(c, geom, x.dtype.itemsize))
    gw = None
    for s in range(0, n, step):
        cols = im2col(x[s:s + step], geom).reshape(g, c // g * math.prod(geom.kernel), -1)
        part = xp.matmul(_rows(gy[s:s + step], g), cols.transpose(0, 2, 1))
        gw = part if gw is None else gw + part
    return gw.reshape(w_shape)


def _bias_grad(gy):
    return gy.sum(axis=(0,) + tuple(range(2, gy.ndim)))


# --------------------------------------------------------------------------- Functions
class ConvNd(Function):
    """Convolution (torch's cross-correlation) of ``(N, C, *in)`` with ``(O, C/groups, *K)``.

    ``geom`` is a checked :class:`convlab.shapes.ConvGeometry` (see ``conv_geometry``).
    """

    @staticmethod
    def forward(ctx, x, w, b=None, geom=None):
        keep = ctx.needs_input_grad[1]
        y, col = conv_forward(x, w, geom, bias=b, keep_col=keep)
        ctx.geom, ctx.col = geom, col
        ctx.save_for_backward(x if col is None else None, w)  # grad_x needs only w
        return y

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved
        geom = ctx.geom
        need_x, need_w = ctx.needs_input_grad[:2]
        need_b = len(ctx.needs_input_grad) > 2 and ctx.needs_input_grad[2]
        gx = conv_input_grad(gy, w, geom, w.shape[1] * geom.groups) if need_x else None
        gw = conv_weight_grad(x, gy, geom, w.shape, col=ctx.col) if need_w else None
        gb = _bias_grad(gy) if need_b else None
        return gx, gw, gb


class ConvTransposeNd(Function):
    """Transposed convolution of ``(N, C_in, *in)`` with ``(C_in, C_out/groups, *K)``.

    It is the adjoint of the convolution described by ``geom`` (whose ``in_size`` is this op's
    output size): the forward pass is ``col2im(W^T @ x)``, the input gradient an ordinary
    convolution of ``grad_y`` with the same weight, the weight gradient ``x @ col(grad_y)^T``.
    """

    @staticmethod
    def forward(ctx, x, w, b=None, geom=None):
        ctx.geom = geom
        ctx.save_for_backward(x, w)
        out_channels = w.shape[1] * geom.groups
        y = conv_input_grad(x, w, geom, out_channels)
        if b is not None:
            y += b.reshape((out_channels,) + (1,) * geom.nd)
        return y

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved
        geom = ctx.geom
        need_x, need_w = ctx.needs_input_grad[:2]
        need_b = len(ctx.needs_input_grad) > 2 and ctx.needs_input_grad[2]
        gx = conv_forward(gy, w, geom)[0] if need_x else None
        gw = conv_weight_grad(gy, x, geom, w.shape) if need_w else None
        gb = _bias_grad(gy) if need_b else None
        return gx, gw, gb
