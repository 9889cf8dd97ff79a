"""Pooling with the names, arguments and defaults of ``torch.nn.functional``.

Batched ``(N, C, *spatial)`` or unbatched ``(C, *spatial)`` input. Max pooling routes the
gradient to each window's first maximum; average pooling spreads it evenly over the window
(see ``convlab/ops/pool.py`` for the reasoning). ``strict=True`` on the fixed-window poolings
raises when the stride leaves input rows or columns unread.
"""

from __future__ import annotations

import numpy as np

from .. import math as M
from .. import validate
from ..math import _operand
from ..ops import pool as P
from ..shapes import _check_layout, _check_strict, _ntuple, _pool_geometry  # unchecked: the public function checked the arguments
from ..tensor import Tensor
from ..validate import ConvlabError

__all__ = [
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d",
    "adaptive_max_pool2d", "adaptive_max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d", "max_pool1d",
    "max_pool2d", "max_pool3d", "max_unpool1d", "max_unpool2d", "max_unpool3d",
]


def _batched(where, nd, input):
    x = _operand(input)
    _check_layout(where, x.shape, nd)
    unbatched = x.ndim == nd + 1
    return (M.unsqueeze(x, 0) if unbatched else x), unbatched


def _finish(y, unbatched, indices=None):
    if unbatched:
        y = M.squeeze(y, 0)
        indices = None if indices is None else indices[0]
    if indices is None:
        return y
    return y, Tensor(indices, dtype=indices.dtype)


