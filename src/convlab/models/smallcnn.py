"""Seed 003's networks, exactly as written there (section 2.8): ``SmallCNN`` and ``ResBlock``.

``SmallCNN`` is two conv-BN-ReLU-maxpool stages and a two-layer head for 32x32 inputs
(CIFAR-size); its ``fc1`` expects ``64 * 8 * 8`` features, so other sizes fail with a shape
error. ``ResBlock`` is the basic residual block ``relu(bn2(conv2(relu(bn1(conv1(x))))) + x)``
with the seed's short names ``c1, b1, c2, b2``. Parameter names are the seed's, so the seed's
torch code and these classes exchange state dicts unchanged.
"""

from __future__ import annotations

from .. import nn
from ..math import relu
from . import register

__all__ = ["SmallCNN", "ResBlock", "smallcnn"]


class SmallCNN(nn.Module):
    """Seed 003's CIFAR CNN: 2 x (conv 3x3 -> BN -> ReLU -> maxpool 2), fc 4096 -> 128 -> classes.

    Args:
        num_classes: output logits (first, as in the seed: ``SmallCNN(10)``).
        in_channels: input channels (3 in the seed).

    Shape:
        input ``(N, in_channels, 32, 32)``, output ``(N, num_classes)``.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 32, kernel_size=3, padding=1)  # (B,32,32,32)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1)  # (B,64,32,32)
        self.pool = nn.MaxPool2d(2, 2)  # halves H,W
        self.bn1 = nn.BatchNorm2d(32)
        self.bn2 = nn.BatchNorm2d(64)
        self.fc1 = nn.Linear(64 * 8 * 8, 128)
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(128, num_classes)

    def forward(self, x):
        x = self.pool(relu(self.bn1(self.conv1(x))))  # (B,32,16,16)
        x = self.pool(relu(self.bn2(self.conv2(x))))  # (B,64,8,8)
        x = x.flatten(1)  # (B, 4096)
        x = self.drop(relu(self.fc1(x)))
        return self.fc2(x)  # logits -> use CrossEntropyLoss


class ResBlock(nn.Module):
    """Seed 003's residual block on ``c`` channels: ``relu(b2(c2(relu(b1(c1(x))))) + x)``.

    Shape:
        input and output ``(N, c, H, W)``.
    """

    def __init__(self, c: int):
        super().__init__()
        self.c1 = nn.Conv2d(c, c, 3, padding=1)
        self.b1 = nn.BatchNorm2d(c)
        self.c2 = nn.Conv2d(c, c, 3, padding=1)
        self.b2 = nn.BatchNorm2d(c)

    def forward(self, x):
        out = relu(self.b1(self.c1(x)))
        out = self.b2(self.c2(out))
        return relu(out + x)  # the skip connection


@register("smallcnn", input_size=(3, 32, 32), params=545_290)
def smallcnn(in_channels: int = 3, num_classes: int = 10) -> SmallCNN:
    """Seed 003's SmallCNN for 32x32 inputs; see :class:`SmallCNN`."""
    return SmallCNN(num_classes=num_classes, in_channels=in_channels)
