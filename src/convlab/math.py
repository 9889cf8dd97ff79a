"""Tensor-level functions (``convlab.exp``, ``convlab.cat``, ...) and the Tensor methods
and Python operators built on the primitive ops."""

from __future__ import annotations

import functools
from collections import namedtuple

import numpy as np

from . import backend, validate
from ._operands import _binary, _operand, _raw, _same_device  # noqa: F401 - re-exported for the functions' modules
from .math_movement import (  # noqa: F401 - convlab.math keeps its movement names
    _index,
    cat,
    chunk,
    concatenate,
    expand,
    flatten,
    getitem,
    pad,
    permute,
    reshape,
    split,
    squeeze,
    stack,
    transpose,
    unsqueeze,
)
from .ops import elementwise as E
from .ops import matmul as M
from .ops import reduce as R
from .tensor import Tensor, get_default_dtype
from .validate import ConvlabError

MaxResult = namedtuple("MaxResult", ["values", "indices"])




# ---------------------------------------------------------------- arithmetic
def add(a, b):
    return _binary(E.Add, a, b)


def sub(a, b):
    return _binary(E.Sub, a, b)


def mul(a, b):
    return _binary(E.Mul, a, b)


def div(a, b):
    return _binary(E.Div, a, b)


def pow(a, b):  # noqa: A001 - torch's name
    return _binary(E.Pow, a, b)


def matmul(a, b):
    return _binary(M.MatMul, a, b)


def maximum(a, b):
    return _binary(E.Maximum, a, b)


def minimum(a, b):
    return _binary(E.Minimum, a, b)


def neg(a):
    return E.Neg.apply(_operand(a))


def exp(a):
    return E.Exp.apply(_operand(a))


def log(a):
    return E.Log.apply(_operand(a))


def sqrt(a):
    return E.Sqrt.apply(_operand(a))


def abs(a):  # noqa: A001 - torch's name
    return E.Abs.apply(_operand(a))


def tanh(a):
    return E.Tanh.apply(_operand(a))


def sigmoid(a):
    return E.Sigmoid.apply(_operand(a))


def relu(a):
    return E.ReLU.apply(_operand(a))


def leaky_relu(a, negative_slope=0.01):
    return E.LeakyReLU.apply(_operand(a), negative_slope=negative_slope)


def clamp(a, min=None, max=None):  # noqa: A002 - torch's names
    """Clip into [min, max]. Bounds may be numbers or tensors (broadcast; ``x.clamp_(min=x.min())``);
    with tensor bounds the gradient goes to ``a`` where min <= a <= max and to the bound it took
    elsewhere, as torch's. An integer or bool tensor clamped by a float bound becomes float (the
    bound tensor's dtype, else the default), a bool one clamped by integers int64 (torch's promotion)."""
    a = _operand(a)
    if a.dtype.kind != "f":
        bounds = [v for v in (min, max) if v is not None]
        floats = [v.dtype for v in bounds if isinstance(v, Tensor) and v.dtype.kind == "f"]
        if floats or any(isinstance(v, (float, np.floating)) for v in bounds):
            a = _raw(a._data.astype(np.result_type(*floats) if floats else get_default_dtype()))
        elif a.dtype.kind == "b" and any(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
                                         for v in bounds):
            a = _raw(a._data.astype(np.int64))
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = a
        if min is not None:
            out = where(out < min, _operand(min, a).astype(a.dtype), out)
        if max is not None:
            out = where(out > max, _operand(max, a).astype(a.dtype), out)
        return out
    return E.Clamp.apply(a, min=min, max=max)


clip = clamp


def where(condition, a, b):
    """Elements of ``a`` where ``condition`` is true, else of ``b`` (broadcasting)."""
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else None
    a_t, b_t = _operand(a, like), _operand(b, like)
    if cond.dtype.kind == "f" or cond.dtype.kind not in "biu":
        raise validate.ArgumentTypeError(f"where: expected condition to be a boolean tensor, but got a tensor with "
                                         f"dtype {cond.dtype}")
    if cond.dtype != np.bool_:
        cond = cond.astype(bool)
    try:
        np.broadcast_shapes(cond.shape, a_t.shape, b_t.shape)
    except ValueError:
        raise ConvlabError(f"where: condition {tuple(cond.shape)}, input {tuple(a_t.shape)} and other "
                           f"{tuple(b_t.shape)} cannot be broadcast together") from None
    return E.Where.apply(cond, a_t, b_t)