def _max_pool(where, nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, strict):
    x, unbatched = _batched(where, nd, input)
    if x.dtype.kind not in "fiu":
        raise TypeError(f"{where}: expected a numeric input, got dtype {x.dtype}")
    geom = _pool_geometry(where, x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    if strict:
        _check_strict(where, geom)
    y, arg = P.MaxPoolNd.apply(x, geom=geom)
    return _finish(y, unbatched, P.flat_indices(arg, geom) if return_indices else None)


def _avg_pool(where, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, strict):
    x, unbatched = _batched(where, nd, input)
    if x.dtype.kind != "f":
        raise TypeError(f"{where}: expected a floating-point input, got dtype {x.dtype}")
    if divisor_override is not None and int(divisor_override) == 0:
        raise ConvlabError(f"{where}: divisor_override must be non-zero")
    geom = _pool_geometry(where, x.shape, kernel_size, stride, padding, 1, ceil_mode)
    if strict:
        _check_strict(where, geom)
    y = P.AvgPoolNd.apply(x, geom=geom, count_include_pad=count_include_pad, divisor_override=divisor_override)
    return _finish(y, unbatched)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False, strict=False):
    """1-D max pooling. See :func:`max_pool2d`."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, strict)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False, strict=False):
    """2-D max pooling: the largest value of each (dilated) window.

    Args:
        kernel_size, stride (default: ``kernel_size``), padding (at most half the kernel,
            filled with -inf), dilation: ints or pairs.
        ceil_mode: keep a last partial window (never one starting in the right padding).
        return_indices: also return the flat position ``h * W + w`` of each maximum in its
            input plane (for :func:`max_unpool2d`).

    Shape:
        ``(N, C, H, W) -> (N, C, H_out, W_out)``, ``H_out = floor((H + 2P - D(k - 1) - 1) / S) + 1``
        (ceil with ``ceil_mode``).

    >>> import convlab as cl
    >>> x = cl.tensor([[[[1.0, 3, 2, 4], [5, 6, 1, 2], [1, 2, 3, 0], [0, 1, 1, 4]]]])  # seed 003
    >>> max_pool2d(x, 2).tolist()
    [[[[6.0, 4.0], [2.0, 4.0]]]]
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, strict)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False, strict=False):
    """3-D max pooling. See :func:`max_pool2d`."""
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, strict)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, strict=False):
    """1-D average pooling. See :func:`avg_pool2d`."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, strict)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None, strict=False):
    """2-D average pooling: the mean of each window.

    Args:
        count_include_pad: count zero padding in the divisor (default, as torch).
        divisor_override: divide every window sum by this number instead.

    Shape: as :func:`max_pool2d` (no dilation).

    >>> import convlab as cl
    >>> avg_pool2d(cl.arange(16.0).reshape(1, 1, 4, 4), 2).tolist()
    [[[[2.5, 4.5], [10.5, 12.5]]]]
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, strict)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None, strict=False):
    """3-D average pooling. See :func:`avg_pool2d`."""
    return _avg_pool("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, strict)


def _output_size(where, nd, x, output_size):
    size = output_size if isinstance(output_size, (list, tuple)) else (output_size,) * nd
    if len(size) == 1:
        size = tuple(size) * nd
    if len(size) != nd:
        raise ConvlabError(f"{where}: output_size must be an int or a tuple of {nd}, got {output_size!r}")
    if any(s is not None and (isinstance(s, bool) or not isinstance(s, (int, np.integer))) for s in size):
        raise ConvlabError(f"{where}: output_size must be an int or a tuple of {nd} ints (or None), got {output_size!r}")
    size = tuple(x.shape[2 + i] if s is None else int(s) for i, s in enumerate(size))
    if any(s < 1 for s in size):
        raise ConvlabError(f"{where}: output_size must be positive, got {output_size!r}")
    validate.allocation(x.shape[:2] + size, x.dtype.itemsize, where, f"the output (output_size={output_size!r})")
    return size


def _adaptive(where, nd, fn, input, output_size, return_indices=False):
    x, unbatched = _batched(where, nd, input)
    if any(s == 0 for s in x.shape[2:]):
        raise ConvlabError(f"{where}: expected non-zero size for non-batch dimensions, got input shape {x.shape}")
    if fn is P.AdaptiveAvgPoolNd and x.dtype.kind != "f":
        raise TypeError(f"{where}: expected a floating-point input, got dtype {x.dtype}")
    if x.dtype.kind not in "fiu":
        raise TypeError(f"{where}: expected a numeric input, got dtype {x.dtype}")
    size = _output_size(where, nd, x, output_size)
    if fn is P.AdaptiveAvgPoolNd:
        return _finish(fn.apply(x, output_size=size), unbatched)
    y, flat = fn.apply(x, output_size=size)
    return _finish(y, unbatched, flat if return_indices else None)


def adaptive_avg_pool1d(input, output_size):
    """Average pooling to a fixed output length: window ``i`` is ``[floor(iL/O), ceil((i+1)L/O))``."""
    return _adaptive("adaptive_avg_pool1d", 1, P.AdaptiveAvgPoolNd, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed ``output_size`` (int, pair, ``None`` keeps that input size).

    >>> import convlab as cl
    >>> adaptive_avg_pool2d(cl.ones(2, 3, 7, 5), 1).shape
    convlab.Size([2, 3, 1, 1])
    """
    return _adaptive("adaptive_avg_pool2d", 2, P.AdaptiveAvgPoolNd, input, output_size)


def adaptive_avg_pool3d(input, output_size):
    """3-D adaptive average pooling. See :func:`adaptive_avg_pool2d`."""
    return _adaptive("adaptive_avg_pool3d", 3, P.AdaptiveAvgPoolNd, input, output_size)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """1-D adaptive max pooling. See :func:`adaptive_max_pool2d`."""
    return _adaptive("adaptive_max_pool1d", 1, P.AdaptiveMaxPoolNd, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling to a fixed ``output_size`` with torch's adaptive windows."""
    return _adaptive("adaptive_max_pool2d", 2, P.AdaptiveMaxPoolNd, input, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """3-D adaptive max pooling. See :func:`adaptive_max_pool2d`."""
    return _adaptive("adaptive_max_pool3d", 3, P.AdaptiveMaxPoolNd, input, output_size, return_indices)


def _max_unpool(where, nd, input, indices, kernel_size, stride, padding, output_size):
    x, unbatched = _batched(where, nd, input)
    idx = indices._data if isinstance(indices, Tensor) else indices
    if unbatched:
        idx = idx[None]
    if tuple(idx.shape) != x.shape:
        raise ConvlabError(f"{where}: indices shape {tuple(idx.shape)} must match input shape {x.shape}")
    kernel = _ntuple(kernel_size, nd, "kernel_size", where)
    stride = kernel if stride is None else _ntuple(stride, nd, "stride", where)
    pad = _ntuple(padding, nd, "padding", where, minimum=0)
    default = tuple((w - 1) * s - 2 * p + k for w, s, p, k in zip(x.shape[2:], stride, pad, kernel))
    if output_size is None:
        size = default
    else:
        size = tuple(int(v) for v in tuple(output_size)[-nd:])
        for s, d, st in zip(size, default, stride):
            if not d - st < s < d + st:
                raise ConvlabError(f"{where}: output_size {size} must be within one stride {stride} of the default {default}")
    plane = 1
    for s in size:
        plane *= s
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= plane):
        raise ConvlabError(f"{where}: indices must lie in [0, {plane}) for output size {size}, "
                         f"got [{int(idx.min())}, {int(idx.max())}]")
    y = P.MaxUnpoolNd.apply(x, indices=idx.astype("int64"), output_size=size)
    return _finish(y, unbatched)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """1-D max unpooling. See :func:`max_unpool2d`."""
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of :func:`max_pool2d`: values go back to the positions ``indices`` name,
    zeros elsewhere. Output size ``(H - 1) S - 2P + k`` unless ``output_size`` is given."""
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """3-D max unpooling. See :func:`max_unpool2d`."""
    return _max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding, output_size)
