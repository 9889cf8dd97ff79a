"""Learning-rate schedulers with torch's names, arguments and update rules.

Call ``scheduler.step()`` once per epoch (or per batch for ``OneCycleLR``), after
``optimizer.step()``. Each scheduler writes ``group["lr"]`` of its optimizer's parameter
groups; ``get_last_lr()`` returns the values it last wrote.

Like torch, the epoch-based schedulers compute the new rate from the current one
("chainable" form), so two schedulers can be stacked on one optimizer; their closed forms are
given in each docstring. ``state_dict()`` holds plain JSON-able values (numbers, lists,
strings) and never the optimizer.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter

from ... import validate
from ...validate import ConvlabError
from ..optimizer import Optimizer

# scheduler options checked before the first step: (validator, extra arguments)
_OPTIONS = {
    "step_size": (validate.positive_int, ()), "T_max": (validate.positive_int, ()),
    "total_iters": (validate.positive_int, ()), "patience": (validate.nonneg_int, ()),
    "cooldown": (validate.nonneg_int, ()), "gamma": (validate.nonneg, ()), "eta_min": (validate.nonneg, ()),
    "threshold": (validate.nonneg, ()), "eps": (validate.nonneg, ()),
    "start_factor": (validate.real, (0.0, 1.0)), "end_factor": (validate.real, (0.0, 1.0)),
}


def check_options(where: str, options: dict) -> None:
    """Refuse NaN, infinite, wrong-typed or out-of-range scheduler options, by name."""
    for name, (check, extra) in _OPTIONS.items():
        if name in options and options[name] is not None:
            check(options[name], where, name, *extra)
    if "milestones" in options:
        for m in options["milestones"]:
            validate.nonneg_int(m, where, "milestones")
    if "last_epoch" in options:
        validate.integer(options["last_epoch"], where, "last_epoch", min=-1)


class LRScheduler:
    """Base class: keeps ``last_epoch`` (-1 before the first step) and ``base_lrs`` (each
    group's ``initial_lr``); subclasses implement ``get_lr()``."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        check_options(type(self).__name__, {**vars(self), "last_epoch": last_epoch})
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] when resuming an optimizer")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        # the step on construction leaves the rates as they are where torch's does (2.2+: a
        # resumed scheduler must not move the optimizer's restored rate)
        self._is_initial = True
        self.step()
        self._is_initial = False

    def get_lr(self) -> list[float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def step(self, epoch=None) -> None:
        """Advance one epoch and write the new learning rates into the optimizer.

        ``step(epoch)`` (deprecated in torch, still used) jumps to ``epoch``, through the closed
        form where the scheduler has one."""
        self._step_count += 1
        self._update_lr(epoch)

    def _update_lr(self, epoch=None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            values = self._get_closed_form_lr() if hasattr(self, "_get_closed_form_lr") else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _initial_step(self) -> None:
        self._step_count = 0
        self.step()

    def get_last_lr(self) -> list[float]:
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """Every attribute except the optimizer (plain values, JSON-able)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()
                if k not in ("optimizer", "_is_initial")}  # _is_initial: only True inside __init__

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update(state_dict)


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs:
    ``lr = base_lr * gamma ** (epoch // step_size)``."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return [g["lr"] for g in self.optimizer.param_groups]
        return [g["lr"] * self.gamma for g in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [b * self.gamma ** (self.last_epoch // self.step_size) for b in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the rate by ``gamma`` at each epoch in ``milestones``:
    ``lr = base_lr * gamma ** (number of milestones <= epoch)``."""

    def __init__(self, optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        if not (isinstance(milestones, str) or hasattr(milestones, "__iter__")):
            raise validate.ArgumentTypeError(f"MultiStepLR: milestones must be a list of epochs, got {milestones!r}")
        check_options("MultiStepLR", {"milestones": milestones})
        self.milestones, self.gamma = sorted(int(m) for m in milestones), gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        hits = Counter(self.milestones)[self.last_epoch]
        return [g["lr"] * self.gamma**hits for g in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [b * self.gamma ** bisect.bisect_right(self.milestones, self.last_epoch) for b in self.base_lrs]


class LinearLR(LRScheduler):
    """Scale the rate linearly from ``start_factor * base_lr`` to ``end_factor * base_lr`` over
    ``total_iters`` epochs, then hold it (a warm-up when ``start_factor < 1``)."""

    def __init__(self, optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_iters: int = 5,
                 last_epoch: int = -1):
        check_options("LinearLR", dict(start_factor=start_factor, end_factor=end_factor))
        if not 0 < start_factor <= 1 or not 0 <= end_factor <= 1:
            raise ConvlabError("LinearLR: start_factor must be in (0, 1] and end_factor in [0, 1]")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        groups = self.optimizer.param_groups
        if self.last_epoch == 0:
            return [g["lr"] * self.start_factor for g in groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return [g["lr"] for g in groups]
        delta = self.end_factor - self.start_factor
        ratio = 1.0 + delta / (self.total_iters * self.start_factor + (self.last_epoch - 1) * delta)
        return [g["lr"] * ratio for g in groups]

    def _get_closed_form_lr(self):
        frac = min(self.total_iters, self.last_epoch) / self.total_iters
        return [b * (self.start_factor + (self.end_factor - self.start_factor) * frac) for b in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing (Loshchilov & Hutter, 2017) without restarts:
    ``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``
    (past ``T_max`` the cosine continues, rising again, as torch's does)."""

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):  # noqa: N803 - torch's name
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        groups, t, T, lo = self.optimizer.param_groups, self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return [g["lr"] for g in groups]
        if self._step_count == 1 and t > 0:  # resumed at epoch t: closed form
            return [lo + (b - lo) * (1 + math.cos(t * math.pi / T)) / 2 for b in self.base_lrs]
        if (t - 1 - T) % (2 * T) == 0:  # leaving the trough, where the ratio below would divide by 0
            return [g["lr"] + (b - lo) * (1 - math.cos(math.pi / T)) / 2 for g, b in zip(groups, self.base_lrs)]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (g["lr"] - lo) + lo for g in groups]

    def _get_closed_form_lr(self):
        return [self.eta_min + (b - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for b in self.base_lrs]


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin, 2018), stepped once per batch.

    The rate rises from ``max_lr / div_factor`` to ``max_lr`` over the first ``pct_start`` of
    ``total_steps`` (= ``epochs * steps_per_epoch`` if not given), then anneals to
    ``initial_lr / final_div_factor`` (``three_phase`` first returns to the initial rate).
    With ``cycle_momentum``, momentum (or Adam's beta1) moves the opposite way between
    ``max_momentum`` and ``base_momentum``. ``anneal_strategy``: ``'cos'`` or ``'linear'``.
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True, base_momentum=0.85, max_momentum=0.95,
                 div_factor: float = 25.0, final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1):
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ConvlabError("You must define either total_steps OR (epochs AND steps_per_epoch)")
            total_steps = epochs * steps_per_epoch
        if total_steps <= 0:
            raise ConvlabError(f"Expected positive integer total_steps, but got {total_steps}")
        if not 0 <= pct_start <= 1:
            raise ConvlabError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        div_factor = validate.positive(div_factor, "OneCycleLR", "div_factor")
        final_div_factor = validate.positive(final_div_factor, "OneCycleLR", "final_div_factor")
        validate.integer(last_epoch, "OneCycleLR", "last_epoch", -1, total_steps - 1)
        if anneal_strategy not in ("cos", "linear"):
            raise ConvlabError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self.total_steps, self.anneal_strategy = total_steps, anneal_strategy
        self.cycle_momentum = cycle_momentum
        end1 = float(pct_start * total_steps) - 1
        if three_phase:
            self._schedule_phases = [
                {"end_step": end1, "start_lr": "initial_lr", "end_lr": "max_lr",
                 "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": float(2 * pct_start * total_steps) - 2, "start_lr": "max_lr", "end_lr": "initial_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
                {"end_step": total_steps - 1, "start_lr": "initial_lr", "end_lr": "min_lr",
                 "start_momentum": "max_momentum", "end_momentum": "max_momentum"},
            ]
        else:
            self._schedule_phases = [
                {"end_step": end1, "start_lr": "initial_lr", "end_lr": "max_lr",
                 "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": total_steps - 1, "start_lr": "max_lr", "end_lr": "min_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
            ]
        groups = optimizer.param_groups
        max_lrs = self._per_group(max_lr, groups, "max_lr")
        if last_epoch == -1:
            for g, lr in zip(groups, max_lrs):
                g["initial_lr"] = lr / div_factor
                g["max_lr"] = lr
                g["min_lr"] = g["initial_lr"] / final_div_factor
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ConvlabError("optimizer must support momentum or beta1 with `cycle_momentum` option enabled")
            self.use_beta1 = "betas" in optimizer.defaults
            if last_epoch == -1:
                for g, lo, hi in zip(groups, self._per_group(base_momentum, groups, "base_momentum"),
                                     self._per_group(max_momentum, groups, "max_momentum")):
                    self._set_momentum(g, hi)
                    g["max_momentum"], g["base_momentum"] = hi, lo
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _per_group(value, groups, name):
        if isinstance(value, (list, tuple)):
            if len(value) != len(groups):
                raise ConvlabError(f"expected {len(groups)} values for {name}, got {len(value)}")
            return [validate.real(v, "OneCycleLR", name) for v in value]
        return [validate.real(value, "OneCycleLR", name)] * len(groups)

    def _set_momentum(self, group, value):
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def _anneal(self, start, end, pct):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        step = self.last_epoch
        if step > self.total_steps:
            raise ConvlabError(f"Tried to step {step} times. The specified number of total steps is {self.total_steps}")
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step <= end_step or i == len(self._schedule_phases) - 1:
                    pct = (step - start_step) / (end_step - start_step)
                    lr = self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct)
                    if self.cycle_momentum:
                        momentum = self._anneal(group[phase["start_momentum"]], group[phase["end_momentum"]], pct)
                    break
                start_step = phase["end_step"]
            lrs.append(lr)
            if self.cycle_momentum:
                self._set_momentum(group, momentum)
        return lrs


class ReduceLROnPlateau:
    """Divide the rate by ``1/factor`` when a metric has stopped improving for ``patience`` epochs.

    ``step(metric)`` once per epoch with, e.g., the validation loss (``mode='min'``) or accuracy
    (``mode='max'``). Improvement means beating the best value by ``threshold`` (relative, or
    absolute with ``threshold_mode='abs'``). After a reduction, ``cooldown`` epochs pass before
    counting bad epochs again; rates never go below ``min_lr`` and changes smaller than ``eps``
    are skipped.
    """

    def __init__(self, optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10, threshold: float = 1e-4,
                 threshold_mode: str = "rel", cooldown: int = 0, min_lr=0.0, eps: float = 1e-8):
        validate.real(factor, "ReduceLROnPlateau", "factor")
        check_options("ReduceLROnPlateau", dict(patience=patience, threshold=threshold,
                                                cooldown=cooldown, eps=eps))
        for m in (min_lr if isinstance(min_lr, (list, tuple)) else [min_lr]):
            validate.nonneg(m, "ReduceLROnPlateau", "min_lr")
        if factor >= 1.0:
            raise ConvlabError("Factor should be < 1.0.")
        if mode not in ("min", "max"):
            raise ConvlabError(f"mode {mode} is unknown!")
        if threshold_mode not in ("rel", "abs"):
            raise ConvlabError(f"threshold mode {threshold_mode} is unknown!")
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        groups = optimizer.param_groups
        self.min_lrs = list(min_lr) if isinstance(min_lr, (list, tuple)) else [min_lr] * len(groups)
        if len(self.min_lrs) != len(groups):
            raise ConvlabError(f"expected {len(groups)} min_lrs, got {len(self.min_lrs)}")
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown, self.eps = cooldown, eps
        self.cooldown_counter, self.num_bad_epochs = 0, 0
        self.best = math.inf if mode == "min" else -math.inf
        self.last_epoch = 0
        self._last_lr = [g["lr"] for g in groups]

    def is_better(self, a: float, best: float) -> bool:
        if self.mode == "min":
            return a < (best * (1.0 - self.threshold) if self.threshold_mode == "rel" else best - self.threshold)
        return a > (best * (self.threshold + 1.0) if self.threshold_mode == "rel" else best + self.threshold)

    def step(self, metrics) -> None:
        current = float(metrics)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
                old = float(group["lr"])
                new = max(old * self.factor, min_lr)
                if old - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        return list(self._last_lr)

    def state_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update(state_dict)
