"""Operations that move data without arithmetic: reshape, permute, expand, concatenate,
split, indexing and padding. Each backward is the adjoint data movement."""

from __future__ import annotations

import builtins
import operator

import numpy as np

from .. import backend, validate
from ..graph import Function
from ..validate import ConvlabError


class Reshape(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        try:
            dims = tuple(operator.index(v) for v in shape)
        except TypeError:
            raise TypeError(f"reshape: shape must be a sequence of ints, got {tuple(shape)!r}") from None
        if any(v < -1 for v in dims) or sum(v == -1 for v in dims) > 1:
            raise ConvlabError(f"reshape: invalid shape {dims}: sizes must be non-negative, with at most one -1")
        try:
            return a.reshape(dims)
        except ValueError:
            raise ConvlabError(
                f"reshape: cannot reshape a tensor of shape {tuple(a.shape)} ({a.size} elements) "
                f"into shape {tuple(shape)}"
            ) from None

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape)


class Permute(Function):
    @staticmethod
    def forward(ctx, a, dims):
        if sorted(int(d) % max(a.ndim, 1) for d in dims) != list(range(a.ndim)):
            raise ConvlabError(f"permute: dims {tuple(dims)} are not a permutation of {a.ndim} axes")
        dims = tuple(int(d) % max(a.ndim, 1) for d in dims)
        ctx.inverse = tuple(np.argsort(dims))
        return a.transpose(dims)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(ctx.inverse)


class Expand(Function):
    @staticmethod
    def forward(ctx, a, shape):
        xp = backend.array_module(a)
        lead = len(shape) - a.ndim
        if lead < 0:
            raise ConvlabError(f"expand: target shape {tuple(shape)} has fewer dims than {a.shape}")
        shape = tuple(a.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
        ctx.shape = a.shape
        try:
            return xp.broadcast_to(a, shape)
        except ValueError:
            raise ConvlabError(f"expand: cannot expand shape {a.shape} to {shape}") from None

    @staticmethod
    def backward(ctx, g):
        from ..graph import unbroadcast

        return unbroadcast(g, ctx.shape)


class Cat(Function):
    """Concatenate along ``dim``; positional arrays are the pieces."""

    @staticmethod
    def forward(ctx, *arrays, dim=0):
        if not arrays:
            raise ConvlabError("cat: expected a non-empty sequence of tensors")
        xp = backend.array_module(*arrays)
        nd = arrays[0].ndim
        d = validate.dim(dim, nd, "cat")
        for i, a in enumerate(arrays):
            if a.ndim != nd or any(a.shape[k] != arrays[0].shape[k] for k in range(nd) if k != d):
                raise ConvlabError(
                    f"cat: tensor {i} has shape {a.shape} but tensor 0 has {arrays[0].shape}; "
                    f"all dims except dim {dim} must match"
                )
        ctx.sections = np.cumsum([a.shape[d] for a in arrays])[:-1]
        ctx.dim = d
        return xp.concatenate(arrays, axis=d)

    @staticmethod
    def backward(ctx, g):
        return tuple(backend.array_module(g).split(g, ctx.sections, axis=ctx.dim))


class Slice(Function):
    """``a[index]`` for basic and integer-array indexing; backward scatter-adds."""

    @staticmethod
    def forward(ctx, a, index):
        ctx.shape, ctx.dtype, ctx.index = a.shape, a.dtype, index
        try:
            return a[index]
        except (IndexError, TypeError, ValueError) as exc:
            raise validate.DimensionError(f"index {validate._safe_repr(index)} is invalid for a tensor of shape "
                                          f"{a.shape}: {exc}") from None

    @staticmethod
    def backward(ctx, g):
        xp = backend.array_module(g)
        out = xp.zeros(ctx.shape, dtype=g.dtype)
        if _is_basic(ctx.index):
            out[ctx.index] = g  # basic slicing never repeats an element
        else:
            xp.add.at(out, ctx.index, g)  # integer arrays may repeat: accumulate
        return out


def _is_basic(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice)) for i in items)


