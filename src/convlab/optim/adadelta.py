"""Adadelta: step sizes from running averages of squared gradients and squared updates."""

from __future__ import annotations

from .. import backend
from ..validate import ConvlabError
from .optimizer import Optimizer, check_number


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012), torch's rule::

        g = g + weight_decay * p
        square_avg = rho * square_avg + (1 - rho) * g^2
        delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * g
        acc_delta = rho * acc_delta + (1 - rho) * delta^2
        p = p - lr * delta

    State: ``step``, ``square_avg``, ``acc_delta``.
    """

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0.0,
                 maximize: bool = False):
        for name, v in (("learning rate", lr), ("epsilon", eps), ("weight_decay", weight_decay)):
            check_number(name, v)
            if v < 0.0:
                raise ConvlabError(f"Invalid {name}: {v}" if name == "learning rate" else f"Invalid {name} value: {v}")
        if not 0.0 <= rho <= 1.0:
            raise ConvlabError(f"Invalid rho value: {rho}")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def _update(self, p, grad, state, group):
        xp = backend.array_module(p._data)
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(p._data)
            state["acc_delta"] = xp.zeros_like(p._data)
        state["step"] += 1
        rho, eps = group["rho"], group["eps"]
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * p._data
        sq, acc = state["square_avg"], state["acc_delta"]
        sq *= rho
        sq += (1 - rho) * grad * grad
        delta = xp.sqrt(acc + eps) / xp.sqrt(sq + eps) * grad
        acc *= rho
        acc += (1 - rho) * delta * delta
        p._data -= group["lr"] * delta
