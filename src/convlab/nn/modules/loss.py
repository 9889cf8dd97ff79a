"""``torch.nn.modules.loss``: ``_Loss`` and ``_WeightedLoss`` (to subclass) and the losses."""

from ..loss import *  # noqa: F401,F403
from ..loss import _Loss, _WeightedLoss  # noqa: F401