_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


class Pad(Function):
    """Pad the trailing axes. ``pad`` is torch's tuple: (last_lo, last_hi, prev_lo, prev_hi, ...).

    Non-constant modes are a gather along each padded axis (an index map built by padding
    ``arange``); the backward is the matching scatter-add, applied axis by axis in reverse.
    """

    @staticmethod
    def forward(ctx, a, pad, mode="constant", value=0.0):
        xp = backend.array_module(a)
        if not isinstance(pad, (tuple, list)):
            raise validate.ArgumentTypeError(f"pad: pad must be a tuple of ints, got {validate._safe_repr(pad)}")
        pad = tuple(validate.integer(p, "pad", "pad") for p in pad)
        if len(pad) % 2 or len(pad) // 2 > a.ndim:
            raise ConvlabError(f"pad: pad {pad} must have an even length of at most 2 * ndim = {2 * a.ndim}")
        widths = [(0, 0)] * a.ndim
        for i in range(len(pad) // 2):
            widths[a.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
        ctx.shape, ctx.widths, ctx.mode = a.shape, widths, mode
        validate.allocation([builtins.max(s + lo + hi, 0) for s, (lo, hi) in zip(a.shape, widths)],
                            a.dtype.itemsize, "pad", "the padded tensor")
        if mode == "constant":
            if any(lo < 0 or hi < 0 for lo, hi in widths):  # negative pads crop, as torch
                for (lo, hi), size in zip(widths, a.shape):
                    if size + lo + hi < 0:
                        raise ConvlabError(f"pad: negative padding {pad} crops more than the size {size} of an axis "
                                         f"of shape {tuple(a.shape)}")
                ctx.pad_in = widths
                a = a[tuple(slice(max(-lo, 0), s - max(-hi, 0)) for (lo, hi), s in zip(widths, a.shape))]
                widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
                ctx.widths = widths
                ctx.cropped = True
            return xp.pad(a, widths, mode="constant", constant_values=value)
        if mode not in _PAD_MODES:
            raise ConvlabError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
        ctx.maps = []
        for ax, (lo, hi) in enumerate(widths):
            if lo == hi == 0:
                continue
            n = a.shape[ax]
            if lo < 0 or hi < 0:
                raise ConvlabError(f"pad: negative padding {(lo, hi)} is only supported in constant mode")
            if mode == "reflect" and (lo >= n or hi >= n):
                raise ConvlabError(f"pad: reflect padding {(lo, hi)} must be smaller than the dimension size {n} (axis {ax})")
            if mode == "circular" and (lo > n or hi > n):
                raise ConvlabError(f"pad: circular padding {(lo, hi)} must be at most the dimension size {n} (axis {ax})")
            if n == 0:
                raise ConvlabError(f"pad: cannot {mode}-pad an empty axis {ax} of shape {a.shape}")
            idx = np.pad(np.arange(n), (lo, hi), mode=_PAD_MODES[mode])
            ctx.maps.append((ax, n, idx))
            a = xp.take(a, xp.asarray(idx), axis=ax)
        return a

    @staticmethod
    def backward(ctx, g):
        xp = backend.array_module(g)
        if ctx.mode == "constant":
            g = g[tuple(slice(lo, g.shape[i] - hi) for i, (lo, hi) in enumerate(ctx.widths))]
            if getattr(ctx, "cropped", False):
                full = xp.zeros(ctx.shape, dtype=g.dtype)
                full[tuple(slice(max(-lo, 0), s - max(-hi, 0)) for (lo, hi), s in zip(ctx.pad_in, ctx.shape))] = g
                return full
            return g
        for ax, n, idx in reversed(ctx.maps):
            moved = xp.moveaxis(g, ax, 0)
            acc = xp.zeros((n,) + moved.shape[1:], dtype=g.dtype)
            xp.add.at(acc, xp.asarray(idx), moved)
            g = xp.moveaxis(acc, 0, ax)
        return g
