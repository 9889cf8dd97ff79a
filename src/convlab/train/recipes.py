"""Recipes: the models and training settings the ``convlab train`` command uses by name.

The default (``convlab train`` with no arguments) is :data:`DEFAULT`: :class:`CompactCNN` on
Fashion-MNIST, AdamW with a one-cycle learning rate, batch 128, a few epochs. It is sized for
the project's target, >= 91% test accuracy in <= 5 minutes on two CPU cores.
"""

from __future__ import annotations

from ..models import get as _get_model
from ..models.compact import CompactCNN  # noqa: F401 - the default model, re-exported
from ..validate import ConvlabError

DEFAULT = {
    "model": "compactcnn",
    "dataset": "fashion-mnist",
    "epochs": 4,
    "batch_size": 128,
    "optimizer": "adamw",
    "lr": 3e-3,
    "weight_decay": 5e-4,
    "label_smoothing": 0.0,
    "schedule": "onecycle",
    "val_split": None,
}


def build_model(name: str, in_channels: int, num_classes: int, image_size):
    """A zoo model and the ``model_spec`` that rebuilds it; ``image_size`` is passed to models that take it."""
    import inspect

    from .. import models

    factory = models.info(name).factory
    kwargs = {"in_channels": in_channels, "num_classes": num_classes}
    if "image_size" in inspect.signature(factory).parameters:
        kwargs["image_size"] = list(image_size)
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
    """``(scheduler or None, interval)`` for ``cosine``, ``onecycle``, ``step`` or ``none``."""
    from ..optim import lr_scheduler as sch

    name = (name or "none").lower()
    if name == "none":
        return None
    if name == "cosine":
        return sch.CosineAnnealingLR(optimizer, T_max=max(1, epochs))
    if name == "onecycle":
        return sch.OneCycleLR(optimizer, max_lr=lr, total_steps=max(1, epochs * steps_per_epoch))
    if name == "step":
        return sch.StepLR(optimizer, step_size=max(1, epochs // 3 or 1), gamma=0.1)
    raise ConvlabError(f"unknown schedule {name!r}; choose cosine, onecycle, step or none")
