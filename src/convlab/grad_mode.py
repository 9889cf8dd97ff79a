"""Grad mode: whether operations record a graph for ``backward()``.

The switch is per thread (as in torch), so a data-loading or serving thread that wraps its work
in :func:`no_grad` does not turn recording off for the training thread.
"""

from __future__ import annotations

import contextlib
import threading

_state = threading.local()


def is_grad_enabled() -> bool:
    """True unless the current thread is inside :func:`no_grad` (and not re-enabled)."""
    return getattr(_state, "grad_enabled", True)


class _GradMode(contextlib.ContextDecorator):
    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __enter__(self):
        self.prev = is_grad_enabled()
        _state.grad_enabled = self.enabled

    def __exit__(self, *exc):
        _state.grad_enabled = self.prev
        return False


def no_grad():
    """Context manager and decorator that disables graph recording.

    >>> import convlab
    >>> with convlab.no_grad():
    ...     y = convlab.tensor([1.0], requires_grad=True) * 2
    >>> y.requires_grad
    False
    """
    return _GradMode(False)


def enable_grad():
    """Context manager and decorator that re-enables graph recording."""
    return _GradMode(True)


def inference_mode(mode: bool = True):
    """torch's faster ``no_grad`` for inference; here the same as :func:`no_grad` (``mode=False``:
    recording stays as it is)."""
    return _GradMode(False) if mode else _GradMode(is_grad_enabled())


class set_grad_enabled(_GradMode):  # noqa: N801 - torch's name
    """``set_grad_enabled(False)`` switches recording off now (a function call) or for a ``with``
    block (then restores it), as in torch."""

    def __init__(self, mode: bool):
        self.prev = is_grad_enabled()
        super().__init__(bool(mode))
        _state.grad_enabled = self.enabled

    def __enter__(self):
        _state.grad_enabled = self.enabled

    def __exit__(self, *exc):
        _state.grad_enabled = self.prev
        return False
