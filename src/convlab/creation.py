"""Creation functions: ``tensor``, ``zeros``, ``ones``, ``full``, ``randn``, ``rand``,
``randint``, ``arange``, ``from_numpy``, ``as_tensor`` and the ``*_like`` forms (torch's names,
arguments and dtype rules)."""

from __future__ import annotations

import numpy as np

from . import backend, dtypes, random
from .dtypes import _check_dtype
from .ops.elementwise import move_array
from .tensor_class import Tensor, _leaf


def tensor(data, dtype=None, requires_grad: bool = False, device: str | None = None) -> Tensor:
    """Build a tensor from a list, scalar or array (always copies, like ``torch.tensor``).

    Python floats become float32; integers int64; bools bool.

    >>> tensor([[1.0, 2.0]]).shape
    (1, 2)
    """
    t = Tensor(data, requires_grad=False, dtype=dtype)
    if device is not None and device != t.device:
        t.data = move_array(t.data, device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _new(shape, dtype, requires_grad, device, make):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for s in shape:
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool) or s < 0:
            raise ValueError(f"size must be a sequence of non-negative integers, got {shape!r}")
    dtype = dtypes.get_default_dtype() if dtype is None else _check_dtype(np.dtype(dtype), "dtype")
    xp = backend.module_for_device(device or "cpu")
    arr = make(xp, tuple(int(s) for s in shape), dtype)
    t = _leaf(arr)
    return t.requires_grad_(True) if requires_grad else t


def zeros(*size, dtype=None, requires_grad=False, device=None) -> Tensor:
    return _new(size, dtype, requires_grad, device, lambda xp, s, d: xp.zeros(s, dtype=d))


def ones(*size, dtype=None, requires_grad=False, device=None) -> Tensor:
    return _new(size, dtype, requires_grad, device, lambda xp, s, d: xp.ones(s, dtype=d))


def full(size, fill_value, dtype=None, requires_grad=False, device=None) -> Tensor:
    return _new(tuple(size), dtype, requires_grad, device, lambda xp, s, d: xp.full(s, fill_value, dtype=d))


def _host_random(xp, arr):
    return arr if xp is np else xp.asarray(arr)


def randn(*size, dtype=None, requires_grad=False, device=None) -> Tensor:
    """Standard normal samples from the library generator (see :func:`manual_seed`)."""
    return _new(size, dtype, requires_grad, device,
                lambda xp, s, d: _host_random(xp, random.default_generator().standard_normal(s).astype(d)))


def rand(*size, dtype=None, requires_grad=False, device=None) -> Tensor:
    """Uniform [0, 1) samples from the library generator."""
    return _new(size, dtype, requires_grad, device,
                lambda xp, s, d: _host_random(xp, random.default_generator().random(s).astype(d)))


def randint(low, high, size, dtype=np.int64, device=None) -> Tensor:
    if not low < high:
        raise ValueError(f"randint: low must be smaller than high, got low={low!r}, high={high!r}")
    return _new(tuple(size), dtype, False, device,
                lambda xp, s, d: _host_random(xp, random.default_generator().integers(low, high, s).astype(d)))


def zeros_like(t: Tensor, dtype=None, requires_grad=False) -> Tensor:
    return zeros(*t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad, device=t.device)


def ones_like(t: Tensor, dtype=None, requires_grad=False) -> Tensor:
    return ones(*t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad, device=t.device)


def arange(start, end=None, step=1, dtype=None, requires_grad=False, device=None) -> Tensor:
    """Like ``torch.arange``: integers give int64, any float argument gives float32."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError(f"arange: step must be non-zero, got {step!r}")
    if dtype is None:
        is_float = any(isinstance(v, float) for v in (start, end, step))
        dtype = dtypes.get_default_dtype() if is_float else np.int64
    xp = backend.module_for_device(device or "cpu")
    t = _leaf(xp.arange(start, end, step).astype(dtype))
    return t.requires_grad_(True) if requires_grad else t


def from_numpy(array: np.ndarray) -> Tensor:
    """Wrap an ndarray without copying (like ``torch.from_numpy``)."""
    _check_dtype(np.dtype(array.dtype), "from_numpy")
    return _leaf(array)


def as_tensor(data, dtype=None) -> Tensor:
    """Return ``data`` if it is already a tensor of ``dtype``, else a new tensor."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == np.dtype(dtype)):
        return data
    return tensor(data, dtype=dtype)
