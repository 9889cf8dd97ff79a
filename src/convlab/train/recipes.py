"""Recipes: the models and training settings the ``convlab train`` command uses by name.

The default (``convlab train`` with no arguments) is :data:`DEFAULT`: :class:`CompactCNN` on
Fashion-MNIST, AdamW with a one-cycle learning rate, batch 128, label smoothing 0.1, a few
epochs. ``convlab train --recipe NAME`` starts from another entry of :data:`RECIPES`; flags
written on the command line override the recipe's values. Each recipe's numbers (accuracy,
time, the command) are in README.md and benchmarks/README.md.
"""

from __future__ import annotations

from ..models import get as _get_model
from ..models.compact import CompactCNN  # noqa: F401 - the default model, re-exported
from ..validate import ConvlabError

# the settings a recipe fixes, with their values when a recipe leaves one out (the flags' own defaults)
BASE = {
    "model": "compactcnn", "dataset": "fashion-mnist", "epochs": 4, "batch_size": 128, "optimizer": "adamw",
    "lr": 3e-3, "weight_decay": 5e-4, "label_smoothing": 0.0, "schedule": "onecycle", "val_split": None,
    "augment": False, "flip": None, "erase": 0.0, "ema": 0.0, "tta": False, "bn_momentum": None, "width": None,
}

DEFAULT = {
    "model": "compactcnn",
    "dataset": "fashion-mnist",
    "epochs": 7,
    "batch_size": 128,
    "optimizer": "adamw",
    "lr": 3e-3,
    "weight_decay": 5e-4,
    "label_smoothing": 0.1,
    "schedule": "onecycle",
    "val_split": None,
}

# name -> (what it is for, its settings over BASE)
RECIPES = {
    "default": ("what convlab train does with no options: quick, validated every epoch", DEFAULT),
    "fast": ("about 4 minutes of training on 2 cores: flips (no crops: the compact CNN underfits them), label "
             "smoothing, flip TTA, all 60,000 training images",
             {**DEFAULT, "epochs": 18, "label_smoothing": 0.1, "augment": False, "flip": True, "tta": True,
              "val_split": 0}),
    "best": ("about 13 minutes of training on 2 cores: the deep compact CNN (two convolutions per stage), flips and "
             "random erasing (no crops), label smoothing, flip TTA, all 60,000 training images; 94.68% at seed 0",
             {**DEFAULT, "model": "compactcnn_deep", "epochs": 20, "label_smoothing": 0.1, "augment": False,
              "flip": True, "erase": 0.25, "tta": True, "val_split": 0}),
}


def recipe(name: str) -> dict:
    """The full settings of recipe ``name`` (:data:`BASE` completed by the recipe's own)."""
    if name not in RECIPES:
        raise ConvlabError(f"unknown recipe {name!r}; choose one of {', '.join(RECIPES)}")
    return {**BASE, **RECIPES[name][1]}


def describe(name: str) -> str:
    """One line: the recipe's settings that differ from the flags' defaults."""
    cfg, parts = recipe(name), []
    for key, value in cfg.items():
        if key in ("dataset",) or value == BASE[key] and key not in ("model", "epochs"):
            continue
        if isinstance(value, bool):
            parts.append(f"--{key.replace('_', '-')}" if value else f"--no-{key.replace('_', '-')}")
        else:
            parts.append(f"--{key.replace('_', '-')} {value:g}" if isinstance(value, float) else
                         f"--{key.replace('_', '-')} {value}")
    return " ".join(parts)


def apply_bn_momentum(model, momentum) -> int:
    """Set every batch-norm layer's running-statistics ``momentum``; returns how many layers."""
    from ..nn.normalization import _BatchNorm

    n = 0
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            m.momentum = momentum
            n += 1
    return n


def build_model(name: str, in_channels: int, num_classes: int, image_size, width: int | None = None):
    """A zoo model and the ``model_spec`` that rebuilds it; ``image_size`` is passed to models that
    take it, and ``width`` (channels of the first stage) to those that have one."""
    import inspect

    from .. import models

    factory = models.info(name).factory
    kwargs = {"in_channels": in_channels, "num_classes": num_classes}
    params = inspect.signature(factory).parameters
    if "image_size" in params:
        kwargs["image_size"] = list(image_size)
    if width is not None:
        if "width" not in params:
            raise ConvlabError(f"--width {width}: model {name} has no width to choose (compactcnn and compactcnn_deep have)")
        kwargs["width"] = int(width)
    return _get_model(name, **kwargs), {"name": name, "kwargs": kwargs}


def build_optimizer(name: str, params, lr: float, weight_decay: float = 0.0, momentum: float = 0.9):
    from .. import optim

    name = name.lower()
    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=momentum > 0)
    if name == "adam":
        return optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise ConvlabError(f"unknown optimizer {name!r}; choose sgd, adam or adamw")


def build_scheduler(name: str, optimizer, lr: float, epochs: int, steps_per_epoch: int):
    """The scheduler (or None) for ``cosine``, ``onecycle``, ``linear``, ``step`` or ``none``."""
    from ..optim import lr_scheduler as sch

    name = (name or "none").lower()
    if name == "none":
        return None
    if name == "cosine":
        return sch.CosineAnnealingLR(optimizer, T_max=max(1, epochs))
    if name == "onecycle":
        return sch.OneCycleLR(optimizer, max_lr=lr, total_steps=max(1, epochs * steps_per_epoch))
    if name == "linear":  # one cycle with straight lines: up for the first 30% of the steps, then down to ~0
        return sch.OneCycleLR(optimizer, max_lr=lr, total_steps=max(1, epochs * steps_per_epoch), anneal_strategy="linear")
    if name == "step":
        return sch.StepLR(optimizer, step_size=max(1, epochs // 3 or 1), gamma=0.1)
    raise ConvlabError(f"unknown schedule {name!r}; choose cosine, onecycle, linear, step or none")
