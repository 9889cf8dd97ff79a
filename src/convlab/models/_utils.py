"""Pieces several architectures share: torchvision's weight initialisation schemes."""

from __future__ import annotations

from .. import nn
from ..nn import init


def init_conv_bn(model: nn.Module, conv_mode: str = "fan_out", linear: str | None = None) -> None:
    """The ResNet/VGG/DenseNet/EfficientNet scheme of torchvision.

    Convolutions: He-normal (``kaiming_normal_``, ``mode=conv_mode``, ReLU gain), zero bias;
    batch norm: weight 1, bias 0. Linear layers: ``"normal"`` N(0, 0.01^2) with zero bias (VGG),
    ``"zero_bias"`` keeps torch's default weight and zeroes the bias (DenseNet), ``"uniform"``
    U(-1/sqrt(out), 1/sqrt(out)) with zero bias (EfficientNet), ``None`` torch's default.
    """
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            init.kaiming_normal_(m.weight, mode=conv_mode, nonlinearity="relu")
            if m.bias is not None:
                init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            init.ones_(m.weight)
            init.zeros_(m.bias)
        elif isinstance(m, nn.Linear) and linear is not None:
            if linear == "normal":
                init.normal_(m.weight, 0.0, 0.01)
            elif linear == "uniform":
                bound = 1.0 / m.out_features ** 0.5
                init.uniform_(m.weight, -bound, bound)
            init.zeros_(m.bias)
