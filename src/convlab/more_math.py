"""More of torch's tensor functions, built from the primitive ops (so their gradients come from
those ops' backward rules): ``mm``, ``bmm``, ``sort``/``argsort``, ``repeat``, ``gather``, ``masked_fill``, the comparison
methods ``lt``/``le``/``gt``/``ge``, the predicates ``isnan``/``isfinite``/``allclose``/``equal``,
and ``nn.functional``'s ``elu``, ``softplus``, ``hardtanh``, ``normalize`` (``interpolate``: :mod:`convlab.ops.resample`).
They are bound onto :class:`Tensor` and exported as ``convlab.<name>`` / ``nn.functional.<name>``.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from . import backend, validate
from .graph import Function
from .math import exp, log, where
from .methods import topk
from .ops.resample import interpolate  # noqa: F401  (re-exported: nn.functional.interpolate)
from .tensor_class import Tensor, _leaf

SortResult = namedtuple("sort", ["values", "indices"])


def mm(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product of two 2-d tensors (``(n, m) @ (m, p)``)."""
    if a.ndim != 2 or b.ndim != 2:
        raise RuntimeError(f"mm: expected 2-D tensors, got {a.ndim}-D and {b.ndim}-D")
    if a.shape[1] != b.shape[0]:
        raise validate.ConvlabError(f"mm: mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} and "
                                    f"{b.shape[0]}x{b.shape[1]})")
    return a @ b


def bmm(a: Tensor, b: Tensor) -> Tensor:
    """Batched matrix product of two 3-d tensors (``(b, n, m) @ (b, m, p)``)."""
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]:
        raise RuntimeError(f"bmm: expected 3-D tensors with one batch size, got {a.shape} and {b.shape}")
    return a @ b


