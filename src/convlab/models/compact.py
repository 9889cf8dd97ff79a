"""The default model of ``convlab train``: :class:`CompactCNN`, a fast 28x28 classifier.

``compactcnn`` (one convolution per stage) is what ``convlab train`` trains with no options;
``compactcnn_deep`` doubles each stage VGG-style and is the best recipe in the README's table.
"""

from __future__ import annotations

from .. import nn
from . import register

__all__ = ["CompactCNN", "compactcnn", "compactcnn_deep"]


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
        self.deep = double  # not "double": that would hide Module.double()
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
        if self.deep:
            x = self.relu(self.bn1b(self.conv1b(x)))
        x = self.relu(self.bn2(self.conv2(self.pool(x))))
        if self.deep:
            x = self.relu(self.bn2b(self.conv2b(x)))
        x = self.pool(x)
        x = self.drop(self.relu(self.fc1(self.flatten(x))))
        return self.fc2(x)


@register("compactcnn", input_size=(1, 28, 28), params=421_738)
def compactcnn(in_channels: int = 1, num_classes: int = 10, width: int = 32, hidden: int = 128,
               dropout: float = 0.25, image_size=28) -> CompactCNN:
    """:class:`CompactCNN`, the default model of ``convlab train``."""
    return CompactCNN(in_channels, num_classes, width, hidden, dropout, image_size)


@register("compactcnn_deep", input_size=(1, 28, 28), params=468_010)
def compactcnn_deep(in_channels: int = 1, num_classes: int = 10, width: int = 32, hidden: int = 128,
                    dropout: float = 0.25, image_size=28) -> CompactCNN:
    """:class:`CompactCNN` with two convolutions per stage (VGG-style)."""
    return CompactCNN(in_channels, num_classes, width, hidden, dropout, image_size, double=True)
