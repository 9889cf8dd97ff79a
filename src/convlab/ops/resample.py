"""Resizing the spatial dims of ``(N, C, *spatial)`` as ``torch.nn.functional.interpolate``.

Every mode is separable: along each spatial axis, output position ``d`` is a weighted sum of
``k`` input positions, ``out[d] = sum_j w[d, j] * in[idx[d, j]]`` (nearest: k = 1, linear:
k = 2, cubic: k = 4), so a 2-D or 3-D resize is the 1-D resize applied axis after axis. The
backward of one axis is the adjoint: each output gradient is added back into the ``k`` input
positions it was read from, with the same weights.

Source coordinates follow ATen's ``area_pixel_compute_source_index``: with
``align_corners=True`` the corner pixels' centres line up, ``src = d * (in - 1) / (out - 1)``;
otherwise pixel areas line up, ``src = (d + 0.5) * scale - 0.5`` where ``scale`` is
``1 / scale_factor`` when a scale factor was given (and not recomputed) and ``in / out`` otherwise.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend, validate
from ..graph import Function
from ..validate import ConvlabError

_MODE_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear")
_CUBIC_A = -0.75  # the cubic convolution constant torch (and OpenCV) use


class Resample1d(Function):
    """One axis: input ``(..., n_in, ...)`` -> output ``(..., n_out, ...)`` along ``axis``, with
    ``idx``/``w`` of shape ``(n_out, k)``."""

    @staticmethod
    def forward(ctx, a, axis, idx, w):
        xp = backend.array_module(a)
        ctx.info = (a.shape, axis, idx, w)
        shape = [1] * a.ndim
        shape[axis] = idx.shape[0]
        out = None
        for j in range(idx.shape[1]):
            term = xp.take(a, idx[:, j], axis=axis) * w[:, j].astype(a.dtype).reshape(shape)
            out = term if out is None else out + term
        return out

    @staticmethod
    def backward(ctx, g):
        xp = backend.array_module(g)
        in_shape, axis, idx, w = ctx.info
        shape = [1] * g.ndim
        shape[axis] = idx.shape[0]
        moved = xp.zeros((in_shape[axis],) + tuple(s for i, s in enumerate(in_shape) if i != axis), dtype=g.dtype)
        for j in range(idx.shape[1]):
            part = xp.moveaxis(g * w[:, j].astype(g.dtype).reshape(shape), axis, 0)
            xp.add.at(moved, idx[:, j], part)  # repeated sources accumulate
        return xp.moveaxis(moved, 0, axis), None, None, None


def _source_scale(n_in: int, n_out: int, align_corners: bool, scale) -> float:
    if align_corners:
        return (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    return 1.0 / scale if scale is not None and scale > 0 else n_in / n_out


def _weights(mode: str, n_in: int, n_out: int, align_corners: bool, scale):
    """``(idx, w)``, each ``(n_out, k)``, for one axis."""
    d = np.arange(n_out, dtype=np.float64)
    if mode in ("nearest", "nearest-exact"):
        s = 1.0 / scale if scale is not None and scale > 0 else n_in / n_out
        src = np.floor((d + 0.5) * s if mode == "nearest-exact" else d * s)
        return np.minimum(src, n_in - 1).astype(np.int64)[:, None], np.ones((n_out, 1))
    s = _source_scale(n_in, n_out, align_corners, scale)
    src = d * s if align_corners else (d + 0.5) * s - 0.5
    if mode == "bicubic":
        i0 = np.floor(src)
        t = src - i0
        idx = np.clip(i0[:, None].astype(np.int64) + np.arange(-1, 3), 0, n_in - 1)
        a = _CUBIC_A
        x1, x2 = t + 1, 1 - t  # distances to the taps at i0 - 1 and i0 + 1 (and 2 - t to i0 + 2)
        w = np.stack([((a * x1 - 5 * a) * x1 + 8 * a) * x1 - 4 * a,
                      ((a + 2) * t - (a + 3)) * t * t + 1,
                      ((a + 2) * x2 - (a + 3)) * x2 * x2 + 1,
                      ((a * (x2 + 1) - 5 * a) * (x2 + 1) + 8 * a) * (x2 + 1) - 4 * a], axis=1)
        return idx, w
    if not align_corners:
        src = np.maximum(src, 0.0)  # linear modes clamp negative source coordinates to the edge
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    lam = src - i0
    return np.stack([i0, i1], axis=1), np.stack([1 - lam, lam], axis=1)


def _scalar_or_tuple(v, n: int, name: str):
    """One value per spatial dim: ``size`` positive ints, ``scale_factor`` positive finite reals."""
    def one(x):
        if name == "size":
            return validate.integer(x, "interpolate", name, min=1)
        return validate.real(x, "interpolate", name, min=0, min_open=True)

    if isinstance(v, (list, tuple)):
        if len(v) != n:
            raise ValueError(f"Input and {name} must have the same number of spatial dimensions, but got input with "
                             f"spatial dimensions of {n} and {name} of {tuple(v)}.")
        return tuple(one(x) for x in v)
    return (one(v),) * n


def interpolate(input, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                recompute_scale_factor=None, antialias: bool = False):
    """Resize ``(N, C, *spatial)`` to ``size`` (or ``floor(in * scale_factor)``) with ``mode`` in
    'nearest', 'nearest-exact', 'linear' (3-D input), 'bilinear'/'bicubic' (4-D), 'trilinear' (5-D).

    >>> import convlab
    >>> interpolate(convlab.ones(1, 1, 2, 3), scale_factor=1.5, mode="bilinear").shape
    convlab.Size([1, 1, 3, 4])
    """
    if mode not in _MODES + ("area",):
        raise NotImplementedError(f"interpolate: mode {mode!r} is not available in convlab; one of "
                                  f"{_MODES + ('area',)} is")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not available in convlab")
    if (mode.startswith("nearest") or mode == "area") and align_corners is not None:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if input.ndim not in (3, 4, 5):
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.ndim}D) "
                                  f"for the modes: nearest | linear | bilinear | bicubic | trilinear (got {mode})")
    spatial = tuple(input.shape[2:])
    n = len(spatial)
    if mode in _MODE_DIMS and _MODE_DIMS[mode] != n:
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs {_MODE_DIMS[mode] + 2}D input")
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined" if size is not None
                         else "either size or scale_factor should be defined")
    if size is not None:
        out = _scalar_or_tuple(size, n, "size")
        scales = (None,) * n
    else:
        scales = _scalar_or_tuple(scale_factor, n, "scale_factor")
        out = tuple(int(math.floor(i * s)) for i, s in zip(spatial, scales))
        if any(o <= 0 for o in out):
            raise ConvlabError(f"interpolate: scale_factor {scale_factor!r} gives an empty output for input {spatial}")
        if recompute_scale_factor:
            scales = (None,) * n  # the kernel then uses in / out, as torch
    if any(i == 0 for i in spatial):
        raise ConvlabError(f"interpolate: input spatial size {spatial} has an empty dim")
    validate.allocation(tuple(input.shape[:2]) + out, input.dtype.itemsize, "interpolate")
    if mode == "area":  # each output cell averages the input cells its area covers: adaptive average pooling
        from .. import functional as F

        return getattr(F, f"adaptive_avg_pool{n}d")(input, out)
    align = bool(align_corners) if align_corners is not None else False
    y = input
    for k in range(n):
        if out[k] == spatial[k] and (scales[k] is None or scales[k] == 1.0):
            continue  # the identity in every mode
        idx, w = _weights(mode, spatial[k], out[k], align, scales[k])
        y = Resample1d.apply(y, 2 + k, idx, w)
    return y.clone() if y is input else y  # a new tensor even when no axis changes, as torch
