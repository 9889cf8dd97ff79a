"""Batching items the way torch's ``default_collate`` does, and moving batches between a worker
process and the main one.

``default_collate`` turns a list of samples into one batch, recursively: tensors and arrays are
stacked on a new first axis, Python ints become an int64 tensor, floats a float64 tensor, bools a
bool tensor, strings stay a list, and mappings, named tuples and sequences are collated field by
field. (convlab's own datasets batch through ``get_batch`` instead; see :mod:`.datasets`.)
"""

from __future__ import annotations

import collections.abc

import numpy as np

from ..tensor import Tensor, from_numpy


def _stack_arrays(arrays, what: str) -> np.ndarray:
    try:
        return np.stack(arrays)
    except ValueError:
        shapes = sorted({tuple(np.shape(a)) for a in arrays})
        raise RuntimeError(f"default_collate: stack expects each {what} to be equal size, but got shapes {shapes} "
                           "(resize the samples to one size, or pass a collate_fn)") from None


def default_collate(batch):
    """Collate a list of samples into a batch, as ``torch.utils.data.default_collate``.

    >>> import numpy as np
    >>> b = default_collate([(np.zeros(2, np.float32), 1, "a"), (np.ones(2, np.float32), 0, "b")])
    >>> b[0].shape, b[1].tolist(), b[2]
    (convlab.Size([2, 2]), [1, 0], ['a', 'b'])
    """
    if not isinstance(batch, (list, tuple)) or not batch:
        raise TypeError(f"default_collate: expected a non-empty list of samples, got {type(batch).__name__}")
    first = batch[0]
    if isinstance(first, Tensor):
        return from_numpy(_stack_arrays([t._data for t in batch], "tensor"))
    if isinstance(first, np.ndarray) and first.dtype.kind in "fiub":
        return from_numpy(_stack_arrays(batch, "array"))
    if isinstance(first, (bool, np.bool_)):
        return from_numpy(np.asarray(batch, dtype=np.bool_))
    if isinstance(first, (int, np.integer)):
        return from_numpy(np.asarray(batch, dtype=np.int64))
    if isinstance(first, (float, np.floating)):
        return from_numpy(np.asarray(batch, dtype=np.float64))
    if isinstance(first, (str, bytes)):
        return list(batch)
    if isinstance(first, collections.abc.Mapping):
        return {key: default_collate([d[key] for d in batch]) for key in first}
    if isinstance(first, tuple) and hasattr(first, "_fields"):  # a named tuple
        return type(first)(*(default_collate(list(field)) for field in zip(*batch)))
    if isinstance(first, collections.abc.Sequence):
        if any(len(s) != len(first) for s in batch):
            raise RuntimeError("default_collate: each element in list of batch should be of equal size")
        fields = [default_collate(list(field)) for field in zip(*batch)]
        return tuple(fields) if isinstance(first, tuple) else fields
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                    f"found {type(first).__name__}")


def to_arrays(batch):
    """The batch with every Tensor replaced by its array (what a worker sends: arrays pickle cheaply)."""
    if isinstance(batch, Tensor):
        return np.asarray(batch._data).view(_TensorArray)
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(to_arrays(b) for b in batch))
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_arrays(b) for b in batch)
    if isinstance(batch, dict):
        return {k: to_arrays(v) for k, v in batch.items()}
    return batch


class _TensorArray(np.ndarray):
    """Marks an array that was a Tensor before it crossed the process boundary (pickling keeps
    an ndarray subclass)."""


def to_tensors(batch, arrays_too: bool):
    """Undo :func:`to_arrays`; with ``arrays_too`` plain arrays become tensors as well (convlab's own
    ``get_batch`` returns arrays, which the loader serves as tensors)."""
    if isinstance(batch, _TensorArray) or (arrays_too and isinstance(batch, np.ndarray) and batch.dtype.kind in "fiub"):
        return from_numpy(np.asarray(batch))
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(to_tensors(b, arrays_too) for b in batch))
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_tensors(b, arrays_too) for b in batch)
    if isinstance(batch, dict):
        return {k: to_tensors(v, arrays_too) for k, v in batch.items()}
    return batch
