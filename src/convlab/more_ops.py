"""torch's scans, selections and contractions: ``cumsum``, ``cumprod``, ``prod``,
``index_select``, ``masked_select``, ``nonzero``, ``repeat_interleave``, ``einsum`` and
``nn.functional.embedding``. The differentiable ones are :class:`Function` s in
:mod:`convlab.ops.scan`, :mod:`convlab.ops.select` and :mod:`convlab.ops.einsum`; here are the
argument checks (torch's messages) and the Tensor methods.
"""

from __future__ import annotations

import numpy as np

from . import backend, validate
from .ops.einsum import Einsum, parse
from .ops.scan import Cumprod, Cumsum, Prod
from .ops.select import EmbeddingLookup, IndexSelect, MaskedSelect
from .tensor_class import Tensor, _leaf
from .validate import ConvlabError


def _as_tensor(v, where: str, name: str) -> Tensor:
    if isinstance(v, Tensor):
        return v
    raise TypeError(f"{where}(): argument '{name}' must be Tensor, not {type(v).__name__}")


def _cast(a: Tensor, dtype, where: str) -> Tensor:
    return a if dtype is None else a.to(validate.dtype(dtype, where))


def _index_array(v, where: str, name: str):
    """An integer index as a NumPy-compatible int64 array (a Tensor, list or int)."""
    arr = v._data if isinstance(v, Tensor) else np.asarray(v)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{where}(): Expected dtype int32/int64 for {name}, got {arr.dtype}")
    return arr.astype(np.int64)


