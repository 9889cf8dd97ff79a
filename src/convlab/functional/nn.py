"""``torch.nn.functional``-style activations, linear, dropout, normalisation and losses.

Stateless: weights, running statistics and the training flag are arguments. The layers in
``convlab.nn`` hold those and call these functions.
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import backend, validate
from ..math import _operand, _raw, mul, relu, sigmoid, where
from ..ops import dropout as D
from ..ops import loss as L
from ..ops import norm as N
from ..ops.matmul import Linear as LinearOp
from ..tensor import Tensor, default_generator
from ..validate import ConvlabError
from .extra import _legacy_reduction

__all__ = [
    "linear", "relu6", "silu", "hardsigmoid", "hardswish",
    "dropout", "dropout2d", "batch_norm", "group_norm", "layer_norm",
    "cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "mse_loss", "l1_loss", "one_hot",
]

_REDUCTIONS = ("none", "mean", "sum")


def _arr(t):
    return None if t is None else t._data if isinstance(t, Tensor) else t


# ---------------------------------------------------------------- linear and activations
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y = x W^T + b``.

    Shape: input (*, in_features), weight (out_features, in_features), bias (out_features,)
    -> output (*, out_features).
    """
    if input.ndim == 0 or weight.ndim not in (1, 2):
        raise ConvlabError(f"linear: both arguments to linear need to be at least 1D and weight at most 2D, but they "
                           f"are {input.ndim}D (input) and {weight.ndim}D (weight)")
    if input.shape[-1:] != weight.shape[-1:]:
        raise ConvlabError(
            f"linear: input of shape {input.shape} has {input.shape[-1] if input.ndim else 0} features "
            f"but weight of shape {weight.shape} expects {weight.shape[-1]}"
        )
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ConvlabError(f"linear: bias has shape {tuple(bias.shape)} but weight of shape {weight.shape} "
                         f"needs a bias of shape ({weight.shape[0]},)")
    return LinearOp.apply(input, weight, bias)


def relu6(input: Tensor) -> Tensor:
    """``min(max(x, 0), 6)``; the gradient is 1 strictly inside (0, 6), as torch's."""
    return where(input < 6.0, relu(input), 6.0)


def silu(input: Tensor) -> Tensor:
    """SiLU (swish): ``x * sigmoid(x)``."""
    return mul(input, sigmoid(input))


def hardsigmoid(input: Tensor) -> Tensor:
    """``relu6(x + 3) / 6``."""
    return relu6(input + 3.0) / 6.0


def hardswish(input: Tensor) -> Tensor:
    """``x * relu6(x + 3) / 6`` (MobileNetV3)."""
    return input * hardsigmoid(input)


# ---------------------------------------------------------------- dropout
def _check_p(p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ConvlabError(f"dropout probability has to be between 0 and 1, but got {p}")


def _keep_mask(shape, p: float, like):
    """Bernoulli(1 - p) keep-mask scaled by 1/(1 - p), drawn from the library generator."""
    xp = backend.array_module(like)
    if p == 1.0:
        return xp.zeros(shape, dtype=like.dtype)
    keep = default_generator().random(shape, dtype=np.float32) >= np.float32(p)
    mask = keep.astype(like.dtype) * like.dtype.type(1.0 / (1.0 - p))
    return mask if xp is np else xp.asarray(mask)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)`` (training only)."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    return D.MaskedScale.apply(input, mask=_keep_mask(input.shape, p, input._data))


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels: input (N, C, H, W) or (C, H, W); one draw per (sample, channel)."""
    _check_p(p)
    if input.ndim not in (3, 4):
        raise ConvlabError(f"dropout2d: expected a 3-D or 4-D input, got shape {input.shape}")
    if not training or p == 0.0:
        return input
    shape = input.shape[: input.ndim - 2] + (1, 1)
    return D.MaskedScale.apply(input, mask=_keep_mask(shape, p, input._data))


# ---------------------------------------------------------------- normalisation
def _check_channel_vec(name: str, v, c: int, fn: str) -> None:
    if v is not None and tuple(v.shape) != (c,):
        raise ConvlabError(f"{fn}: {name} has shape {tuple(v.shape)} but the input has {c} channels (expected ({c},))")


def batch_norm(input: Tensor, running_mean=None, running_var=None, weight=None, bias=None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation over all axes but the channel axis 1 (fused forward and backward).

    In training the batch statistics are used and ``running_mean``/``running_var`` (tensors,
    updated in place, may be None) move towards them by ``momentum``; otherwise the running
    statistics are used.

    Shape: input (N, C) or (N, C, *); weight, bias, running stats (C,).
    """
    eps = validate.nonneg(eps, "batch_norm", "eps")
    momentum = validate.probability(momentum, "batch_norm", "momentum") if momentum is not None else None
    if input.ndim < 2:
        raise ConvlabError(f"batch_norm: expected input of shape (N, C) or (N, C, *), got {input.shape}")
    c = input.shape[1]
    for name, v in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        _check_channel_vec(name, v, c, "batch_norm")
    if training:
        size = input._data.size // c
        if size <= 1:
            raise ConvlabError(f"batch_norm: expected more than 1 value per channel when training, got input shape {input.shape}")
    elif running_mean is None or running_var is None:
        raise ConvlabError("batch_norm: running_mean and running_var are required when training=False")
    return N.BatchNorm.apply(input, weight, bias, running_mean=_arr(running_mean), running_var=_arr(running_var),
                             training=training, momentum=momentum, eps=eps)


