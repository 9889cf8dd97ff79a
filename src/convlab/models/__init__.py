"""The model zoo: classic CNNs with torchvision's layouts and parameter names.

Every factory takes ``in_channels`` and ``num_classes`` (and the options of its family), and
builds a :class:`convlab.nn.Module` whose ``state_dict`` keys match torchvision's (or torch's,
for the seeds' own networks), so weights move between convlab and torch through
``convlab.save``/``convlab.load`` and ``safetensors.torch``.

>>> import convlab.models as models
>>> "resnet18" in models.list()
True
>>> model = models.get("lenet5", num_classes=10)
>>> sum(p.numel() for p in model.parameters())
61706

=================  ==========================================================================
family             names
=================  ==========================================================================
LeNet              ``lenet5`` (28x28, LeCun et al. 1998)
seed 003           ``smallcnn`` (:class:`SmallCNN`, 32x32), :class:`ResBlock`
convlab train      ``compactcnn``, ``compactcnn_deep`` (:class:`CompactCNN`, 28x28; the CLI's default)
AlexNet            ``alexnet``
VGG                ``vgg11/13/16/19``, ``vgg11_bn/13_bn/16_bn/19_bn``, ``vgg11_cifar``, ``vgg16_cifar``
GoogLeNet          ``googlenet`` (Inception v1, no auxiliary heads)
ResNet             ``resnet18/34/50/101`` (ImageNet), ``resnet20/32/44/56/110`` (CIFAR)
DenseNet           ``densenet121``, ``densenet_bc_100`` (CIFAR DenseNet-BC, k=12)
EfficientNet       ``efficientnet_b0``
=================  ==========================================================================
"""

from __future__ import annotations

import builtins
import difflib
import functools
from dataclasses import dataclass

from ..validate import ConvlabError


@dataclass(frozen=True)
class ModelInfo:
    """A zoo entry: the factory, the input it is designed for, and its parameter count.

    ``params`` is the count with the factory's default ``in_channels`` and ``num_classes``,
    stated here so listing the zoo needs no construction (the VGGs alone hold over a billion
    parameters); the test suite checks every figure against a built model or the published one.
    """

    name: str
    factory: object
    input_size: tuple
    params: int


_REGISTRY: dict[str, ModelInfo] = {}


def register(name: str, input_size: tuple, params: int):
    """Decorator adding a factory to the zoo under ``name`` (see :class:`ModelInfo`)."""
    def deco(fn):
        if name in _REGISTRY:
            raise ConvlabError(f"model {name!r} is registered twice")

        @functools.wraps(fn)
        def factory(*args, weights=None, pretrained: bool = False, progress: bool = True, **kwargs):
            # torchvision's arguments: convlab ships no trained weights, so only "none" is accepted
            if weights is not None or pretrained:
                raise ConvlabError(f"{name}: convlab ships no pretrained weights (weights={weights!r}); build it with "
                                 "weights=None and load a torchvision checkpoint with "
                                 "model.load_state_dict(convlab.load('resnet18.pth'))")
            return fn(*args, **kwargs)

        _REGISTRY[name] = ModelInfo(name, factory, tuple(input_size), int(params))
        return factory

    return deco


def list() -> builtins.list[str]:  # noqa: A001 - the documented name, like torch.hub.list
    """Names of every model in the zoo, sorted."""
    return sorted(_REGISTRY)


def info(name: str) -> ModelInfo:
    """The registry entry of ``name``: default input size and parameter count."""
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ConvlabError(f"unknown model {name!r}{hint} (convlab.models.list() has {len(_REGISTRY)} names)") from None


def get(name: str, **kwargs):
    """Build the model ``name`` (see :func:`list`) with ``kwargs`` (``in_channels``, ``num_classes``, ...).

    >>> get("resnet20", num_classes=100).fc.out_features
    100
    """
    model = info(name).factory(**kwargs)
    # how to build it again, for checkpoints (Trainer and convlab.save record it)
    object.__setattr__(model, "zoo_spec", {"name": name, "kwargs": dict(kwargs)})
    return model


from .alexnet import AlexNet, alexnet  # noqa: E402
from .compact import CompactCNN, compactcnn, compactcnn_deep  # noqa: E402
from .densenet import DenseNet, densenet121, densenet_bc_100  # noqa: E402
from .efficientnet import EfficientNet, efficientnet_b0  # noqa: E402
from .googlenet import GoogLeNet, googlenet  # noqa: E402
from .lenet import LeNet5, lenet5  # noqa: E402
from .resnet import (  # noqa: E402
    CifarResNet,
    ResNet,
    resnet18,
    resnet20,
    resnet32,
    resnet34,
    resnet44,
    resnet50,
    resnet56,
    resnet101,
    resnet110,
)
from .smallcnn import ResBlock, SmallCNN, smallcnn  # noqa: E402
from .vgg import (  # noqa: E402
    VGG,
    vgg11,
    vgg11_bn,
    vgg11_cifar,
    vgg13,
    vgg13_bn,
    vgg16,
    vgg16_bn,
    vgg16_cifar,
    vgg19,
    vgg19_bn,
)

__all__ = [
    "AlexNet", "CifarResNet", "CompactCNN", "DenseNet", "EfficientNet", "GoogLeNet", "LeNet5", "ModelInfo", "ResBlock",
    "ResNet", "SmallCNN", "VGG",
    "alexnet", "compactcnn", "compactcnn_deep", "densenet121", "densenet_bc_100", "efficientnet_b0", "get", "googlenet",
    "info", "lenet5", "list", "register", "resnet101", "resnet110", "resnet18", "resnet20", "resnet32", "resnet34",
    "resnet44", "resnet50", "resnet56", "smallcnn", "vgg11", "vgg11_bn", "vgg11_cifar", "vgg13", "vgg13_bn", "vgg16",
    "vgg16_bn", "vgg16_cifar", "vgg19", "vgg19_bn",
]
