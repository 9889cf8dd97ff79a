"""``convlab.nn.functional`` is another name for :mod:`convlab.functional`, for code written
against ``torch.nn.functional``."""

from .. import argcheck as _argcheck  # noqa: E402
from ..functional import *  # noqa: F401,F403
from ..functional import leaky_relu, log_softmax, pad, relu, sigmoid, softmax, tanh  # noqa: F401
from ..more_math import elu, hardtanh, interpolate, normalize, softplus  # noqa: F401

_argcheck.check_namespace(globals())  # the names imported from more_math are checked here too
