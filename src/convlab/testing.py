"""``torch.testing.assert_close`` for convlab tensors (and numbers, arrays): values within
``atol + rtol * |expected|``, with torch's defaults by dtype (float32: rtol 1.3e-6, atol 1e-5;
float64: 1e-7, 1e-7; float16: 1e-3, 1e-5; integers and bools: exact)."""

from __future__ import annotations

import numpy as np

from . import backend
from .tensor_class import Tensor

__all__ = ["assert_close"]

_DEFAULTS = {np.dtype(np.float16): (1e-3, 1e-5), np.dtype(np.float32): (1.3e-6, 1e-5),
             np.dtype(np.float64): (1e-7, 1e-7)}


def _array(x) -> np.ndarray:
    return backend.to_numpy(x.detach()._data) if isinstance(x, Tensor) else np.asarray(x)


def assert_close(actual, expected, *, allow_subclasses: bool = True, rtol=None, atol=None, equal_nan: bool = False,
                 check_device: bool = True, check_dtype: bool = True, check_layout: bool = True,
                 check_stride: bool = False, msg=None) -> None:
    a, e = _array(actual), _array(expected)
    if (rtol is None) != (atol is None):
        raise ValueError("Both 'rtol' and 'atol' must be either specified or omitted")
    if a.shape != e.shape:
        raise AssertionError(msg or f"The values for attribute 'shape' do not match: {a.shape} != {e.shape}.")
    if check_dtype and isinstance(actual, Tensor) and isinstance(expected, Tensor) and a.dtype != e.dtype:
        raise AssertionError(msg or f"The values for attribute 'dtype' do not match: {a.dtype} != {e.dtype}.")
    if rtol is None:
        rtol, atol = _DEFAULTS.get(np.result_type(a, e), (0.0, 0.0))
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan, err_msg=msg or "")
