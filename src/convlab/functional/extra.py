"""More of ``torch.nn.functional``: ``gelu`` (exact erf form and tanh form), ``mish``, ``celu``,
``selu``, ``softsign``, ``tanhshrink``, ``logsigmoid``, ``glu``, ``prelu``, the losses
``smooth_l1_loss``, ``huber_loss`` and ``kl_div``, and ``pixel_shuffle``/``pixel_unshuffle``.

Only ``gelu`` is its own op (forward beside backward), since NumPy has no ``erf``; the rest are
compositions of existing ops, whose backward rules give their gradients.
"""

from __future__ import annotations

import math
import warnings

from .. import backend, validate
from ..graph import Function
from ..math import _operand, abs, exp, log, minimum, sigmoid, tanh, where  # noqa: A004 - torch's names
from ..more_math import elu, softplus
from ..tensor import Tensor
from ..validate import ConvlabError

__all__ = [
    "gelu", "mish", "celu", "selu", "softsign", "tanhshrink", "logsigmoid", "glu", "prelu",
    "smooth_l1_loss", "huber_loss", "kl_div", "pixel_shuffle", "pixel_unshuffle",
]


# ---------------------------------------------------------------- erf
def erf(x):
    """Error function of a NumPy array, to within 2e-15 absolute (about 9 ulp of 1) of ``math.erf`` in float64.

    ``|x| <= 3``: the series ``erf(x) = 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (2n+1)!!``, whose
    terms are all positive (no cancellation); 80 terms leave a remainder below 1e-17 at |x| = 3.
    ``|x| > 3``: ``erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))``, the
    continued fraction (Abramowitz & Stegun 7.1.14) evaluated backwards from 60 levels, which at
    |x| >= 3 converges below 1e-17. Max difference to ``math.erf`` on a 1e5-point grid in [-8, 8]:
    1.3e-15 (tests/nn/test_more_activations.py asserts < 2e-15).
    """
    xp = backend.array_module(x)
    x = xp.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(xp.float64)
    a = xp.abs(x)
    small = xp.minimum(a, 3.0)
    term = small.copy()
    total = small.copy()
    sq = small * small
    for n in range(1, 80):  # term_n = term_{n-1} * 2 x^2 / (2n + 1)
        term = term * (2.0 * sq / (2 * n + 1))
        total = total + term
    series = (2.0 / math.sqrt(math.pi)) * xp.exp(-sq) * total
    big = xp.maximum(a, 3.0)
    t = big.copy()
    for k in range(60, 0, -1):
        t = big + (k / 2.0) / t
    tail = 1.0 - xp.exp(-big * big) / (math.sqrt(math.pi) * t)
    out = xp.where(a <= 3.0, series, tail)
    return xp.copysign(out, x).astype(x.dtype, copy=False)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


class GELU(Function):
    """``gelu(x) = x * Phi(x)``, ``Phi`` the standard normal CDF ``(1 + erf(x / sqrt 2)) / 2``;
    ``approximate='tanh'``: ``x/2 * (1 + tanh(u))``, ``u = sqrt(2/pi) (x + 0.044715 x^3)``.

    Shape: any -> same. Backward: ``Phi(x) + x phi(x)`` with ``phi`` the normal density; for the
    tanh form ``(1 + tanh u)/2 + x/2 (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 x^2)``.
    """

    @staticmethod
    def forward(ctx, x, approximate):
        xp = backend.array_module(x)
        ctx.approximate = approximate
        ctx.save_for_backward(x)
        if approximate == "tanh":
            th = xp.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))
            ctx.th = th
            return (0.5 * x * (1.0 + th)).astype(x.dtype, copy=False)
        return (0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        xp = backend.array_module(x)
        if ctx.approximate == "tanh":
            th = ctx.th
            d = 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * x * x)
        else:
            cdf = 0.5 * (1.0 + erf(x / math.sqrt(2.0)))
            d = cdf + x * xp.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
        return ((g * d).astype(g.dtype, copy=False), None)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """GELU, ``x * Phi(x)`` (exact, ``approximate='none'``) or its tanh approximation."""
    validate.choice(approximate, ("none", "tanh"), "gelu", "approximate")
    return GELU.apply(input, approximate=approximate)


# ---------------------------------------------------------------- composed activations
def mish(input: Tensor) -> Tensor:
    """``x * tanh(softplus(x))``."""
    return input * tanh(softplus(input))


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""
    alpha = validate.real(alpha, "celu", "alpha")
    if alpha == 0:
        raise ConvlabError("ZeroDivisionError: celu: alpha must not be 0")
    return elu(input / alpha, 1.0) * alpha if alpha != 1.0 else elu(input, 1.0)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """``scale * elu(x, alpha)`` with the self-normalising constants of Klambauer et al. (2017)."""
    return elu(input, _SELU_ALPHA) * _SELU_SCALE


def softsign(input: Tensor) -> Tensor:
    """``x / (1 + |x|)``."""
    return input / (abs(input) + 1.0)


