"""Learning-rate schedulers with torch's names, arguments and update rules.

Call ``scheduler.step()`` once per epoch (or per batch for ``OneCycleLR`` and
``CosineAnnealingWarmRestarts``), after ``optimizer.step()``. Each scheduler writes
``group["lr"]`` of its optimizer's parameter groups; ``get_last_lr()`` returns the values it
last wrote. See :mod:`.basic`, :mod:`.more` and :mod:`.cyclic`.
"""

from .basic import (
    CosineAnnealingLR,
    LinearLR,
    LRScheduler,
    MultiStepLR,
    OneCycleLR,
    ReduceLROnPlateau,
    StepLR,
)
from .cyclic import CyclicLR
from .more import (
    ChainedScheduler,
    ConstantLR,
    CosineAnnealingWarmRestarts,
    ExponentialLR,
    LambdaLR,
    MultiplicativeLR,
    PolynomialLR,
    SequentialLR,
)

_LRScheduler = LRScheduler  # torch's older name

__all__ = [
    "ChainedScheduler", "ConstantLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "CyclicLR", "ExponentialLR",
    "LRScheduler", "LambdaLR", "LinearLR", "MultiStepLR", "MultiplicativeLR", "OneCycleLR", "PolynomialLR",
    "ReduceLROnPlateau", "SequentialLR", "StepLR",
]

from ... import argcheck as _argcheck  # noqa: E402

_argcheck.check_namespace(globals())  # arguments checked against the signatures (convlab.argcheck.checked)
