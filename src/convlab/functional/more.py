"""Still more of ``torch.nn.functional``, met in public CNN programs: ``instance_norm`` (style
transfer, GAN generators), ``local_response_norm`` (AlexNet, GoogLeNet v1), ``channel_shuffle``
(ShuffleNet), ``dropout1d``/``dropout3d``, ``softmin``, ``threshold``, ``hardshrink``,
``softshrink``, ``relu_``, ``cosine_similarity`` and ``pairwise_distance``.

All are compositions of existing ops, so their gradients come from those ops' backward rules.
"""

from __future__ import annotations

import numpy as np

from .. import ops  # noqa: F401  (keeps the op registry loaded before the compositions below)
from ..math import abs, maximum, softmax, sqrt, where  # noqa: A004 - torch's names
from ..tensor import Tensor, tensor
from ..validate import ConvlabError
from .nn import _check_p, _keep_mask, batch_norm

__all__ = [
    "instance_norm", "local_response_norm", "channel_shuffle", "dropout1d", "dropout3d", "softmin", "threshold",
    "hardshrink", "softshrink", "relu_", "cosine_similarity", "pairwise_distance",
]


def instance_norm(input: Tensor, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats: bool = True, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each (sample, channel) plane by its own mean and biased variance.

    This is batch norm on the input viewed as one sample with N*C channels: the statistics of
    channel ``n*C + c`` are those of sample n's channel c. Running statistics (when given) move
    towards the mean over the batch of the per-instance statistics (unbiased variance), as torch.

    Shape: (N, C, *) -> same; weight, bias, running stats (C,).
    """
    if input.ndim < 3:
        raise ConvlabError(f"instance_norm: expected input (N, C, *) with spatial dims, got shape {tuple(input.shape)}")
    n, c = input.shape[0], input.shape[1]
    if not use_input_stats and (running_mean is None or running_var is None):
        raise ConvlabError("instance_norm: Expected running_mean and running_var to be defined when use_input_stats "
                           "is false")
    if use_input_stats and int(np.prod(input.shape[2:])) <= 1:
        raise ConvlabError(f"instance_norm: expected more than 1 spatial element when training, got input size "
                           f"{tuple(input.shape)}")
    if use_input_stats and running_mean is None and running_var is None:
        # one group per channel: group norm's statistics are exactly the per-instance ones (and
        # the ONNX exporter knows group norm)
        from .nn import group_norm

        return group_norm(input, c, weight, bias, eps)
    x = input.reshape(1, n * c, *input.shape[2:])

    def tiled(v):
        return None if v is None else v.reshape(1, c).expand(n, c).reshape(n * c)

    rm = None if running_mean is None else tensor(np.tile(running_mean.detach().numpy(), n))
    rv = None if running_var is None else tensor(np.tile(running_var.detach().numpy(), n))
    out = batch_norm(x, rm, rv, tiled(weight), tiled(bias), use_input_stats, momentum, eps)
    if use_input_stats:
        for running, tiled_stats in ((running_mean, rm), (running_var, rv)):
            if running is not None:
                running._data[...] = tiled_stats._data.reshape(n, c).mean(axis=0).astype(running.dtype)
    return out.reshape(*input.shape)


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Tensor:
    """Krizhevsky et al.'s local response normalisation across channels:

        b_c = a_c / (k + alpha/size * sum_{c' in window(c)} a_{c'}^2) ** beta

    with the window ``c - size//2 .. c + (size-1)//2`` clipped at the ends (zero padding, yet
    always divided by ``size``, as torch).

    Shape: (N, C, *) -> same.
    """
    if input.ndim < 3:
        raise ConvlabError(f"local_response_norm: expected 3D or higher input, got {input.ndim}D of shape {tuple(input.shape)}")
    if size < 1:
        raise ConvlabError(f"local_response_norm: size must be a positive int, got {size}")
    c = input.shape[1]
    sq = input * input
    lo, hi = size // 2, (size - 1) // 2
    pad = [0, 0] * (input.ndim - 2) + [lo, hi]  # F.pad order: last dim first, channels last
    from ..math import pad as fpad

    padded = fpad(sq, pad)
    window = padded[:, 0:c]
    for j in range(1, size):
        window = window + padded[:, j:j + c]
    return input / (window * (alpha / size) + k) ** beta


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """ShuffleNet's channel shuffle: view channels as (groups, C/groups), transpose, flatten.

    Shape: (N, C, *) -> same, channel ``g*(C/groups) + i`` moved to ``i*groups + g``.
    """
    if input.ndim < 3:
        raise ConvlabError(f"channel_shuffle: expects input to have at least 3 dimensions, but got input with sizes "
                           f"{list(input.shape)}")
    n, c = input.shape[0], input.shape[1]
    if groups <= 0 or c % groups:
        raise ConvlabError(f"channel_shuffle: number of channels ({c}) must be divisible by groups ({groups})")
    rest = tuple(input.shape[2:])
    return input.reshape(n, groups, c // groups, *rest).transpose(1, 2).reshape(n, c, *rest)


def _channel_dropout(input: Tensor, p: float, training: bool, spatial: int, fn: str) -> Tensor:
    _check_p(p)
    if input.ndim not in (spatial + 1, spatial + 2):
        raise ConvlabError(f"{fn}: expected a {spatial + 1}-D or {spatial + 2}-D input, got shape {tuple(input.shape)}")
    if not training or p == 0.0:
        return input
    from ..ops import dropout as D

    shape = input.shape[: input.ndim - spatial] + (1,) * spatial
    return D.MaskedScale.apply(input, mask=_keep_mask(shape, p, input._data))


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) input, one draw per (sample, channel)."""
    return _channel_dropout(input, p, training, 1, "dropout1d")


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input."""
    return _channel_dropout(input, p, training, 3, "dropout3d")


def softmin(input: Tensor, dim=None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``softmax(-input, dim)``; without ``dim``, torch's implicit (deprecated) choice: dim 0 for
    0-, 1- and 3-D input, else dim 1, with torch's warning."""
    if dim is None:
        import warnings

        dim = 0 if input.ndim in (0, 1, 3) else 1
        warnings.warn(f"Implicit dimension choice for softmin has been deprecated. Change the call to include "
                      f"dim={dim} as an argument.", UserWarning, stacklevel=2)
    out = softmax(-input, dim)
    return out if dtype is None else out.to(dtype)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:  # noqa: A002
    """``input`` where ``input > threshold``, else ``value``."""
    return where(input > threshold, input, tensor(value, dtype=input.dtype))


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``input`` where ``|input| > lambd``, else 0."""
    return where(abs(input) > lambd, input, tensor(0.0, dtype=input.dtype))


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``input - lambd`` above ``lambd``, ``input + lambd`` below ``-lambd``, 0 between."""
    if lambd < 0:
        raise ConvlabError(f"softshrink: lambda must be greater or equal to 0, but found to be {lambd}.")
    zero = tensor(0.0, dtype=input.dtype)
    return where(input > lambd, input - lambd, where(input < -lambd, input + lambd, zero))


def relu_(input: Tensor) -> Tensor:
    """ReLU written into ``input`` (refused where an in-place op would break a recorded graph)."""
    return input.relu_()


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """``sum(x1 * x2, dim) / (max(||x1||, eps) * max(||x2||, eps))`` (each norm clamped, as torch),
    after broadcasting ``x1`` and ``x2`` to one shape."""
    shape = np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    x1, x2 = x1.expand(*shape), x2.expand(*shape)
    n1 = maximum(sqrt((x1 * x1).sum(dim)), tensor(eps, dtype=x1.dtype))
    n2 = maximum(sqrt((x2 * x2).sum(dim)), tensor(eps, dtype=x2.dtype))
    return (x1 * x2).sum(dim) / (n1 * n2)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """``|| x1 - x2 + eps ||_p`` along the last dim."""
    from ..tensor_math import norm

    return norm(x1 - x2 + eps, p, -1, keepdim)


