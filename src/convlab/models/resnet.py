"""ResNets (He, Zhang, Ren and Sun, 2015): residual blocks ``relu(F(x) + shortcut(x))``.

ImageNet layout (``resnet18/34/50/101``), torchvision's names: a 7x7/2 ``conv1``, ``bn1``,
3x3/2 max pool, four stages ``layer1..layer4`` (64, 128, 256, 512 planes; stride 2 from
``layer2`` on), global average pool, ``fc``. ResNet-18/34 use :class:`BasicBlock` (two 3x3),
ResNet-50/101 :class:`Bottleneck` (1x1 reduce, 3x3, 1x1 expand x4, with the stride on the 3x3
as torchvision's "v1.5"). Where the shape changes, ``downsample`` is a 1x1 strided convolution
and batch norm (``downsample.0``, ``downsample.1``). ResNet-18: 11,689,512 parameters,
ResNet-50: 25,557,032 (1000 classes).

CIFAR layout (``resnet20/32/44/56/110``, section 4.2 of the paper): a 3x3 ``conv1`` with 16
filters, three stages of ``n = (depth - 2) / 6`` basic blocks with 16, 32, 64 planes, global
average pool, ``fc``. Shortcuts use **option A** by default, as the paper's CIFAR networks
did: where the shape changes, the identity is subsampled (stride 2) and zero-padded to the new
width, adding no parameters (ResNet-20: 269,722 parameters, the paper's "0.27M").
``shortcut="B"`` uses 1x1 projections instead.
"""

from __future__ import annotations

import numpy as np

from .. import nn
from ..math import pad
from ..nn import _fastpath
from ..tensor import _leaf
from ..validate import ConvlabError
from . import _inplace, register
from ._utils import init_conv_bn

