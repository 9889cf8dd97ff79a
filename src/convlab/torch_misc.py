"""Small torch functions that training scripts call around the model, and a few tensor helpers:

- ``compile(model)`` returns the model (or function) itself: convlab runs eagerly and has no
  compiler, and compiling never changes results, only speed;
- ``use_deterministic_algorithms`` is recorded and reported back (convlab's kernels are
  deterministic); ``set_float32_matmul_precision("medium")`` runs float32 products on bfloat16
  inputs where the CPU has AVX512_BF16 (``ops/gemm_bf16.py``; "highest", the default, and "high"
  keep them float32);
- ``finfo`` / ``iinfo`` (``torch.finfo(torch.float32).eps``), ``std_mean``, ``var_mean``, ``diag``,
  ``outer``, ``broadcast_to``, ``clone``, ``all``, ``any``, ``unique``, ``bincount``, and
  ``Tensor.mT`` / ``index_add_``.
"""

from __future__ import annotations

import numpy as np

from . import backend, validate
from .math import _operand, std, var
from .ops.gemm_bf16 import get_float32_matmul_precision, set_float32_matmul_precision
from .tensor_class import Tensor, _leaf


def finfo(type=None):  # noqa: A002 - torch's name
    """Machine limits of a floating dtype (``eps``, ``max``, ``min``, ``tiny``, ``bits``...), the
    default dtype's when none is given; an integer, bool or non-dtype argument is refused."""
    from .dtypes import get_default_dtype

    dt = validate.dtype(get_default_dtype() if type is None else type, "finfo", "f")
    return np.finfo(dt)


def iinfo(type):  # noqa: A002 - torch's name
    """Machine limits of an integer dtype (``max``, ``min``, ``bits``)."""
    return np.iinfo(validate.dtype(type, "iinfo", "iu"))


__all__ = ["compile", "use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
           "set_float32_matmul_precision", "get_float32_matmul_precision", "finfo", "iinfo", "std_mean", "var_mean",
           "diag", "outer", "broadcast_to", "clone", "all", "any", "unique", "bincount"]

_state = {"deterministic": False}


def compile(model=None, *, fullgraph: bool = False, dynamic=None, backend="inductor", mode=None,  # noqa: A001
            options=None, disable: bool = False):
    """``model`` itself (also as a decorator, ``@torch.compile`` or ``@torch.compile(mode=...)``)."""
    if model is None:
        return lambda fn: fn
    return model


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    _state["deterministic"] = bool(mode)


def are_deterministic_algorithms_enabled() -> bool:
    return _state["deterministic"]


def std_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    return std(input, dim, unbiased, keepdim, correction), input.mean(dim, keepdim=keepdim)


def var_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    return var(input, dim, unbiased, keepdim, correction), input.mean(dim, keepdim=keepdim)


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """A 1-D tensor as the ``diagonal``-th diagonal of a square matrix; a 2-D tensor's diagonal."""
    a = _operand(input)
    if a.ndim == 1:
        n = a.shape[0] + abs(diagonal)
        rows = np.arange(a.shape[0]) + max(-diagonal, 0)
        cols = np.arange(a.shape[0]) + max(diagonal, 0)
        place = np.zeros((n, n, a.shape[0]), dtype=a.dtype)
        place[rows, cols, np.arange(a.shape[0])] = 1
        return (_leaf(place) * a).sum(-1)
    if a.ndim == 2:
        k = np.arange(max(0, min(a.shape[0] + min(diagonal, 0), a.shape[1] - max(diagonal, 0))))
        return a[k + max(-diagonal, 0), k + max(diagonal, 0)]
    raise RuntimeError(f"diag(): expected a 1-D or 2-D tensor, got {a.ndim}-D")


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    return _operand(input).reshape(-1, 1) * _operand(vec2).reshape(1, -1)


def broadcast_to(input: Tensor, size) -> Tensor:
    """``input`` expanded to ``size`` (an int or a tuple of ints; -1 keeps a dim), as ``expand``."""
    return _operand(input).expand(*((size,) if validate._is_int(size) else size))


def clone(input: Tensor, *, memory_format=None) -> Tensor:
    return _operand(input).clone()


def all(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    return _operand(input).all(dim, keepdim)


def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    return _operand(input).any(dim, keepdim)


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,  # noqa: A002
           dim=None):
    """The distinct values (sorted), and optionally where each input came from and how often."""
    a = backend.to_numpy(_operand(input)._data)
    values, inverse, counts = np.unique(a, return_inverse=True, return_counts=True, axis=dim)
    out = [_leaf(values)]
    if return_inverse:
        out.append(_leaf(inverse.reshape(a.shape if dim is None else -1).astype(np.int64)))
    if return_counts:
        out.append(_leaf(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def bincount(input: Tensor, weights=None, minlength: int = 0) -> Tensor:
    """How often each value 0..max(input) occurs in the 1-D non-negative integer ``input``
    (summing ``weights`` instead of counting when given), at least ``minlength`` bins."""
    a = backend.to_numpy(_operand(input)._data)
    w = None if weights is None else backend.to_numpy(_operand(weights)._data)
    if a.ndim != 1 or a.dtype.kind not in "iu":
        raise validate.ConvlabError(f"bincount: only supports 1-d non-negative integral inputs, got {a.dtype} of "
                                    f"shape {a.shape}")
    if a.size and a.min() < 0:
        raise validate.ConvlabError(f"bincount: input must be non-negative, got {int(a.min())}")
    if w is not None and w.shape != a.shape:
        raise validate.ConvlabError(f"bincount: weights should be 1-d and have the same length as input, got shape "
                                    f"{w.shape} for input {a.shape}")
    minlength = validate.nonneg_int(minlength, "bincount", "minlength")
    validate.allocation((max(int(a.max()) + 1 if a.size else 0, minlength),), 8, "bincount")
    out = np.bincount(a, weights=w, minlength=minlength)
    return _leaf(out if w is not None else out.astype(np.int64))


def _index_add_(self: Tensor, dim: int, index, source, *, alpha=1) -> Tensor:
    """``self[..., index[i], ...] += alpha * source[..., i, ...]`` along ``dim``, in place."""
    from .methods import _check_inplace

    _check_inplace(self, "index_add_")
    idx = backend.to_numpy(_operand(index)._data).astype(np.int64)
    src = np.moveaxis(backend.to_numpy(_operand(source)._data), dim, 0) * alpha
    target = np.moveaxis(self._data, dim, 0)  # a view: writes land in self
    np.add.at(target, idx, src.astype(self.dtype, copy=False))
    return self


Tensor.mT = property(lambda self: self.transpose(-2, -1), doc="The last two dims swapped.")
Tensor.index_add_ = _index_add_
