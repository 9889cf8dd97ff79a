"""Weights move between torch and convlab through safetensors files and give the same logits.

torchvision is not installed here, so each network's torch twin is written below in plain torch,
with torchvision's (or, for seed 003's SmallCNN, the seed's) module names. Each test builds the
twin with random weights and random batch-norm statistics, saves its state dict with
``safetensors.torch.save_file``, loads it with ``convlab.load`` + ``load_state_dict(strict=True)``
and compares eval-mode logits (max abs difference <= 1e-4, float32); then the reverse direction,
``convlab.save`` of convlab's own weights read by ``safetensors.torch.load_file`` into the twin.
"""

import gc

import numpy as np
import pytest

import convlab
import convlab.models as models
from helpers import require_torch

torch = require_torch()
nn, F = torch.nn, torch.nn.functional
import safetensors.torch  # noqa: E402

ATOL = 1e-4  # float32 logits


# --------------------------------------------------------------------------- plain-torch twins
class LeNet5(nn.Module):
    def __init__(self, in_channels=1, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, num_classes)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x))).flatten(1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class SmallCNN(nn.Module):  # seed 003, section 2.8, verbatim
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.bn1 = nn.BatchNorm2d(32)
        self.bn2 = nn.BatchNorm2d(64)
        self.fc1 = nn.Linear(64 * 8 * 8, 128)
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(128, num_classes)

    def forward(self, x):
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        x = self.pool(F.relu(self.bn2(self.conv2(x))))
        x = x.flatten(1)
        x = self.drop(F.relu(self.fc1(x)))
        return self.fc2(x)


class BasicBlock(nn.Module):  # torchvision.models.resnet.BasicBlock
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


def _stage(inplanes, planes, blocks, stride, option_a):
    down = None
    if stride != 1 or inplanes != planes:
        down = ShortcutA(inplanes, planes) if option_a else nn.Sequential(
            nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
    return nn.Sequential(BasicBlock(inplanes, planes, stride, down), *[BasicBlock(planes, planes) for _ in range(blocks - 1)])


class ResNet20(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1, self.layer2, self.layer3 = _stage(16, 16, 3, 1, True), _stage(16, 32, 3, 2, True), _stage(32, 64, 3, 2, True)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(F.relu(self.bn1(self.conv1(x))))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


class ResNet18(nn.Module):  # torchvision.models.resnet18
    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1, self.layer2 = _stage(64, 64, 2, 1, False), _stage(64, 128, 2, 2, False)
        self.layer3, self.layer4 = _stage(128, 256, 2, 2, False), _stage(256, 512, 2, 2, False)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


class VGG11(nn.Module):  # torchvision.models.vgg11
    def __init__(self, num_classes=1000):
        super().__init__()
        layers, c = [], 3
        for v in [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=True)]
                c = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(),
            nn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


# name -> (torch twin, convlab factory, input shape)
CASES = {
    "lenet5": (LeNet5, models.lenet5, (2, 1, 28, 28)),
    "smallcnn": (SmallCNN, models.smallcnn, (2, 3, 32, 32)),
    "resnet20": (ResNet20, models.resnet20, (2, 3, 32, 32)),
    "resnet18": (ResNet18, models.resnet18, (1, 3, 32, 32)),
    "vgg11": (VGG11, models.vgg11, (1, 3, 32, 32)),  # 32x32: the smallest input VGG takes
}


def _randomize_torch_bn(model, gen):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.normal_(0, 0.1, generator=gen)
                m.running_mean.normal_(0, 0.1, generator=gen)
                m.running_var.uniform_(0.5, 1.5, generator=gen)
                m.num_batches_tracked.fill_(7)


def _randomize_convlab_bn(model, rng):
    for m in model.modules():
        if isinstance(m, convlab.nn.BatchNorm2d):
            n = m.num_features
            m.weight.data[...] = rng.uniform(0.5, 1.5, n)
            m.bias.data[...] = rng.normal(0, 0.1, n)
            m.running_mean.data[...] = rng.normal(0, 0.1, n)
            m.running_var.data[...] = rng.uniform(0.5, 1.5, n)
            m.num_batches_tracked.data[...] = 7


def _torch_logits(model, x):
    with torch.no_grad():
        return model.eval()(torch.from_numpy(x)).numpy()


def _convlab_logits(model, x):
    with convlab.no_grad():
        return model.eval()(convlab.tensor(x)).numpy()


@pytest.mark.parametrize("name", list(CASES))
def test_weights_round_trip_between_torch_and_convlab(name, tmp_path):
    twin_cls, factory, shape = CASES[name]
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)

    # torch -> convlab
    twin = twin_cls()
    _randomize_torch_bn(twin, gen)
    path = tmp_path / f"{name}_torch.safetensors"
    safetensors.torch.save_file(twin.state_dict(), str(path))
    ours = factory()
    assert set(ours.state_dict()) == set(twin.state_dict())  # torchvision's names, nothing more or less
    ours.load_state_dict(convlab.load(path), strict=True)
    expected = _torch_logits(twin, x)
    got = _convlab_logits(ours, x)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= ATOL, f"torch -> convlab: max abs diff {np.abs(got - expected).max():.2e}"
    del twin
    gc.collect()
    path.unlink()

    # convlab -> torch: convlab's own weights (VGG-11: the loaded ones, rescaled, to avoid a second
    # construction of 133M parameters)
    rng = np.random.default_rng(3)
    if name == "vgg11":
        for p in ours.parameters():
            p.data *= -0.5
    else:
        ours = factory()
    _randomize_convlab_bn(ours, rng)
    path = tmp_path / f"{name}_convlab.safetensors"
    convlab.save(ours.state_dict(), path)
    twin = twin_cls()
    missing, unexpected = twin.load_state_dict(safetensors.torch.load_file(str(path)), strict=True)
    assert not missing and not unexpected
    expected = _convlab_logits(ours, x)
    got = _torch_logits(twin, x)
    assert np.abs(got - expected).max() <= ATOL, f"convlab -> torch: max abs diff {np.abs(got - expected).max():.2e}"


def test_training_checkpoint_with_model_and_optimizer_round_trips(tmp_path):
    """A nested checkpoint still holds the model's tensors under their own dotted names."""
    model = models.lenet5()
    ckpt = {"model": model.state_dict(), "epoch": 3, "rng": convlab.get_rng_state()}
    convlab.save(ckpt, tmp_path / "ckpt.safetensors")
    flat = safetensors.torch.load_file(str(tmp_path / "ckpt.safetensors"))
    assert set(flat) == {f"model.{k}" for k in model.state_dict()}
    back = convlab.load(tmp_path / "ckpt.safetensors")
    fresh = models.lenet5()
    fresh.load_state_dict(back["model"])
    x = np.random.default_rng(0).standard_normal((1, 1, 28, 28)).astype(np.float32)
    np.testing.assert_array_equal(_convlab_logits(fresh, x), _convlab_logits(model, x))
    assert back["epoch"] == 3 and back["rng"] == ckpt["rng"]
