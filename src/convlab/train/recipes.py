"""Recipes: the models and training settings the ``convlab train`` command uses by name.

The default (``convlab train`` with no arguments) is :data:`DEFAULT`: :class:`CompactCNN` on
Fashion-MNIST, AdamW with a one-cycle learning rate, batch 128, a few epochs. It is sized for
the project's target, >= 91% test accuracy in <= 5 minutes on two CPU cores.
"""

from __future__ import annotations

from .. import nn
from ..models import get as _get_model
from ..models import list as _list_models
from ..models import register

DEFAULT = {
    "model": "compactcnn",
    "dataset": "fashion-mnist",
    "epochs": 4,
    "batch_size": 128,
    "optimizer": "adamw",
    "lr": 3e-3,
    "weight_decay": 5e-4,
    "schedule": "onecycle",
    "val_split": None,
}


class CompactCNN(nn.Module):
    """Two conv-BN-ReLU-maxpool stages and a two-layer head: a fast 28x28 classifier.

    ::

        input    C x H x W                      (1 x 28 x 28 for Fashion-MNIST)
        conv1    3x3, pad 1 -> width       BN  ReLU  maxpool 2 -> width x H/2 x W/2
        conv2    3x3, pad 1 -> 2*width     BN  ReLU  maxpool 2 -> 2*width x H/4 x W/4
        fc1      2*width*(H/4)*(W/4) -> hidden   ReLU  dropout
        fc2      hidden -> num_classes

    With ``double=True`` each stage has a second 3x3 conv-BN-ReLU (``conv1b``, ``conv2b``) before
    its pooling, VGG-style (``compactcnn_deep``). The convolutions have no bias (the batch norm's
    shift replaces it). With the defaults it has 421,738 parameters and costs 4.2 M multiply-adds
    per 28x28 image; doubled, 468,010 parameters and 18 M multiply-adds.

    Args:
        in_channels, num_classes: input channels and output logits.
        width: channels of the first stage (the second has twice as many).
        hidden: units of the hidden fully connected layer.
        dropout: dropout probability before the last layer.
        image_size: input height and width (``int`` or ``(h, w)``), which sizes ``fc1``.
        double: two convolutions per stage instead of one.

    Shape:
        input ``(N, in_channels, h, w)``, output ``(N, num_classes)``.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, width: int = 32, hidden: int = 128,
                 dropout: float = 0.25, image_size=28, double: bool = False):
        super().__init__()
        h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        self.double = double
        self.conv1 = nn.Conv2d(in_channels, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        if double:
            self.conv1b = nn.Conv2d(width, width, 3, padding=1, bias=False)
            self.bn1b = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(2 * width)
        if double:
            self.conv2b = nn.Conv2d(2 * width, 2 * width, 3, padding=1, bias=False)
            self.bn2b = nn.BatchNorm2d(2 * width)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(2 * width * (h // 4) * (w // 4), hidden)
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        if self.double:
            x = self.relu(self.bn1b(self.conv1b(x)))
        x = self.relu(self.bn2(self.conv2(self.pool(x))))
        if self.double:
            x = self.relu(self.bn2b(self.conv2b(x)))
        x = self.pool(x)
        x = self.drop(self.relu(self.fc1(self.flatten(x))))
        return self.fc2(x)


if "compactcnn" not in _list_models():
    @register("compactcnn", input_size=(1, 28, 28), params=421_738)
    def compactcnn(in_channels: int = 1, num_classes: int = 10, width: int = 32, hidden: int = 128,
                   dropout: float = 0.25, image_size=28) -> CompactCNN:
        """:class:`CompactCNN`, the default model of ``convlab train``."""
        return CompactCNN(in_channels, num_classes, width, hidden, dropout, image_size)

if "compactcnn_deep" not in _list_models():
    @register("compactcnn_deep", input_size=(1, 28, 28), params=468_010)
    def compactcnn_deep(in_channels: int = 1, num_classes: int = 10, width: int = 32, hidden: int = 128,
                        dropout: float = 0.25, image_size=28) -> CompactCNN:
        """:class:`CompactCNN` with two convolutions per stage (VGG-style)."""
        return CompactCNN(in_channels, num_classes, width, hidden, dropout, image_size, double=True)


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
    raise ValueError(f"unknown optimizer {name!r}; choose sgd, adam or adamw")


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
    raise ValueError(f"unknown schedule {name!r}; choose cosine, onecycle, step or none")
