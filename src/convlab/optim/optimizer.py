"""``Optimizer``: parameter groups, ``zero_grad``, and a plain-data ``state_dict``.

An optimizer reads ``p.grad`` and writes ``p.data`` in place; it never builds a graph.

Parameter groups: ``params`` is an iterable of parameters, or of dicts
``{"params": [...], "lr": ..., ...}``; options missing from a group take the constructor's
defaults. ``optimizer.param_groups[i]["lr"]`` is what schedulers change.

``state_dict()`` layout (torch's, with plain values only, so that a checkpoint can store the
arrays in safetensors and everything else as JSON)::

    {
        "state": {0: {"step": 3, "exp_avg": ndarray, ...}, 1: {...}},   # keyed by parameter index
        "param_groups": [{"lr": 0.1, "momentum": 0.9, ..., "params": [0, 1]}, ...],
    }

Parameters are numbered in the order they appear across the groups; state arrays are NumPy
copies (host memory); ``step`` is an ``int``; option values are numbers, booleans, ``None`` or
tuples of numbers (``betas``). ``load_state_dict`` accepts the same structure (lists in place
of tuples, arrays or tensors for the state) and copies arrays onto each parameter's device
and dtype.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from .. import backend
from ..tensor import Tensor, no_grad
from ..validate import ConvlabError


class _Required:
    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


def check_number(name: str, value) -> None:
    """Refuse an option that is not a real number, before any comparison with it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConvlabError(f"Invalid {name}: {value!r} (expected a non-negative number)")


def check_lr(lr) -> None:
    """Refuse a learning rate that is not a finite non-negative number (NaN and inf included)."""
    check_number("learning rate", lr)
    if not (math.isfinite(lr) and lr >= 0):
        raise ConvlabError(f"Invalid learning rate: {lr}")


# options that must be finite and >= 0 (torch's checks, plus NaN/inf, which torch lets through)
_NON_NEGATIVE = {"lr": "learning rate", "weight_decay": "weight_decay value", "momentum": "momentum value",
                 "eps": "epsilon value", "alpha": "alpha value", "lr_decay": "lr_decay value",
                 "initial_accumulator_value": "initial_accumulator_value value", "dampening": "dampening value"}


def check_options(options: dict) -> None:
    """Refuse any numeric optimizer option that is NaN, infinite, of the wrong type or out of range.

    ``options`` maps option names to values (an ``__init__``'s ``locals()`` or a param group);
    ``params``, ``self`` and booleans/None are skipped; ``betas`` must be two numbers in [0, 1).
    """
    for name, v in options.items():
        if name in ("self", "params", "__class__") or v is required or v is None or isinstance(v, bool):
            continue
        if name == "betas":
            if not isinstance(v, (tuple, list)) or len(v) != 2:
                raise ConvlabError(f"Invalid betas: {v!r} (expected two numbers in [0, 1))")
            for i, b in enumerate(v):
                check_number(f"beta parameter at index {i}", b)
                if not (math.isfinite(b) and 0.0 <= b < 1.0):
                    raise ConvlabError(f"Invalid beta parameter at index {i}: {b}")
        elif name in _NON_NEGATIVE:
            check_number(_NON_NEGATIVE[name], v)
            if not (math.isfinite(v) and v >= 0):
                raise ConvlabError(f"Invalid {_NON_NEGATIVE[name]}: {v} (expected a finite number >= 0)")
        elif isinstance(v, (int, float, np.integer, np.floating)) and not math.isfinite(v):
            raise ConvlabError(f"Invalid {name} value: {v} (expected a finite number)")


class Optimizer:
    """Base class. Subclasses set ``defaults`` and implement ``_update(p, grad, state, group)``,
    which changes ``p.data`` in place; ``step()`` calls it for every parameter with a gradient.
    """

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.state: dict = {}  # Parameter -> dict of per-parameter state
        self.param_groups: list[dict] = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            "but got a Tensor")
        groups = list(params)
        if not groups:
            raise ConvlabError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (e.g. a smaller ``lr`` for a backbone)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ConvlabError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ConvlabError(f"parameter group didn't specify a value of required optimization parameter {name}")
            group.setdefault(name, default)
        if group.get("lr") is not required:
            check_lr(group.get("lr"))
        check_options(group)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in group["params"]):
            raise ConvlabError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimised parameters (to ``None`` by default)."""
        from ..nn.utils import zero_grads

        zero_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    @no_grad()
    def step(self, closure=None):
        """Update every parameter that has a gradient. ``closure`` (optional) re-evaluates and
        returns the loss; it is called with gradients enabled."""
        loss = None
        if closure is not None:
            from ..tensor import enable_grad

            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad._data
                if group.get("maximize", False):
                    grad = -grad
                self._update(p, grad, self.state.setdefault(p, {}), group)
        return loss

    def _update(self, p, grad, state: dict, group: dict) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------------ state dict
    def state_dict(self) -> dict:
        """The optimizer's options and state as plain data (see the module docstring)."""
        index, groups = {}, []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = {
                        k: backend.to_numpy(v).copy() if hasattr(v, "shape") else v for k, v in self.state[p].items()
                    }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore options and state saved by :meth:`state_dict` (from an optimizer over
        parameters of the same shapes, in the same order)."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ConvlabError(f"loaded state dict has {len(saved_groups)} parameter groups, "
                             f"but the optimizer has {len(self.param_groups)}")
        for i, (g, s) in enumerate(zip(self.param_groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ConvlabError(f"loaded state dict contains a parameter group {i} with {len(s['params'])} parameters "
                                 f"that doesn't match the size of optimizer's group ({len(g['params'])})")
        by_index = {}
        for g, s in zip(self.param_groups, saved_groups):
            by_index.update({int(i): p for i, p in zip(s["params"], g["params"])})
        saved_state = {int(k): v for k, v in state_dict["state"].items()}
        self.state = {}
        for i, values in saved_state.items():
            p = by_index[i]
            xp = backend.array_module(p._data)
            entry = {}
            for k, v in values.items():
                v = v._data if isinstance(v, Tensor) else v
                if hasattr(v, "shape"):
                    arr = backend.to_numpy(v)
                    if arr.ndim == 0:  # a number stored as a 0-d array ('step')
                        v = arr.item()
                    elif arr.shape != p.shape:
                        raise ConvlabError(f"loaded state '{k}' of parameter {i} has shape {arr.shape}, "
                                         f"but the parameter has shape {p.shape}")
                    else:
                        v = xp.asarray(arr.astype(p.dtype))
                entry[k] = v
            self.state[p] = entry
        for g, s in zip(self.param_groups, saved_groups):
            for k, v in s.items():
                if k != "params":
                    g[k] = tuple(v) if isinstance(v, list) else copy.deepcopy(v)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines) + "\n)"
