"""GoogLeNet / Inception v1 (Szegedy et al., 2014) in torchvision's layout, without auxiliary heads.

An Inception block runs four branches on the same input and concatenates them along channels:
a 1x1 convolution; 1x1 *reduction* then 3x3; 1x1 reduction then a second 3x3 (torchvision's
layout, where the paper had 5x5: its documented "known bug", kept so weights and parameter
counts match); 3x3 max pool then a 1x1 projection. The 1x1 reductions are what make the block
cheap: they shrink the channels before the expensive spatial convolutions.

Every convolution is ``BasicConv2d``: conv (no bias) -> BatchNorm (eps 0.001) -> ReLU. Max pools
use ``ceil_mode=True``, so the smallest input is 15x15 (torchvision's documented ``min_size``).
6,624,904 parameters for 1000 classes.
"""

from __future__ import annotations

from .. import nn
from ..math import cat, relu
from ..nn import init
from . import register

__all__ = ["BasicConv2d", "Inception", "GoogLeNet", "googlenet"]


class BasicConv2d(nn.Module):
    """``relu(bn(conv(x)))`` with a bias-free convolution and ``BatchNorm2d(eps=0.001)``."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """Four parallel branches concatenated: ``ch1x1 + ch3x3 + ch5x5 + pool_proj`` output channels."""

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            BasicConv2d(in_channels, ch3x3red, kernel_size=1),
            BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1),
        )
        self.branch3 = nn.Sequential(
            BasicConv2d(in_channels, ch5x5red, kernel_size=1),
            BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1),  # 3x3, as torchvision
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            BasicConv2d(in_channels, pool_proj, kernel_size=1),
        )

    def forward(self, x):
        return cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class GoogLeNet(nn.Module):
    """Inception v1: stem, inception 3a-3b, 4a-4e, 5a-5b, global average pool, dropout, ``fc``.

    Shape:
        input ``(N, in_channels, H, W)`` with ``H, W >= 15``; output ``(N, num_classes)``.
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 1000, dropout: float = 0.2):
        super().__init__()
        self.conv1 = BasicConv2d(in_channels, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)

        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)

        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(1024, num_classes)

        # torchvision: truncated normal, std 0.01, cut at +-2 (absolute, i.e. +-200 std: no cut in practice)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
            elif isinstance(m, nn.BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)

    def forward(self, x):
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        for block in (self.inception4a, self.inception4b, self.inception4c, self.inception4d, self.inception4e):
            x = block(x)
        x = self.maxpool4(x)
        x = self.inception5b(self.inception5a(x))
        x = self.avgpool(x).flatten(1)
        return self.fc(self.dropout(x))


@register("googlenet", input_size=(3, 224, 224), params=6_624_904)
def googlenet(in_channels: int = 3, num_classes: int = 1000, dropout: float = 0.2) -> GoogLeNet:
    """GoogLeNet (Inception v1) without auxiliary heads; see :class:`GoogLeNet`."""
    return GoogLeNet(in_channels, num_classes, dropout)
