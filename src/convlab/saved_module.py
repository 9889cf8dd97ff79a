"""What ``load`` returns for a file written by ``save(model)`` (torch's whole-model save).

torch pickles the model object and ``torch.load`` rebuilds it by running the class's code.
convlab never runs code while loading, so ``save(model)`` stores the model's state dict (and,
for a zoo model, the spec that builds it) in a checkpoint dict, and ``load`` gives that dict
back. Used as if it were the model (called, ``.eval()``, ``.to(device)``...), it says so and
names the route: build the model, then ``model.load_state_dict(ckpt["model"])``.

``safe_globals``/``add_safe_globals`` (torch's allowlist for its unpickler) are accepted and
change nothing here: convlab unpickles no objects at all.
"""

from __future__ import annotations

import contextlib

_MESSAGE = ("this is a checkpoint dict, not a model: the file was written by save(model), and convlab restores "
            "state dicts, never Python objects (rebuilding one would run code). Build the model yourself, then "
            "model.load_state_dict(checkpoint['model'])")
_MODULE_ATTRIBUTES = {"eval", "train", "to", "cpu", "cuda", "forward", "parameters", "named_parameters", "modules",
                      "children", "state_dict", "load_state_dict", "zero_grad", "double", "float", "half", "apply",
                      "requires_grad_", "buffers", "named_modules", "training"}


class SavedModule(dict):
    """A checkpoint dict that refuses, with the route named, to be used as the model it came from."""

    def __call__(self, *args, **kwargs):
        raise TypeError(_MESSAGE)

    def __getattr__(self, name):
        if name in _MODULE_ATTRIBUTES:
            raise AttributeError(f"'{name}': {_MESSAGE}")
        raise AttributeError(f"'SavedModule' object has no attribute {name!r}")


_allowed: list = []


def add_safe_globals(safe_globals) -> None:
    _allowed.extend(safe_globals)


def get_safe_globals() -> list:
    return list(_allowed)


def clear_safe_globals() -> None:
    _allowed.clear()


@contextlib.contextmanager
def safe_globals(safe_globals):
    """torch's context manager; accepted (convlab unpickles nothing, so it allows nothing more)."""
    before = len(_allowed)
    _allowed.extend(safe_globals)
    try:
        yield
    finally:
        del _allowed[before:]