def group_norm(input: Tensor, num_groups: int, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """Group normalisation: shape (N, C, *), C divisible by ``num_groups``; weight, bias (C,)."""
    num_groups = validate.positive_int(num_groups, "group_norm", "num_groups")
    eps = validate.nonneg(eps, "group_norm", "eps")
    if input.ndim < 2 or input.shape[1] % num_groups:
        raise ConvlabError(f"group_norm: expected input (N, C, *) with C divisible by num_groups={num_groups}, got {input.shape}")
    for name, v in (("weight", weight), ("bias", bias)):
        _check_channel_vec(name, v, input.shape[1], "group_norm")
    return N.GroupNorm.apply(input, weight, bias, num_groups=num_groups, eps=eps)


def layer_norm(input: Tensor, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """Layer normalisation over the trailing ``normalized_shape`` axes."""
    shape = validate.shape(normalized_shape, "layer_norm", "normalized_shape")
    eps = validate.nonneg(eps, "layer_norm", "eps")
    if input.shape[input.ndim - len(shape):] != shape or len(shape) > input.ndim:
        raise ConvlabError(f"layer_norm: input of shape {input.shape} does not end with normalized_shape {shape}")
    for name, v in (("weight", weight), ("bias", bias)):
        if v is not None and tuple(v.shape) != shape:
            raise ConvlabError(f"layer_norm: {name} has shape {tuple(v.shape)}, expected {shape}")
    return N.LayerNorm.apply(input, weight, bias, k=len(shape), eps=eps)


# ---------------------------------------------------------------- losses
def _check_reduction(reduction: str, fn: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ConvlabError(f"{fn}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")


def _check_class_target(input: Tensor, target: Tensor, ignore_index: int, fn: str) -> None:
    """Class-index targets: shape (N, d1, ...) for input (N, C, d1, ...); labels in [0, C)."""
    if target.dtype.kind not in "iu":
        raise TypeError(f"{fn}: class-index targets must be integers, got dtype {target.dtype}")
    c = input.shape[1] if input.ndim > 1 else input.shape[0]
    expected = input.shape[:1] + input.shape[2:] if input.ndim > 1 else ()
    if target.shape != expected:
        raise ConvlabError(
            f"{fn}: input of shape {input.shape} needs a target of shape {expected}, got target of shape {target.shape} "
            f"(batch sizes {input.shape[0] if input.ndim > 1 else '-'} and {target.shape[0] if target.ndim else '-'})"
        )
    t = backend.to_numpy(target._data)
    bad = t[(t != ignore_index) & ((t < 0) | (t >= c))]
    if bad.size:
        raise ConvlabError(
            f"{fn}: target label {int(bad.flat[0])} is out of range for {c} classes "
            f"(labels must be in [0, {c - 1}] or equal ignore_index={ignore_index})"
        )


def cross_entropy(input: Tensor, target: Tensor, weight=None, size_average=None, ignore_index: int = -100,
                  reduce=None, reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of logits against class indices or class probabilities (fused, stable).

    Args:
        input: logits, (N, C), (N, C, d1, ...) or (C,).
        target: class indices (int, shape (N, d1, ...)) or probabilities (float, input's shape).
        weight: (C,) class weights. ``ignore_index``: indices to skip (index targets only).
        label_smoothing: mix the target with the uniform distribution by this amount.

    With ``reduction='mean'`` and index targets the sum is divided by the total weight of the
    non-ignored targets, as torch does. ``size_average``/``reduce``: torch's deprecated spelling
    of ``reduction`` (``size_average=False`` is ``'sum'``, ``reduce=False`` is ``'none'``).
    """
    input, target = _operand(input), _operand(target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ConvlabError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    if input.ndim == 0:
        raise ConvlabError("cross_entropy: input must have at least 1 dimension (the classes)")
    c = input.shape[1] if input.ndim > 1 else input.shape[0]
    _check_channel_vec("weight", weight, c, "cross_entropy")
    if target.dtype.kind == "f":
        if target.shape != input.shape:
            raise ConvlabError(f"cross_entropy: probability target of shape {target.shape} must match input of shape "
                               f"{input.shape}")
    else:
        _check_class_target(input, target, ignore_index, "cross_entropy")
    return L.CrossEntropy.apply(input, target, weight=_arr(weight), ignore_index=ignore_index,
                                label_smoothing=float(label_smoothing), reduction=reduction)


def nll_loss(input: Tensor, target: Tensor, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices; ``input`` holds log-probabilities (N, C, ...)."""
    input, target = _operand(input), _operand(target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "nll_loss")
    if input.ndim == 0:
        raise ConvlabError("nll_loss: input must be 1D (C,) or at least 2D (N, C, ...), got a 0-d tensor")
    c = input.shape[1] if input.ndim > 1 else input.shape[0]
    _check_channel_vec("weight", weight, c, "nll_loss")
    _check_class_target(input, target, ignore_index, "nll_loss")
    return L.NLL.apply(input, target, weight=_arr(weight), ignore_index=ignore_index, reduction=reduction)


def _check_same_shape(input: Tensor, target: Tensor, fn: str) -> None:
    if target.shape != input.shape:
        raise ConvlabError(f"{fn}: target of shape {target.shape} must be the same shape as input of shape {input.shape}")


def binary_cross_entropy(input: Tensor, target: Tensor, weight=None, size_average=None, reduce=None,
                         reduction: str = "mean") -> Tensor:
    """BCE on probabilities in [0, 1]; logs are clamped at -100 like torch. Prefer the logits form."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "binary_cross_entropy")
    _check_same_shape(input, target, "binary_cross_entropy")
    p = backend.to_numpy(input._data)
    if p.size and (p.min() < 0 or p.max() > 1):
        raise ConvlabError("binary_cross_entropy: all elements of input should be between 0 and 1")
    target = target if target.dtype == input.dtype else _raw(target._data.astype(input.dtype))
    return L.BCE.apply(input, target, _arr(weight), reduction=reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight=None, size_average=None, reduce=None,
                                     reduction: str = "mean", pos_weight=None) -> Tensor:
    """Sigmoid + BCE in one stable step; ``pos_weight`` (broadcast over the last axis)
    multiplies the positive term, ``weight`` each element."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    _check_same_shape(input, target, "binary_cross_entropy_with_logits")
    target = target if target.dtype == input.dtype else _raw(target._data.astype(input.dtype))
    return L.BCEWithLogits.apply(input, target, _arr(weight), _arr(pos_weight), reduction=reduction)


def _pointwise_loss(diff: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return diff
    return diff.sum() if reduction == "sum" else diff.mean()


def _loss_target(input: Tensor, target: Tensor, fn: str) -> Tensor:
    target = _operand(target, input)
    try:
        np.broadcast_shapes(input.shape, target.shape)
    except ValueError:
        raise ConvlabError(f"{fn}: target of shape {target.shape} cannot be broadcast to input of shape {input.shape}") from None
    if target.shape != input.shape:
        warnings.warn(
            f"{fn}: target size {target.shape} differs from input size {input.shape}; "
            "the two are broadcast, which is likely not what you want",
            stacklevel=3,
        )
    return target


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Mean squared error ``(x - y)^2``."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "mse_loss")
    d = input - _loss_target(input, target, "mse_loss")
    return _pointwise_loss(d * d, reduction)


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Mean absolute error ``|x - y|``."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "l1_loss")
    return _pointwise_loss((input - _loss_target(input, target, "l1_loss")).abs(), reduction)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Integer labels (*) -> int64 one-hot (*, num_classes); ``-1`` infers ``max + 1``."""
    xp = backend.array_module(tensor._data)
    labels = tensor._data
    if labels.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected an integer tensor, got dtype {tensor.dtype}")
    if num_classes == -1:
        if not labels.size:  # as torch: nothing to infer the class count from
            raise ConvlabError("one_hot: can not infer the number of classes from an empty tensor; pass num_classes")
        num_classes = int(labels.max()) + 1
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        lo, hi = int(labels.min()), int(labels.max())
        raise ConvlabError(f"one_hot: class values must be in [0, {num_classes - 1}], got range [{lo}, {hi}]")
    return _raw((labels[..., None] == xp.arange(num_classes)).astype(np.int64))

