"""``torch.nn.modules.activation``."""

from ..activation import *  # noqa: F401,F403
from ..activation import Hardsigmoid, Hardswish, LeakyReLU, LogSoftmax, ReLU, ReLU6, Sigmoid, SiLU, Softmax, Tanh  # noqa: F401
from ..activation_more import *  # noqa: F401,F403
from ..upsampling import ELU, Hardtanh, Softplus  # noqa: F401