__all__ = [
    "BasicBlock", "Bottleneck", "ResNet", "CifarResNet",
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet20", "resnet32", "resnet44", "resnet56", "resnet110",
]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """``relu(bn2(conv2(relu(bn1(conv1(x))))) + downsample(x))``, two 3x3 convolutions."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        # without a graph, each conv's output is overwritten by its batch norm, the shortcut and
        # the ReLU (models/_inplace.py); otherwise the layers one by one
        out = _inplace.conv_bn(x, self.conv1, self.bn1, self.relu)
        identity = x if self.downsample is None else self.downsample(x)
        return _inplace.conv_bn(out, self.conv2, self.bn2, self.relu, shortcut=identity)


class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 (strided) -> 1x1 expand (x4), plus the shortcut."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU()
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        out = _inplace.conv_bn(x, self.conv1, self.bn1, self.relu)
        out = _inplace.conv_bn(out, self.conv2, self.bn2, self.relu)
        identity = x if self.downsample is None else self.downsample(x)
        return _inplace.conv_bn(out, self.conv3, self.bn3, self.relu, shortcut=identity)


class ShortcutA(nn.Module):
    """Option A shortcut: keep every ``stride``-th pixel and zero-pad the channels to ``out_channels``.

    Parameter-free, so a CIFAR ResNet's state dict has no ``downsample`` entries.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 2):
        super().__init__()
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride

    def forward(self, x):
        extra = self.out_channels - self.in_channels
        k = _fastpath.key(self, x, self.stride, extra)
        if _fastpath.recall(self, k):  # no graph, the same shapes as before: the copy into zeros directly
            xd = x._data[:, :, :: self.stride, :: self.stride]
            out = np.zeros((xd.shape[0], xd.shape[1] + extra) + xd.shape[2:], dtype=xd.dtype)
            out[:, extra // 2:extra // 2 + xd.shape[1]] = xd
            return _leaf(out)
        y = pad(x[:, :, :: self.stride, :: self.stride], (0, 0, 0, 0, extra // 2, extra - extra // 2))
        if k is not None and x.ndim == 4:
            _fastpath.remember(self, k)
        return y

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"


def _make_layer(block, inplanes: int, planes: int, blocks: int, stride: int, shortcut: str = "B"):
    """A stage of ``blocks`` blocks; the first one strides and changes width. Returns (stage, outplanes)."""
    out = planes * block.expansion
    downsample = None
    if stride != 1 or inplanes != out:
        if shortcut == "A":
            downsample = ShortcutA(inplanes, out, stride)
        else:
            downsample = nn.Sequential(conv1x1(inplanes, out, stride), nn.BatchNorm2d(out))
    layers = [block(inplanes, planes, stride, downsample)]
    layers += [block(out, planes) for _ in range(1, blocks)]
    return nn.Sequential(*layers), out


class ResNet(nn.Module):
    """ImageNet ResNet (torchvision layout). ``layers``: blocks per stage, e.g. ``[2, 2, 2, 2]``.

    Shape:
        input ``(N, in_channels, H, W)``, any ``H, W >= 1``; output ``(N, num_classes)``.
    """

    def __init__(self, block, layers, in_channels: int = 3, num_classes: int = 1000):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        planes = 64
        self.layer1, planes = _make_layer(block, planes, 64, layers[0], 1)
        self.layer2, planes = _make_layer(block, planes, 128, layers[1], 2)
        self.layer3, planes = _make_layer(block, planes, 256, layers[2], 2)
        self.layer4, planes = _make_layer(block, planes, 512, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(planes, num_classes)
        init_conv_bn(self)

    def forward(self, x):
        x = self.maxpool(_inplace.conv_bn(x, self.conv1, self.bn1, self.relu))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


class CifarResNet(nn.Module):
    """He et al.'s CIFAR ResNet of depth ``6n + 2`` (section 4.2), option A shortcuts by default.

    Shape:
        input ``(N, in_channels, H, W)`` (32x32 for CIFAR; any ``H, W >= 1``); output ``(N, num_classes)``.
    """

    def __init__(self, depth: int = 20, in_channels: int = 3, num_classes: int = 10, shortcut: str = "A"):
        super().__init__()
        if (depth - 2) % 6 or depth < 8:
            raise ConvlabError(f"CifarResNet: depth must be 6n + 2 (20, 32, 44, 56, 110, ...), got {depth}")
        if shortcut not in ("A", "B"):
            raise ConvlabError(f"CifarResNet: shortcut must be 'A' (zero-padding) or 'B' (projection), got {shortcut!r}")
        n = (depth - 2) // 6
        self.conv1 = conv3x3(in_channels, 16)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        self.layer1, planes = _make_layer(BasicBlock, 16, 16, n, 1, shortcut)
        self.layer2, planes = _make_layer(BasicBlock, planes, 32, n, 2, shortcut)
        self.layer3, planes = _make_layer(BasicBlock, planes, 64, n, 2, shortcut)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(planes, num_classes)
        init_conv_bn(self, conv_mode="fan_in")

    def forward(self, x):
        x = _inplace.conv_bn(x, self.conv1, self.bn1, self.relu)
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.avgpool(x).flatten(1))


def _imagenet(name: str, block, layers, params: int):
    def factory(in_channels: int = 3, num_classes: int = 1000) -> ResNet:
        return ResNet(block, layers, in_channels, num_classes)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = f"ResNet-{name[6:]} (ImageNet layout, {block.__name__} x {layers}); see :class:`ResNet`."
    return register(name, input_size=(3, 224, 224), params=params)(factory)


def _cifar(depth: int, params: int):
    name = f"resnet{depth}"

    def factory(in_channels: int = 3, num_classes: int = 10, shortcut: str = "A") -> CifarResNet:
        return CifarResNet(depth, in_channels, num_classes, shortcut)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = f"ResNet-{depth} for CIFAR (He et al. 2015, section 4.2); see :class:`CifarResNet`."
    return register(name, input_size=(3, 32, 32), params=params)(factory)


# parameter counts: torchvision's num_params for ImageNet; CIFAR ones with option A shortcuts, 10 classes
resnet18 = _imagenet("resnet18", BasicBlock, [2, 2, 2, 2], 11_689_512)
resnet34 = _imagenet("resnet34", BasicBlock, [3, 4, 6, 3], 21_797_672)
resnet50 = _imagenet("resnet50", Bottleneck, [3, 4, 6, 3], 25_557_032)
resnet101 = _imagenet("resnet101", Bottleneck, [3, 4, 23, 3], 44_549_160)
resnet20 = _cifar(20, 269_722)
resnet32 = _cifar(32, 464_154)
resnet44 = _cifar(44, 658_586)
resnet56 = _cifar(56, 853_018)
resnet110 = _cifar(110, 1_727_962)
