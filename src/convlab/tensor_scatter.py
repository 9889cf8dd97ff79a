"""``scatter`` / ``scatter_add`` (and, bound by tensor_math, their in-place forms): write ``src``
into ``input`` along ``dim`` at the positions ``index`` names, one Function with its backward
beside it (the gradient of the written cells goes to ``src``, the rest to ``input``)."""

from __future__ import annotations

import numpy as np

from . import backend, validate
from .graph import Function
from .math import _operand
from .tensor_class import Tensor, _leaf


class _Scatter(Function):
    """``out = input`` with ``out[..index[i]..] = src[i]`` along ``dim`` (``reduce='add'``: summed);
    the gradient of ``input`` is ``g`` with the overwritten cells zeroed (all of ``g`` when adding),
    that of ``src`` is ``g`` gathered at ``index``."""

    @staticmethod
    def forward(ctx, a, index, src, dim, reduce):
        xp = backend.array_module(a)
        cells = _cells(xp, index, dim)
        out = a.copy()
        ctx.src_shape = np.shape(src)
        src = xp.broadcast_to(xp.asarray(src, dtype=a.dtype), index.shape) if np.ndim(src) == 0 else src[
            tuple(slice(0, s) for s in index.shape)]
        if reduce == "add":
            xp.add.at(out, cells, src)
        else:
            out[cells] = src
        ctx.cells, ctx.reduce = cells, reduce
        return out

    @staticmethod
    def backward(ctx, g):
        ga = g.copy()
        if ctx.reduce != "add":
            ga[ctx.cells] = 0
        gs = g[ctx.cells]
        if gs.shape != ctx.src_shape and len(ctx.src_shape) == gs.ndim:  # src larger than index: the rest unused
            full = backend.array_module(g).zeros(ctx.src_shape, dtype=g.dtype)
            full[tuple(slice(0, s) for s in gs.shape)] = gs
            gs = full
        return ga, None, gs


def _cells(xp, index, dim) -> tuple:
    """The cells ``index`` names: position ``i`` of ``index`` addresses ``i`` with ``i[dim]`` replaced by ``index[i]``."""
    grids = list(xp.indices(index.shape, sparse=True))
    grids[dim] = index
    return tuple(grids)


def scatter(input: Tensor, dim: int, index: Tensor, src=None, *, value=None, reduce=None) -> Tensor:
    """Write ``src`` (a tensor or a number) into a copy of ``input`` at ``index`` along ``dim``."""
    if src is None:
        src = value
    if src is None:
        raise validate.ArgumentTypeError("scatter: expected either 'src' (a Tensor) or 'value' (a number)")
    return _scatter(_operand(input), dim, index, src, reduce, "scatter")


def _scatter(a: Tensor, dim, index, src, reduce, where: str) -> Tensor:
    dim = validate.dim(dim, a.ndim, where)
    idx = _index(a, dim, index, src, where)
    if isinstance(src, Tensor):
        return _Scatter.apply(a, _leaf(idx), src, dim=dim, reduce=reduce)
    return _Scatter.apply(a, _leaf(idx), np.asarray(src, dtype=a.dtype), dim=dim, reduce=reduce)


def _index(a: Tensor, dim: int, index: Tensor, src, where: str) -> np.ndarray:
    """``index`` as int64 cells, checked as torch checks it: integer dtype, the input's number of
    dims, no larger than the input (off ``dim``) and ``src``, every entry in ``[0, size(dim))``."""
    if index.dtype.kind not in "iu":
        raise validate.ArgumentTypeError(f"{where}(): Expected dtype int64 for index, got {index.dtype}")
    idx = np.asarray(index._data).astype(np.int64)
    if idx.ndim != max(a.ndim, 1) and idx.size:
        raise validate.ConvlabError(f"{where}(): Index tensor must have the same number of dimensions as self "
                                    f"tensor, got index shape {idx.shape} and self shape {tuple(a.shape)}")
    shape = tuple(a.shape) or (1,)
    for d in range(idx.ndim if idx.size else 0):
        if d != dim and idx.shape[d] > shape[d] or isinstance(src, Tensor) and src.ndim == idx.ndim \
                and idx.shape[d] > src.shape[d]:
            raise validate.ConvlabError(f"{where}(): Expected index {idx.shape} to be smaller than self "
                                        f"{tuple(a.shape)} apart from dimension {dim} and to be smaller size than src")
    if isinstance(src, Tensor) and idx.size and src.ndim != idx.ndim:
        raise validate.ConvlabError(f"{where}(): Index tensor must have the same number of dimensions as src tensor, "
                                    f"got index shape {idx.shape} and src shape {tuple(src.shape)}")
    if idx.size and (idx.min() < 0 or idx.max() >= shape[dim]):
        bad = int(idx.min() if idx.min() < 0 else idx.max())
        raise validate.DimensionError(f"{where}(): index {bad} is out of bounds for dimension {dim} with size "
                                      f"{shape[dim]}")
    return idx


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    return _scatter(_operand(input), dim, index, src, "add", "scatter_add")
