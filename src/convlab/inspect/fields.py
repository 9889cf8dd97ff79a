"""Receptive-field arithmetic per layer (see :mod:`convlab.inspect`): ``r_out = r + d(k - 1) * j``,
``j_out = j * s``; branches merge to the largest field."""

from __future__ import annotations

from typing import NamedTuple

from .. import nn


def _pair(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def _spatial(shape, nsp):
    return tuple(shape[2:]) if shape is not None and len(shape) == nsp + 2 else None


class _RF(NamedTuple):
    """Field ``r`` and jump ``j`` per axis of a tensor whose spatial size is ``at`` (None: not a map)."""

    r: tuple
    j: tuple
    at: tuple | None


def _merge(rfs, at=None):
    """Where branches meet: the largest field; the jump of the branches that have the result's
    size ``at`` (a 1x1 gate broadcast over a map, as in squeeze-excitation, keeps the map's jump)."""
    rfs = [f for f in rfs if f is not None]
    if not rfs:
        return None
    n = min(len(f.r) for f in rfs)
    same = [f for f in rfs if at is not None and f.at == tuple(at)] or rfs
    return _RF(tuple(max(f.r[i] for f in rfs) for i in range(n)), tuple(max(f.j[i] for f in same) for i in range(n)),
               tuple(at) if at is not None else same[0].at)


def _leaf_rf(m, rf, in_size, out_size):
    """Field and jump after leaf module ``m`` (see the module docstring)."""
    if rf is None:
        return None
    r, j = rf.r, rf.j
    if in_size is None:
        return _RF(r, j, out_size)  # not a spatial map any more: the field was fixed when it stopped being one
    if out_size is None:  # flatten & co: every output sees the whole map
        return _RF(tuple(ri + (h - 1) * ji for ri, ji, h in zip(r, j, in_size)), tuple(ji * h for ji, h in zip(j, in_size)),
                   None)
    n = len(in_size)
    if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d)):
        k, s = _pair(m.kernel_size, n), _pair(m.stride, n)
        d = _pair(getattr(m, "dilation", 1), n)
    elif isinstance(m, (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        # window of output i: rows floor(i*H/O) .. ceil((i+1)*H/O): about ceil(H/O) wide, H/O apart
        k = tuple(-(-h // o) for h, o in zip(in_size, out_size))
        s, d = tuple(max(h // o, 1) for h, o in zip(in_size, out_size)), (1,) * n
    elif isinstance(m, (nn.ConvTranspose1d, nn.ConvTranspose2d)):
        k, s, d = _pair(m.kernel_size, n), _pair(m.stride, n), _pair(m.dilation, n)
        j = tuple(ji / si for ji, si in zip(j, s))  # outputs are 1/s input pixels apart
        return _RF(tuple(ri + di * (ki - 1) * ji for ri, di, ki, ji in zip(r, d, k, j)), j, tuple(out_size))
    elif tuple(in_size) != tuple(out_size):  # an unknown resampling (e.g. a strided slice): jump by the ratio
        return _RF(r, tuple(ji * -(-h // o) for ji, h, o in zip(j, in_size, out_size)), tuple(out_size))
    else:
        return _RF(r, j, tuple(out_size))
    return _RF(tuple(ri + di * (ki - 1) * ji for ri, di, ki, ji in zip(r, d, k, j)),
               tuple(ji * si for ji, si in zip(j, s)), tuple(out_size))
