"""Adam and AdamW: momentum on the gradient and on its square, with bias correction."""

from __future__ import annotations

import math

from .. import backend
from ..validate import ConvlabError
from .optimizer import Optimizer, check_lr, check_options


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), torch's rule (``t`` the step count, from 1)::

        g = g + weight_decay * p                  # L2 penalty (Adam); AdamW decays p instead
        m = beta1 * m + (1 - beta1) * g           # first moment
        v = beta2 * v + (1 - beta2) * g^2         # second moment
        v_hat = max(v_hat, v)  if amsgrad  else  v
        p = p - lr / (1 - beta1^t) * m / (sqrt(v_hat) / sqrt(1 - beta2^t) + eps)

    The two divisions by ``1 - beta^t`` undo the bias of moments that start at zero.
    State: ``step``, ``exp_avg``, ``exp_avg_sq`` (and ``max_exp_avg_sq`` with amsgrad).
    """

    _decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 amsgrad: bool = False, maximize: bool = False):
        check_options(locals())
        check_lr(lr)
        if eps < 0.0:
            raise ConvlabError(f"Invalid epsilon value: {eps}")
        for i, b in enumerate(betas):
            if not 0.0 <= b < 1.0:
                raise ConvlabError(f"Invalid beta parameter at index {i}: {b}")
        if weight_decay < 0.0:
            raise ConvlabError(f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def _update(self, p, grad, state, group):
        xp = backend.array_module(p._data)
        lr, (beta1, beta2), wd = group["lr"], group["betas"], group["weight_decay"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p._data)
            state["exp_avg_sq"] = xp.zeros_like(p._data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(p._data)
        state["step"] += 1
        t = state["step"]
        if wd and self._decoupled:
            p._data *= 1 - lr * wd
        elif wd:
            grad = grad + wd * p._data
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        m += (1 - beta1) * grad
        v *= beta2
        v += (1 - beta2) * grad * grad
        if group["amsgrad"]:
            xp.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        denom = xp.sqrt(v) / math.sqrt(1 - beta2**t) + group["eps"]
        p._data -= (lr / (1 - beta1**t)) * m / denom


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019): instead of adding
    ``weight_decay * p`` to the gradient, shrink the weights directly, ``p = p * (1 - lr * wd)``,
    so the decay is not rescaled by Adam's per-coordinate step size. Default ``weight_decay=1e-2``.
    """

    _decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2,
                 amsgrad: bool = False, maximize: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)
