"""The torch twins of convlab's zoo models (plain torch, the same layer names and shapes), and
the table of models the bench runs. torch is imported inside the functions, never at import."""

from __future__ import annotations

import numpy as np

# model -> (input shape without batch, training batch, training-step target ratio: issue 17, at every thread count)
MODELS = {
    "lenet5": ((1, 28, 28), 128, 1.0),
    "smallcnn": ((3, 32, 32), 128, 1.0),
    "resnet20": ((3, 32, 32), 128, 1.0),
    "resnet18": ((3, 224, 224), 16, 1.0),
}
QUICK_MODELS = ("lenet5", "smallcnn", "resnet20")
MEMORY_TARGET = 1.0  # peak training RSS against torch's (issue 17: at every thread count)
NUM_CLASSES = 10


def torch_twin(name: str, num_classes: int = NUM_CLASSES, in_channels: int | None = None, image_size=(28, 28),
               seed: int = 0):
    """A plain-torch network with the layer names and shapes of ``convlab.models.get(name)``.

    ``image_size`` sizes the compactcnn twins' first linear layer (as it does the convlab model's);
    torch's generator is seeded with ``seed`` before the twin is built and is left where building
    it took it (``benchmarks/accuracy.py`` draws the twin's dropout masks from there)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    def compact(double):  # convlab.models.CompactCNN with its default width 32, hidden 128, dropout 0.25
        h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        c, width = in_channels or 1, 32

        class CompactCNN(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(c, width, 3, padding=1, bias=False)
                self.bn1 = nn.BatchNorm2d(width)
                if double:
                    self.conv1b = nn.Conv2d(width, width, 3, padding=1, bias=False)
                    self.bn1b = nn.BatchNorm2d(width)
                self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1, bias=False)
                self.bn2 = nn.BatchNorm2d(2 * width)
                if double:
                    self.conv2b = nn.Conv2d(2 * width, 2 * width, 3, padding=1, bias=False)
                    self.bn2b = nn.BatchNorm2d(2 * width)
                self.relu, self.pool, self.flatten = nn.ReLU(), nn.MaxPool2d(2), nn.Flatten()
                self.fc1 = nn.Linear(2 * width * (h // 4) * (w // 4), 128)
                self.drop = nn.Dropout(0.25)
                self.fc2 = nn.Linear(128, num_classes)

            def forward(self, x):
                x = self.relu(self.bn1(self.conv1(x)))
                if double:
                    x = self.relu(self.bn1b(self.conv1b(x)))
                x = self.relu(self.bn2(self.conv2(self.pool(x))))
                if double:
                    x = self.relu(self.bn2b(self.conv2b(x)))
                return self.fc2(self.drop(self.relu(self.fc1(self.flatten(self.pool(x))))))

        return CompactCNN

    class LeNet5(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels or 1, 6, 5, padding=2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.pool = nn.MaxPool2d(2, 2)
            self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, num_classes)

        def forward(self, x):
            x = self.pool(F.relu(self.conv1(x)))
            x = self.pool(F.relu(self.conv2(x))).flatten(1)
            return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))

    class SmallCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels or 3, 32, kernel_size=3, padding=1)
            self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1)
            self.pool = nn.MaxPool2d(2, 2)
            self.bn1, self.bn2 = nn.BatchNorm2d(32), nn.BatchNorm2d(64)
            self.fc1 = nn.Linear(64 * 8 * 8, 128)
            self.drop = nn.Dropout(0.5)
            self.fc2 = nn.Linear(128, num_classes)

        def forward(self, x):
            x = self.pool(F.relu(self.bn1(self.conv1(x))))
            x = self.pool(F.relu(self.bn2(self.conv2(x)))).flatten(1)
            return self.fc2(self.drop(F.relu(self.fc1(x))))

    class BasicBlock(nn.Module):
        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = downsample

        def forward(self, x):
            out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
            return F.relu(out + (x if self.downsample is None else self.downsample(x)))

    class ShortcutA(nn.Module):  # He et al. option A: subsample, zero-pad the channels
        def __init__(self, cin, cout):
            super().__init__()
            self.extra = cout - cin

        def forward(self, x):
            return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))

    def stage(inplanes, planes, blocks, stride, option_a):
        down = None
        if stride != 1 or inplanes != planes:
            down = ShortcutA(inplanes, planes) if option_a else nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
        return nn.Sequential(BasicBlock(inplanes, planes, stride, down),
                             *[BasicBlock(planes, planes) for _ in range(blocks - 1)])

    class ResNet20(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels or 3, 16, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(16)
            self.layer1, self.layer2 = stage(16, 16, 3, 1, True), stage(16, 32, 3, 2, True)
            self.layer3 = stage(32, 64, 3, 2, True)
            self.fc = nn.Linear(64, num_classes)

        def forward(self, x):
            x = self.layer3(self.layer2(self.layer1(F.relu(self.bn1(self.conv1(x))))))
            return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))

    class ResNet18(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels or 3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            self.layer1, self.layer2 = stage(64, 64, 2, 1, False), stage(64, 128, 2, 2, False)
            self.layer3, self.layer4 = stage(128, 256, 2, 2, False), stage(256, 512, 2, 2, False)
            self.fc = nn.Linear(512, num_classes)

        def forward(self, x):
            x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))

    classes = {"lenet5": LeNet5, "smallcnn": SmallCNN, "resnet20": ResNet20, "resnet18": ResNet18,
               "compactcnn": lambda: compact(False)(), "compactcnn_deep": lambda: compact(True)()}
    if name not in classes:
        raise KeyError(f"no torch twin for model {name!r}; twins: {', '.join(classes)}")
    torch.manual_seed(seed)
    return classes[name]()


def _copy_weights(ours, twin) -> None:
    """Start the twin from convlab's weights (same names; shapes checked by torch)."""
    import torch

    state = {k: torch.from_numpy(np.array(v.numpy(), copy=True)) for k, v in ours.state_dict().items()}
    twin.load_state_dict(state, strict=True)
