"""``torch.nn.modules``: the layer classes under torch's module paths, for programs that import
``from torch.nn.modules.utils import _pair`` or subclass ``torch.nn.modules.batchnorm._BatchNorm``.

Each submodule re-exports the classes that live in convlab's own :mod:`convlab.nn` files.
"""

from .. import *  # noqa: F401,F403
from . import (  # noqa: F401
    activation,
    batchnorm,
    container,
    conv,
    dropout,
    instancenorm,
    linear,
    loss,
    module,
    normalization,
    padding,
    pixelshuffle,
    pooling,
    utils,
)
