"""The model zoo: registry, published parameter counts, output shapes at the smallest inputs."""

import functools

import numpy as np
import pytest

import convlab
import convlab.models as models
from convlab.models.vgg import CFGS


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


@functools.cache
def default_count(name: str) -> int:
    """Parameters of ``models.get(name)``, built once per test process."""
    return n_params(models.get(name))


# --------------------------------------------------------------------------- published figures
TORCHVISION = "torchvision.models.<Name>_Weights.IMAGENET1K_V1.meta['num_params']"
PUBLISHED = [  # (model, parameters for 1000 classes, source)
    ("alexnet", 61_100_840, TORCHVISION),
    ("vgg16", 138_357_544, TORCHVISION),
    ("resnet18", 11_689_512, TORCHVISION),
    ("resnet50", 25_557_032, TORCHVISION),
    ("googlenet", 6_624_904, TORCHVISION + " (aux_logits=False)"),
    ("densenet121", 7_978_856, TORCHVISION),
    ("efficientnet_b0", 5_288_548, TORCHVISION),
]


@pytest.mark.parametrize("name, count, source", PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_parameter_count_equals_published(name, count, source):
    assert default_count(name) == count, source


# He, Zhang, Ren, Sun (2015), "Deep Residual Learning for Image Recognition", Table 6 (CIFAR-10)
HE_TABLE_6 = {"resnet20": 0.27, "resnet32": 0.46, "resnet44": 0.66, "resnet56": 0.85, "resnet110": 1.7}


@pytest.mark.parametrize("name", sorted(HE_TABLE_6))
def test_cifar_resnet_parameters_match_he_et_al_table_6(name):
    millions = default_count(name) / 1e6  # 10 classes by default
    digits = 1 if HE_TABLE_6[name] >= 1 else 2
    assert round(millions, digits) == HE_TABLE_6[name]


def test_resnet20_exact_count_with_option_a_and_b_shortcuts():
    assert default_count("resnet20") == 269_722  # option A: parameter-free shortcuts
    b = models.resnet20(shortcut="B")  # two 1x1 projections with batch norm
    assert n_params(b) == 269_722 + (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)
    assert "layer2.0.downsample.0.weight" in b.state_dict()
    assert not any("downsample" in k for k in models.resnet20().state_dict())


def test_densenet_bc_100_matches_huang_et_al_table_2():
    # Huang, Liu, van der Maaten, Weinberger (2017), "Densely Connected Convolutional Networks",
    # Table 2: DenseNet-BC (L=100, k=12) has 0.8M parameters
    assert round(default_count("densenet_bc_100") / 1e6, 1) == 0.8


def test_lenet5_parameter_count():
    # conv1 6*25+6, conv2 16*6*25+16, fc 400*120+120, 120*84+84, 84*10+10
    assert default_count("lenet5") == 156 + 2416 + 48120 + 10164 + 850 == 61_706


# --------------------------------------------------------------------------- registry
EXPECTED = {
    "lenet5", "smallcnn", "compactcnn", "compactcnn_deep",
    "alexnet", "googlenet", "densenet121", "densenet_bc_100", "efficientnet_b0",
    "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn", "vgg11_cifar", "vgg16_cifar",
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet20", "resnet32", "resnet44", "resnet56", "resnet110",
}
BIG_VGG = {n for n in EXPECTED if n.startswith("vgg") and not n.endswith("cifar")}


def test_list_and_get():
    # users may register more (models.register)
    assert EXPECTED <= set(models.list()) and models.list() == sorted(models.list())
    m = models.get("resnet20", num_classes=100, in_channels=1)
    assert m.fc.out_features == 100 and m.conv1.in_channels == 1
    with pytest.raises(ValueError, match="unknown model 'resnet19'.*did you mean"):
        models.get("resnet19")
    with pytest.raises(TypeError):
        models.get("lenet5", depth=3)


@pytest.mark.parametrize("name", sorted(EXPECTED - BIG_VGG))
def test_registered_parameter_count_is_the_built_one(name):
    assert default_count(name) == models.info(name).params


def _vgg_count(cfg, batch_norm, num_classes=1000):
    """Parameters of a torchvision VGG, by hand: 3x3 convs (+ BN), then 25088-4096-4096-classes."""
    total, c = 0, 3
    for v in CFGS[cfg]:
        if v != "M":
            total += 9 * c * v + v + (2 * v if batch_norm else 0)
            c = v
    return total + (512 * 49 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * num_classes + num_classes)


@pytest.mark.parametrize("name", sorted(BIG_VGG))
def test_big_vgg_registered_counts(name):
    # building all eight ImageNet VGGs takes over a billion random draws; vgg16 is built above
    cfg = {"11": "A", "13": "B", "16": "D", "19": "E"}[name[3:5]]
    assert models.info(name).params == _vgg_count(cfg, name.endswith("_bn"))
    assert _vgg_count("D", False) == 138_357_544  # the formula reproduces the built vgg16


# --------------------------------------------------------------------------- forward shapes
# the smallest input each model accepts (torchvision's meta["min_size"] where it has one)
SMALLEST = {
    "lenet5": (1, 28, 28), "smallcnn": (3, 32, 32), "alexnet": (3, 63, 63), "googlenet": (3, 15, 15),
    "densenet121": (3, 29, 29), "densenet_bc_100": (3, 4, 4), "efficientnet_b0": (3, 1, 1),
    "vgg11_cifar": (3, 32, 32), "vgg16_cifar": (3, 32, 32),
    "resnet18": (3, 1, 1), "resnet34": (3, 1, 1), "resnet50": (3, 1, 1), "resnet101": (3, 1, 1),
    "resnet20": (3, 1, 1), "resnet32": (3, 1, 1), "resnet44": (3, 1, 1), "resnet56": (3, 1, 1), "resnet110": (3, 1, 1),
}


@pytest.mark.parametrize("name", sorted(SMALLEST))
def test_output_shape_on_smallest_input(name):
    _, h, w = SMALLEST[name]
    model = models.get(name, in_channels=2, num_classes=7).eval()  # both arguments are honoured
    x = convlab.randn(2, 2, h, w)
    with convlab.no_grad():
        y = model(x)
    assert y.shape == (2, 7)
    assert np.isfinite(y.numpy()).all()
    # vgg11 (ImageNet head) is run in tests/test_torch_interop.py against torch
