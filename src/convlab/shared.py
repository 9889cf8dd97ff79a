"""Tensors in shared memory, for Hogwild-style training (``model.share_memory()`` then several
``multiprocessing`` workers updating the one set of weights, as pytorch/examples' mnist_hogwild).

``share_memory_()`` moves a tensor's array into a file in ``/dev/shm`` (RAM, not disk) mapped with
``np.memmap``. Pickling such a tensor, which is how ``multiprocessing`` hands arguments to a
spawned process, sends the file's name instead of the values; the child maps the same pages, so
an optimizer's in-place update in one process is seen by all. The creating process deletes the
file when it exits. Gradients are not shared (torch's are allocated lazily and not shared either).

>>> import pickle, convlab
>>> w = convlab.ones(3).share_memory_()
>>> w.is_shared(), pickle.loads(pickle.dumps(w)).tolist()
(True, [1.0, 1.0, 1.0])
"""

from __future__ import annotations

import atexit
import os
import tempfile

import numpy as np

from . import backend
from .tensor_class import Tensor

_OWNED: set[str] = set()  # files this process created, deleted at exit


def _cleanup() -> None:
    for path in list(_OWNED):
        try:
            os.unlink(path)
        except OSError:
            pass
    _OWNED.clear()


atexit.register(_cleanup)


def _shm_dir() -> str | None:
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def share_memory_(self: Tensor) -> Tensor:
    """Move this tensor's values into shared memory, in place; returns the tensor."""
    if is_shared(self) or self._data.size == 0:
        return self
    if backend.array_module(self._data) is not np:
        raise RuntimeError(f"share_memory_: a tensor on device {self.device} cannot be moved into shared host memory; "
                           "convlab shares CPU tensors only")
    fd, path = tempfile.mkstemp(prefix="convlab-shared-", dir=_shm_dir())
    os.close(fd)
    _OWNED.add(path)
    arr = np.asarray(self._data)
    mapped = np.memmap(path, dtype=arr.dtype, mode="w+", shape=arr.shape)
    mapped[...] = arr
    self._data = mapped
    return self


def is_shared(self: Tensor) -> bool:
    return isinstance(self._data, np.memmap) and self._data.filename is not None


def _rebuild_shared(cls, path: str, dtype: str, shape: tuple, requires_grad: bool):
    t = cls.__new__(cls)
    t._data = np.memmap(path, dtype=np.dtype(dtype), mode="r+", shape=shape)
    t.grad, t._node, t._retain, t.requires_grad = None, None, False, requires_grad
    return t


def _reduce_ex(self: Tensor, protocol):
    if is_shared(self):
        return _rebuild_shared, (type(self), self._data.filename, self._data.dtype.str, self._data.shape,
                                 self.requires_grad)
    return object.__reduce_ex__(self, protocol)


def share_memory(module):
    """``Module.share_memory()``: every parameter and buffer into shared memory."""
    for t in list(module.parameters()) + [b for b in module.buffers() if b is not None]:
        share_memory_(t)
    return module


Tensor.share_memory_ = share_memory_
Tensor.is_shared = is_shared
Tensor.__reduce_ex__ = _reduce_ex
