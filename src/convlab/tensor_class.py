"""The :class:`Tensor` class: an array, its gradient and its place in the graph.

This module holds the data side of a tensor (shape, dtype, conversions). What needs the graph or
the ops is bound onto the class by the modules that own it, so no import goes back up:

- ``backward``, ``register_hook`` and ``retain_grad``: :mod:`convlab.graph`;
- ``clone``, ``astype``, ``to`` and the dtype shorthands: :mod:`convlab.convert`;
- the Python operators and the math methods (``+``, ``sum``, ``reshape``...): :mod:`convlab.math`.

``import convlab`` (or ``convlab.tensor``) loads all of them.
"""

from __future__ import annotations

import math

import numpy as np

from . import backend, dtypes
from .devices import as_device
from .dtypes import _check_dtype, _parse_dtype
from .validate import ArgumentTypeError, ConvlabError


def _as_array(data, dtype, where: str):
    """Convert user data to an owned array: python floats become float32 like torch."""
    if isinstance(data, Tensor):
        data = data._data
    xp = backend.array_module(data)
    if dtype is not None:
        dtype = _parse_dtype(dtype, where)
    if hasattr(data, "dtype") and hasattr(data, "shape"):  # an ndarray-like
        src = np.dtype(data.dtype)
        _check_dtype(src, where)
        return xp.array(data, dtype=dtype, copy=True)
    try:
        arr = np.array(data)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"{where}: cannot make a tensor from {type(data).__name__}: {exc}") from None
    _check_dtype(arr.dtype, where)
    if dtype is None and arr.dtype.kind == "f":
        dtype = dtypes.get_default_dtype()
    return arr.astype(dtype) if dtype is not None else arr


class Size(tuple):
    """A tensor's shape: a tuple of ints (``Tensor.shape``, ``Tensor.size()``). ``repr`` and ``str``
    (so ``print(x.shape)``) show ``convlab.Size([2, 3])``, as torch prints ``torch.Size([2, 3])``;
    formatting into a string (``f"{x.shape}"``, hence the library's error messages) gives ``(2, 3)``.

    >>> s = Size([2, 3, 4])
    >>> s, s.numel(), s[1:], s == (2, 3, 4)
    (convlab.Size([2, 3, 4]), 24, convlab.Size([3, 4]), True)
    >>> print(s[1:]), f"{s[1:]}"
    convlab.Size([3, 4])
    (None, '(3, 4)')
    """

    __slots__ = ()

    def __new__(cls, iterable=()):
        try:
            out = tuple.__new__(cls, iterable)
        except TypeError:
            raise ArgumentTypeError(f"Size(): argument 'sizes' must be an iterable of ints, not "
                                    f"{type(iterable).__name__}") from None
        for i, s in enumerate(out):
            if type(s) is not int and not (isinstance(s, np.integer) or hasattr(s, "__index__")
                                           and not isinstance(s, (bool, np.bool_, float))):
                raise ArgumentTypeError(f"Size() takes an iterable of 'int' (item {i} is '{type(s).__name__}')")
        return out

    def __getitem__(self, key):
        item = tuple.__getitem__(self, key)
        return _size(item) if key.__class__ is slice else item

    def __add__(self, other):
        return Size(tuple.__add__(self, tuple(other)))

    def numel(self) -> int:
        return math.prod(self)

    def __repr__(self) -> str:
        return f"convlab.Size({list(self)})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:  # messages that embed a shape keep reading "(2, 3)"
        return format(tuple.__repr__(self), spec)

    def __reduce__(self):
        return (Size, (tuple(self),))


