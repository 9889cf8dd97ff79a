"""EfficientNet-B0 (Tan and Le, 2019) in torchvision's layout and names.

The network is a stack of MBConv blocks (the inverted residual of MobileNetV2): a 1x1
*expansion* to ``expand_ratio`` times the channels, a depthwise kxk convolution (one filter
per channel, ``groups = channels``), squeeze-and-excitation (global pool -> 1x1 -> SiLU -> 1x1
-> sigmoid, a per-channel gate), and a linear 1x1 *projection* back down. Blocks that keep the
shape add their input back, and during training that residual branch is dropped per sample
with a probability growing linearly with depth to 0.2 (stochastic depth, Huang et al. 2016).
Activations are SiLU, ``x * sigmoid(x)``.

Names follow torchvision: ``features.0`` is the stem (``features.0.0`` conv, ``features.0.1``
BN), ``features.1`` .. ``features.7`` the seven stages of MBConv blocks
(``features.2.0.block.1.0.weight`` is the depthwise conv of stage 2's first block),
``features.8`` the 1x1 head convolution, ``classifier.1`` the final linear layer.
5,288,548 parameters for 1000 classes; any input from 1x1 up works.
"""

from __future__ import annotations

from .. import nn
from ..tensor import default_generator, from_numpy
from ..validate import ConvlabError
from . import register
from ._utils import init_conv_bn

__all__ = ["StochasticDepth", "SqueezeExcitation", "MBConv", "EfficientNet", "efficientnet_b0"]

# expand_ratio, kernel, stride, input_channels, out_channels, num_layers  (Table 1 of the paper)
B0_STAGES = [
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
]


class StochasticDepth(nn.Module):
    """Drop the whole residual branch of each sample with probability ``p`` while training.

    ``mode="row"`` draws one keep/drop decision per sample, ``"batch"`` one for the batch; kept
    branches are scaled by ``1 / (1 - p)`` so the expectation is unchanged. Identity in eval mode.
    """

    def __init__(self, p: float, mode: str = "row"):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ConvlabError(f"StochasticDepth: drop probability must be in [0, 1], got {p}")
        if mode not in ("row", "batch"):
            raise ConvlabError(f"StochasticDepth: mode must be 'row' or 'batch', got {mode!r}")
        self.p, self.mode = p, mode

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        shape = (x.shape[0],) + (1,) * (x.ndim - 1) if self.mode == "row" else (1,) * x.ndim
        keep = (default_generator().random(shape) < survival).astype(x.dtype)
        if survival > 0.0:
            keep /= survival
        keep = from_numpy(keep)
        return x * (keep if x.device == "cpu" else keep.to(x.device))

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"


class Conv2dNormActivation(nn.Sequential):
    """conv (no bias, "same" padding) -> BatchNorm -> activation (SiLU, or none)."""

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, groups=1, activation=True):
        layers = [
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding=(kernel_size - 1) // 2, groups=groups,
                      bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        if activation:
            layers.append(nn.SiLU())
        super().__init__(*layers)


class SqueezeExcitation(nn.Module):
    """Per-channel gate ``x * sigmoid(fc2(silu(fc1(avgpool(x)))))`` (Hu et al., 2018)."""

    def __init__(self, input_channels: int, squeeze_channels: int):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = nn.SiLU()
        self.scale_activation = nn.Sigmoid()

    def forward(self, x):
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return scale * x


class MBConv(nn.Module):
    """Inverted residual: expand 1x1 -> depthwise kxk -> squeeze-excitation -> project 1x1 (+ residual)."""

    def __init__(self, expand_ratio, kernel, stride, input_channels, out_channels, stochastic_depth_prob):
        super().__init__()
        self.use_res_connect = stride == 1 and input_channels == out_channels
        expanded = input_channels * expand_ratio
        layers = []
        if expanded != input_channels:
            layers.append(Conv2dNormActivation(input_channels, expanded, kernel_size=1))
        layers.append(Conv2dNormActivation(expanded, expanded, kernel_size=kernel, stride=stride, groups=expanded))
        layers.append(SqueezeExcitation(expanded, max(1, input_channels // 4)))
        layers.append(Conv2dNormActivation(expanded, out_channels, kernel_size=1, activation=False))
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.out_channels = out_channels

    def forward(self, x):
        result = self.block(x)
        if self.use_res_connect:
            result = self.stochastic_depth(result) + x
        return result


class EfficientNet(nn.Module):
    """EfficientNet with ``features``, ``avgpool``, ``classifier`` (dropout, linear).

    Args:
        stages: rows ``(expand_ratio, kernel, stride, in, out, layers)``; B0's by default.
        dropout: before the classifier.
        stochastic_depth_prob: drop probability of the last block (linear in depth from 0).

    Shape:
        input ``(N, in_channels, H, W)``, any ``H, W >= 1``; output ``(N, num_classes)``.
    """

    def __init__(self, stages=B0_STAGES, in_channels=3, num_classes=1000, dropout=0.2, stochastic_depth_prob=0.2):
        super().__init__()
        layers = [Conv2dNormActivation(in_channels, stages[0][3], kernel_size=3, stride=2)]
        total = sum(s[5] for s in stages)
        block_id = 0
        for expand, kernel, stride, cin, cout, num_layers in stages:
            stage = []
            for i in range(num_layers):
                sd_prob = stochastic_depth_prob * block_id / total
                stage.append(MBConv(expand, kernel, stride if i == 0 else 1, cin if i == 0 else cout, cout, sd_prob))
                block_id += 1
            layers.append(nn.Sequential(*stage))
        last_in = stages[-1][4]
        layers.append(Conv2dNormActivation(last_in, 4 * last_in, kernel_size=1))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(4 * last_in, num_classes))
        init_conv_bn(self, linear="uniform")

    def forward(self, x):
        x = self.avgpool(self.features(x)).flatten(1)
        return self.classifier(x)


@register("efficientnet_b0", input_size=(3, 224, 224), params=5_288_548)
def efficientnet_b0(in_channels: int = 3, num_classes: int = 1000, dropout: float = 0.2,
                    stochastic_depth_prob: float = 0.2) -> EfficientNet:
    """EfficientNet-B0; see :class:`EfficientNet`."""
    return EfficientNet(B0_STAGES, in_channels, num_classes, dropout, stochastic_depth_prob)
