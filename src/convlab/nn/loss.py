"""Loss layers: ``CrossEntropyLoss``, ``NLLLoss``, ``BCEWithLogitsLoss``, ``BCELoss``,
``MSELoss``, ``L1Loss``. Each holds its options (and class weights as buffers, as torch) and
calls ``convlab.functional``. ``reduction`` is ``'mean'`` (default), ``'sum'`` or ``'none'``.
"""

from __future__ import annotations

from .. import functional as F
from ..validate import ConvlabError
from .module import Module


class _Loss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in ("none", "mean", "sum"):
            raise ConvlabError(f"{type(self).__name__}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, reduction: str = "mean"):
        super().__init__(reduction)
        self.register_buffer("weight", weight)


class CrossEntropyLoss(_WeightedLoss):
    """Cross-entropy of logits: ``log_softmax`` and negative log-likelihood in one fused, stable op.

    Args:
        weight: (C,) class weights. ignore_index: target value to skip (index targets).
        label_smoothing: in [0, 1]; the target becomes ``(1 - e) * target + e / C``.

    Shape: input (N, C) or (N, C, d1, ...); target class indices (N, d1, ...) of integers in
    [0, C), or class probabilities of the input's shape. Output: scalar, or (N, d1, ...) for
    ``reduction='none'``.

    Example::

        loss = CrossEntropyLoss()(logits, labels)     # logits (B, 10), labels (B,) int64
    """

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(weight, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of class indices; the input holds log-probabilities
    (e.g. from ``LogSoftmax``). Shapes as :class:`CrossEntropyLoss` with index targets."""

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid and binary cross-entropy in one numerically stable step.

    Args:
        weight: per-element weight, broadcast against the input.
        pos_weight: weight of the positive term, broadcast along the last (class) axis;
            ``pos_weight = negatives / positives`` balances a rare class.

    Shape: input and target the same shape; output scalar, or that shape for ``'none'``.
    """

    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None):
        super().__init__(reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction, self.pos_weight)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities in [0, 1] (logs clamped at -100, as torch).
    Prefer :class:`BCEWithLogitsLoss`, which is stable for saturated sigmoids."""

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class MSELoss(_Loss):
    """Mean squared error ``(x - y)^2``."""

    def forward(self, input, target):
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """Mean absolute error ``|x - y|``."""

    def forward(self, input, target):
        return F.l1_loss(input, target, self.reduction)