def sort(a: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> SortResult:
    """``(values, indices)`` along ``dim``, ascending unless ``descending`` (ties in index order)."""
    dim = validate.dim(dim, a.ndim, "sort")
    values, indices = topk(a, a.shape[dim] if a.ndim else 1, dim=dim, largest=descending, sorted=True)
    return SortResult(values, indices)


def argsort(a: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    return sort(a, dim, descending).indices


def repeat(a: Tensor, *sizes) -> Tensor:
    """Tile ``a`` ``sizes[i]`` times along each dim (leading sizes add dims), as ``Tensor.repeat``."""
    sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
    sizes = validate.shape(sizes, "repeat", "repeats")
    validate.allocation(tuple(sizes[:len(sizes) - a.ndim]) + tuple(r * s for r, s in zip(sizes[len(sizes) - a.ndim:],
                                                                                          a.shape)),
                        np.dtype(a.dtype).itemsize, "repeat", "the result")
    if len(sizes) < a.ndim:
        raise RuntimeError(f"repeat: number of repeat dims ({len(sizes)}) can not be smaller than the tensor's ({a.ndim})")
    shape = (1,) * (len(sizes) - a.ndim) + tuple(a.shape)
    # a copy per repeat: put a new axis before each dim, expand it, then merge the pairs
    paired = a.reshape(*[v for s in shape for v in (1, s)])
    expanded = paired.expand(*[v for r, s in zip(sizes, shape) for v in (r, s)])
    return expanded.reshape(*[r * s for r, s in zip(sizes, shape)])


def _predicate(fn):
    def pred(a):
        return _leaf(fn(backend.array_module(a._data), a._data))

    return pred


isnan = _predicate(lambda xp, a: xp.isnan(a))
isfinite = _predicate(lambda xp, a: xp.isfinite(a))
isinf = _predicate(lambda xp, a: xp.isinf(a))


def allclose(a: Tensor, b: Tensor, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> bool:
    rtol, atol = (validate.real(v, "allclose", n, finite=False) for v, n in ((rtol, "rtol"), (atol, "atol")))
    return bool(np.allclose(backend.to_numpy(a._data), backend.to_numpy(b._data), rtol=rtol, atol=atol,
                            equal_nan=equal_nan))


def equal(a: Tensor, b: Tensor) -> bool:
    """True when both have the same shape and the same values."""
    return a.shape == b.shape and bool(np.array_equal(backend.to_numpy(a._data), backend.to_numpy(b._data)))


def masked_fill(a: Tensor, mask, value) -> Tensor:
    """``value`` where ``mask`` is true, ``a`` elsewhere (the gradient flows to the kept entries).
    ``mask`` is a bool tensor broadcastable to ``a`` (torch's rule)."""
    m = np.asarray(mask._data if isinstance(mask, Tensor) else mask)
    if m.dtype != np.bool_:
        raise validate.ArgumentTypeError(f"masked_fill: mask must be a bool tensor, got dtype {m.dtype}")
    try:
        if np.broadcast_shapes(m.shape, tuple(a.shape)) != tuple(a.shape):
            raise ValueError
    except ValueError:
        raise validate.ConvlabError(f"masked_fill: mask of shape {m.shape} cannot be broadcast to the input's shape "
                                    f"{tuple(a.shape)}") from None
    return where(mask, a * 0 + value, a)


class _Gather(Function):
    """``out[i][j] = a[i][index[i][j]]`` along ``dim`` (NumPy's take_along_axis); the gradient adds
    each output's gradient back into the entry it was taken from (repeats accumulate)."""

    @staticmethod
    def forward(ctx, a, index, dim):
        xp = backend.array_module(a)
        ctx.shape, ctx.index, ctx.dim = a.shape, index, dim
        return xp.take_along_axis(a, index, axis=dim)

    @staticmethod
    def backward(ctx, g):
        xp = backend.array_module(g)
        grad = xp.zeros(ctx.shape, dtype=g.dtype)
        axes = list(xp.indices(ctx.index.shape, sparse=True))
        axes[ctx.dim] = ctx.index
        xp.add.at(grad, tuple(axes), g)
        return grad, None


def gather(a: Tensor, dim: int, index: Tensor) -> Tensor:
    idx = index._data if isinstance(index, Tensor) else np.asarray(index)
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"gather(): Expected dtype int64 for index, got {idx.dtype}")
    dim = validate.dim(dim, a.ndim, "gather")
    if idx.ndim != max(a.ndim, 1) and a.ndim:
        raise validate.ConvlabError(f"gather(): Index tensor must have the same number of dimensions as input tensor "
                                    f"(input {tuple(a.shape)}, index {tuple(idx.shape)})")
    return _Gather.apply(a, idx.astype(np.int64), dim=dim)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """``x / max(||x||_p, eps)`` along ``dim`` (``nn.functional.normalize``); ``p`` = inf takes the
    largest magnitude, -inf the smallest, 0 counts the non-zero entries (torch's vector norms)."""
    p = validate.real(p, "normalize", "p", finite=False)
    dim = validate.dim(dim, input.ndim, "normalize")
    if p == 0:
        norm = (input != 0).sum(dim, keepdim=True).to(input.dtype)
    elif math.isinf(p):
        norm = input.abs().amax(dim, keepdim=True) if p > 0 else input.abs().amin(dim, keepdim=True)
    else:
        norm = (input.abs() ** p).sum(dim, keepdim=True) ** (1.0 / p)
    return input / norm.clamp(min=eps)


# ---------------------------------------------------------------- activations (nn.functional)
def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``."""
    return where(input > 0, input, (exp(where(input > 0, input * 0, input)) - 1) * alpha)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta x)) / beta``, and ``x`` itself where ``beta x > threshold`` (as torch)."""
    z = input * beta
    safe = where(z > threshold, z * 0, z)  # keep exp() finite where the linear branch is used
    return where(z > threshold, input, log(exp(safe) + 1) / beta)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """``min(max(x, min_val), max_val)``; ``min_val > max_val`` is refused (torch's message)."""
    min_val, max_val = validate.real(min_val, "hardtanh", "min_val"), validate.real(max_val, "hardtanh", "max_val")
    if min_val > max_val:
        raise validate.ConvlabError(f"hardtanh: min_val cannot be greater than max_val (min_val={min_val}, "
                                    f"max_val={max_val})")
    return input.clamp(min_val, max_val)


def _compare_method(op):
    return lambda self, other: op(self, other)


for _name, _fn in {"mm": mm, "bmm": bmm, "sort": sort, "argsort": argsort, "repeat": repeat, "isnan": isnan,
                   "isfinite": isfinite, "isinf": isinf, "lt": _compare_method(lambda a, b: a < b),
                   "le": _compare_method(lambda a, b: a <= b), "gt": _compare_method(lambda a, b: a > b),
                   "ge": _compare_method(lambda a, b: a >= b), "equal": equal, "allclose": allclose,
                   "masked_fill": masked_fill, "gather": gather}.items():
    setattr(Tensor, _name, _fn)
