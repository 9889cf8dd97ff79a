"""AlexNet (Krizhevsky, Sutskever and Hinton, 2012), in torchvision's single-tower layout.

torchvision follows the "one weird trick" variant (Krizhevsky 2014): 64-192-384-256-256
filters, no local response normalisation, an adaptive 6x6 average pool before the classifier
so any input from 63x63 up works. 61,100,840 parameters for 1000 classes.
"""

from __future__ import annotations

from .. import nn
from . import register

__all__ = ["AlexNet", "alexnet"]


class AlexNet(nn.Module):
    """AlexNet: ``features`` (5 convolutions, 3 max pools), ``avgpool`` to 6x6, ``classifier`` (3 linear).

    Shape:
        input ``(N, in_channels, H, W)`` with ``H, W >= 63``; output ``(N, num_classes)``.
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


@register("alexnet", input_size=(3, 224, 224), params=61_100_840)
def alexnet(in_channels: int = 3, num_classes: int = 1000, dropout: float = 0.5) -> AlexNet:
    """AlexNet in torchvision's layout; see :class:`AlexNet`."""
    return AlexNet(in_channels, num_classes, dropout)
