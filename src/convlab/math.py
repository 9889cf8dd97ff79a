"""Tensor-level functions (``convlab.exp``, ``convlab.cat``, ...) and the Tensor methods
and Python operators built on the primitive ops."""

from __future__ import annotations

import builtins
import functools
from collections import namedtuple

import numpy as np

from . import backend, validate
from .ops import elementwise as E
from .ops import matmul as M
from .ops import movement as V
from .ops import reduce as R
from .tensor import Tensor, _leaf, get_default_dtype
from .validate import ConvlabError

MaxResult = namedtuple("MaxResult", ["values", "indices"])


def _operand(x, like: Tensor | None = None) -> Tensor:
    """A Tensor for ``x``; Python scalars take ``like``'s dtype so float32 stays float32."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (bool, int, float, np.number)) and like is not None:
        dt = like.dtype
        if dt.kind != "f" and isinstance(x, (float, np.floating)):
            dt = get_default_dtype()
        elif dt.kind == "b" and not isinstance(x, (bool, np.bool_)):
            dt = np.dtype(np.int64)
        xp = backend.array_module(like._data)
        return _raw(xp.asarray(x, dtype=dt))
    if isinstance(x, (list, tuple, float, int)):
        from .tensor import tensor

        return tensor(x)
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        from .tensor import _check_dtype

        _check_dtype(np.dtype(x.dtype), "operand")
        return _raw(x)
    raise TypeError(f"expected a Tensor, array or number, got {type(x).__name__}")


_raw = _leaf  # a graph-free tensor around an array


def _binary(fn, a, b):
    if isinstance(a, Tensor):
        a_t, b_t = a, _operand(b, a)
    else:  # a scalar left operand takes the dtype of the tensor on the right
        b_t = _operand(b)
        a_t = _operand(a, b_t)
    _same_device(fn.__name__.lower(), a_t, b_t)
    # an integer/bool tensor meeting a float takes the float's dtype (torch's promotion)
    if a_t.dtype.kind != "f" and b_t.dtype.kind == "f":
        a_t = _raw(a_t._data.astype(b_t.dtype))
    elif b_t.dtype.kind != "f" and a_t.dtype.kind == "f":
        b_t = _raw(b_t._data.astype(a_t.dtype))
    return fn.apply(a_t, b_t)


def _same_device(op: str, *ts: Tensor) -> None:
    devs = {t.device for t in ts}
    if len(devs) > 1:
        raise RuntimeError(f"{op}: expected all tensors on one device, got {sorted(devs)}")


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


# ---------------------------------------------------------------- movement
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
