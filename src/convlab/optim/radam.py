"""RAdam and ASGD."""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..validate import ConvlabError
from .adamax import _check
from .optimizer import Optimizer, check_number


class RAdam(Optimizer):
    """Rectified Adam (Liu et al., 2020), torch's rule::

        m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g^2
        rho_inf = 2 / (1 - beta2) - 1;     rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
        if rho_t > 5 (the variance of the adaptive rate is tractable):
            r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
            p = p - lr * m / (1 - beta1^t) * r * sqrt(1 - beta2^t) / (sqrt(v) + eps)
        else:  p = p - lr * m / (1 - beta1^t)       (plain momentum SGD for the first steps)

    Weight decay as in :class:`NAdam`. State: ``step``, ``exp_avg``, ``exp_avg_sq``.
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 decoupled_weight_decay: bool = False, maximize: bool = False):
        _check(lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, maximize=maximize))

    def _update(self, p, grad, state, group):
        xp = backend.array_module(p._data)
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p._data)
            state["exp_avg_sq"] = xp.zeros_like(p._data)
        state["step"] += 1
        t, lr, wd = state["step"], group["lr"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        if wd:
            if group["decoupled_weight_decay"]:
                p._data *= 1 - lr * wd
            else:
                grad = grad + wd * p._data
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        m += (1 - beta1) * grad
        v *= beta2
        v += (1 - beta2) * grad * grad
        bc1, bc2 = 1 - beta1**t, 1 - beta2**t
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2**t / bc2
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            p._data -= lr * (m / bc1) * rect * (math.sqrt(bc2) / (xp.sqrt(v) + group["eps"]))
        else:
            p._data -= lr * (m / bc1)


class ASGD(Optimizer):
    """Averaged SGD (Polyak & Juditsky, 1992), torch's rule::

        g = g + weight_decay * p
        p = p * (1 - lambd * eta) - eta * g
        ax = p if mu == 1 else ax + mu * (p - ax)          (the running average of the iterates)
        eta = lr / (1 + lambd * lr * t)^alpha;   mu = 1 / max(1, t - t0)

    State: ``step``, ``eta``, ``mu``, ``ax`` (evaluate with ``ax`` for the averaged model).
    """

    def __init__(self, params, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75, t0: float = 1e6,
                 weight_decay: float = 0.0, maximize: bool = False):
        for name, v in (("learning rate", lr), ("weight_decay", weight_decay)):
            check_number(name, v)
            if v < 0.0:
                raise ConvlabError(f"Invalid {name}: {v}" if name == "learning rate" else f"Invalid {name} value: {v}")
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                                      maximize=maximize))

    def _update(self, p, grad, state, group):
        xp = backend.array_module(p._data)
        if not state:
            state["step"] = 0
            state["eta"], state["mu"] = float(np.float32(group["lr"])), 1.0
            state["ax"] = xp.zeros_like(p._data)
        state["step"] += 1
        t, lr, lambd = state["step"], group["lr"], group["lambd"]
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * p._data
        eta = state["eta"]
        p._data *= 1 - lambd * eta
        p._data -= eta * grad
        if state["mu"] != 1:
            state["ax"] += (p._data - state["ax"]) * state["mu"]
        else:
            state["ax"][...] = p._data
        # torch keeps eta and mu as float32 scalars (its default dtype), so they are rounded the same way
        state["eta"] = float(np.float32(lr / (1 + lambd * lr * t) ** group["alpha"]))
        state["mu"] = float(np.float32(1 / max(1, t - group["t0"])))
