"""LeNet-5 (LeCun, Bottou, Bengio and Haffner, 1998), adapted to 28x28 inputs as is usual.

The original read 32x32 images; MNIST-size inputs get ``padding=2`` on the first convolution
instead, which gives the same 28x28 -> 14x14 -> 10x10 -> 5x5 geometry::

    input    1x28x28
    conv1    5x5, pad 2 -> 6x28x28   act   maxpool 2 -> 6x14x14
    conv2    5x5        -> 16x10x10  act   maxpool 2 -> 16x5x5
    fc1      400 -> 120  act
    fc2      120 -> 84   act
    fc3      84 -> num_classes

Choices, stated: ReLU by default (``activation="tanh"`` gives the 1998 squashing function)
and max pooling in place of the paper's trainable average subsampling; every ``conv2`` filter
sees all six ``conv1`` maps (the paper's sparse connection table is dropped, as everyone does).
61,706 parameters for 1 input channel and 10 classes. Parameter names follow the PyTorch
tutorials' LeNet: ``conv1``, ``conv2``, ``fc1``, ``fc2``, ``fc3``.
"""

from __future__ import annotations

from .. import nn
from ..validate import ConvlabError
from . import register

__all__ = ["LeNet5", "lenet5"]


class LeNet5(nn.Module):
    """LeNet-5 for 28x28 inputs (see the module docstring).

    Args:
        in_channels: input channels (1 for MNIST / Fashion-MNIST).
        num_classes: output logits.
        activation: ``"relu"`` (default) or ``"tanh"``.

    Shape:
        input ``(N, in_channels, 28, 28)``, output ``(N, num_classes)``.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, activation: str = "relu"):
        super().__init__()
        acts = {"relu": nn.ReLU, "tanh": nn.Tanh}
        if activation not in acts:
            raise ConvlabError(f"LeNet5: activation must be 'relu' or 'tanh', got {activation!r}")
        self.conv1 = nn.Conv2d(in_channels, 6, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.pool = nn.MaxPool2d(2, 2)
        self.act = acts[activation]()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = self.pool(self.act(self.conv1(x)))  # (N, 6, 14, 14)
        x = self.pool(self.act(self.conv2(x)))  # (N, 16, 5, 5)
        x = self.flatten(x)  # (N, 400)
        x = self.act(self.fc1(x))
        x = self.act(self.fc2(x))
        return self.fc3(x)


@register("lenet5", input_size=(1, 28, 28), params=61_706)
def lenet5(in_channels: int = 1, num_classes: int = 10, activation: str = "relu") -> LeNet5:
    """LeNet-5 for 28x28 inputs; see :class:`LeNet5`."""
    return LeNet5(in_channels, num_classes, activation)
