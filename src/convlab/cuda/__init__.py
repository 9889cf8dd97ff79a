"""GPU support through CuPy: ``convlab.cuda.is_available()`` and the registration of CuPy's
array type with :mod:`convlab.backend`, after which every op runs on ``cupy`` arrays.

CuPy is optional (``pip install 'convlab[gpu]'``, the ``cupy-cuda12x`` wheel). Without it
everything on CPU works as before and asking for ``'cuda'`` says how to install it.
"""

from __future__ import annotations

from .. import backend

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


def current_device() -> int:
    if not is_available():
        raise RuntimeError(f"Torch not compiled with CUDA enabled: no CUDA device is usable here ({INSTALL_HINT})")
    return int(_import_cupy().cuda.runtime.getDevice())


def synchronize(device=None) -> None:
    """Wait for the GPU's queued work; nothing to wait for without one."""
    if is_available():
        _import_cupy().cuda.Device().synchronize()


def empty_cache() -> None:
    """Free CuPy's cached blocks; nothing to free without a GPU."""
    if is_available():
        _import_cupy().get_default_memory_pool().free_all_blocks()


def manual_seed(seed: int) -> None:
    """Accepted and ignored: convlab draws every random number, also for GPU tensors, from the one
    host generator that :func:`convlab.manual_seed` seeds (torch's CUDA generator is separate, and
    seeding it leaves the CPU stream alone, so ignoring it keeps CPU results as in torch)."""
    if not isinstance(seed, (int,)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed: seed must be an int, got {seed!r}")


manual_seed_all = manual_seed


def __getattr__(name):
    if name == "amp":  # torch.cuda.amp, loaded on first use (it imports convlab.amp, which imports this)
        import importlib

        return importlib.import_module(f"{__name__}.amp")
    if name.endswith("Tensor"):  # torch.cuda.FloatTensor ...: refuse by name when used without a GPU
        from ..legacy_types import CUDA_TYPES

        if name in CUDA_TYPES:
            return CUDA_TYPES[name]
    raise AttributeError(f"module 'convlab.cuda' has no attribute {name!r}")
