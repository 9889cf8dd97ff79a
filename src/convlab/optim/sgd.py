"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay."""

from __future__ import annotations

from ..validate import ConvlabError
from .optimizer import Optimizer, check_lr, check_options, required


class SGD(Optimizer):
    """SGD, with torch's update rule (``g`` the gradient, ``b`` the momentum buffer)::

        g = g + weight_decay * p                   # L2 penalty
        b = g                       (first step)
        b = momentum * b + (1 - dampening) * g     (later steps)
        g = g + momentum * b  if nesterov  else  b
        p = p - lr * g

    ``maximize=True`` ascends (the gradient is negated first). State: ``momentum_buffer``.

    Example::

        opt = SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    """

    def __init__(self, params, lr=required, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, maximize: bool = False):
        check_options(locals())
        if lr is not required:
            check_lr(lr)
        if momentum < 0.0:
            raise ConvlabError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ConvlabError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ConvlabError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def _update(self, p, grad, state, group):
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * p._data
        momentum = group["momentum"]
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.copy()
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        p._data -= group["lr"] * grad