def _size(shape) -> Size:
    """A :class:`Size` of an array's shape or a slice of a Size: ints already, nothing to check."""
    return tuple.__new__(Size, shape)


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    Build one with :func:`~convlab.tensor`; ``.data`` is the underlying ndarray, ``.grad`` the
    accumulated gradient (an ndarray-backed Tensor) after ``backward()``.
    """

    __slots__ = ("_data", "grad", "requires_grad", "_node", "_retain", "__weakref__")
    __array_priority__ = 1000  # make ndarray (op) Tensor defer to Tensor's reflected ops

    def __init__(self, *args, requires_grad: bool = False, dtype=None, device=None):
        """torch's legacy constructor: ``Tensor(data)`` is a copy in the default float dtype (unless
        ``dtype`` is given), ``Tensor(2, 3)`` or ``Tensor(size)`` a zero-filled tensor of that shape
        (torch leaves it uninitialised), ``Tensor()`` an empty one. ``convlab.tensor`` infers the dtype."""
        self._data = _legacy_data(args, dtype)
        self.grad, self._node, self._retain, self.requires_grad = None, None, False, False
        if device is not None and str(device) != "cpu":
            self._data = self.to(device)._data  # Tensor.to is bound by convlab.convert
        if requires_grad:
            self.requires_grad_(True)

    # ---- the array
    @property
    def data(self) -> Tensor:
        """A tensor sharing this one's array but outside the graph (torch's ``.data``).

        Writing into it (``p.data.mul_(0.5)``, ``p.data[0] = 1``) changes this tensor without
        recording anything; assigning ``t.data = other`` (a tensor or an array) swaps the array."""
        return _leaf(self._data)

    @data.setter
    def data(self, value) -> None:
        self._data = value._data if isinstance(value, Tensor) else value

    # ---- properties
    @property
    def shape(self) -> Size:
        return _size(self._data.shape)

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def size(self, dim: int | None = None):
        """The shape as a :class:`~convlab.Size` (torch's ``size()``), or the length of ``dim``."""
        if dim is None:
            return _size(self._data.shape)
        from .validate import dim as check_dim

        return self._data.shape[check_dim(dim, self.ndim, "size")] if self.ndim else \
            (check_dim(dim, 0, "size"), 1)[1]

    def numel(self) -> int:
        return int(self._data.size)

    def dim(self) -> int:
        return self._data.ndim

    @property
    def device(self):
        """A :class:`~convlab.device` (a ``str`` subclass: ``t.device == 'cpu'`` holds on the CPU)."""
        return as_device(backend.device_of(self._data))

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    # torch's other device and layout questions: no such tensors exist in convlab
    is_xpu = is_mps = is_meta = is_sparse = is_quantized = is_nested = property(lambda self: False)

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def element_size(self) -> int:
        return int(self._data.itemsize)

    nelement = numel

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def T(self) -> Tensor:
        return self.permute(*reversed(range(self.ndim)))

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        """The sub-tensors along dim 0; a 0-d tensor cannot be iterated (as in torch: without this,
        Python's fallback would stop at the IndexError of ``t[0]`` and yield nothing)."""
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    def __repr__(self) -> str:
        from .tensor_repr import format_tensor

        return format_tensor(self, dtypes.get_default_dtype())

    # ---- conversion
    def numpy(self, *, force: bool = False) -> np.ndarray:
        if force:
            return backend.to_numpy(self._data).copy()
        if self.requires_grad:
            raise RuntimeError("numpy(): tensor requires grad; call .detach().numpy() instead")
        return backend.to_numpy(self._data)

    def tolist(self):
        return backend.to_numpy(self._data).tolist()

    def item(self):
        if self._data.size != 1:
            raise ConvlabError(f"item(): only one-element tensors can be converted, got shape {self.shape}")
        return self._data.reshape(-1)[0].item()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        """A one-element integer tensor is a list index, a ``range`` bound..., as in torch."""
        if self._data.size != 1 or self._data.dtype.kind not in "iu":
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._data.reshape(-1)[0])

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"`` formats a 0-d tensor's value; other tensors only take an empty spec."""
        if self._data.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.item())

    def __array__(self, dtype=None, copy=None):
        arr = backend.to_numpy(self._data)
        return arr.astype(dtype) if dtype is not None else arr

    def detach(self) -> Tensor:
        """A tensor sharing ``data`` but cut from the graph."""
        return _leaf(self._data)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self._data.dtype.kind != "f":
            raise RuntimeError(
                f"only floating-point tensors can require gradients, got dtype {self.dtype}"
            )
        if not requires_grad and not self.is_leaf:
            raise RuntimeError("requires_grad_(False) is only allowed on leaf tensors")
        self.requires_grad = bool(requires_grad)
        return self


def _legacy_data(args: tuple, dtype):
    default = dtypes.get_default_dtype() if dtype is None else dtype
    if not args:
        return np.zeros(0, dtype=default)
    if len(args) == 1 and isinstance(args[0], Size):
        args = tuple(args[0])
    if all(isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_)) for a in args):
        if any(a < 0 for a in args):
            raise ConvlabError(f"Tensor(): negative dimension in size {tuple(int(a) for a in args)}")
        return np.zeros(tuple(int(a) for a in args), dtype=default)
    if len(args) != 1:
        raise TypeError(f"Tensor(): expected data (a list, array or tensor) or sizes (ints), got {args!r}")
    return _as_array(args[0], default, "tensor")


def _from_data(data, dtype=None) -> Tensor:
    """A graph-free tensor of ``data`` with its dtype inferred (``convlab.tensor``'s rule) unless given."""
    return _leaf(_as_array(data, dtype, "tensor"))


def _leaf(array) -> Tensor:
    """Wrap ``array`` as a graph-free tensor without copying or validating it."""
    t = Tensor.__new__(Tensor)
    t._data, t.grad, t.requires_grad, t._node, t._retain = array, None, False, None, False
    return t
