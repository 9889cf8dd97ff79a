"""torch's Tensor conveniences built from other methods, bound onto :class:`Tensor` here:

- shapes: ``t()``, ``view_as``, ``reshape_as``, ``expand_as``, ``contiguous``, ``new_zeros``...;
- in place: ``fill_``, ``zero_``, ``copy_``, ``normal_``, ``uniform_``, ``add_``, ``sub_``,
  ``mul_``, ``div_``, ``clamp_`` and the augmented assignments ``+=``, ``-=``, ``*=``, ``/=``.

convlab records no in-place operation in a graph. So, as in torch, writing into a leaf that
requires grad is refused while grad mode is on (``with no_grad():`` is how optimizers and init
code do it), and the explicit ``*_`` methods refuse tensors inside a recorded graph. The
augmented assignments on such a tensor compute ``x = x + y`` instead, which gives the same value
and the same gradient.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from . import backend, random, validate
from .grad_mode import is_grad_enabled
from .graph import Function
from .tensor_class import Tensor, _leaf


# ---------------------------------------------------------------- shapes
def t(self) -> Tensor:
    """Transpose of a matrix (0-d and 1-d tensors are returned as they are)."""
    if self.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
    return self if self.ndim < 2 else self.permute(1, 0)


def view_as(self, other: Tensor) -> Tensor:
    return self.reshape(*other.shape)


def expand_as(self, other: Tensor) -> Tensor:
    return self.expand(*other.shape)


def contiguous(self, memory_format=None) -> Tensor:
    """The tensor itself when its elements lie in row-major order, else a row-major copy that stays
    in the graph (torch's ``contiguous``: afterwards ``is_contiguous()`` holds)."""
    return self if is_contiguous(self) else self.clone()


def is_contiguous(self, memory_format=None) -> bool:
    return bool(self._data.flags["C_CONTIGUOUS"]) if hasattr(self._data, "flags") else True


def _new(fill):
    def new(self, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
        from . import creation

        shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
        return creation.full(shape, fill, dtype=dtype or self.dtype, device=device or self.device,
                             requires_grad=requires_grad)

    return new


def new_full(self, size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _new(fill_value)(self, validate.shape(size, "new_full", "size"), dtype=dtype, device=device,
                            requires_grad=requires_grad)


def new_tensor(self, data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    from . import creation

    return creation.tensor(data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)


def all_(self, dim=None, keepdim: bool = False) -> Tensor:
    """True where every element (along ``dim``) is non-zero; a bool tensor."""
    dim = None if dim is None else validate.dims(dim, self.ndim, "all", "dim")
    return _leaf(backend.array_module(self._data).asarray(self._data.astype(bool).all(axis=dim, keepdims=keepdim)))


def any_(self, dim=None, keepdim: bool = False) -> Tensor:
    """True where some element (along ``dim``) is non-zero; a bool tensor."""
    dim = None if dim is None else validate.dims(dim, self.ndim, "any", "dim")
    return _leaf(backend.array_module(self._data).asarray(self._data.astype(bool).any(axis=dim, keepdims=keepdim)))


class _TopK(Function):
    """The ``k`` largest (or smallest) entries along ``dim``; the gradient goes back to where each
    value was taken from (a scatter into zeros)."""

    @staticmethod
    def forward(ctx, a, k, dim, largest, sorted_):
        xp = backend.array_module(a)
        keys = -a if largest else a
        idx = xp.argsort(keys, axis=dim, kind="stable")  # ties keep the lower index first, as torch
        idx = xp.take(idx, xp.arange(k), axis=dim)
        if not sorted_:
            idx = xp.sort(idx, axis=dim)
        ctx.shape, ctx.idx, ctx.dim = a.shape, idx, dim
        return xp.take_along_axis(a, idx, axis=dim), idx.astype(np.int64)

    @staticmethod
    def backward(ctx, g):
        xp = backend.array_module(g)
        grad = xp.zeros(ctx.shape, dtype=g.dtype)
        xp.put_along_axis(grad, ctx.idx, g, axis=ctx.dim)
        return grad


TopK = namedtuple("topk", ["values", "indices"])


def topk(input, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> TopK:  # noqa: A002
    """``(values, indices)`` of the ``k`` largest entries along ``dim`` (torch's ``topk``)."""
    dim = validate.dim(dim, input.ndim, "topk")
    k = validate.integer(k, "topk", "k")
    n = input.shape[dim] if input.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError(f"topk: selected index k={k} out of range for a dimension of size {n}")
    values, idx = _TopK.apply(input, k=int(k), dim=dim % max(input.ndim, 1), largest=largest, sorted_=sorted)
    return TopK(values, _leaf(idx))


# ---------------------------------------------------------------- in place
def _check_inplace(self: Tensor, name: str) -> None:
    if not is_grad_enabled():
        return
    if self.requires_grad and self._node is None:
        raise RuntimeError(f"{name}: a leaf Variable that requires grad is being used in an in-place operation "
                           "(wrap it in `with no_grad():`, as optimizers and init code do)")
    if self._node is not None:
        raise RuntimeError(f"{name}: in-place operations on a tensor inside a recorded graph are not supported "
                           "(convlab records no in-place ops); use the out-of-place form, e.g. x = x + y")


def _writable(self: Tensor) -> None:
    """A tensor made by indexing one element may hold a NumPy scalar, which cannot be written
    into: give it a 0-d array of its own (nothing else can share an immutable scalar)."""
    if not hasattr(self._data, "__setitem__"):
        self._data = np.array(self._data)


def _store(self: Tensor, values, name: str) -> Tensor:
    """Write ``values`` (broadcast to this shape) into this tensor's array, refusing lossy casts."""
    _writable(self)
    arr = values._data if isinstance(values, Tensor) else values
    src = np.dtype(getattr(arr, "dtype", np.asarray(arr).dtype))
    if src != self.dtype and not np.can_cast(src, self.dtype, "same_kind"):
        raise RuntimeError(f"{name}: result type {src} can't be cast to the desired output type {self.dtype}")
    if tuple(np.shape(arr)) != self.shape and np.broadcast_shapes(np.shape(arr), self.shape) != self.shape:
        raise RuntimeError(f"{name}: output with shape {list(self.shape)} doesn't match the broadcast shape "
                           f"{list(np.broadcast_shapes(np.shape(arr), self.shape))}")
    self._data[...] = arr
    return self


def fill_(self, value) -> Tensor:
    _check_inplace(self, "fill_")
    if not isinstance(value, Tensor) and not validate._is_real(value) and not isinstance(value, (bool, np.bool_)):
        raise validate.ArgumentTypeError(f"fill_(): argument 'value' must be Number, not {type(value).__name__}")
    return _store(self, value._data if isinstance(value, Tensor) else np.asarray(value, self.dtype), "fill_")


def zero_(self) -> Tensor:
    return fill_(self, 0)


def copy_(self, src, non_blocking: bool = False) -> Tensor:
    """Copy ``src`` (broadcast, cast to this dtype) into this tensor."""
    _check_inplace(self, "copy_")
    _writable(self)
    arr = backend.to_numpy(src._data if isinstance(src, Tensor) else np.asarray(src))
    xp = backend.array_module(self._data)
    self._data[...] = arr.astype(self.dtype, copy=False) if xp is np else xp.asarray(arr, dtype=self.dtype)
    return self


def _draw(self, values: np.ndarray) -> Tensor:
    _writable(self)
    xp = backend.array_module(self._data)
    self._data[...] = values.astype(self.dtype) if xp is np else xp.asarray(values.astype(self.dtype))
    return self


def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    """Fill with samples of N(mean, std**2) from the library generator (or ``generator``)."""
    _check_inplace(self, "normal_")
    if not float(std) >= 0:
        raise validate.ConvlabError(f"normal_: normal expects std >= 0.0, but found std {float(std)}")
    gen = generator if generator is not None else random.default_generator()
    return _draw(self, gen.normal(mean, std, self.shape))


def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
    """Fill with samples of U[a, b) from the library generator (or ``generator``)."""
    _check_inplace(self, "uniform_")
    a, b = validate.real(a, "uniform_", "a (from)"), validate.real(b, "uniform_", "b (to)")
    if a > b or not np.isfinite(b - a):
        raise validate.ConvlabError(f"uniform_: uniform_ expects to return a [from, to) range, but found from={a} > to={b}"
                                    if a > b else f"uniform_: the range [{a}, {b}) is wider than a float can hold")
    gen = generator if generator is not None else random.default_generator()
    return _draw(self, gen.uniform(a, b, self.shape))


def _binary_(method: str, name: str):
    def op_(self, other, *, alpha=None) -> Tensor:
        _check_inplace(self, name)
        if alpha is not None:
            other = other * alpha
        with_grad = is_grad_enabled() and isinstance(other, Tensor) and other.requires_grad
        if with_grad:
            raise RuntimeError(f"{name}: the other operand requires grad; in-place ops are not recorded "
                               "(use the out-of-place form)")
        return _store(self, getattr(self, method)(other), name)

    op_.__name__ = name
    return op_


def clamp_(self, min=None, max=None) -> Tensor:  # noqa: A002 - torch's names
    _check_inplace(self, "clamp_")
    return _store(self, self.clamp(min, max), "clamp_")


def _augmented(method: str, name: str):
    """``x op= y``: in place when nothing is recorded, else ``x = x op y`` (see the module docstring)."""

    def iop(self, other):
        result = getattr(self, method)(other)
        recording = is_grad_enabled() and (self.requires_grad or (isinstance(other, Tensor) and other.requires_grad))
        if not recording:
            return _store(self, result, name)
        if self.requires_grad and self._node is None:
            _check_inplace(self, name)
        return result

    return iop


_BOUND = {
    "t": t, "view_as": view_as, "reshape_as": view_as, "expand_as": expand_as, "contiguous": contiguous,
    "is_contiguous": is_contiguous, "all": all_, "any": any_, "topk": topk,
    "__abs__": lambda self: self.abs(), "new_zeros": _new(0), "new_ones": _new(1), "new_empty": _new(0),
    "new_full": new_full, "new_tensor": new_tensor,
    "fill_": fill_, "zero_": zero_, "copy_": copy_, "normal_": normal_, "uniform_": uniform_,
    "add_": _binary_("__add__", "add_"), "sub_": _binary_("__sub__", "sub_"),
    "mul_": _binary_("__mul__", "mul_"), "div_": _binary_("__truediv__", "div_"), "clamp_": clamp_,
    "__iadd__": _augmented("__add__", "+="), "__isub__": _augmented("__sub__", "-="),
    "__imul__": _augmented("__mul__", "*="), "__itruediv__": _augmented("__truediv__", "/="),
}
for _name, _fn in _BOUND.items():
    setattr(Tensor, _name, _fn)
