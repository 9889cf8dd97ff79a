"""Weights move between torch and convlab through safetensors files and give the same logits.

torchvision is not installed here, so each network's torch twin is plain torch with
torchvision's (or, for seed 003's SmallCNN, the seed's) module names: the benchmark's twins
(``convlab.bench.torch_twin``, so these tests also prove the benchmark compares like with like)
and VGG-11 below. Each test builds the
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
from convlab.bench import torch_twin
from helpers import require_torch

torch = require_torch()
nn, F = torch.nn, torch.nn.functional
import safetensors.torch  # noqa: E402

ATOL = 1e-4  # float32 logits


# --------------------------------------------------------------------------- plain-torch twins
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


# name -> (builds the torch twin, convlab factory, input shape)
CASES = {
    "lenet5": (lambda: torch_twin("lenet5"), models.lenet5, (2, 1, 28, 28)),
    "smallcnn": (lambda: torch_twin("smallcnn"), models.smallcnn, (2, 3, 32, 32)),
    "resnet20": (lambda: torch_twin("resnet20"), models.resnet20, (2, 3, 32, 32)),
    "resnet18": (lambda: torch_twin("resnet18", num_classes=1000), models.resnet18, (1, 3, 32, 32)),
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
    make_twin, factory, shape = CASES[name]
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)

    # torch -> convlab
    twin = make_twin()
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
    twin = make_twin()
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
