"""``torchvision.models``: convlab's zoo under torchvision's module name (``resnet18``,
``resnet50``, ``vgg11_bn``, ``densenet121``, ``efficientnet_b0``, ... with torchvision's layouts;
the factories take ``weights=None`` as torchvision's do). See :mod:`convlab.models`."""

from ..models import *  # noqa: F401,F403
from ..models import __all__  # noqa: F401
