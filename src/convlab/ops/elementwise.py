"""Elementwise operations, each forward beside its backward.

Binary ops broadcast like NumPy; their gradients are summed back to each operand's shape
with :func:`~convlab.tensor.unbroadcast`.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..graph import Function, unbroadcast
from ..validate import ConvlabError
from . import fused


def broadcast_shape(op: str, a, b) -> tuple:
    """The broadcast shape of two operands, or a ValueError naming the op and both shapes."""
    try:
        return np.broadcast_shapes(np.shape(a), np.shape(b))
    except ValueError:
        raise ConvlabError(
            f"{op}: shapes {tuple(np.shape(a))} and {tuple(np.shape(b))} cannot be broadcast together"
        ) from None


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (np.shape(a), np.shape(b))
        broadcast_shape("add", a, b)
        return a + b

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        return unbroadcast(g, sa), unbroadcast(g, sb)


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (np.shape(a), np.shape(b))
        broadcast_shape("sub", a, b)
        return a - b

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        return unbroadcast(g, sa), unbroadcast(-g, sb)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        broadcast_shape("mul", a, b)
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        ga = unbroadcast(g * b, np.shape(a)) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(g * a, np.shape(b)) if ctx.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        broadcast_shape("div", a, b)
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, g):
        # d(a/b)/da = 1/b ; d(a/b)/db = -a/b^2
        a, b = ctx.saved
        ga = unbroadcast(g / b, np.shape(a)) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(-g * a / (b * b), np.shape(b)) if ctx.needs_input_grad[1] else None
        return ga, gb


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return -g


class Pow(Function):
    @staticmethod
    def forward(ctx, a, b):
        broadcast_shape("pow", a, b)
        out = a**b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        # d(a^b)/da = b a^(b-1) ; d(a^b)/db = a^b log(a)  (0 where a <= 0, as torch gives 0 at a == 0)
        a, b, out = ctx.saved
        xp = backend.array_module(g)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = unbroadcast(g * b * a ** (b - 1), np.shape(a))
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                loga = xp.where(a > 0, xp.log(xp.where(a > 0, a, 1)), 0)
            gb = unbroadcast(g * out * loga, np.shape(b))
        return ga, gb


class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        out = backend.array_module(a).exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved
        return g * out


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.array_module(a).log(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved
        return g / a


class Sqrt(Function):
    @staticmethod
    def forward(ctx, a):
        out = backend.array_module(a).sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved
        return g / (2 * out)


class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.array_module(a).abs(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved
        return g * backend.array_module(a).sign(a)  # sign(0) = 0, as torch


class Tanh(Function):
    @staticmethod
    def forward(ctx, a):
        out = backend.array_module(a).tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved
        return g * (1 - out * out)


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, a):
        # exp of a non-positive number only: stable for large |a|
        xp = backend.array_module(a)
        e = xp.exp(-xp.abs(a))
        out = xp.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved
        return g * out * (1 - out)


class ReLU(Function):
    """``max(a, 0)``; the mask ``not a <= 0`` is kept for the backward ``g * mask`` (a NaN input
    passes through with its gradient, as in torch). Float32 arrays take the compiled one-pass
    loops (ops/fused.py): ResNet-20's 16-channel ReLUs at batch 128, forward 1.0 -> 0.55 ms,
    backward 0.8 -> 0.5 ms."""

    @staticmethod
    def forward(ctx, a):
        if fused.suits(a):
            out, mask = fused.relu(a)
        else:
            mask = ~(a <= 0)
            out = backend.array_module(a).maximum(a, 0)  # not a * mask: -inf * 0 would be NaN
        ctx.save_for_backward(mask)
        return out

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved
        if g.shape == mask.shape and fused.suits(g):
            return fused.relu_backward(g, mask)
        return g * mask


class LeakyReLU(Function):
    @staticmethod
    def forward(ctx, a, negative_slope=0.01):
        mask = a > 0
        ctx.save_for_backward(mask)
        ctx.slope = negative_slope
        return backend.array_module(a).where(mask, a, a * a.dtype.type(negative_slope))

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved
        return backend.array_module(g).where(mask, g, g * g.dtype.type(ctx.slope))


class Clamp(Function):
    @staticmethod
    def forward(ctx, a, min=None, max=None):
        xp = backend.array_module(a)
        lo = -np.inf if min is None else min
        hi = np.inf if max is None else max
        ctx.save_for_backward((a >= lo) & (a <= hi))
        return xp.clip(a, lo, hi).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved
        return g * mask


class Maximum(Function):
    @staticmethod
    def forward(ctx, a, b):
        broadcast_shape("maximum", a, b)
        xp = backend.array_module(a, b)
        ctx.save_for_backward(a, b)
        return xp.maximum(a, b)

    @staticmethod
    def backward(ctx, g):
        # ties split the gradient evenly, as torch.maximum does
        a, b = ctx.saved
        wa = (a > b) + 0.5 * (a == b)
        return unbroadcast(g * wa, np.shape(a)), unbroadcast(g * (1 - wa), np.shape(b))


class Minimum(Function):
    @staticmethod
    def forward(ctx, a, b):
        broadcast_shape("minimum", a, b)
        xp = backend.array_module(a, b)
        ctx.save_for_backward(a, b)
        return xp.minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        wa = (a < b) + 0.5 * (a == b)
        return unbroadcast(g * wa, np.shape(a)), unbroadcast(g * (1 - wa), np.shape(b))


class Where(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        xp = backend.array_module(a, b)
        ctx.save_for_backward(cond)
        ctx.shapes = (np.shape(a), np.shape(b))
        return xp.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved
        sa, sb = ctx.shapes
        return None, unbroadcast(g * cond, sa), unbroadcast(g * ~cond, sb)


class Clone(Function):
    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, g):
        return g


class Cast(Function):
    @staticmethod
    def forward(ctx, a, dtype):
        ctx.dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.dtype) if ctx.dtype.kind == "f" else None


def move_array(a, device: str):
    """Copy ``a`` onto ``device`` (``'cpu'`` or a registered device)."""
    if device == "cpu":
        return backend.to_numpy(a).copy()
    return backend.module_for_device(device).asarray(backend.to_numpy(a))


class ToDevice(Function):
    @staticmethod
    def forward(ctx, a, device):
        ctx.device = backend.device_of(a)
        return move_array(a, device)

    @staticmethod
    def backward(ctx, g):
        return move_array(g, ctx.device)
