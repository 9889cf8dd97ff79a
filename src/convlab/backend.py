"""The one place that picks the array module.

Every op asks ``array_module(x)`` for the module that owns its arrays (NumPy for CPU
arrays; CuPy registers itself for GPU arrays), so the ops never name NumPy directly for
tensor math and a new device is one ``register`` call away.
"""

from __future__ import annotations

import numpy as np

# (array type, array module, device name), checked in order; NumPy is the fallback.
_REGISTRY: list[tuple[type, object, str]] = []


def register(array_type: type, module, device: str) -> None:
    """Declare that arrays of ``array_type`` are handled by ``module`` on ``device``."""
    _REGISTRY.insert(0, (array_type, module, device))


def unregister(array_type: type) -> None:
    """Remove a registration (used by tests that install a stand-in module)."""
    _REGISTRY[:] = [entry for entry in _REGISTRY if entry[0] is not array_type]


def has_devices() -> bool:
    """True once any non-CPU array type is registered (enables device checks in ops)."""
    return bool(_REGISTRY)


def array_module(*arrays):
    """Return the array module (``numpy``-compatible) that owns the first registered array."""
    for a in arrays:
        for array_type, module, _ in _REGISTRY:
            if isinstance(a, array_type):
                return module
    return np


def device_of(array) -> str:
    """Name of the device holding ``array``: ``'cpu'`` for NumPy arrays."""
    for array_type, _, device in _REGISTRY:
        if isinstance(array, array_type):
            return device
    return "cpu"


def module_for_device(device: str):
    """The array module that creates arrays on ``device``."""
    device = str(device)
    if device == "cpu":
        return np
    base = device.split(":")[0]
    for _, module, name in _REGISTRY:
        if name.split(":")[0] == base:
            return module
    if base == "cuda":
        from . import cuda

        cuda.init()  # registers CuPy, or raises with the install hint
        return module_for_device(device)
    raise RuntimeError(
        f"device {device!r} is not available: no array module is registered for it "
        "(for 'cuda', install the GPU extra: pip install 'convlab[gpu]')"
    )


def to_numpy(array) -> np.ndarray:
    """A NumPy copy/view of any registered array (``.get()`` for device arrays)."""
    if type(array) is np.ndarray:
        return array
    getter = getattr(array, "get", None)  # CuPy's device-to-host copy
    return np.asarray(getter() if getter is not None else array)
