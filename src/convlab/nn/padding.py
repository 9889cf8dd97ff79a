"""Padding layers (``ZeroPad2d``, ``ConstantPad2d``, ``ReflectionPad2d``, ``ReplicationPad2d``,
``CircularPad2d`` and their 1-D/3-D siblings) over :func:`convlab.functional.pad`.

``padding`` is an int (the same on every side) or a tuple in F.pad's order, last dimension first:
``(left, right)`` in 1-D, ``(left, right, top, bottom)`` in 2-D, ``+ (front, back)`` in 3-D.
Reflection mirrors without repeating the edge (``[a b c] -> b [a b c] b``), replication repeats
it (``a [a b c] c``), circular wraps around (``c [a b c] a``).

Shape: (N, C, H, W) -> (N, C, H + top + bottom, W + left + right) in 2-D.
"""

from __future__ import annotations

from .. import functional as F
from .. import validate
from .module import Module

__all__ = [
    "ZeroPad1d",
    "ConstantPad1d",
    "ReflectionPad1d",
    "ReplicationPad1d",
    "CircularPad1d",
    "ZeroPad2d",
    "ConstantPad2d",
    "ReflectionPad2d",
    "ReplicationPad2d",
    "CircularPad2d",
    "ZeroPad3d",
    "ConstantPad3d",
    "ReflectionPad3d",
    "ReplicationPad3d",
    "CircularPad3d",
]


class _PadNd(Module):
    _mode, _nd = "constant", 2

    def __init__(self, padding, value: float = 0.0):
        super().__init__()
        # an int (every side) or 2*nd ints, negative ones cropping (as torch)
        self.padding = validate.int_tuple(padding, 2 * self._nd, type(self).__name__, "padding")
        self.value = value

    def forward(self, input):
        if self._mode == "constant":
            return F.pad(input, self.padding, "constant", self.value)
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}" if self._mode == "constant" else f"{self.padding}"


class _ZeroPad(_PadNd):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPad(_PadNd):
    def __init__(self, padding, value: float):
        super().__init__(padding, value)


class _ModePad(_PadNd):
    def __init__(self, padding):
        super().__init__(padding)


class ZeroPad1d(_ZeroPad):
    _mode, _nd = "constant", 1


class ConstantPad1d(_ConstantPad):
    _mode, _nd = "constant", 1


class ReflectionPad1d(_ModePad):
    _mode, _nd = "reflect", 1


class ReplicationPad1d(_ModePad):
    _mode, _nd = "replicate", 1


class CircularPad1d(_ModePad):
    _mode, _nd = "circular", 1


class ZeroPad2d(_ZeroPad):
    _mode, _nd = "constant", 2


class ConstantPad2d(_ConstantPad):
    _mode, _nd = "constant", 2


class ReflectionPad2d(_ModePad):
    _mode, _nd = "reflect", 2


class ReplicationPad2d(_ModePad):
    _mode, _nd = "replicate", 2


class CircularPad2d(_ModePad):
    _mode, _nd = "circular", 2


class ZeroPad3d(_ZeroPad):
    _mode, _nd = "constant", 3


class ConstantPad3d(_ConstantPad):
    _mode, _nd = "constant", 3


class ReflectionPad3d(_ModePad):
    _mode, _nd = "reflect", 3


class ReplicationPad3d(_ModePad):
    _mode, _nd = "replicate", 3


class CircularPad3d(_ModePad):
    _mode, _nd = "circular", 3
