"""User-facing functions with the names and arguments of ``torch.nn.functional``.

Split by concept: ``conv`` (convolution, transposed convolution, padding), ``pool``
(max/avg/adaptive pooling, unpooling), ``nn`` (activations, linear, dropout,
normalisation and losses). Import as ``import convlab.functional as F``.
"""

from .. import argcheck as _argcheck  # noqa: E402
from ..math import leaky_relu, log_softmax, pad, relu, sigmoid, softmax, tanh  # noqa: F401
from ..more_math import elu, hardtanh, interpolate, normalize, softplus  # noqa: F401
from ..more_ops import embedding  # noqa: F401
from .conv import *  # noqa: F401,F403
from .extra import *  # noqa: F401,F403
from .more import *  # noqa: F401,F403
from .nn import *  # noqa: F401,F403
from .pool import *  # noqa: F401,F403

_argcheck.check_namespace(globals())  # arguments checked against the signatures (convlab.argcheck.checked)
