"""Datasets by name, for the command line: ``fashion-mnist``, ``mnist``, ``kmnist``,
``cifar10``, ``lines``, ``edges`` and ``folder:PATH``."""

from __future__ import annotations

import os

from .cifar import CIFAR10
from .datasets import random_split
from .folder import ImageFolder
from .mnist import KMNIST, MNIST, FashionMNIST
from .synthetic import EdgesDataset, LinesDataset

NAMES = ("fashion-mnist", "mnist", "kmnist", "cifar10", "lines", "edges-orientation", "folder:PATH")
_IDX = {"fashion-mnist": FashionMNIST, "mnist": MNIST, "kmnist": KMNIST}

# per-channel mean/std of the training sets (computed over the training images in [0, 1])
STATS = {
    "fashion-mnist": ((0.2860,), (0.3530,)),
    "mnist": ((0.1307,), (0.3081,)),
    "kmnist": ((0.1918,), (0.3483,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}


def load(name: str, root=None, seed: int = 0):
    """``(train, test, info)`` for the dataset called ``name``.

    ``info`` has ``name``, ``classes``, ``shape`` (C, H, W), ``source`` (where the files are),
    ``mean``/``std`` (None when not known) and ``flip`` (whether left-right mirroring is a
    label-preserving augmentation). Synthetic and folder datasets are split 80/20 into train/test.
    """
    info = {"name": name, "mean": None, "std": None, "flip": False}
    if name in _IDX:
        cls = _IDX[name]
        train, test = cls(root, train=True), cls(root, train=False)
        info.update(source=train.root, flip=name == "fashion-mnist")
    elif name == "cifar10":
        train, test = CIFAR10(root, train=True), CIFAR10(root, train=False)
        info.update(source=train.root, flip=True)
    elif name == "lines":
        full = LinesDataset(n=2000, size=8, seed=seed)
        train, test = random_split(full, [0.8, 0.2], seed=seed)
        info.update(source="built in (seed 000 lesson: horizontal vs vertical lines, 8x8)")
    elif name == "edges-orientation":
        full = EdgesDataset(n=2000, height=8, width=8, seed=seed, target="orientation")
        train, test = random_split(full, [0.8, 0.2], seed=seed)
        info.update(source="built in (seed 002 lesson: vertical vs horizontal edges, 8x8)")
    elif name.startswith("folder:"):
        path = os.path.expanduser(name[len("folder:"):])
        full = ImageFolder(path, size="first")
        train, test = random_split(full, [0.8, 0.2], seed=seed)
        info.update(source=os.path.abspath(path))
    else:
        raise KeyError(f"unknown dataset {name!r}; choose one of {', '.join(NAMES)}")
    sample = train[0][0]
    info.update(classes=list(train.classes), shape=tuple(sample.shape))
    if name in STATS:
        info["mean"], info["std"] = STATS[name]
    return train, test, info


def installed() -> list[dict]:
    """What is installed where: one row per file-backed dataset (``name``, ``path`` or None, ``searched``, ``hint``)."""
    rows = []
    for name, cls in _IDX.items():
        rows.append({"name": name, "path": cls.find(), "searched": cls.search_paths(), "hint": cls.install_hint})
    rows.append({"name": "cifar10", "path": CIFAR10.find(), "searched": CIFAR10.search_paths(),
                 "hint": "Unpack the binary version (cifar-10-binary.tar.gz) into $CONVLAB_DATA/cifar10."})
    return rows
