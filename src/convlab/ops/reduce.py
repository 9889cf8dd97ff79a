"""Reductions over axes (sum, mean, max/min, var) and the softmax family.

``dim`` is an int, a tuple of ints or None (all axes); ``keepdim`` keeps reduced axes as 1.
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import backend, validate
from ..graph import Function
from ..validate import ConvlabError


def normalize_dims(op: str, dim, ndim: int) -> tuple:
    """Turn ``dim`` into a sorted tuple of non-negative axes, checking the range."""
    if dim is None:
        return tuple(range(ndim))
    out = validate.dims(dim, ndim, op, name="dim")
    return tuple(sorted(out)) if ndim else ()


def _expand_back(g, shape, dims, keepdim):
    """Re-insert reduced axes so ``g`` broadcasts against the input of ``shape``."""
    if not keepdim:
        for d in dims:
            g = backend.array_module(g).expand_dims(g, d)
    return g


class Sum(Function):
    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False):
        dims = normalize_dims("sum", dim, a.ndim)
        ctx.info = (a.shape, dims, keepdim)
        return a.sum(axis=dims, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        shape, dims, keepdim = ctx.info
        g = _expand_back(g, shape, dims, keepdim)
        return backend.array_module(g).broadcast_to(g, shape)


class Mean(Function):
    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False):
        dims = normalize_dims("mean", dim, a.ndim)
        ctx.info = (a.shape, dims, keepdim)
        if a.size == 0:  # the mean of nothing is NaN, as in torch, without NumPy's "Mean of empty slice"
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                return a.mean(axis=dims, keepdims=keepdim)
        return a.mean(axis=dims, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        shape, dims, keepdim = ctx.info
        count = int(np.prod([shape[d] for d in dims])) if dims else 1
        g = _expand_back(g, shape, dims, keepdim) / g.dtype.type(max(count, 1))
        return backend.array_module(g).broadcast_to(g, shape)


class Amax(Function):
    """Max (or min) over ``dim``; ties share the gradient evenly (as ``torch.amax``)."""

    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False, largest=True):
        dims = normalize_dims("amax" if largest else "amin", dim, a.ndim)
        if a.size == 0:
            raise ConvlabError(f"{'max' if largest else 'min'}: cannot reduce an empty tensor of shape {a.shape}")
        out = a.max(axis=dims, keepdims=True) if largest else a.min(axis=dims, keepdims=True)
        ctx.save_for_backward(a == out)
        ctx.info = (dims, keepdim)
        return out if keepdim else out.reshape([s for i, s in enumerate(a.shape) if i not in dims])

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved
        dims, keepdim = ctx.info
        g = _expand_back(g, mask.shape, dims, keepdim)
        return g * mask / mask.sum(axis=dims, keepdims=True).astype(g.dtype)


class MaxDim(Function):
    """Max (or min) along one ``dim`` returning values; the gradient goes to the index."""

    @staticmethod
    def forward(ctx, a, dim, keepdim=False, largest=True):
        xp = backend.array_module(a)
        dims = normalize_dims("max", dim, a.ndim)
        d = dims[0] if dims else None  # a 0-d tensor: dim 0 or -1 name the tensor itself, as in torch
        if a.shape[d] == 0 if a.ndim else False:
            raise ConvlabError(f"max: cannot reduce over empty dim {dim} of shape {a.shape}")
        idx = xp.asarray(xp.argmax(a, axis=d) if largest else xp.argmin(a, axis=d), dtype=xp.int64)
        idx_k = xp.expand_dims(idx, d) if a.ndim else idx
        vals = xp.take_along_axis(a, idx_k, axis=d) if a.ndim else a.copy()
        ctx.info = (a.shape, d, keepdim, idx_k)
        return (vals if keepdim or not a.ndim else xp.squeeze(vals, d)), idx

    @staticmethod
    def backward(ctx, g):
        shape, d, keepdim, idx_k = ctx.info
        xp = backend.array_module(g)
        if not shape:
            return g
        if not keepdim:
            g = xp.expand_dims(g, d)
        out = xp.zeros(shape, dtype=g.dtype)
        xp.put_along_axis(out, idx_k, g, axis=d)
        return out


class Var(Function):
    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False, correction=1):
        dims = normalize_dims("var", dim, a.ndim)
        n = int(np.prod([a.shape[d] for d in dims])) if dims else 1
        mean = a.mean(axis=dims, keepdims=True)
        centered = a - mean
        denom = max(n - correction, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = (centered * centered).sum(axis=dims, keepdims=keepdim) / a.dtype.type(denom)
        ctx.save_for_backward(centered)
        ctx.info = (dims, keepdim, denom)
        return out

    @staticmethod
    def backward(ctx, g):
        # d var / d a_i = 2 (a_i - mean) / (n - correction)
        (centered,) = ctx.saved
        dims, keepdim, denom = ctx.info
        g = _expand_back(g, centered.shape, dims, keepdim)
        with np.errstate(divide="ignore", invalid="ignore"):
            return g * centered * g.dtype.type(2.0 / denom if denom else np.inf)


class Softmax(Function):
    @staticmethod
    def forward(ctx, a, dim):
        xp = backend.array_module(a)
        d = (*normalize_dims("softmax", dim, a.ndim), None)[0]  # None: a 0-d input, its one element
        if a.size == 0:  # nothing to normalise: an empty result, as torch
            ctx.save_for_backward(a)
            ctx.dim = d
            return a.copy()
        e = xp.exp(a - a.max(axis=d, keepdims=True))  # shift by the max: exp never overflows
        out = e / e.sum(axis=d, keepdims=True)
        ctx.save_for_backward(out)
        ctx.dim = d
        return out

    @staticmethod
    def backward(ctx, g):
        # dL/dx = s * (g - sum(g * s))
        (s,) = ctx.saved
        return s * (g - (g * s).sum(axis=ctx.dim, keepdims=True))


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, a, dim):
        xp = backend.array_module(a)
        d = (*normalize_dims("log_softmax", dim, a.ndim), None)[0]  # None: a 0-d input, its one element
        if a.size == 0:
            ctx.save_for_backward(a)
            ctx.dim = d
            return a.copy()
        shifted = a - a.max(axis=d, keepdims=True)
        out = shifted - xp.log(xp.exp(shifted).sum(axis=d, keepdims=True))
        ctx.save_for_backward(out)
        ctx.dim = d
        return out

    @staticmethod
    def backward(ctx, g):
        # dL/dx = g - softmax * sum(g)
        (out,) = ctx.saved
        xp = backend.array_module(g)
        return g - xp.exp(out) * g.sum(axis=ctx.dim, keepdims=True)
