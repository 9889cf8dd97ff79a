"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from __future__ import annotations

from .. import backend
from ..validate import ConvlabError
from .optimizer import Optimizer, check_number, check_options


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e), torch's rule::

        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g^2
        centered:  a = alpha * a + (1 - alpha) * g ;  denom = sqrt(v - a^2) + eps
        otherwise: denom = sqrt(v) + eps
        momentum > 0:  b = momentum * b + g / denom ;  p = p - lr * b
        otherwise:     p = p - lr * g / denom

    State: ``step``, ``square_avg``, and ``momentum_buffer`` / ``grad_avg`` when used.
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum: float = 0.0, centered: bool = False, maximize: bool = False):
        check_options(locals())
        for name, v in (("learning rate", lr), ("epsilon", eps), ("momentum", momentum),
                        ("weight_decay", weight_decay), ("alpha", alpha)):
            check_number(name, v)
            if v < 0.0:
                raise ConvlabError(f"Invalid {name} value: {v}")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def _update(self, p, grad, state, group):
        xp = backend.array_module(p._data)
        alpha = group["alpha"]
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(p._data)
            if group["momentum"] > 0:
                state["momentum_buffer"] = xp.zeros_like(p._data)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(p._data)
        state["step"] += 1
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * p._data
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg *= alpha
            grad_avg += (1 - alpha) * grad
            denom = xp.sqrt(square_avg - grad_avg * grad_avg) + group["eps"]
        else:
            denom = xp.sqrt(square_avg) + group["eps"]
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf *= group["momentum"]
            buf += grad / denom
            p._data -= group["lr"] * buf
        else:
            p._data -= group["lr"] * grad / denom
