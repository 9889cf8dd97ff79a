"""True convolution and correlation of 1-D signals and 2-D images (seed 004).

``convolve`` is the mathematical convolution ``(f * g)[x] = sum_i f[i] g[x - i]``: the kernel
is flipped before it slides. ``correlate`` slides it as it is, which is what deep-learning
"convolution" layers do. The two agree for kernels symmetric under a 180 degree turn.

Modes, as NumPy and SciPy define them:

- ``'full'``: every overlap, length ``M + K - 1`` per axis;
- ``'same'``: the centre of ``'full'`` with the first input's size (1-D: the longer input's);
- ``'valid'``: only complete overlaps, ``M - K + 1``.

1-D arrays behave like :func:`numpy.convolve`/:func:`numpy.correlate` (which swap the inputs
when the second is longer), 2-D arrays like :func:`scipy.signal.convolve2d`/
:func:`scipy.signal.correlate2d` (with zero fill). Both default to ``mode='full'``
(``numpy.correlate`` defaults to ``'valid'``).

Everything runs on convlab's own convolution (``functional.conv1d``/``conv2d`` with explicit
asymmetric padding), so passing :class:`~convlab.Tensor` inputs gives a differentiable result;
array inputs give an array back.

>>> convolve([1, 2, 3], [0, 1, 0.5])
array([0. , 1. , 2.5, 4. , 1.5])
>>> correlate([1, 2, 3], [0, 1, 0.5], mode="valid")
array([3.5])
"""

from __future__ import annotations

import numpy as np

from .tensor import Tensor
from .validate import ConvlabError

__all__ = ["convolve", "correlate"]

_MODES = ("full", "same", "valid")


def convolve(in1, in2, mode="full"):
    """Convolve ``in1`` with ``in2`` (the kernel is flipped). 1-D or 2-D, ``mode`` full/same/valid.

    >>> convolve([10, 9, 10, 9], [1/3, 1/3, 1/3], mode="valid").round(4)
    array([9.6667, 9.3333])
    """
    return _run("convolve", in1, in2, mode, flip=True)


def correlate(in1, in2, mode="full"):
    """Cross-correlate ``in1`` with ``in2`` (no flip). 1-D or 2-D, ``mode`` full/same/valid.

    >>> correlate([[1, 2], [3, 4]], [[1, 0], [0, -1]], mode="valid")
    array([[-3]])
    """
    return _run("correlate", in1, in2, mode, flip=False)


def _as_tensor(a, where):
    if isinstance(a, Tensor):
        return a
    arr = np.asarray(a)
    if arr.dtype.kind == "c":
        raise TypeError(f"{where}: complex inputs are not supported")
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{where}: expected numeric input, got dtype {arr.dtype}")
    arr = arr.astype(np.float64) if arr.dtype.kind != "f" else arr
    return Tensor(arr, dtype=arr.dtype)


def _run(where, in1, in2, mode, flip):
    if mode not in _MODES:
        raise ConvlabError(f"{where}: mode must be 'full', 'same' or 'valid', got {mode!r}")
    tensors = isinstance(in1, Tensor) or isinstance(in2, Tensor)
    ints = not tensors and np.asarray(in1).dtype.kind in "iub" and np.asarray(in2).dtype.kind in "iub"
    a, v = _as_tensor(in1, where), _as_tensor(in2, where)
    if a.ndim != v.ndim or a.ndim not in (1, 2):
        raise ConvlabError(f"{where}: inputs must both be 1-D or both 2-D, got shapes {a.shape} and {v.shape}")
    if 0 in a.shape or 0 in v.shape:
        raise ConvlabError(f"{where}: inputs cannot be empty, got shapes {a.shape} and {v.shape}")
    if a.dtype != v.dtype:
        dt = np.result_type(a.dtype, v.dtype)
        a, v = a.astype(dt), v.astype(dt)
    reverse = False
    if a.ndim == 1:
        if v.shape[0] > a.shape[0]:  # NumPy: the shorter input is the kernel
            a, v, reverse = v, a, not flip  # correlation is reversed by the swap; convolution commutes
        start = {"full": 0, "same": (v.shape[0] - 1) // 2, "valid": v.shape[0] - 1}[mode]
        starts = (start,)
    else:
        if mode == "valid":
            bigger = all(p >= q for p, q in zip(a.shape, v.shape))
            smaller = all(p <= q for p, q in zip(a.shape, v.shape))
            if not bigger and not smaller:
                raise ConvlabError(f"{where}: for 'valid' mode one input must be at least as large as the other "
                                 f"in every dimension, got shapes {a.shape} and {v.shape}")
            if not bigger:
                a, v, reverse = v, a, not flip
        # SciPy centres 'same' at (K-1)//2 for convolution and K//2 for correlation
        starts = tuple({"full": 0, "same": (k - 1) // 2 if flip else k // 2, "valid": k - 1}[mode] for k in v.shape)
    out = _correlate(a, _flip(v) if flip else v, starts, mode)
    if reverse:
        out = _flip(out)
    if tensors:
        return out
    res = out.detach().numpy()
    return np.rint(res).astype(np.result_type(np.asarray(in1).dtype, np.asarray(in2).dtype)) if ints else res


def _flip(t):
    """Reverse every axis (a 180 degree turn in 2-D)."""
    return t[(slice(None, None, -1),) * t.ndim]


def _correlate(a, k, starts, mode):
    """Correlate ``a`` with ``k`` and return ``full[start:start + out_len]`` per axis, computed
    directly by padding ``a`` with ``K - 1 - start`` zeros before and what completes the length after."""
    from .functional import conv1d, conv2d

    pads = []
    for m, kk, s in zip(a.shape, k.shape, starts):
        out_len = {"full": m + kk - 1, "same": m, "valid": m - kk + 1}[mode]
        lo = kk - 1 - s
        pads.append((lo, out_len - m + kk - 1 - lo))
    conv = conv1d if a.ndim == 1 else conv2d
    x = a.reshape((1, 1) + a.shape)
    w = k.reshape((1, 1) + k.shape)
    y = conv(x, w, padding=tuple(pads))
    return y.reshape(y.shape[2:])

from . import argcheck as _argcheck  # noqa: E402

_argcheck.check_namespace(globals())  # arguments checked against the signatures (convlab.argcheck.checked)
