"""``torch.amp`` (and ``torch.cuda.amp``): ``autocast`` and ``GradScaler`` on convlab's float32 CPU.

convlab has no reduced-precision kernels, so it cannot run a region in float16/bfloat16:

- ``autocast(device_type='cuda')`` with no usable GPU warns and disables itself, as torch does on
  a machine without CUDA ("User provided device_type of 'cuda', but CUDA is not available.
  Disabling"); the region then runs in float32, exactly as it would under torch there.
- ``autocast(device_type='cpu')`` enabled asks for bfloat16 CPU kernels, which convlab lacks:
  it raises ``NotImplementedError`` naming that, rather than silently computing in float32.
- ``enabled=False`` (the usual ``enabled=args.amp`` off switch) is always a plain context.

``GradScaler`` scales the loss, unscales the gradients, skips steps whose gradients hold inf/NaN
and grows or backs off the scale exactly as torch's. Asked for the ``'cuda'`` device without a
GPU it warns and disables itself as torch does (then ``scale(loss)`` is ``loss`` and ``step``
is ``optimizer.step()``).

>>> import convlab
>>> with convlab.autocast(device_type="cpu", enabled=False):
...     convlab.ones(2).sum().item()
2.0
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np

from . import cuda
from .tensor_class import Tensor

__all__ = ["GradScaler", "autocast", "is_autocast_available"]


def is_autocast_available(device_type: str) -> bool:
    """False: convlab has no reduced-precision kernels on any device."""
    return False


class autocast:  # noqa: N801 - torch's name
    """Context manager and decorator; see the module docstring for what each case does."""

    def __init__(self, device_type: str = "cuda", dtype=None, enabled: bool = True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        self.device_type, self.fast_dtype = device_type, dtype
        self._enabled = bool(enabled)
        if not self._enabled:
            return
        if device_type == "cuda" and not cuda.is_available():
            warnings.warn("User provided device_type of 'cuda', but CUDA is not available. Disabling", stacklevel=2)
            self._enabled = False
            return
        raise NotImplementedError(
            f"autocast(device_type={device_type!r}, dtype={dtype}): convlab has no float16/bfloat16 kernels, so "
            "it cannot run this region in mixed precision; pass enabled=False to run it in float32")

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> bool:
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)

        return wrapped


class GradScaler:
    """Dynamic loss scaling (torch's algorithm): multiply the loss by ``scale``; before the step,
    divide the gradients by it and skip the step if any is inf/NaN; then ``update`` multiplies
    the scale by ``backoff_factor`` after a skipped step, or by ``growth_factor`` after
    ``growth_interval`` clean steps in a row."""

    def __init__(self, device: str = "cuda", init_scale: float = 2.0**16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True):
        if isinstance(device, bool):  # torch.cuda.amp.GradScaler's first positional is init_scale
            raise TypeError("GradScaler: device must be a string such as 'cpu' or 'cuda'")
        self._device = str(device)
        if enabled and self._device == "cuda" and not cuda.is_available():
            warnings.warn("torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  Disabling.",
                          stacklevel=2)
            enabled = False
        self._enabled = bool(enabled)
        if growth_factor <= 1.0 or not 0.0 < backoff_factor < 1.0:
            raise ValueError(f"GradScaler: growth_factor must be > 1 and backoff_factor in (0, 1), got "
                             f"{growth_factor} and {backoff_factor}")
        self._scale, self._growth_factor, self._backoff_factor = float(init_scale), growth_factor, backoff_factor
        self._growth_interval, self._growth_tracker = int(growth_interval), 0
        self._unscaled: dict[int, bool] = {}  # id(optimizer) -> found inf while unscaling

    def is_enabled(self) -> bool:
        return self._enabled

    def get_scale(self) -> float:
        return self._scale if self._enabled else 1.0

    def scale(self, outputs):
        """``outputs * scale`` (a tensor, or each tensor in a list/tuple)."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            return outputs * self._scale
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        raise ValueError("outputs must be a Tensor or an iterable of Tensors")

    def unscale_(self, optimizer) -> None:
        """Divide this optimizer's gradients by the scale, once per step, noting any inf/NaN."""
        if not self._enabled:
            return
        if id(optimizer) in self._unscaled:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        inv, found = 1.0 / self._scale, False
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad._data
                g *= np.asarray(inv, dtype=g.dtype)
                found = found or not bool(np.isfinite(g).all())
        self._unscaled[id(optimizer)] = found

    def step(self, optimizer, *args, **kwargs):
        """Unscale (if not yet done) and call ``optimizer.step()`` unless a gradient is inf/NaN."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if id(optimizer) not in self._unscaled:
            self.unscale_(optimizer)
        return None if self._unscaled[id(optimizer)] else optimizer.step(*args, **kwargs)

    def update(self, new_scale=None) -> None:
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale = float(new_scale.item() if isinstance(new_scale, Tensor) else new_scale)
        elif any(self._unscaled.values()):
            self._scale *= self._backoff_factor
            self._growth_tracker = 0
        else:
            self._growth_tracker += 1
            if self._growth_tracker == self._growth_interval:
                grown = self._scale * self._growth_factor
                self._scale = grown if math.isfinite(grown) else self._scale
                self._growth_tracker = 0
        self._unscaled.clear()

    def state_dict(self) -> dict:
        if not self._enabled:
            return {}
        return {"scale": self._scale, "growth_factor": self._growth_factor, "backoff_factor": self._backoff_factor,
                "growth_interval": self._growth_interval, "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state_dict: dict) -> None:
        if not self._enabled:
            return
        if not state_dict:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        self._scale = float(state_dict["scale"])
        self._growth_factor, self._backoff_factor = state_dict["growth_factor"], state_dict["backoff_factor"]
        self._growth_interval, self._growth_tracker = state_dict["growth_interval"], state_dict["_growth_tracker"]
