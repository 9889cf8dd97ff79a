"""Optimizers and learning-rate schedulers, with ``torch.optim``'s names and update rules.

>>> import convlab, convlab.nn as nn
>>> model = nn.Linear(3, 1)
>>> opt = convlab.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
>>> sched = convlab.optim.lr_scheduler.StepLR(opt, step_size=10)
"""

from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax, NAdam
from .optimizer import Optimizer
from .radam import ASGD, RAdam
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["ASGD", "SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "NAdam", "Optimizer", "RAdam", "RMSprop",
           "lr_scheduler"]

from .. import argcheck as _argcheck  # noqa: E402

_argcheck.check_namespace(globals())  # arguments checked against the signatures (convlab.argcheck.checked)
