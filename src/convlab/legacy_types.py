"""torch's typed tensor classes, still common in older programs (PyTorch-GAN's
``Tensor = torch.cuda.FloatTensor if cuda else torch.FloatTensor``, ``torch.LongTensor(labels)``):

- ``FloatTensor(data)`` is ``tensor(data, dtype=float32)``; ``FloatTensor(2, 3)`` an uninitialised
  (here: zero-filled) 2x3 tensor; ``FloatTensor()`` an empty one;
- ``isinstance(x, convlab.FloatTensor)`` checks the dtype, as torch's does;
- ``x.type(convlab.LongTensor)`` casts (``Tensor.type`` takes the class or its name);
- ``convlab.cuda.FloatTensor`` and friends refuse by name without a GPU instead of making a CPU tensor.
"""

from __future__ import annotations

import numpy as np

from .convert import _TYPE_NAMES
from .tensor_class import Tensor


class _TypedMeta(type):
    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype and cls.is_cuda == (obj.device.type == "cuda")

    def __repr__(cls) -> str:
        return f"<class 'convlab.{'cuda.' if cls.is_cuda else ''}{cls.__name__}'>"


def _make(name: str, dtype: np.dtype, cuda: bool):
    def __new__(cls, *args, device=None):
        from . import creation
        from .devices import device as _device
        from .validate import ArgumentTypeError, _safe_repr

        if device is not None and not isinstance(device, (str, _device)):
            raise ArgumentTypeError(f"{name}(): argument 'device' must be a device (such as 'cpu'), got "
                                    f"{_safe_repr(device, 40)} ({type(device).__name__})")
        if cls.is_cuda:
            from . import cuda as _cuda

            if not _cuda.is_available():
                raise RuntimeError(f"convlab.cuda.{name}: no CUDA device is usable here ({_cuda.INSTALL_HINT}); "
                                   f"use convlab.{name} or tensor(..., device='cpu')")
            device = "cuda"
        if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
            return creation.tensor(args[0], dtype=dtype, device=device)
        if not all(isinstance(a, (int, np.integer)) for a in args):
            raise TypeError(f"{name}(): expected a sequence/array or sizes (ints), got {args!r}")
        shape = args if args else (0,)
        return creation.zeros(*shape, dtype=dtype, device=device)

    return _TypedMeta(name, (), {"__new__": __new__, "dtype": np.dtype(dtype), "is_cuda": cuda,
                                 "__doc__": f"``{name}(data)`` / ``{name}(*sizes)``: a {np.dtype(dtype)} tensor."})


CPU_TYPES = {name: _make(name, np.dtype(dt), False) for dt, name in _TYPE_NAMES.items()}
CUDA_TYPES = {name: _make(name, np.dtype(dt), True) for dt, name in _TYPE_NAMES.items()}
__all__ = list(CPU_TYPES)
globals().update(CPU_TYPES)
