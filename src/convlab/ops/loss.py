"""Loss functions as fused Functions: cross-entropy (log-softmax + NLL in one node), NLL,
binary cross-entropy on probabilities and on logits.

Layout: class scores are (N, C) or (N, C, d1, ...) with classes on axis 1; internally they are
moved to rows of a (M, C) matrix, M = N * d1 * ... . Arguments are checked by the callers in
``convlab.functional``; these Functions assume valid input.

Reductions: ``'none'`` keeps one loss per row, ``'sum'`` adds them, ``'mean'`` divides the sum
by a denominator: the total weight of the non-ignored targets for class indices (as torch),
the number of rows for class probabilities, the number of elements for the binary losses.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..graph import Function


# ---------------------------------------------------------------- layout helpers
def to_rows(x):
    """(N, C, *) -> (M, C) with classes last; (C,) -> (1, C)."""
    xp = backend.array_module(x)
    if x.ndim == 1:
        return x[None, :]
    return xp.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def from_rows(rows, shape):
    """Inverse of :func:`to_rows` for an array of the original ``shape``."""
    xp = backend.array_module(rows)
    if len(shape) == 1:
        return rows.reshape(shape)
    moved = (shape[0],) + tuple(shape[2:]) + (shape[1],)
    return xp.moveaxis(rows.reshape(moved), -1, 1)


def log_softmax_rows(rows):
    """Stable log-softmax along axis 1: shift by the row max so exp never overflows."""
    xp = backend.array_module(rows)
    shifted = rows - rows.max(axis=1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))


def _reduce(rows, reduction, denom, shape):
    if reduction == "none":
        return rows.reshape(shape)
    total = rows.sum()
    xp = backend.array_module(rows)
    return xp.asarray(total if reduction == "sum" else total / rows.dtype.type(denom), dtype=rows.dtype)


def _row_scale(g, reduction, denom, m):
    """d(reduced loss)/d(row loss) times the upstream gradient, as a (M, 1) column."""
    xp = backend.array_module(g)
    if reduction == "none":
        return g.reshape(m, 1)
    scale = g if reduction == "sum" else g / g.dtype.type(denom)
    return xp.full((m, 1), scale, dtype=g.dtype)


def _index_weights(target, weight, ignore_index, dtype):
    """Per-row weight of the target class, 0 for ignored rows; and the safe class index."""
    xp = backend.array_module(target)
    valid = target != ignore_index
    safe = xp.where(valid, target, 0)
    w_row = (weight[safe] if weight is not None else xp.ones(safe.shape, dtype=dtype)) * valid
    return w_row.astype(dtype, copy=False), safe, valid


# ---------------------------------------------------------------- cross-entropy and NLL
class CrossEntropy(Function):
    """Cross-entropy between logits and class indices or class probabilities, fused.

    With ``q`` the effective target distribution of a row (one-hot or probabilities, mixed
    with the uniform one by label smoothing and multiplied by the class weights), the row loss
    is ``-sum_c q_c log softmax(x)_c`` and its gradient is ``softmax(x) * sum(q) - q``.
    """

    @staticmethod
    def forward(ctx, logits, target, weight=None, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
        xp = backend.array_module(logits)
        c = logits.shape[1] if logits.ndim > 1 else logits.shape[0]
        logp = log_softmax_rows(to_rows(logits))
        m = logp.shape[0]
        eps = label_smoothing
        wc = None if weight is None else weight.astype(logp.dtype, copy=False)
        if target.dtype.kind == "f":  # class probabilities
            q = to_rows(target).astype(logp.dtype, copy=False)
            if eps > 0:
                q = q * (1 - eps) + eps / c
            if wc is not None:
                q = q * wc
            rows = -(q * logp).sum(axis=1)
            ctx.q, denom = q, m
        else:  # class indices
            w_row, safe, valid = _index_weights(target.reshape(-1), wc, ignore_index, logp.dtype)
            picked = logp[xp.arange(m), safe]
            rows = -(1 - eps) * w_row * picked
            if eps > 0:
                smooth = -(logp if wc is None else logp * wc).sum(axis=1) * valid
                rows = rows + (eps / c) * smooth
            ctx.q, denom = (w_row, safe, valid), w_row.sum()
        ctx.save_for_backward(logp)
        ctx.info = (logits.shape, reduction, denom, eps, wc)
        out_shape = target.shape if target.dtype.kind != "f" else target.shape[:1] + target.shape[2:]
        return _reduce(rows, reduction, denom, out_shape)

    @staticmethod
    def backward(ctx, g):
        (logp,) = ctx.saved
        shape, reduction, denom, eps, wc = ctx.info
        xp = backend.array_module(g)
        m, c = logp.shape
        scale = _row_scale(g, reduction, denom, m)
        grad_target = None
        if isinstance(ctx.q, tuple):
            w_row, safe, valid = ctx.q
            sum_q = (1 - eps) * w_row
            if eps > 0:
                sum_q = sum_q + (eps / c) * valid * (c if wc is None else wc.sum())
            grad = xp.exp(logp) * sum_q[:, None]
            grad[xp.arange(m), safe] -= (1 - eps) * w_row
            if eps > 0:
                grad -= (eps / c) * valid[:, None] * (1 if wc is None else wc)
        else:
            q = ctx.q
            grad = xp.exp(logp) * q.sum(axis=1, keepdims=True) - q
            if ctx.needs_input_grad[1]:
                gt = -logp * (1 - eps) * scale
                grad_target = from_rows(gt if wc is None else gt * wc, shape)
        # the weights and masks may be float64 (or bool); the gradient keeps the logits' dtype, so a
        # float32 network's backward stays in float32 (and on the float32 GEMM)
        return from_rows((grad * scale).astype(logp.dtype, copy=False), shape), grad_target


class NLL(Function):
    """Negative log-likelihood of class indices given log-probabilities: ``-w[y] * logp[y]``."""

    @staticmethod
    def forward(ctx, logp, target, weight=None, ignore_index=-100, reduction="mean"):
        xp = backend.array_module(logp)
        rows = to_rows(logp)
        m = rows.shape[0]
        wc = None if weight is None else weight.astype(rows.dtype, copy=False)
        w_row, safe, _ = _index_weights(target.reshape(-1), wc, ignore_index, rows.dtype)
        denom = w_row.sum()
        ctx.info = (logp.shape, rows.dtype, reduction, denom, w_row, safe)
        return _reduce(-w_row * rows[xp.arange(m), safe], reduction, denom, target.shape)

    @staticmethod
    def backward(ctx, g):
        shape, dtype, reduction, denom, w_row, safe = ctx.info
        xp = backend.array_module(g)
        m = w_row.shape[0]
        c = shape[1] if len(shape) > 1 else shape[0]
        grad = xp.zeros((m, c), dtype=dtype)
        grad[xp.arange(m), safe] = -w_row * _row_scale(g, reduction, denom, m)[:, 0]
        return from_rows(grad, shape), None


# ---------------------------------------------------------------- binary cross-entropy
def _reduce_elements(loss, reduction):
    if reduction == "none":
        return loss
    xp = backend.array_module(loss)
    return xp.asarray(loss.sum() if reduction == "sum" else loss.mean(), dtype=loss.dtype)


def _elements_scale(g, reduction, size):
    return g if reduction != "mean" else g / g.dtype.type(size)


class BCEWithLogits(Function):
    """Binary cross-entropy on logits, stable for any |x|.

    ``-[p y log s(x) + (1 - y) log(1 - s(x))] = (1 - y) x + (1 + (p - 1) y) softplus(-x)``
    with ``softplus(-x) = max(-x, 0) + log1p(exp(-|x|))`` (exp of a non-positive number only)
    and ``p`` the positive-class weight. Gradients: ``d/dx = (1 - y) - (1 + (p - 1) y) s(-x)``,
    ``d/dy = -x + (p - 1) softplus(-x)``; both times the element weight.
    """

    @staticmethod
    def forward(ctx, x, y, weight=None, pos_weight=None, reduction="mean"):
        xp = backend.array_module(x)
        e = xp.exp(-xp.abs(x))
        softplus_neg = xp.maximum(-x, 0) + xp.log1p(e)
        lw = 1 if pos_weight is None else 1 + (pos_weight - 1) * y
        loss = (1 - y) * x + lw * softplus_neg
        if weight is not None:
            loss = loss * weight
        ctx.save_for_backward(x, y, e, softplus_neg, weight, pos_weight)
        ctx.reduction = reduction
        return _reduce_elements(loss, reduction)

    @staticmethod
    def backward(ctx, g):
        x, y, e, softplus_neg, weight, pos_weight = ctx.saved
        xp = backend.array_module(x)
        g = _elements_scale(g, ctx.reduction, x.size)
        if weight is not None:
            g = g * weight
        sig_neg = xp.where(x >= 0, e / (1 + e), 1 / (1 + e))  # sigmoid(-x)
        lw = 1 if pos_weight is None else 1 + (pos_weight - 1) * y
        gx = g * ((1 - y) - lw * sig_neg) if ctx.needs_input_grad[0] else None
        gy = None
        if ctx.needs_input_grad[1]:
            gy = g * (-x if pos_weight is None else -x + (pos_weight - 1) * softplus_neg)
        return gx, gy, None, None


class BCE(Function):
    """Binary cross-entropy on probabilities: ``-w [y log p + (1 - y) log(1 - p)]``.

    Each log is clamped at -100 (as torch), so ``p = 0`` or ``1`` gives a finite loss; the
    gradient ``w (p - y) / max(p (1 - p), 1e-12)`` is bounded likewise.
    """

    @staticmethod
    def forward(ctx, p, y, weight=None, reduction="mean"):
        xp = backend.array_module(p)
        with np.errstate(divide="ignore"):
            log_p = xp.maximum(xp.log(p), -100)
            log_1mp = xp.maximum(xp.log1p(-p), -100)
        loss = -(y * log_p + (1 - y) * log_1mp)
        if weight is not None:
            loss = loss * weight
        ctx.save_for_backward(p, y, log_p, log_1mp, weight)
        ctx.reduction = reduction
        return _reduce_elements(loss, reduction)

    @staticmethod
    def backward(ctx, g):
        p, y, log_p, log_1mp, weight = ctx.saved
        xp = backend.array_module(p)
        g = _elements_scale(g, ctx.reduction, p.size)
        if weight is not None:
            g = g * weight
        gp = g * (p - y) / xp.maximum(p * (1 - p), 1e-12) if ctx.needs_input_grad[0] else None
        gy = g * (log_1mp - log_p) if ctx.needs_input_grad[1] else None
        return gp, gy, None