def tanhshrink(input: Tensor) -> Tensor:
    """``x - tanh(x)``."""
    return input - tanh(input)


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x)) = min(x, 0) - log(1 + exp(-|x|))``, finite for any x."""
    return minimum(input, input * 0) - log(exp(-abs(input)) + 1.0)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit: split ``dim`` in halves ``a, b``; ``a * sigmoid(b)``.

    Shape: (*, 2n, *) -> (*, n, *) along ``dim``.
    """
    if input.ndim == 0:
        raise ConvlabError("glu does not support scalars because halving size must be even")
    d = validate.dim(dim, input.ndim, "glu")
    if input.shape[d] % 2:
        raise ConvlabError(f"Halving dimension must be even, but dimension {d} is size {input.shape[d]}")
    if input.shape[d] == 0:
        return input * 1
    a, b = input.chunk(2, d)
    return a * sigmoid(b)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """``x`` for ``x >= 0``, ``weight * x`` otherwise; ``weight`` has 1 or C (= input.shape[1]) entries.

    Shape: input (N, C, *) or (C,) ... ; weight (1,) or (C,) broadcast along the channel dim 1.
    """
    weight = _operand(weight, input)
    if weight.ndim != 1 and weight.numel() != 1:
        raise ConvlabError(f"prelu: weight must be 1-D or a scalar, got shape {tuple(weight.shape)}")
    n = weight.numel()
    channels = input.shape[1] if input.ndim >= 2 else (input.shape[0] if input.ndim == 1 else 1)
    if n != 1 and n != channels:
        raise ConvlabError(f"Mismatch of parameter numbers and input channel size. Found parameter numbers = {n} "
                           f"and channel size = {channels}.")
    w = weight.reshape(-1)
    if n != 1 and input.ndim >= 2:
        w = w.reshape(n, *([1] * (input.ndim - 2)))
    elif n == 1:
        w = w.reshape(())
    return where(input >= 0, input, input * w)


# ---------------------------------------------------------------- losses
def _reduce(loss: Tensor, reduction: str, fn: str) -> Tensor:
    validate.choice(reduction, ("none", "mean", "sum"), fn, "reduction")
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def _legacy_reduction(size_average, reduce, reduction: str) -> str:
    """torch's deprecated ``size_average``/``reduce`` pair, when given, decides the reduction."""
    if size_average is None and reduce is None:
        return reduction
    warnings.warn("size_average and reduce args will be deprecated, please use reduction='mean' instead.",
                  stacklevel=3)
    if reduce is not None and not reduce:
        return "none"
    return "sum" if size_average is not None and not size_average else "mean"


def _target(input: Tensor, target, fn: str) -> Tensor:
    from .nn import _loss_target

    return _loss_target(input, target, fn)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """``0.5 d^2 / beta`` where ``d = |x - y| < beta``, else ``d - 0.5 beta``; ``beta = 0`` is L1."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    beta = validate.real(beta, "smooth_l1_loss", "beta", min=0.0)
    validate.choice(reduction, ("none", "mean", "sum"), "smooth_l1_loss", "reduction")
    d = abs(input - _target(input, target, "smooth_l1_loss"))
    if beta == 0:
        return _reduce(d, reduction, "smooth_l1_loss")
    return _reduce(where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta), reduction, "smooth_l1_loss")


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight=None) -> Tensor:
    """``0.5 d^2`` where ``d = |x - y| < delta``, else ``delta (d - 0.5 delta)``; ``delta > 0``."""
    delta = validate.real(delta, "huber_loss", "delta", min=0.0, min_open=True)
    validate.choice(reduction, ("none", "mean", "sum"), "huber_loss", "reduction")
    d = abs(input - _target(input, target, "huber_loss"))
    loss = where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta)
    if weight is not None:
        loss = loss * _operand(weight, input)
    return _reduce(loss, reduction, "huber_loss")


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence with ``input`` as log-probabilities: pointwise
    ``target * (log target - input)`` (0 where target = 0, NaN where it is negative), or with ``log_target``
    ``exp(target) * (target - input)``. ``reduction='batchmean'`` divides the sum by the batch size
    (the mathematically correct KL); ``'mean'`` by the number of elements, as torch.
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    validate.choice(reduction, ("none", "mean", "sum", "batchmean"), "kl_div", "reduction")
    target = _target(input, target, "kl_div")
    if log_target:
        loss = exp(target) * (target - input)
    else:
        zero = target == 0  # 0 log 0 = 0 (torch's xlogy); a negative target gives NaN, as torch
        loss = where(zero, target * 0 - 0 * input, target * (log(where(zero, target * 0 + 1.0, target)) - input))
    if reduction == "batchmean":
        total = loss.sum()
        return total / input.shape[0] if input.ndim else total
    return _reduce(loss, reduction, "kl_div")


# ---------------------------------------------------------------- pixel shuffle
def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """Sub-pixel rearrangement (Shi et al. 2016): ``(*, C r^2, H, W) -> (*, C, H r, W r)``,
    ``out[c, h r + i, w r + j] = in[c r^2 + i r + j, h, w]``."""
    r = validate.positive_int(upscale_factor, "pixel_shuffle", "upscale_factor")
    if input.ndim < 3:
        raise ConvlabError(f"pixel_shuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.ndim} dimension(s)")
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise ConvlabError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square "
                           f"of upscale_factor, but input.size(-3)={c} is not divisible by {r * r}")
    k = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """Inverse of :func:`pixel_shuffle`: ``(*, C, H r, W r) -> (*, C r^2, H, W)``."""
    r = validate.positive_int(downscale_factor, "pixel_unshuffle", "downscale_factor")
    if input.ndim < 3:
        raise ConvlabError(f"pixel_unshuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.ndim} dimension(s)")
    *lead, c, h, w = input.shape
    if h % r or w % r:
        raise ConvlabError(f"pixel_unshuffle expects height ({h}) and width ({w}) to be divisible by "
                           f"downscale_factor ({r})")
    k = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)

