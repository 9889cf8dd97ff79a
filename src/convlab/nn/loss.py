"""Loss layers: ``CrossEntropyLoss``, ``NLLLoss``, ``BCEWithLogitsLoss``, ``BCELoss``,
``MSELoss``, ``L1Loss``, ``SmoothL1Loss``, ``HuberLoss``, ``KLDivLoss``. Each holds its options
(and class weights as buffers, as torch) and calls ``convlab.functional``. ``reduction`` is
``'mean'`` (default), ``'sum'`` or ``'none'`` (``KLDivLoss`` also ``'batchmean'``).
"""

from __future__ import annotations

from .. import functional as F
from .. import validate
from ..validate import ConvlabError
from .module import Module


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__()
        reduction = F.extra._legacy_reduction(size_average, reduce, reduction)
        if reduction not in ("none", "mean", "sum"):
            raise ConvlabError(f"{type(self).__name__}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
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

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of class indices; the input holds log-probabilities
    (e.g. from ``LogSoftmax``). Shapes as :class:`CrossEntropyLoss` with index targets."""

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None, reduction: str = "mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid and binary cross-entropy in one numerically stable step.

    Args:
        weight: per-element weight, broadcast against the input.
        pos_weight: weight of the positive term, broadcast along the last (class) axis;
            ``pos_weight = negatives / positives`` balances a rare class.

    Shape: input and target the same shape; output scalar, or that shape for ``'none'``.
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean", pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities in [0, 1] (logs clamped at -100, as torch).
    Prefer :class:`BCEWithLogitsLoss`, which is stable for saturated sigmoids."""

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error ``(x - y)^2``."""

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error ``|x - y|``."""

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """``0.5 d^2 / beta`` for ``d = |x - y| < beta``, else ``d - 0.5 beta`` (``beta=0``: L1)."""

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = validate.real(beta, "SmoothL1Loss", "beta", min=0.0)

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """``0.5 d^2`` for ``d = |x - y| < delta``, else ``delta (d - 0.5 delta)``."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction=reduction)
        self.delta = validate.real(delta, "HuberLoss", "delta", min=0.0, min_open=True)

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(Module):
    """KL divergence; the input holds log-probabilities, the target probabilities (or
    log-probabilities with ``log_target=True``). ``reduction='batchmean'`` gives the true KL per sample."""

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False):
        super().__init__()
        reduction = F.extra._legacy_reduction(size_average, reduce, reduction)
        self.reduction = validate.choice(reduction, ("none", "mean", "sum", "batchmean"), "KLDivLoss", "reduction")
        self.log_target = log_target

    def forward(self, input, target):
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
