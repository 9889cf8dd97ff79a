"""DenseNet (Huang, Liu, van der Maaten and Weinberger, 2017) in torchvision's layout.

Inside a dense block every layer receives the concatenation of all earlier feature maps and
adds ``growth_rate`` new ones: ``x_l = H_l([x_0, x_1, ..., x_{l-1}])``. Each ``H_l`` is the
"BC" bottleneck ``BN-ReLU-conv1x1 (bn_size * k) - BN-ReLU-conv3x3 (k)``. Between blocks a
transition ``BN-ReLU-conv1x1-avgpool2`` halves the channels (compression 0.5) and the size.

``densenet121``: the ImageNet network (k=32, blocks 6-12-24-16, 7x7/2 stem and max pool),
7,978,856 parameters for 1000 classes; smallest input 29x29 (torchvision's ``min_size``).
``densenet_bc_100``: the paper's CIFAR DenseNet-BC (L=100, k=12): a 3x3 stem with 2k filters,
three blocks of 16 bottleneck layers, about 0.8M parameters (Huang et al. 2017, Table 2).
Names follow torchvision: ``features.conv0``, ``features.denseblock1.denselayer1.norm1``,
``features.transition1.conv``, ``features.norm5``, ``classifier``.
"""

from __future__ import annotations

from collections import OrderedDict

from .. import nn
from ..math import cat, relu
from ..nn import init
from . import register

__all__ = ["DenseNet", "densenet121", "densenet_bc_100"]


class _DenseLayer(nn.Module):
    """BN-ReLU-conv1x1 to ``bn_size * growth_rate`` channels, BN-ReLU-conv3x3 to ``growth_rate``."""

    def __init__(self, num_input_features: int, growth_rate: int, bn_size: int, drop_rate: float):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, kernel_size=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, padding=1, bias=False)
        self.dropout = nn.Dropout(drop_rate) if drop_rate > 0 else None

    def forward(self, features):
        x = cat(features, 1)  # every earlier feature map, stacked along channels
        x = self.conv1(self.relu1(self.norm1(x)))
        x = self.conv2(self.relu2(self.norm2(x)))
        return x if self.dropout is None else self.dropout(x)


class _DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers (``denselayer1``, ...); output = input + all new maps, concatenated."""

    def __init__(self, num_layers: int, num_input_features: int, bn_size: int, growth_rate: int, drop_rate: float):
        super().__init__()
        for i in range(num_layers):
            layer = _DenseLayer(num_input_features + i * growth_rate, growth_rate, bn_size, drop_rate)
            self.add_module(f"denselayer{i + 1}", layer)

    def forward(self, x):
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return cat(features, 1)


class _Transition(nn.Sequential):
    """BN-ReLU-conv1x1 (compression) then 2x2 average pooling."""

    def __init__(self, num_input_features: int, num_output_features: int):
        super().__init__(OrderedDict([
            ("norm", nn.BatchNorm2d(num_input_features)),
            ("relu", nn.ReLU()),
            ("conv", nn.Conv2d(num_input_features, num_output_features, kernel_size=1, bias=False)),
            ("pool", nn.AvgPool2d(kernel_size=2, stride=2)),
        ]))


class DenseNet(nn.Module):
    """DenseNet-BC.

    Args:
        growth_rate: ``k``, new feature maps per layer.
        block_config: layers per dense block.
        num_init_features: channels of the stem convolution.
        bn_size: bottleneck width factor (``bn_size * k`` channels before the 3x3).
        drop_rate: dropout after each layer (0 disables it).
        compression: channel factor of each transition.
        small_inputs: CIFAR stem (one 3x3 convolution) instead of ImageNet's 7x7/2 + max pool.

    Shape:
        input ``(N, in_channels, H, W)`` (``H, W >= 29`` for the ImageNet stem with 4 blocks);
        output ``(N, num_classes)``.
    """

    def __init__(self, growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, bn_size=4, drop_rate=0.0,
                 in_channels=3, num_classes=1000, compression=0.5, small_inputs=False):
        super().__init__()
        if small_inputs:
            stem = [("conv0", nn.Conv2d(in_channels, num_init_features, kernel_size=3, padding=1, bias=False))]
        else:
            stem = [
                ("conv0", nn.Conv2d(in_channels, num_init_features, kernel_size=7, stride=2, padding=3, bias=False)),
                ("norm0", nn.BatchNorm2d(num_init_features)),
                ("relu0", nn.ReLU()),
                ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
            ]
        self.features = nn.Sequential(OrderedDict(stem))
        channels = num_init_features
        for i, num_layers in enumerate(block_config):
            self.features.add_module(f"denseblock{i + 1}", _DenseBlock(num_layers, channels, bn_size, growth_rate, drop_rate))
            channels += num_layers * growth_rate
            if i != len(block_config) - 1:
                out = int(channels * compression)
                self.features.add_module(f"transition{i + 1}", _Transition(channels, out))
                channels = out
        self.features.add_module("norm5", nn.BatchNorm2d(channels))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Linear(channels, num_classes)
        for m in self.modules():  # torchvision: He-normal (fan_in) convs, BN 1/0, zero linear bias
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                init.zeros_(m.bias)

    def forward(self, x):
        x = relu(self.features(x))
        return self.classifier(self.avgpool(x).flatten(1))


@register("densenet121", input_size=(3, 224, 224), params=7_978_856)
def densenet121(in_channels: int = 3, num_classes: int = 1000, drop_rate: float = 0.0) -> DenseNet:
    """DenseNet-121 (k=32, blocks 6-12-24-16); see :class:`DenseNet`."""
    return DenseNet(32, (6, 12, 24, 16), 64, 4, drop_rate, in_channels, num_classes)


@register("densenet_bc_100", input_size=(3, 32, 32), params=769_162)
def densenet_bc_100(in_channels: int = 3, num_classes: int = 10, drop_rate: float = 0.0) -> DenseNet:
    """CIFAR DenseNet-BC with L=100, k=12 (three blocks of 16 bottleneck layers); see :class:`DenseNet`."""
    return DenseNet(12, (16, 16, 16), 24, 4, drop_rate, in_channels, num_classes, small_inputs=True)