def cumsum(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """Running sum along ``dim`` (shape kept)."""
    input = _cast(_as_tensor(input, "cumsum", "input"), dtype, "cumsum")
    return Cumsum.apply(input, validate.dim(dim, input.ndim, "cumsum"))


def cumprod(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """Running product along ``dim`` (shape kept); the gradient is exact where entries are zero."""
    input = _cast(_as_tensor(input, "cumprod", "input"), dtype, "cumprod")
    return Cumprod.apply(input, validate.dim(dim, input.ndim, "cumprod"))


def prod(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Product of all elements, or over the one axis ``dim`` (dropped unless ``keepdim``)."""
    input = _cast(_as_tensor(input, "prod", "input"), dtype, "prod")
    axis = None if dim is None else validate.dim(dim, input.ndim, "prod")
    return Prod.apply(input, axis, bool(keepdim))


def index_select(input: Tensor, dim: int, index) -> Tensor:
    """The entries at positions ``index`` (1-d ints) along ``dim``."""
    input = _as_tensor(input, "index_select", "input")
    axis = validate.dim(dim, input.ndim, "index_select")
    idx = _index_array(index, "index_select", "index")
    if idx.ndim > 1:
        raise ConvlabError("index_select(): Index is supposed to be a vector")
    idx = idx.reshape(-1)
    size = input.shape[axis] if input.ndim else 1
    if idx.size and (idx.min() < 0 or idx.max() >= size):
        raise IndexError(f"index_select(): index out of range in self (indices must be in [0, {size}), got "
                         f"{int(idx.min() if idx.min() < 0 else idx.max())})")
    if input.ndim == 0:  # a 0-d input acts as a 1-element vector and stays 0-d
        out = IndexSelect.apply(input.reshape(1), idx, 0)
        return out.reshape(()) if out.shape[0] == 1 else out
    return IndexSelect.apply(input, idx, axis)


def masked_select(input: Tensor, mask) -> Tensor:
    """The entries of ``input`` where the bool ``mask`` (broadcast with it) is true, as a 1-d tensor."""
    input = _as_tensor(input, "masked_select", "input")
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_select: expected BoolTensor for mask, got {m.dtype}")
    try:
        shape = np.broadcast_shapes(tuple(input.shape), m.shape)
    except ValueError:
        raise ConvlabError(f"masked_select: the shape of the mask {m.shape} does not broadcast with the input's "
                           f"{tuple(input.shape)}") from None
    if tuple(input.shape) != shape:
        input = input.expand(*shape)
    return MaskedSelect.apply(input, backend.array_module(input._data).broadcast_to(m, shape))


def nonzero(input: Tensor, *, as_tuple: bool = False):
    """Indices of the non-zero entries: an ``(n, ndim)`` int64 tensor, or (``as_tuple``) one 1-d
    tensor per dim. Not differentiable."""
    input = _as_tensor(input, "nonzero", "input")
    data = input._data
    xp = backend.array_module(data)
    found = xp.nonzero(data.reshape(1) if data.ndim == 0 else data)
    if as_tuple:
        return tuple(_leaf(i.astype(np.int64)) for i in found)
    if data.ndim == 0:
        return _leaf(xp.zeros((len(found[0]), 0), dtype=np.int64))
    return _leaf(xp.stack(found, axis=1).astype(np.int64) if found else xp.zeros((0, 0), dtype=np.int64))


def repeat_interleave(input: Tensor, repeats=None, dim=None, *, output_size=None) -> Tensor:
    """Repeat each entry ``repeats`` times (an int, or one count per entry) along ``dim`` (``None``:
    the flattened input). With only an integer tensor of counts, ``repeat_interleave(r)`` gives
    ``0`` ``r[0]`` times, then ``1`` ``r[1]`` times..."""
    input = _as_tensor(input, "repeat_interleave", "input")
    if repeats is None:  # torch.repeat_interleave(repeats)
        counts = _index_array(input, "repeat_interleave", "repeats").reshape(-1)
        if (counts < 0).any():
            raise ConvlabError("repeat_interleave: repeats can not be negative")
        return _leaf(np.repeat(np.arange(counts.size, dtype=np.int64), counts))
    if dim is None:
        input, axis = input.reshape(-1), 0
    else:
        axis = validate.dim(dim, input.ndim, "repeat_interleave")
    n = input.shape[axis] if input.ndim else 1
    counts = _index_array(repeats, "repeat_interleave", "repeats").reshape(-1)
    if counts.size not in (1, n):
        raise ConvlabError(f"repeat_interleave: repeats must have the same size as input along dim ({n}), "
                           f"got {counts.size}")
    if (counts < 0).any():
        raise ConvlabError("repeat_interleave: repeats can not be negative")
    idx = np.repeat(np.arange(n, dtype=np.int64), counts if counts.size == n else int(counts[0]))
    if output_size is not None and validate.nonneg_int(output_size, "repeat_interleave", "output_size") != idx.size:
        raise ConvlabError(f"repeat_interleave: output_size {output_size} does not match the result's {idx.size}")
    if input.ndim == 0:
        input = input.reshape(1)
    return IndexSelect.apply(input, idx, axis)


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation (``'ij,jk->ik'``, ``'bij,bjk->bik'``, ``'ii->i'``, ``'ij->'``...): the
    operands may also be one list. Differentiable in every operand; ``...`` is refused."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ConvlabError("einsum(): must provide at least one operand")
    for k, t in enumerate(operands):
        _as_tensor(t, "einsum", f"operands[{k}]")
    ins, out = parse(equation, [tuple(t.shape) for t in operands])
    return Einsum.apply(*operands, ins=ins, out=out)


def embedding(input, weight: Tensor, padding_idx=None, max_norm=None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` (num, dim) picked by the integer ``input`` (*) -> (*, dim).

    ``padding_idx``: that row receives no gradient. ``max_norm``: the rows looked up whose
    ``norm_type``-norm exceeds it are rescaled to it, in place, before the lookup (as torch).
    ``scale_grad_by_freq``: each row's gradient is divided by how often it occurs in ``input``.
    ``sparse`` is accepted; the gradient is always dense here."""
    weight = _as_tensor(weight, "embedding", "weight")
    if weight.ndim != 2:
        raise ConvlabError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape "
                           f"{tuple(weight.shape)}")
    idx = _index_array(input, "embedding", "indices")
    num = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= num):
        raise IndexError(f"embedding: index out of range in self (indices must be in [0, {num}), got "
                         f"{int(idx.min() if idx.min() < 0 else idx.max())})")
    if padding_idx is not None:
        padding_idx = validate.integer(padding_idx, "embedding", "padding_idx", min=-num, max=num - 1) % num
    if max_norm is not None:
        max_norm = validate.positive(max_norm, "embedding", "max_norm")
        data = weight._data
        rows = np.unique(idx)
        norms = (np.abs(data[rows]) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
        big = norms > max_norm
        data[rows[big]] *= (max_norm / (norms[big] + 1e-7))[:, None].astype(data.dtype)
    return EmbeddingLookup.apply(weight, idx, padding_idx, bool(scale_grad_by_freq))


_METHODS = {"cumsum": cumsum, "cumprod": cumprod, "prod": prod, "index_select": index_select,
            "masked_select": masked_select, "nonzero": nonzero, "repeat_interleave": repeat_interleave}
for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)
