"""Data types: the NumPy dtypes tensors may hold, their validation and the default float type."""

from __future__ import annotations

import numpy as np

from .validate import ArgumentTypeError, _safe_repr

float16, float32, float64 = np.float16, np.float32, np.float64
int8, int16, int32, int64, uint8 = np.int8, np.int16, np.int32, np.int64, np.uint8
bool_ = np.bool_

_DEFAULT_DTYPE = np.dtype(np.float32)


def _check_dtype(dtype: np.dtype, where: str) -> np.dtype:
    if dtype.kind not in "fiub":
        raise ArgumentTypeError(
            f"{where}: unsupported dtype {dtype} (expected a floating, integer or bool dtype; "
            "complex, object and string data cannot be tensors)"
        )
    return dtype


def _parse_dtype(dtype, where: str) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError, RecursionError):  # unhashable, unknown names, malformed field lists
        raise ArgumentTypeError(f"{where}: dtype {_safe_repr(dtype)} is not a data type") from None
    return _check_dtype(dt, where)


def _set_default_dtype(dtype) -> None:
    global _DEFAULT_DTYPE
    dtype = _parse_dtype(dtype, "set_default_dtype")
    if dtype.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {dtype}")
    _DEFAULT_DTYPE = dtype


def get_default_dtype():
    """The dtype Python floats become (float32 unless changed)."""
    return _DEFAULT_DTYPE
