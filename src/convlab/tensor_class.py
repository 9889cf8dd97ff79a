"""The :class:`Tensor` class: an array, its gradient and its place in the graph.

This module holds the data side of a tensor (shape, dtype, conversions). What needs the graph or
the ops is bound onto the class by the modules that own it, so no import goes back up:

- ``backward``, ``register_hook`` and ``retain_grad``: :mod:`convlab.graph`;
- ``clone``, ``astype``, ``to`` and the dtype shorthands: :mod:`convlab.convert`;
- the Python operators and the math methods (``+``, ``sum``, ``reshape``...): :mod:`convlab.math`.

``import convlab`` (or ``convlab.tensor``) loads all of them.
"""

from __future__ import annotations

import numpy as np

from . import backend, dtypes
from .dtypes import _check_dtype, _parse_dtype


def _as_array(data, dtype, where: str):
    """Convert user data to an owned array: python floats become float32 like torch."""
    if isinstance(data, Tensor):
        data = data.data
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


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    Build one with :func:`~convlab.tensor`; ``.data`` is the underlying ndarray, ``.grad`` the
    accumulated gradient (an ndarray-backed Tensor) after ``backward()``.
    """

    __slots__ = ("data", "grad", "requires_grad", "_node", "_retain", "__weakref__")
    __array_priority__ = 1000  # make ndarray (op) Tensor defer to Tensor's reflected ops

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        self.data = _as_array(data, dtype, "tensor")
        self.grad = None
        self._node = None
        self._retain = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ---- properties
    @property
    def shape(self) -> tuple:
        return tuple(self.data.shape)

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def size(self, dim: int | None = None):
        """Shape as a tuple (torch's ``size()``), or the length of ``dim``."""
        return self.shape if dim is None else self.shape[dim]

    def numel(self) -> int:
        return int(self.data.size)

    def dim(self) -> int:
        return self.data.ndim

    @property
    def device(self) -> str:
        return backend.device_of(self.data)

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

    def __repr__(self) -> str:
        body = np.array2string(backend.to_numpy(self.data), separator=", ", precision=4)
        extra = ", requires_grad=True" if self.requires_grad else ""
        dt = "" if self.dtype == dtypes.get_default_dtype() else f", dtype={self.dtype}"
        return f"tensor({body}{dt}{extra})"

    # ---- conversion
    def numpy(self) -> np.ndarray:
        if self.requires_grad:
            raise RuntimeError("numpy(): tensor requires grad; call .detach().numpy() instead")
        return backend.to_numpy(self.data)

    def tolist(self):
        return backend.to_numpy(self.data).tolist()

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted, got shape {self.shape}")
        return self.data.reshape(-1)[0].item()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.item())

    def __array__(self, dtype=None, copy=None):
        arr = backend.to_numpy(self.data)
        return arr.astype(dtype) if dtype is not None else arr

    def detach(self) -> Tensor:
        """A tensor sharing ``data`` but cut from the graph."""
        return _leaf(self.data)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.data.dtype.kind != "f":
            raise RuntimeError(
                f"only floating-point tensors can require gradients, got dtype {self.dtype}"
            )
        if not requires_grad and not self.is_leaf:
            raise RuntimeError("requires_grad_(False) is only allowed on leaf tensors")
        self.requires_grad = bool(requires_grad)
        return self


def _leaf(array) -> Tensor:
    """Wrap ``array`` as a graph-free tensor without copying or validating it."""
    t = Tensor.__new__(Tensor)
    t.data, t.grad, t.requires_grad, t._node, t._retain = array, None, False, None, False
    return t
