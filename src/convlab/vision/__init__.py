"""A torchvision-style namespace: ``datasets``, ``transforms``, ``utils`` and ``models``, so that
``from torchvision import datasets, transforms`` becomes ``from convlab.vision import datasets, transforms``.

``models`` is convlab's model zoo (resnet18/50, vgg11, ... with torchvision's names and layouts).
"""

from . import datasets, models, transforms, utils

__all__ = ["datasets", "models", "transforms", "utils"]
