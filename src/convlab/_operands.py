"""The operands of convlab's tensor functions: numbers and arrays made tensors of the right dtype
(torch's promotion: a Python scalar takes the tensor's dtype, an integer tensor meeting a float one
takes the float's), and the one-device check."""

from __future__ import annotations

import numpy as np

from . import backend
from .tensor import Tensor, _leaf, get_default_dtype


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
    if not backend._REGISTRY:  # no device but the CPU exists
        return
    devs = {t.device for t in ts}
    if len(devs) > 1:
        raise RuntimeError(f"{op}: expected all tensors on one device, got {sorted(devs)}")
