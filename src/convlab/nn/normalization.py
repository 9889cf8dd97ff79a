"""Normalisation layers: ``BatchNorm1d/2d/3d``, ``GroupNorm``, ``LayerNorm``.

The arithmetic is one fused Function per layer (``convlab/ops/norm.py``).
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import validate
from ..ops import norm as _norm_ops
from ..tensor import Tensor, ones, tensor, zeros
from ..validate import ConvlabError
from . import _fastpath, init
from .module import Module
from .parameter import Parameter


def _affine_parameters(module, shape, affine: bool, bias: bool, dtype) -> None:
    """``weight`` = 1 and ``bias`` = 0 of ``shape`` when ``affine`` (no bias with ``bias=False``)."""
    if affine:
        module.weight = Parameter(ones(*shape, dtype=dtype))
    else:
        module.register_parameter("weight", None)
    if affine and bias:
        module.bias = Parameter(zeros(*shape, dtype=dtype))
    else:
        module.register_parameter("bias", None)


class _BatchNorm(Module):
    """Batch normalisation, as torch:

    * training: normalise each channel with the batch mean and (biased) variance, and, when
      ``track_running_stats``, update the running statistics::

          running = (1 - momentum) * running + momentum * batch_statistic

      (the running variance uses the unbiased batch variance). ``momentum=None`` gives the
      cumulative average ``momentum = 1 / num_batches_tracked``.
    * eval: normalise with the running statistics (or, when they are not tracked, with the
      batch statistics).

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``.

    Parameters (``affine=True``): ``weight`` initialised to 1 and ``bias`` to 0 (none with
    ``bias=False``), shape (C,).
    Buffers (``track_running_stats=True``): ``running_mean`` = 0, ``running_var`` = 1, and
    ``num_batches_tracked`` = 0 (int64), the state_dict names torch uses.
    """

    _dims: tuple = (4,)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *, bias: bool = True):
        super().__init__()
        where = type(self).__name__
        num_features = validate.positive_int(num_features, where, "num_features")
        eps = validate.nonneg(eps, where, "eps")
        if momentum is not None:
            momentum = validate.probability(momentum, where, "momentum")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        _affine_parameters(self, (num_features,), affine, bias, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=np.int64))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)
        if device is not None:
            self.to(device)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def _check_input_dim(self, input) -> None:
        if input.ndim not in self._dims:
            want = " or ".join(f"{d}D" for d in self._dims)
            raise ConvlabError(f"{type(self).__name__}: expected {want} input (got {input.ndim}D input of shape {input.shape})")
        if input.shape[1] != self.num_features:
            raise ConvlabError(
                f"{type(self).__name__}: input of shape {input.shape} has {input.shape[1]} channels, "
                f"expected num_features={self.num_features}"
            )

    def forward(self, input):
        k = self._eval_key(input)
        if _fastpath.recall(self, k):  # the same shapes passed every check before (nn/_fastpath.py)
            p, b = self._parameters, self._buffers
            w, bias = p["weight"], p["bias"]
            return _fastpath.run(_norm_ops.BatchNorm, input._data, None if w is None else w._data,
                                 None if bias is None else bias._data, running_mean=b["running_mean"]._data,
                                 running_var=b["running_var"]._data, training=False,
                                 momentum=0.0 if self.momentum is None else self.momentum, eps=self.eps)
        y = self._forward(input)
        _fastpath.remember(self, k)
        return y

    def _eval_key(self, input):
        """The short path's key in eval mode with running statistics (training updates them: never short)."""
        if self.training:
            return None
        rm, rv = self._buffers.get("running_mean"), self._buffers.get("running_var")
        if rm.__class__ is not Tensor or rv.__class__ is not Tensor:
            return None
        return _fastpath.key(self, input, self.track_running_stats, self.momentum, self.eps, self.num_features,
                             self._dims, _fastpath._array_key(rm), _fastpath._array_key(rv))

    def _forward(self, input):
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked._data += 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked._data)
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if track else None, self.running_var if track else None,
                            self.weight, self.bias, use_batch_stats, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) input, statistics per channel C. See :class:`BatchNorm2d`."""

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    __doc__ = "Batch norm over (N, C, H, W) input, statistics per channel over N, H, W.\n\n" + (_BatchNorm.__doc__ or "")
    _dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch norm over (N, C, D, H, W) input. See :class:`BatchNorm2d`."""

    _dims = (5,)


class GroupNorm(Module):
    """Group normalisation (Wu & He, 2018): split the C channels into ``num_groups`` groups and
    normalise each sample's group over its channels and positions; independent of the batch
    size, and the same in training and eval.

    Shape: (N, C, *) -> same; ``weight`` (ones) and ``bias`` (zeros) of shape (C,).
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 device=None, dtype=None, *, bias: bool = True):
        super().__init__()
        num_groups = validate.positive_int(num_groups, "GroupNorm", "num_groups")
        num_channels = validate.positive_int(num_channels, "GroupNorm", "num_channels")
        eps = validate.nonneg(eps, "GroupNorm", "eps")
        if num_channels % num_groups:
            raise ConvlabError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        _affine_parameters(self, (num_channels,), affine, bias, dtype)
        if device is not None:
            self.to(device)

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, bias={self.bias is not None}"


class LayerNorm(Module):
    """Layer normalisation (Ba et al., 2016) over the trailing ``normalized_shape`` axes of each
    sample; ``weight`` (ones) and ``bias`` (zeros) have shape ``normalized_shape``.

    Shape: (*, *normalized_shape) -> same.
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        shape = validate.shape(normalized_shape, "LayerNorm", "normalized_shape")
        eps = validate.nonneg(eps, "LayerNorm", "eps")
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        _affine_parameters(self, shape, elementwise_affine, bias, dtype)
        if device is not None:
            self.to(device)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")
