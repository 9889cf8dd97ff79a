"""Tensor methods that make a new tensor of another dtype or on another device, or a copy:
``clone``, ``astype`` and its shorthands (``float``, ``double``, ``long``), ``to`` and ``cpu``.

They are ops (the gradient flows back through a cast or a move), so they live beside the ops
and are bound onto :class:`~convlab.tensor_class.Tensor` here.
"""

from __future__ import annotations

import numpy as np

from .dtypes import _parse_dtype
from .ops.elementwise import Cast, Clone, ToDevice
from .tensor_class import Tensor


def clone(self) -> Tensor:
    """A copy of the data that stays in the graph (the gradient passes through unchanged)."""
    return Clone.apply(self)


def astype(self, dtype) -> Tensor:
    return Cast.apply(self, dtype=_parse_dtype(dtype, "astype"))


def float_(self) -> Tensor:
    return self.astype(np.float32)


def double(self) -> Tensor:
    return self.astype(np.float64)


def long(self) -> Tensor:
    return self.astype(np.int64)


def to(self, target) -> Tensor:
    """``to(dtype)`` casts; ``to(device)`` moves (``'cpu'`` or a registered device)."""
    if isinstance(target, str):
        if target == self.device:
            return self
        return ToDevice.apply(self, device=target)
    return self.astype(target)


def cpu(self) -> Tensor:
    return self.to("cpu")


for _name, _fn in {"clone": clone, "astype": astype, "float": float_, "double": double,
                   "long": long, "to": to, "cpu": cpu}.items():
    setattr(Tensor, _name, _fn)
