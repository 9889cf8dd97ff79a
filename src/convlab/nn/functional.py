"""``convlab.nn.functional`` is another name for :mod:`convlab.functional`, for code written
against ``torch.nn.functional``."""

from ..functional import *  # noqa: F401,F403
from ..functional import leaky_relu, log_softmax, pad, relu, sigmoid, softmax, tanh  # noqa: F401
from ..more_math import elu, hardtanh, interpolate, normalize, softplus  # noqa: F401
