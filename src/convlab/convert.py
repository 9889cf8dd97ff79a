"""Tensor methods that make a new tensor of another dtype or on another device, or a copy:
``clone``, ``astype``/``type`` and the shorthands (``float``, ``double``, ``half``, ``long``,
``int``, ``bool``), ``to``, ``cpu`` and ``cuda``.

They are ops (the gradient flows back through a cast or a move), so they live beside the ops
and are bound onto :class:`~convlab.tensor_class.Tensor` here. On a CPU, ``non_blocking=`` and
``memory_format=`` have nothing to change and are accepted as in torch.
"""

from __future__ import annotations

import numpy as np

from .dtypes import _parse_dtype
from .ops.elementwise import Cast, Clone, ToDevice
from .tensor_class import Tensor
from .validate import ConvlabError

# torch's legacy type names, as ``Tensor.type()`` reports them and ``Tensor.type(name)`` accepts
_TYPE_NAMES = {
    "float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor", "int64": "LongTensor",
    "int32": "IntTensor", "int16": "ShortTensor", "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor",
}
_NAME_TYPES = {v: k for k, v in _TYPE_NAMES.items()}


def clone(self, memory_format=None) -> Tensor:
    """A copy of the data that stays in the graph (the gradient passes through unchanged)."""
    return Clone.apply(self)


def astype(self, dtype) -> Tensor:
    dtype = _parse_dtype(dtype, "astype")
    return self if dtype == self._data.dtype else Cast.apply(self, dtype=dtype)


def type_(self, dtype=None, non_blocking: bool = False, **kwargs):
    """``t.type()`` names the type (``'convlab.FloatTensor'``); ``t.type(dtype)`` casts, also given a
    name such as ``'torch.LongTensor'``.

    >>> import convlab
    >>> t = convlab.tensor([1.5])
    >>> t.type(), t.type(convlab.long).tolist()
    ('convlab.FloatTensor', [1])
    """
    if dtype is None:
        return "convlab." + _TYPE_NAMES[self._data.dtype.name]
    if isinstance(getattr(dtype, "dtype", None), np.dtype) and isinstance(dtype, type):  # convlab.LongTensor
        dtype = dtype.dtype
    if isinstance(dtype, str):
        name = dtype.rpartition(".")[2]
        if name not in _NAME_TYPES:
            raise ConvlabError(f"type(): invalid type {dtype!r} (expected e.g. 'torch.FloatTensor' or a dtype)")
        dtype = _NAME_TYPES[name]
    return self.astype(dtype)


def type_as(self, other: Tensor) -> Tensor:
    return self.astype(other.dtype)


def _device_of(target) -> bool:
    from .devices import device

    return isinstance(target, (str, device))


def to(self, *args, dtype=None, device=None, non_blocking: bool = False, copy: bool = False, memory_format=None) -> Tensor:
    """``to(dtype)`` casts; ``to(device)`` moves (``'cpu'`` or a registered device); also
    ``to(device, dtype)``, ``to(other_tensor)`` and the keyword forms, as in torch."""
    if len(args) > 2:
        raise TypeError(f"to() takes at most 2 positional arguments, got {len(args)}")
    for a in args:
        if isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif _device_of(a):
            device = a
        else:
            dtype = a
    out = self
    if device is not None and str(device) != str(out.device):
        out = ToDevice.apply(out, device=str(device))
    if dtype is not None:
        out = out.astype(dtype)
    return out.clone() if copy and out is self else out


def cpu(self, memory_format=None) -> Tensor:
    return self.to("cpu")


def cuda(self, device=None, non_blocking: bool = False, memory_format=None) -> Tensor:
    return self.to("cuda" if device is None else (f"cuda:{device}" if isinstance(device, int) else device))


def _cast_to(dtype):
    def cast(self, memory_format=None) -> Tensor:
        return self.astype(dtype)

    cast.__doc__ = f"This tensor as {np.dtype(dtype).name}."
    return cast


for _name, _fn in {"clone": clone, "astype": astype, "type": type_, "type_as": type_as, "to": to, "cpu": cpu,
                   "cuda": cuda, "float": _cast_to(np.float32), "double": _cast_to(np.float64),
                   "half": _cast_to(np.float16), "long": _cast_to(np.int64), "int": _cast_to(np.int32),
                   "short": _cast_to(np.int16), "char": _cast_to(np.int8), "byte": _cast_to(np.uint8),
                   "bool": _cast_to(np.bool_)}.items():
    setattr(Tensor, _name, _fn)
