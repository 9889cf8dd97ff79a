"""Tensor-level movement functions (``convlab.reshape``, ``cat``, ``split``, ``pad``, indexing, ...):
the argument checks and the calls into the primitive ops of ``ops/movement.py``."""

from __future__ import annotations

import builtins

import numpy as np

from . import backend, validate
from ._operands import _operand, _same_device
from .ops import movement as V
from .tensor import Tensor
from .validate import ConvlabError


def _shape_args(shape, where="reshape", name="shape"):
    """``f(2, 3)`` or ``f((2, 3))`` as a tuple of ints (``-1`` is the functions' own business)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for s in shape:
        if not validate._is_int(s):
            raise validate.ArgumentTypeError(f"{where}: {name} must be a sequence of ints, got "
                                             f"{validate._safe_repr(tuple(shape))}")
    return tuple(shape)


def reshape(a, *shape):
    return V.Reshape.apply(a, shape=_shape_args(shape))


def permute(a, *dims):
    dims = _shape_args(dims)
    axes = validate.dims(dims, a.ndim, "permute", unique=False)
    if sorted(axes) != list(range(a.ndim)):
        raise validate.ConvlabError(f"permute: dims {tuple(dims)} are not a permutation of {a.ndim} axes")
    return V.Permute.apply(a, dims=axes)


def _dim(dim, ndim, where, new_axis=False, name="dim"):
    """``dim`` in ``[-n, n)`` (torch's rule; ``n = ndim + 1`` for a new axis), as a non-negative axis."""
    return validate.dim(dim, ndim, where, name, new_axis)


def transpose(a, dim0, dim1):
    dims = list(range(a.ndim))
    dim0, dim1 = _dim(dim0, a.ndim, "transpose"), _dim(dim1, a.ndim, "transpose")
    dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
    return V.Permute.apply(a, dims=tuple(dims))


def flatten(a, start_dim=0, end_dim=-1):
    s = _dim(start_dim, a.ndim, "flatten", name="start_dim")
    e = _dim(end_dim, a.ndim, "flatten", name="end_dim")
    if a.ndim == 0:
        return reshape(a, 1)
    if s > e:
        raise validate.ConvlabError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {a.shape}")
    shape = a.shape[:s] + (int(np.prod(a.shape[s : e + 1])),) + a.shape[e + 1 :]
    return V.Reshape.apply(a, shape=shape)


def squeeze(a, dim=None):
    if dim is None:
        return V.Reshape.apply(a, shape=tuple(s for s in a.shape if s != 1))
    if isinstance(dim, (tuple, list)):  # several dims (torch >= 2.0): drop those of size 1
        dims = {d % (a.ndim or 1) for d in dim}
        return V.Reshape.apply(a, shape=tuple(s for i, s in enumerate(a.shape) if not (i in dims and s == 1)))
    d = _dim(dim, a.ndim, "squeeze")
    if a.ndim and a.shape[d] != 1:
        return a
    return V.Reshape.apply(a, shape=a.shape[:d] + a.shape[d + 1 :])


def unsqueeze(a, dim):
    d = _dim(dim, a.ndim, "unsqueeze", new_axis=True)
    return V.Reshape.apply(a, shape=a.shape[:d] + (1,) + a.shape[d:])


def expand(a, *shape):
    return V.Expand.apply(a, shape=_shape_args(shape, "expand", "size"))


def cat(tensors, dim=0):
    """Concatenate tensors along an existing ``dim`` (``torch.cat``)."""
    tensors = [_operand(t) for t in tensors]
    _same_device("cat", *tensors)
    return V.Cat.apply(*tensors, dim=dim)


concatenate = cat


def stack(tensors, dim=0):
    """Join tensors of equal shape along a new ``dim`` (``torch.stack``)."""
    tensors = [_operand(t) for t in tensors]
    if not tensors:
        raise ConvlabError("stack: expected a non-empty sequence of tensors")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise ConvlabError(f"stack: tensor {i} has shape {t.shape} but tensor 0 has {tensors[0].shape}")
    return cat([unsqueeze(t, dim) for t in tensors], dim=dim)


def split(a, split_size_or_sections, dim=0):
    """Split into pieces of ``split_size`` (last may be smaller) or of the given sizes."""
    d = _dim(dim, a.ndim, "split")
    if a.ndim == 0:
        raise validate.ConvlabError("split: cannot split a 0-d tensor")
    n = a.shape[d]
    if validate._is_int(split_size_or_sections):
        size = int(split_size_or_sections)
        if size < 0 or (size == 0 and n != 0):
            raise validate.ConvlabError(f"split: split_size must be positive, got {size}")
        sizes = [size] * (n // size) if size else [0]
        if size and n % size:
            sizes.append(n % size)
    elif isinstance(split_size_or_sections, (list, tuple)):
        sizes = [validate.integer(s, "split", "split_size_or_sections", min=0) for s in split_size_or_sections]
        if builtins.sum(sizes) != n:
            raise validate.ConvlabError(f"split: sections {sizes} do not add up to dim {dim} of size {n}")
    else:
        raise validate.ArgumentTypeError(f"split: split_size_or_sections must be an int or a list of ints, "
                                         f"got {split_size_or_sections!r}")
    out, start = [], 0
    for s in sizes:
        index = (slice(None),) * d + (slice(start, start + s),)
        out.append(V.Slice.apply(a, index=index))
        start += s
    return tuple(out)


def chunk(a, chunks, dim=0):
    chunks = validate.positive_int(chunks, "chunk", "chunks")
    n = a.shape[_dim(dim, a.ndim, "chunk")] if a.ndim else 0
    return split(a, builtins.max(-(-n // chunks), 1) if n else 0, dim)


def pad(a, pad, mode="constant", value=None):
    """Pad trailing dims; ``pad`` = (left, right, top, bottom, ...) as ``torch.nn.functional.pad``.

    Modes: ``'constant'`` (with ``value``, default 0), ``'reflect'``, ``'replicate'``, ``'circular'``.
    """
    validate.choice(mode, ("constant", "reflect", "replicate", "circular"), "pad", "mode")
    return V.Pad.apply(a, pad=tuple(pad) if isinstance(pad, (list, tuple)) else pad, mode=mode,
                       value=0.0 if value is None else value)


def _index(idx):
    """Convert Tensor indices to arrays and boolean masks to integer arrays."""
    if isinstance(idx, tuple):
        return tuple(_index(i) for i in idx)
    if isinstance(idx, Tensor):
        idx = idx._data
    if isinstance(idx, list):
        idx = np.asarray(idx)
    if hasattr(idx, "dtype") and np.dtype(idx.dtype) == np.bool_:
        return backend.array_module(idx).nonzero(idx) if idx.ndim > 0 else idx
    return idx


def getitem(a, idx):
    idx = _index(idx)
    if isinstance(idx, tuple) and any(isinstance(i, tuple) for i in idx):  # masks inside tuples
        flat = []
        for i in idx:
            flat.extend(i if isinstance(i, tuple) else (i,))
        idx = tuple(flat)
    return V.Slice.apply(a, index=idx)
