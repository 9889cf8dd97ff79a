"""``CyclicLR`` (Smith, "Cyclical Learning Rates for Training Neural Networks", 2017), stepped
once per batch, with torch's arguments and update rule."""

from __future__ import annotations

import math

from ... import validate
from ...validate import ConvlabError
from .basic import LRScheduler


def _per_group(value, optimizer, name: str) -> list:
    groups = optimizer.param_groups
    if isinstance(value, (list, tuple)):
        if len(value) != len(groups):
            raise ConvlabError(f"expected {len(groups)} values for {name}, got {len(value)}")
        values = list(value)
    else:
        values = [value] * len(groups)
    return [validate.real(v, "CyclicLR", name) for v in values]


class CyclicLR(LRScheduler):
    """The rate goes from ``base_lr`` up to ``max_lr`` in ``step_size_up`` steps and back down in
    ``step_size_down`` (default: the same), over and over.

    With ``x`` the position in the current cycle (``cycle = floor(1 + t / total)``,
    ``x = 1 + t / total - cycle``, ``total = up + down``) the height is ``x / r`` rising and
    ``(x - 1) / (r - 1)`` falling (``r = up / total``), and
    ``lr = base_lr + (max_lr - base_lr) * height * scale``, where ``scale`` is 1 (``'triangular'``),
    ``1 / 2^(cycle - 1)`` (``'triangular2'``), ``gamma^t`` (``'exp_range'``) or
    ``scale_fn(cycle or t)`` (``scale_mode``). With ``cycle_momentum`` the momentum (or Adam's
    beta1) moves the opposite way: ``max_momentum - (max_momentum - base_momentum) * height * scale``.
    """

    def __init__(self, optimizer, base_lr, max_lr, step_size_up: int = 2000, step_size_down=None,
                 mode: str = "triangular", gamma: float = 1.0, scale_fn=None, scale_mode: str = "cycle",
                 cycle_momentum: bool = True, base_momentum=0.8, max_momentum=0.9, last_epoch: int = -1):
        base_lrs = _per_group(base_lr, optimizer, "base_lr")
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                group["lr"] = lr
        self.max_lrs = _per_group(max_lr, optimizer, "max_lr")
        up = validate.real(step_size_up, "CyclicLR", "step_size_up", min=0.0, min_open=True)
        down = up if step_size_down is None else validate.real(step_size_down, "CyclicLR", "step_size_down", min=0.0)
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        if scale_fn is None:
            validate.choice(mode, ("triangular", "triangular2", "exp_range"), "CyclicLR", "mode")
        elif not callable(scale_fn):
            raise validate.ArgumentTypeError(f"CyclicLR: scale_fn must be callable, got {type(scale_fn).__name__}")
        validate.choice(scale_mode, ("cycle", "iterations"), "CyclicLR", "scale_mode")
        self.mode, self.gamma = mode, validate.real(gamma, "CyclicLR", "gamma")
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode if scale_fn is not None else ("iterations" if mode == "exp_range" else "cycle")
        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ConvlabError("optimizer must support momentum or beta1 with `cycle_momentum` option enabled")
            self.use_beta1 = "betas" in optimizer.defaults
            self.base_momentums = _per_group(base_momentum, optimizer, "base_momentum")
            self.max_momentums = _per_group(max_momentum, optimizer, "max_momentum")
            if last_epoch == -1:
                for hi, lo, group in zip(self.max_momentums, self.base_momentums, optimizer.param_groups):
                    self._set_momentum(group, hi)
                    group["max_momentum"], group["base_momentum"] = hi, lo
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def scale_fn(self, x: float) -> float:
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma**x

    def _set_momentum(self, group, value) -> None:
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def get_lr(self):
        t = self.last_epoch
        cycle = math.floor(1 + t / self.total_size)
        x = 1.0 + t / self.total_size - cycle
        height = x / self.step_ratio if x <= self.step_ratio else (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else t)
        lrs = [lo + (hi - lo) * height * scale for lo, hi in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for group, lo, hi in zip(self.optimizer.param_groups, self.base_momentums, self.max_momentums):
                self._set_momentum(group, hi - (hi - lo) * height * scale)
        return lrs

    def state_dict(self) -> dict:  # a custom scale_fn is code, not state
        return {k: v for k, v in super().state_dict().items() if k != "_scale_fn_custom"}
