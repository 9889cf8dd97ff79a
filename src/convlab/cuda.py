"""GPU support through CuPy: ``convlab.cuda.is_available()`` and the registration of CuPy's
array type with :mod:`convlab.backend`, after which every op runs on ``cupy`` arrays.

CuPy is optional (``pip install 'convlab[gpu]'``, the ``cupy-cuda12x`` wheel). Without it
everything on CPU works as before and asking for ``'cuda'`` says how to install it.
"""

from __future__ import annotations

from . import backend

INSTALL_HINT = "install the GPU extra: pip install 'convlab[gpu]' (CuPy for CUDA 12, an NVIDIA GPU and driver)"


def _import_cupy():
    try:
        import cupy
    except ImportError:
        return None
    return cupy


def is_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device."""
    cupy = _import_cupy()
    if cupy is None:
        return False
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no driver, no device
        return False


def device_count() -> int:
    cupy = _import_cupy()
    if cupy is None:
        return 0
    try:
        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:
        return 0


def init() -> None:
    """Register CuPy arrays as the ``'cuda'`` device; raise a clear error when impossible."""
    cupy = _import_cupy()
    if cupy is None:
        raise RuntimeError(f"device 'cuda' requested but CuPy is not installed; {INSTALL_HINT}")
    if not is_available():
        raise RuntimeError("device 'cuda' requested but no CUDA device is visible to CuPy")
    backend.register(cupy.ndarray, cupy, "cuda")
