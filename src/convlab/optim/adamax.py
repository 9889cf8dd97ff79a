"""Adamax and NAdam: the two Adam variants of Kingma & Ba (infinity norm) and Dozat (Nesterov)."""

from __future__ import annotations

from .. import backend
from ..validate import ConvlabError
from .optimizer import Optimizer, check_number


def _check(lr, betas, eps, weight_decay):
    for name, v in (("learning rate", lr), ("epsilon", eps), ("weight_decay", weight_decay)):
        check_number(name, v)
        if v < 0.0:
            raise ConvlabError(f"Invalid {name}: {v}" if name == "learning rate" else f"Invalid {name} value: {v}")
    for i, b in enumerate(betas):
        if not 0.0 <= b < 1.0:
            raise ConvlabError(f"Invalid beta parameter at index {i}: {b}")


class Adamax(Optimizer):
    """Adamax (Kingma & Ba, 2015, section 7), torch's rule::

        g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        u = max(beta2 * u, |g| + eps)
        p = p - lr / (1 - beta1^t) * m / u

    State: ``step``, ``exp_avg``, ``exp_inf``.
    """

    def __init__(self, params, lr: float = 2e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 maximize: bool = False):
        _check(lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, maximize=maximize))

    def _update(self, p, grad, state, group):
        xp = backend.array_module(p._data)
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p._data)
            state["exp_inf"] = xp.zeros_like(p._data)
        state["step"] += 1
        beta1, beta2 = group["betas"]
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * p._data
        m, u = state["exp_avg"], state["exp_inf"]
        m *= beta1
        m += (1 - beta1) * grad
        xp.maximum(u * beta2, xp.abs(grad) + group["eps"], out=u)
        p._data -= group["lr"] / (1 - beta1 ** state["step"]) * m / u


class NAdam(Optimizer):
    """NAdam (Dozat, 2016): Adam with Nesterov momentum and a momentum schedule, torch's rule::

        mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay))      (mu_prod = mu_1 ... mu_t)
        m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g^2
        denom = sqrt(v / (1 - beta2^t)) + eps
        p = p - lr * (1 - mu_t) / (1 - mu_prod) * g / denom
              - lr * mu_{t+1} / (1 - mu_prod * mu_{t+1}) * m / denom

    Weight decay adds ``weight_decay * p`` to ``g``, or with ``decoupled_weight_decay`` scales
    ``p`` by ``1 - lr * weight_decay`` first (NAdamW). State: ``step``, ``mu_product``,
    ``exp_avg``, ``exp_avg_sq``.
    """

    def __init__(self, params, lr: float = 2e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum_decay: float = 4e-3, decoupled_weight_decay: bool = False, maximize: bool = False):
        _check(lr, betas, eps, weight_decay)
        if momentum_decay < 0:
            raise ConvlabError(f"Invalid momentum_decay value: {momentum_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))

    def _update(self, p, grad, state, group):
        xp = backend.array_module(p._data)
        if not state:
            state["step"] = 0
            state["mu_product"] = 1.0
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
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * group["momentum_decay"]))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * group["momentum_decay"]))
        state["mu_product"] *= mu
        mu_product = state["mu_product"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        m += (1 - beta1) * grad
        v *= beta2
        v += (1 - beta2) * grad * grad
        denom = xp.sqrt(v / (1 - beta2**t)) + group["eps"]
        p._data -= lr * (1 - mu) / (1 - mu_product) * grad / denom
        p._data -= lr * mu_next / (1 - mu_product * mu_next) * m / denom
