"""torch's float32 matmul precision: float32 products on bfloat16 inputs, on CPUs with AVX512_BF16.

``convlab.set_float32_matmul_precision(precision)`` takes torch's names:

- ``"highest"`` (the default): float32 products stay float32 (convlab's float32 GEMM, bit for bit).
- ``"high"``: the same as ``"highest"`` here. torch's "high" allows TF32 (10-bit significands) or
  the sum of three bfloat16 products; CPUs have no TF32, and convlab has no three-term kernel, so
  "high" keeps float32, as torch on a CPU does.
- ``"medium"``: the float32 matrix products under convolutions, ``Linear`` and ``matmul`` that run
  on convlab's compiled GEMM (``ops/gemm.py``) round both operands to bfloat16 (round to nearest
  even: 8 significant bits, relative error at most 2^-9 per entry) and sum the exact products in
  float32 (``_sgemm_bf16.c``; VDPBF16PS does two multiply-adds per float32 lane, twice an FMA's
  work). Inputs, outputs, parameters and gradients stay float32; only the products' inputs are
  rounded. Where the CPU lacks AVX512_BF16, or the extension was not built, ``"medium"`` keeps
  float32 silently, as torch does where no faster path exists: :func:`bf16_active` says which.

``CONVLAB_BF16=off`` in the environment (or :func:`set_bf16_enabled`) keeps the float32 GEMM
under ``"medium"`` too: for tests and for measuring the difference. Products that stay on
``numpy.matmul`` (float64, small shapes, ``CONVLAB_GEMM=numpy``) are unaffected by the setting.

torch 2.13 on this project's CPU: its own ``"medium"`` leaves CPU matmuls in float32 (measured:
its products equal the ``"highest"`` ones to 4e-5, not the bfloat16-input product); torch warns
and ignores an unknown name, where convlab refuses it.

>>> import convlab
>>> convlab.get_float32_matmul_precision()
'highest'
>>> convlab.set_float32_matmul_precision("medium")
>>> convlab.get_float32_matmul_precision()
'medium'
>>> convlab.set_float32_matmul_precision("highest")
"""

from __future__ import annotations

import os

from ..validate import ArgumentTypeError, ConvlabError

try:
    from .. import _sgemm_bf16
except ImportError:  # not built (no C compiler, not x86-64): float32 everywhere
    _sgemm_bf16 = None

PRECISIONS = ("highest", "high", "medium")
_precision = "highest"
_CPU = _sgemm_bf16 is not None and bool(_sgemm_bf16.available())
_enabled = _CPU and os.environ.get("CONVLAB_BF16", "auto").strip().lower() not in ("0", "off", "false", "no")


def set_float32_matmul_precision(precision: str) -> None:
    """Set the precision of float32 matrix products: ``"highest"``, ``"high"`` or ``"medium"``
    (the module docstring says what each does on a CPU).

    Raises:
        TypeError: ``precision`` is not a str (torch's message).
        ValueError: it is not one of the three names (a ``RuntimeError`` too; torch warns and
            ignores it instead).
    """
    global _precision
    if not isinstance(precision, str):
        raise ArgumentTypeError(f"set_float32_matmul_precision expects a str, but got {type(precision).__name__}")
    if precision not in PRECISIONS:
        raise ConvlabError(f"Invalid precision {precision!r}: expected 'highest', 'high' or 'medium'")
    _precision = precision


def get_float32_matmul_precision() -> str:
    """The precision of float32 matrix products set by :func:`set_float32_matmul_precision`."""
    return _precision


def bf16_available() -> bool:
    """True when the bfloat16 GEMM was built and this CPU has AVX512_BF16 (with AVX-512F/BW)."""
    return _CPU


def bf16_enabled() -> bool:
    """True unless ``CONVLAB_BF16=off`` or :func:`set_bf16_enabled` switched the kernel off."""
    return _enabled


def set_bf16_enabled(enabled: bool) -> bool:
    """Let ``"medium"`` use the bfloat16 GEMM (where available) or keep float32; returns the
    previous setting. Enabling it where it is not available raises ``RuntimeError``."""
    global _enabled
    if enabled and not _CPU:
        raise RuntimeError("set_bf16_enabled: the bfloat16 GEMM is not available here "
                           "(not built, or the CPU lacks AVX512_BF16)")
    previous, _enabled = _enabled, bool(enabled)
    return previous


def bf16_active() -> bool:
    """True when the compiled float32 products run on bfloat16 inputs now: ``"medium"`` is set and
    the kernel is available and enabled."""
    return _enabled and _precision == "medium"


def describe() -> str:
    """The precision and what it does here, in words (for ``convlab train``'s notes)."""
    if bf16_active():
        return "medium (bfloat16 inputs, float32 sums: AVX512_BF16)"
    if _precision == "medium":
        why = "switched off (CONVLAB_BF16)" if _CPU else "no AVX512_BF16 GEMM on this CPU or build"
        return f"medium (float32: {why})"
    return f"{_precision} (float32)"


def kernels(float32_module):
    """The compiled GEMM module the float32 products take now: ``_sgemm_bf16`` under
    :func:`bf16_active`, else ``float32_module`` (``_sgemm``; both have the same functions)."""
    return _sgemm_bf16 if _enabled and _precision == "medium" else float32_module


def products_run() -> int:
    """How many products the bfloat16 GEMM has run in this process (0 where it is not built)."""
    return _sgemm_bf16.calls() if _sgemm_bf16 is not None else 0


__all__ = ["PRECISIONS", "bf16_active", "bf16_available", "bf16_enabled", "describe", "get_float32_matmul_precision", "kernels",
           "products_run", "set_bf16_enabled", "set_float32_matmul_precision"]
