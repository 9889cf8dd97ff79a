"""VGG (Simonyan and Zisserman, 2014): stacks of 3x3 convolutions, in torchvision's layout.

Configurations A, B, D, E give VGG-11, 13, 16, 19 (numbers are conv widths, ``M`` a 2x2 max
pool). ``features`` holds the convolutions (with batch norm after each in the ``_bn``
variants), ``avgpool`` adapts to 7x7 so any input from 32x32 up works, ``classifier`` is
4096-4096-classes with dropout. VGG-16: 138,357,544 parameters for 1000 classes.

The CIFAR variants (``vgg11_cifar``, ``vgg16_cifar``) keep the batch-normed ``features`` and
replace the 120M-parameter head by one linear layer on the 512x1x1 map of a 32x32 input, the
usual CIFAR adaptation (as in Liu's pytorch-cifar).
"""

from __future__ import annotations

from .. import nn
from . import register
from ._utils import init_conv_bn

__all__ = [
    "VGG", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
    "vgg11_cifar", "vgg16_cifar",
]

CFGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def make_layers(cfg, in_channels: int = 3, batch_norm: bool = False) -> nn.Sequential:
    """``features`` for a configuration: conv 3x3 pad 1 (+ BN) + ReLU per number, max pool per ``M``."""
    layers = []
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(in_channels, v, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU())
        in_channels = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """VGG with ``features``, ``avgpool`` and ``classifier`` (torchvision's names).

    Args:
        features: the convolutional trunk (:func:`make_layers`).
        num_classes: output logits.
        dropout: dropout before the two hidden linear layers' successors.
        cifar: one ``Linear(512, num_classes)`` head after a global average pool instead of
            the 7x7 pool and 4096-4096 head.

    Shape:
        input ``(N, C, H, W)`` with ``H, W >= 32``; output ``(N, num_classes)``.
    """

    def __init__(self, features: nn.Module, num_classes: int = 1000, dropout: float = 0.5, cifar: bool = False):
        super().__init__()
        self.features = features
        if cifar:
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.classifier = nn.Linear(512, num_classes)
        else:
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(
                nn.Linear(512 * 7 * 7, 4096),
                nn.ReLU(),
                nn.Dropout(p=dropout),
                nn.Linear(4096, 4096),
                nn.ReLU(),
                nn.Dropout(p=dropout),
                nn.Linear(4096, num_classes),
            )
        init_conv_bn(self, linear="normal")

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def _vgg(cfg: str, batch_norm: bool, in_channels: int, num_classes: int, **kwargs) -> VGG:
    return VGG(make_layers(CFGS[cfg], in_channels, batch_norm), num_classes, **kwargs)


def _factory(name: str, cfg: str, batch_norm: bool, params: int, cifar: bool = False):
    default_classes = 10 if cifar else 1000

    def factory(in_channels: int = 3, num_classes: int = default_classes, dropout: float = 0.5) -> VGG:
        return _vgg(cfg, batch_norm, in_channels, num_classes, dropout=dropout, cifar=cifar)

    depth = {"A": 11, "B": 13, "D": 16, "E": 19}[cfg]
    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = (f"VGG-{depth} (configuration {cfg}){' with batch norm' if batch_norm else ''}"
                       f"{', CIFAR head for 32x32 inputs' if cifar else ''}; see :class:`VGG`.")
    return register(name, input_size=(3, 32, 32) if cifar else (3, 224, 224), params=params)(factory)


# torchvision's num_params; the CIFAR variants' counts are for 10 classes
vgg11 = _factory("vgg11", "A", False, 132_863_336)
vgg13 = _factory("vgg13", "B", False, 133_047_848)
vgg16 = _factory("vgg16", "D", False, 138_357_544)
vgg19 = _factory("vgg19", "E", False, 143_667_240)
vgg11_bn = _factory("vgg11_bn", "A", True, 132_868_840)
vgg13_bn = _factory("vgg13_bn", "B", True, 133_053_736)
vgg16_bn = _factory("vgg16_bn", "D", True, 138_365_992)
vgg19_bn = _factory("vgg19_bn", "E", True, 143_678_248)
vgg11_cifar = _factory("vgg11_cifar", "A", True, 9_231_114, cifar=True)
vgg16_cifar = _factory("vgg16_cifar", "D", True, 14_728_266, cifar=True)
