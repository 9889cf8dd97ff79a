"""Adagrad: per-coordinate step sizes shrinking with the accumulated squared gradients."""

from __future__ import annotations

from .. import backend
from ..validate import ConvlabError
from .optimizer import Optimizer, check_number, check_options


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011), torch's rule (``t`` the step count, from 1)::

        g = g + weight_decay * p
        lr_t = lr / (1 + (t - 1) * lr_decay)
        sum = sum + g^2                       (starts at initial_accumulator_value)
        p = p - lr_t * g / (sqrt(sum) + eps)

    State: ``step``, ``sum``.
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, maximize: bool = False):
        check_options(locals())
        for name, v in (("learning rate", lr), ("lr_decay", lr_decay), ("weight_decay", weight_decay),
                        ("initial_accumulator_value", initial_accumulator_value), ("epsilon", eps)):
            check_number(name, v)
            if v < 0.0:
                raise ConvlabError(f"Invalid {name} value: {v}")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps,
                                      initial_accumulator_value=initial_accumulator_value, maximize=maximize))

    def _update(self, p, grad, state, group):
        xp = backend.array_module(p._data)
        if not state:
            state["step"] = 0
            state["sum"] = xp.full_like(p._data, group["initial_accumulator_value"])
        state["step"] += 1
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * p._data
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state["sum"] += grad * grad
        p._data -= clr * grad / (xp.sqrt(state["sum"]) + group["eps"])