def softmax(a, dim):
    return R.Softmax.apply(a, dim=dim)


def log_softmax(a, dim):
    return R.LogSoftmax.apply(a, dim=dim)


# ---------------------------------------------------------------- reductions
def sum(a, dim=None, keepdim=False):  # noqa: A001 - torch's name
    return R.Sum.apply(a, dim=dim, keepdim=keepdim)


def mean(a, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        a = a.to(dtype)
    if a.dtype.kind != "f":
        raise TypeError(f"mean: expected a floating-point tensor, got dtype {a.dtype}")
    return R.Mean.apply(a, dim=dim, keepdim=keepdim)


def _extreme(a, dim, keepdim, largest):
    if dim is None:
        return R.Amax.apply(a, dim=None, keepdim=False, largest=largest)
    values, idx = R.MaxDim.apply(a, dim=dim, keepdim=keepdim, largest=largest)
    if keepdim and a.ndim:
        idx = backend.array_module(idx).expand_dims(idx, dim)
    return MaxResult(values, _raw(idx.astype(np.int64)))


def max(a, dim=None, keepdim=False):  # noqa: A001 - torch's name
    """Whole-tensor max (ties share the gradient), or ``(values, indices)`` along ``dim``."""
    return _extreme(a, None if dim is None else validate.dim(dim, a.ndim, "max"), keepdim, True)


def min(a, dim=None, keepdim=False):  # noqa: A001 - torch's name
    return _extreme(a, None if dim is None else validate.dim(dim, a.ndim, "min"), keepdim, False)


def amax(a, dim=None, keepdim=False):
    return R.Amax.apply(a, dim=dim, keepdim=keepdim, largest=True)


def amin(a, dim=None, keepdim=False):
    return R.Amax.apply(a, dim=dim, keepdim=keepdim, largest=False)


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


def var(a, dim=None, unbiased=None, keepdim=False, correction=None):
    """Variance; ``correction=1`` (Bessel, torch's default) unless ``unbiased=False``."""
    return R.Var.apply(a, dim=dim, keepdim=keepdim, correction=_correction(unbiased, correction))


def std(a, dim=None, unbiased=None, keepdim=False, correction=None):
    return sqrt(var(a, dim, unbiased, keepdim, correction))


def _nonempty_reduction(a, dim, where):
    if a.numel() == 0 if dim is None else a.shape[dim] == 0 if a.ndim else False:
        raise validate.DimensionError(f"{where}(): Expected reduction dim to be specified for input.numel() == 0."
                                      if dim is None else f"{where}(): cannot reduce dim {dim} of size 0 (shape "
                                      f"{tuple(a.shape)})")


def argmax(a, dim=None, keepdim=False):
    dim = None if dim is None else validate.dim(dim, a.ndim, "argmax")
    _nonempty_reduction(a, dim, "argmax")
    xp = backend.array_module(a._data)
    return _raw(xp.asarray(xp.argmax(a._data, axis=dim, keepdims=keepdim), dtype=np.int64))


def argmin(a, dim=None, keepdim=False):
    dim = None if dim is None else validate.dim(dim, a.ndim, "argmin")
    _nonempty_reduction(a, dim, "argmin")
    xp = backend.array_module(a._data)
    return _raw(xp.asarray(xp.argmin(a._data, axis=dim, keepdims=keepdim), dtype=np.int64))


# ---------------------------------------------------------------- comparisons
def _compare(op, name):
    def fn(a, b):
        try:
            b_t = _operand(b, a)
        except TypeError:  # not something a tensor compares with: let Python ask the other side
            return NotImplemented
        E.broadcast_shape(name, a._data, b_t._data)  # a named error, not NumPy's bare broadcast message
        return _raw(op(a._data, b_t._data))

    return fn


# ---------------------------------------------------------------- bind onto Tensor
def _rev(fn):
    return lambda self, other: fn(other, self)


def _setitem(self, idx, value):
    if self.requires_grad or self._node is not None:
        raise RuntimeError("in-place assignment into a tensor that requires grad is not supported (convlab is in-place free)")
    if not isinstance(value, Tensor) and not validate._is_real(value) and not isinstance(value, (bool, np.bool_)):
        arr = np.asarray(value) if isinstance(value, (list, tuple, np.ndarray)) else None
        if arr is None or arr.dtype.kind not in "fiub":
            raise validate.ArgumentTypeError(f"setitem: can't assign a {type(value).__name__} to a tensor of dtype "
                                             f"{self.dtype}")
    target = _index(idx)
    src = value._data if isinstance(value, Tensor) else value
    try:
        self._data[target] = src
    except ValueError as exc:  # NumPy's "could not broadcast input array from shape (4,) into shape (3,)"
        raise ConvlabError(f"setitem: shape mismatch: value of shape {tuple(np.shape(src))} cannot be broadcast to "
                           f"the indexed shape {tuple(np.shape(self._data[target]))} ({exc})") from None


_METHODS = {
    "__add__": add, "__radd__": _rev(add), "__sub__": sub, "__rsub__": _rev(sub),
    "__mul__": mul, "__rmul__": _rev(mul), "__truediv__": div, "__rtruediv__": _rev(div),
    "__pow__": pow, "__rpow__": _rev(pow), "__matmul__": matmul, "__rmatmul__": _rev(matmul),
    "__neg__": neg, "__getitem__": getitem, "__setitem__": _setitem,
    "__lt__": _compare(lambda a, b: a < b, "lt"), "__le__": _compare(lambda a, b: a <= b, "le"),
    "__gt__": _compare(lambda a, b: a > b, "gt"), "__ge__": _compare(lambda a, b: a >= b, "ge"),
    "__eq__": _compare(lambda a, b: a == b, "eq"), "__ne__": _compare(lambda a, b: a != b, "ne"),
    "eq": _compare(lambda a, b: a == b, "eq"), "ne": _compare(lambda a, b: a != b, "ne"),
    "add": add, "sub": sub, "mul": mul, "div": div, "pow": pow, "matmul": matmul, "neg": neg,
    "exp": exp, "log": log, "sqrt": sqrt, "abs": abs, "tanh": tanh, "sigmoid": sigmoid, "relu": relu,
    "clamp": clamp, "clip": clamp, "maximum": maximum, "minimum": minimum,
    "softmax": softmax, "log_softmax": log_softmax,
    "sum": sum, "mean": mean, "max": max, "min": min, "amax": amax, "amin": amin,
    "var": var, "std": std, "argmax": argmax, "argmin": argmin,
    "reshape": reshape, "view": reshape, "permute": permute, "transpose": transpose,
    "flatten": flatten, "squeeze": squeeze, "unsqueeze": unsqueeze, "expand": expand,
    "split": split, "chunk": chunk,
}


def _axis_alias(fn):
    """torch takes NumPy's ``axis=`` as another name for ``dim=`` in its reductions."""

    @functools.wraps(fn)
    def with_axis(*args, axis=None, **kwargs):
        if axis is not None:
            if "dim" in kwargs:
                raise TypeError(f"{fn.__name__}() got both dim= and axis=")
            kwargs["dim"] = axis
        return fn(*args, **kwargs)

    return with_axis


for _name in ("sum", "mean", "max", "min", "amax", "amin", "var", "std", "argmax", "argmin", "softmax", "log_softmax",
              "cat", "stack", "squeeze", "unsqueeze", "split", "chunk"):
    globals()[_name] = _axis_alias(globals()[_name])
    if _name in _METHODS:
        _METHODS[_name] = globals()[_name]
for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)
Tensor.__hash__ = object.__hash__  # comparisons return tensors; keep identity hashing
