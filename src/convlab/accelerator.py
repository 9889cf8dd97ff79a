"""``torch.accelerator``: the current accelerator, if any.

convlab's only accelerator is a CUDA GPU through CuPy (``pip install 'convlab[gpu]'``); without
it the answers say so truthfully and programs fall back to the CPU.

>>> import convlab
>>> convlab.accelerator.is_available() == convlab.cuda.is_available()
True
"""

from __future__ import annotations

from . import cuda
from .devices import device


def is_available() -> bool:
    return cuda.is_available()


def current_accelerator(check_available: bool = False):
    """``device('cuda')`` when a CUDA GPU is usable through CuPy, else None."""
    return device("cuda") if cuda.is_available() else None


def device_count() -> int:
    return cuda.device_count()


def current_device_index() -> int:
    return 0 if cuda.is_available() else -1


def synchronize(device=None) -> None:
    """Wait for the GPU's queued work (nothing to wait for on a CPU)."""
    cuda.synchronize()
